/**
 * What every `medtune data` source shares: a byte progress bar over the inputs, temporary spill folders removed on
 * success, failure and Ctrl-C, the source tables read with their columns checked against the table they should be,
 * and the output: a labelled CSV/TSV/JSONL/Parquet file (multi-label rows with a `labels` list), optionally one file
 * per split beside it, and the JSON summary (FILE.summary.json). Outputs appear complete or not at all.
 */
import { createInterface } from 'node:readline';
import {
  closeSync,
  createReadStream,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { sweepStale, tempPathFor, writeFileAtomic, type AtomicStream } from '../../common/atomic.js';
import { MedtuneError } from '../../common/errors.js';
import { DataError, formatOf, readRows, type Row } from '../readers.js';
import { openRowWriter, type RowWriter } from '../rowwriter.js';

export type Log = (line: string) => void;
export const stderrLog: Log = (l) => process.stderr.write(l + '\n');

/** Inputs smaller than this get no progress lines off a terminal. */
const QUIET_BELOW = 64 << 20;

/** Bytes read over all inputs: a bar on a terminal, a line every 10% otherwise (for inputs of 64 MB or more). */
export class ByteProgress {
  private bar: cliProgress.SingleBar | null = null;
  private done = 0;
  private nextLine = 0.1;
  constructor(
    private total: number,
    private what: string,
    private log: Log,
  ) {
    if (process.stderr.isTTY && !process.env.CI && total > 0) {
      this.bar = new cliProgress.SingleBar(
        {
          format: `  {bar} {percentage}% | {value}/{total} MB | ${what}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(Math.max(1, Math.round(total / 1e6)), 0);
    }
  }
  add = (n: number): void => {
    this.done += n;
    if (this.bar) this.bar.update(Math.round(this.done / 1e6));
    else if (this.total >= QUIET_BELOW && this.done / this.total >= this.nextLine) {
      const pct = Math.floor((10 * this.done) / this.total) * 10;
      this.nextLine = pct / 100 + 0.1;
      if (pct < 100) this.log(`  ${this.what}: ${pct}% of ${(this.total / 1e6).toFixed(0)} MB read`);
    }
  };
  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/** What reports the bytes read: a ByteProgress here; in the worker of run.ts, messages to the parent thread. */
export interface ProgressSink {
  add: (n: number) => void;
  stop: () => void;
}
export type ProgressFactory = (total: number, what: string, log: Log) => ProgressSink;
export const byteProgress: ProgressFactory = (total, what, log) => new ByteProgress(total, what, log);

export const fileSize = (file: string): number => statSync(file).size;

let announce: ((path: string, live: boolean) => void) | null = null;

/**
 * Tells `fn` of every temporary path made here (live) and removed (not live): the worker of run.ts passes them
 * to its parent thread, whose Ctrl-C handler removes them.
 */
export function announceTempPaths(fn: (path: string, live: boolean) => void): void {
  announce = fn;
}

/** tempPathFor, announced. */
function tempPath(target: string): { tmp: string; release: () => void } {
  const t = tempPathFor(target);
  announce?.(t.tmp, true);
  return {
    tmp: t.tmp,
    release: () => {
      t.release();
      announce?.(t.tmp, false);
    },
  };
}

/** A temporary folder beside `output` (removed by `remove()`, and on Ctrl-C/SIGTERM). */
export function spillFolder(output: string): { dir: string; remove: () => void } {
  const { tmp, release } = tempPath(output);
  mkdirSync(tmp);
  return {
    dir: tmp,
    remove: () => {
      rmSync(tmp, { recursive: true, force: true });
      release();
    },
  };
}

/**
 * Lines appended to a temporary file. Each line is written at once (one system call): a line kept in a buffer
 * would outlive the young generation of the garbage collector and pile up as old garbage, raising the peak memory.
 */
export class LineSink {
  private fd: number | null;
  bytes = 0;
  constructor(readonly file: string) {
    this.fd = openSync(file, 'w');
  }
  add(line: string): void {
    const b = Buffer.from(line + '\n');
    for (let off = 0; off < b.length;) off += writeSync(this.fd!, b, off);
    this.bytes += b.length;
  }
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** The lines of a temporary file, streamed. */
export async function* readLines(file: string): AsyncGenerator<string> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) if (line) yield line;
}

/** A source table: its name for messages, its real header, and the columns it must have (any letter case). */
export interface TableSpec {
  /** e.g. "MIMIC-III NOTEEVENTS" */
  table: string;
  /** the columns of the real table, in order (named in messages) */
  header: readonly string[];
  /** the columns medtune needs; the others may be missing (read as empty) */
  required: readonly string[];
}

export interface TableRow {
  /** cell text by the spec's column names (empty string for an empty cell) */
  get(column: string): string;
  /** 1-based data row */
  row: number;
}

const columnMap = (file: string, spec: TableSpec, columns: string[]): Map<string, string> => {
  const lower = new Map(columns.map((c) => [c.toLowerCase(), c]));
  const missing = spec.required.filter((c) => !lower.has(c.toLowerCase()));
  if (missing.length) {
    throw new DataError(
      `${file} has no column ${missing.join(', ')}: expected the ${spec.table} table ` +
        `(columns ${spec.header.join(', ')}); is it the right file?`,
      'E_INPUT_COLUMN',
    );
  }
  return new Map(spec.header.flatMap((c) => (lower.has(c.toLowerCase()) ? [[c, lower.get(c.toLowerCase())!]] : [])));
};

const cellText = (v: unknown): string =>
  v === null || v === undefined ? '' : typeof v === 'string' ? v : typeof v === 'object' ? '' : String(v);

/** The rows of a table file (CSV/TSV/JSONL/Parquet, plain or .gz), its columns checked first. */
export async function* readTable(
  file: string,
  spec: TableSpec,
  o: { encoding?: string; onBytes?: (n: number) => void } = {},
): AsyncGenerator<TableRow> {
  let cols: Map<string, string> | null = null;
  let n = 0;
  let header = false;
  const onHeader = (c: string[]) => {
    header = true;
    cols = columnMap(file, spec, c);
  };
  for await (const r of readRows(file, { encoding: o.encoding, onBytes: o.onBytes, onHeader })) {
    n++;
    cols ??= columnMap(file, spec, Object.keys(r));
    const m: Map<string, string> = cols;
    const rec: Row = r;
    yield { get: (c) => (m.has(c) ? cellText(rec[m.get(c)!]).trim() : ''), row: n };
  }
  if (!n && !header) throw new DataError(`${file} is empty: expected the ${spec.table} table`, 'E_INPUT_EMPTY');
}

/** A whole-number id cell (HADM_ID, SUBJECT_ID); empty → null; anything else is an error naming the row. */
export function idCell(r: TableRow, column: string, file: string): number | null {
  const v = r.get(column);
  if (!v) return null;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new DataError(`${file} row ${r.row}: column ${column} holds "${v.slice(0, 20)}", not an id`, 'E_INPUT_DATA');
  }
  return n;
}

export type ColumnType = 'string' | 'int' | 'labels';
export interface ColumnSpec {
  name: string;
  type: ColumnType;
}
export type DatasetRow = Record<string, string | number | string[] | null>;

/**
 * A file written beside its final name with synchronous writes and renamed into place on commit (removed on abort
 * or Ctrl-C). Synchronous on purpose: a conversion that waits on the event loop for every row lets the garbage
 * collector promote the rows in flight, and the peak memory of a long run grows by hundreds of MB.
 */
function atomicFileSync(file: string): AtomicStream & { write: (s: string | Uint8Array) => Promise<void> } {
  sweepStale(file);
  const { tmp, release } = tempPath(file);
  const fail = (e: unknown) =>
    new MedtuneError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'E_OUTPUT_PATH');
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    release();
    throw fail(e);
  }
  const close = () => {
    if (fd !== null) closeSync(fd);
    fd = null;
  };
  const done = Promise.resolve();
  return {
    write: (s) => {
      const b = typeof s === 'string' ? Buffer.from(s) : s;
      try {
        for (let off = 0; off < b.length;) off += writeSync(fd!, b, off, b.length - off);
      } catch (e) {
        return Promise.reject(fail(e));
      }
      return done;
    },
    commit: async () => {
      try {
        fsyncSync(fd!);
        close();
        renameSync(tmp, file);
      } catch (e) {
        throw fail(e);
      } finally {
        release();
      }
    },
    abort: () => {
      close();
      rmSync(tmp, { force: true });
      release();
    },
  };
}

const PARQUET_TYPES: Record<ColumnType, (name: string) => object[]> = {
  labels: (name) => [
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  ],
  int: (name) => [{ name, type: 'INT64', repetition_type: 'OPTIONAL' }],
  string: (name) => [{ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' }],
};

/** Parquet output: rows buffered into row groups of up to 500 rows or 16 MB of text (flat memory). */
async function openParquetWriter(file: string, columns: ColumnSpec[]): Promise<RowWriter> {
  const { ByteWriter, ParquetWriter } = await import('hyparquet-writer');
  const out = atomicFileSync(file);
  const buf = new ByteWriter();
  const schema = [
    { name: 'root', num_children: columns.length },
    ...columns.flatMap((c) => PARQUET_TYPES[c.type](c.name)),
  ];
  const pq = new ParquetWriter({ writer: buf, schema: schema as never });
  let rows: Row[] = [];
  let bytes = 0;
  const drain = async () => {
    await out.write(new Uint8Array(buf.buffer, 0, buf.index));
    buf.index = 0;
  };
  const value = (r: Row, c: ColumnSpec) => {
    const v = r[c.name] ?? null;
    return c.type === 'int' && v !== null ? BigInt(v as number) : v;
  };
  const flush = async () => {
    if (rows.length) {
      const columnData = columns.map((c) => ({ name: c.name, data: rows.map((r) => value(r, c)) }));
      pq.write({ columnData: columnData as never });
    }
    rows = [];
    bytes = 0;
    await drain();
  };
  return {
    write: async (row) => {
      rows.push(row);
      bytes += typeof row.text === 'string' ? row.text.length : 0;
      if (rows.length >= 500 || bytes >= 16 << 20) await flush();
    },
    commit: async () => {
      await flush();
      pq.finish();
      await drain();
      await out.commit();
    },
    abort: () => out.abort(),
  };
}

/** A row writer for CSV/TSV/JSONL (rowwriter.ts) or Parquet, by the file's extension. */
async function openWriter(file: string, columns: ColumnSpec[]): Promise<RowWriter> {
  if (formatOf(file, undefined, null) === 'parquet') return openParquetWriter(file, columns);
  return openRowWriter(
    file,
    columns.map((c) => c.name),
    () => atomicFileSync(file),
  );
}

/** FILE.csv → FILE.train.csv: where the rows of one split go with --write-splits. */
export function splitFileName(output: string, split: string): string {
  const ext = path.extname(output);
  return `${output.slice(0, output.length - ext.length)}.${split}${ext}`;
}

export interface DatasetOutputOptions {
  output: string;
  columns: ColumnSpec[];
  /** CSV/TSV: the labels of a row joined with this (default ","); JSONL and Parquet keep lists */
  labelDelimiter?: string;
  /** also write each split's rows to FILE.<split>.EXT (the rows' `split` column names them) */
  splits?: string[];
}

/** The labelled output (and the per-split files): write rows, then commit all or abort all. */
export class DatasetOutput {
  /** CSV/TSV: labels are joined into one cell; JSONL and Parquet keep lists */
  private readonly joinLabels: boolean;
  private constructor(
    private o: DatasetOutputOptions,
    private main: RowWriter,
    private bySplit: Map<string, RowWriter>,
    readonly files: string[],
  ) {
    const fmt = formatOf(o.output, undefined, null);
    this.joinLabels = fmt !== 'jsonl' && fmt !== 'parquet';
  }

  static async open(o: DatasetOutputOptions): Promise<DatasetOutput> {
    const main = await openWriter(o.output, o.columns);
    const bySplit = new Map<string, RowWriter>();
    try {
      for (const s of o.splits ?? []) bySplit.set(s, await openWriter(splitFileName(o.output, s), o.columns));
    } catch (e) {
      main.abort();
      for (const w of bySplit.values()) w.abort();
      throw e;
    }
    return new DatasetOutput(o, main, bySplit, [
      o.output,
      ...[...bySplit.keys()].map((s) => splitFileName(o.output, s)),
    ]);
  }

  async write(row: DatasetRow): Promise<void> {
    const r: Row = { ...row };
    if (this.joinLabels) {
      for (const c of this.o.columns)
        if (c.type === 'labels') r[c.name] = (row[c.name] as string[]).join(this.o.labelDelimiter ?? ',');
    }
    await this.main.write(r);
    const s = this.bySplit.get(String(row.split ?? ''));
    if (s) await s.write(r);
  }

  async commit(): Promise<void> {
    for (const w of this.bySplit.values()) await w.commit();
    await this.main.commit();
  }

  abort(): void {
    this.main.abort();
    for (const w of this.bySplit.values()) w.abort();
  }
}

/** The delimiter for a CSV/TSV labels cell: "," unless a label contains one, then the first of ; | that none has. */
export function labelDelimiterFor(labels: Iterable<string>): string {
  const all = [...labels];
  const free = [',', ';', '|'].find((d) => all.every((l) => !l.includes(d)));
  if (!free) throw new DataError('labels contain , ; and | alike; write JSONL or Parquet (they keep lists)', 'E_USAGE');
  return free;
}

/** Label → number of rows carrying it, most frequent first (ties: code-point order). */
export function frequencies(counts: Map<string, number>): { label: string; count: number }[] {
  return [...counts]
    .map(([label, count]) => ({ label, count }))
    .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

/** The N most frequent labels (all when N is undefined). */
export function topLabels(counts: Map<string, number>, n: number | undefined): Set<string> {
  const f = frequencies(counts);
  return new Set((n === undefined ? f : f.slice(0, n)).map((x) => x.label));
}

/** What a `medtune data` conversion returns. */
export interface DatasetResult {
  rows: number;
  /** the output, then the per-split files */
  files: string[];
  summaryFile: string;
  summary: Record<string, unknown>;
}

export const summaryFileOf = (output: string): string => `${output}.summary.json`;

/** Writes FILE.summary.json beside the output. */
export function writeSummary(output: string, summary: object): string {
  const file = summaryFileOf(output);
  writeFileAtomic(file, JSON.stringify(summary, null, 2) + '\n');
  return file;
}

/** "12 without codes, 3 ISERROR" from a dropped-counts object (zero counts left out). */
export function describeDropped(dropped: Record<string, number>): string {
  const parts = Object.entries(dropped)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k.replace(/_/g, ' ')} ${n}`);
  return parts.length ? parts.join(', ') : 'nothing';
}
