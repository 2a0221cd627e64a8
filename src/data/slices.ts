/**
 * Where the chunks of a queued job begin in its input file (jobs/), found in one pass: the file's size and sha256,
 * its rows counted as readRows counts them, and for each row asked for, the byte offset and line where it begins
 * with the sha256 of the bytes from there to the next row asked for (or the end). CSV/TSV records are found by
 * csv-parse itself (quoted line breaks, blank lines and the record delimiter as readRows sees them), JSONL rows as
 * readRows skips blank lines. A worker then reads only its chunk's bytes (readRows' `slice`) after checking their
 * sha256. Compressed files, other encodings and Parquet have no byte offsets: their chunks are read by skipping rows.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { DataError, formatOf, readRows, type RowFormat, type RowSlice } from './readers.js';

export interface RowStart {
  byte: number;
  line: number;
  /** sha256 of the bytes from here to the next row asked for, or to the end of the file */
  sha256: string;
}

export interface InputScan {
  file: string;
  format: RowFormat;
  size: number;
  mtimeMs: number;
  sha256: string;
  rows: number;
  /** chunks are read from byte offsets (an uncompressed UTF-8 CSV/TSV/JSONL file) */
  bytes: boolean;
  /** CSV/TSV: the header and the record delimiter */
  columns?: string[];
  delimiter?: string;
  /** the rows asked for (bytes: true), by 0-based row */
  starts: Map<number, RowStart>;
}

export interface ScanOptions {
  format?: string;
  encoding?: string;
  /** rows (0-based) where chunks begin */
  isStart: (row: number) => boolean;
}

/** Whether chunks of this file can be read from byte offsets. */
export function sliceable(file: string, format: RowFormat, encoding?: string): boolean {
  return format !== 'parquet' && !/\.gz$/i.test(file) && (!encoding || /^utf-?8$/i.test(encoding));
}

export async function scanInput(file: string, o: ScanOptions): Promise<InputScan> {
  const format = formatOf(file.replace(/\.gz$/i, ''), o.format);
  const st = statSync(file);
  const base = { file, format, size: st.size, mtimeMs: st.mtimeMs };
  if (!sliceable(file, format, o.encoding)) {
    let rows = 0;
    for await (const _ of readRows(file, { format, encoding: o.encoding })) rows++;
    return { ...base, sha256: await fileSha256Streamed(file), rows, bytes: false, starts: new Map() };
  }
  let columns: string[] | undefined;
  if (format !== 'jsonl') {
    for await (const _ of readRows(file, { format, onHeader: (c) => (columns = c) })) break;
  }
  const found = new Starts(o.isStart);
  const rowsOf = format === 'jsonl' ? jsonlRows(found) : delimitedRows(found, format);
  const whole = createHash('sha256');
  const parts = new PartHasher(found.list);
  const pending: Buffer[] = [];
  try {
    for await (const buf of createReadStream(file, { highWaterMark: 1 << 16 }) as AsyncIterable<Buffer>) {
      whole.update(buf);
      rowsOf.write(buf);
      // a record is found at the latest while the next buffer is parsed: hash one buffer behind
      pending.push(buf);
      while (pending.length > 1) parts.add(pending.shift()!);
    }
    await rowsOf.end();
  } catch (e) {
    // the reader's own message (with the line, without the data)
    for await (const _ of readRows(file, { format })) void _;
    throw e instanceof DataError ? e : new DataError(`${file} cannot be read as ${format.toUpperCase()}`);
  }
  for (const b of pending) parts.add(b);
  parts.finish();
  const starts = new Map<number, RowStart>();
  for (const s of found.list)
    if (s.row < found.rows) starts.set(s.row, { byte: s.byte, line: s.line, sha256: s.sha256 });
  return {
    ...base,
    sha256: whole.digest('hex'),
    rows: found.rows,
    bytes: true,
    ...(columns ? { columns, delimiter: rowsOf.delimiter?.() } : {}),
    starts,
  };
}

/** The slice of rows [start, end) (a chunk: `start` was asked for, and so was `end` unless it is the last row). */
export function sliceOf(scan: InputScan, start: number, end: number): { slice: RowSlice; sha256?: string } {
  if (!scan.bytes) return { slice: { start, end } };
  const a = scan.starts.get(start);
  const b = end < scan.rows ? scan.starts.get(end)?.byte : scan.size;
  if (!a || b === undefined) throw new Error(`rows ${start}–${end} do not begin where a chunk was asked for`);
  const csv = scan.columns ? { columns: scan.columns, ...(scan.delimiter ? { delimiter: scan.delimiter } : {}) } : {};
  return { slice: { start, end, bytes: [a.byte, b], line: a.line, ...csv }, sha256: a.sha256 };
}

/** sha256 of bytes [from, to) of a file. */
export async function bytesSha256(file: string, [from, to]: [number, number]): Promise<string> {
  const h = createHash('sha256');
  if (to > from) for await (const b of createReadStream(file, { start: from, end: to - 1 })) h.update(b as Buffer);
  return h.digest('hex');
}

/** sha256 of a whole file, streamed. */
export async function fileSha256Streamed(file: string): Promise<string> {
  return bytesSha256(file, [0, statSync(file).size]);
}

interface Found {
  row: number;
  byte: number;
  line: number;
  sha256: string;
}

/** Rows as they end; where each row asked for begins. */
class Starts {
  list: Found[] = [];
  rows = 0;
  constructor(private isStart: (row: number) => boolean) {}
  /** the first row begins at `byte` */
  begin(byte: number): void {
    if (this.isStart(0)) this.list.push({ row: 0, byte, line: 0, sha256: '' });
  }
  /** a row ends just before `byte` (the next one begins there) */
  ended(byte: number): void {
    this.rows++;
    if (this.isStart(this.rows)) this.list.push({ row: this.rows, byte, line: 0, sha256: '' });
  }
}

interface RowFinder {
  write(b: Buffer): void;
  end(): Promise<void>;
  delimiter?: () => string | undefined;
}

/** CSV/TSV records through csv-parse (as readRows parses them); the first is the header. */
function delimitedRows(found: Starts, format: RowFormat): RowFinder {
  let header = true;
  let failure: Error | null = null;
  const parser = parse({
    delimiter: format === 'tsv' ? '\t' : ',',
    quote: format === 'tsv' ? false : '"',
    bom: true,
    skip_empty_lines: true,
    relax_column_count: true,
    max_record_size: 64 << 20,
    on_record: (_rec: unknown, ctx: { bytes: number }) => {
      if (header) found.begin(ctx.bytes);
      else found.ended(ctx.bytes);
      header = false;
      return null;
    },
  });
  parser.on('error', (e) => (failure ??= e));
  parser.resume();
  const check = () => {
    if (failure) throw failure;
  };
  return {
    write: (b) => {
      parser.write(b);
      check();
    },
    end: async () => {
      parser.end();
      await finished(parser).catch((e: Error) => (failure ??= e));
      check();
    },
    // the record delimiter csv-parse found (\n, \r\n or \r), for the slices' parsers
    delimiter: () =>
      (parser as unknown as { options: { record_delimiter: Buffer[] } }).options.record_delimiter[0]?.toString(),
  };
}

/** JSONL rows: lines that are not blank (readRows skips those). */
function jsonlRows(found: Starts): RowFinder {
  let pos = 0;
  let line: Buffer[] = [];
  let first = true;
  const isRow = (b: Buffer) => {
    let t = b.toString('utf8');
    if (first) t = t.replace(/^\uFEFF/, '');
    first = false;
    return t.replace(/\r$/, '').trim() !== '';
  };
  found.begin(0);
  return {
    write: (b) => {
      let from = 0;
      for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, from)) {
        line.push(b.subarray(from, i));
        if (isRow(Buffer.concat(line))) found.ended(pos + i + 1);
        line = [];
        from = i + 1;
      }
      if (from < b.length) line.push(b.subarray(from));
      pos += b.length;
    },
    end: async () => {
      if (line.length && isRow(Buffer.concat(line))) found.ended(pos);
    },
  };
}

const countLf = (b: Buffer, end = b.length): number => {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0 && i < end; i = b.indexOf(10, i + 1)) n++;
  return n;
};

/** Hashes the bytes between consecutive row starts and numbers their lines, buffer by buffer. */
class PartHasher {
  private pos = 0;
  private lf = 0;
  private next = 0;
  private cur: { h: Hash; at: Found } | null = null;
  constructor(private list: Found[]) {}
  add(buf: Buffer): void {
    let from = 0;
    while (this.next < this.list.length && this.list[this.next]!.byte < this.pos + buf.length) {
      const s = this.list[this.next++]!;
      const at = s.byte - this.pos;
      if (at < from) throw new Error(`a row start (byte ${s.byte}) was found after its bytes were hashed`);
      this.close(buf.subarray(from, at));
      s.line = this.lf + countLf(buf, at) + 1;
      this.cur = { h: createHash('sha256'), at: s };
      from = at;
    }
    this.cur?.h.update(buf.subarray(from));
    this.lf += countLf(buf);
    this.pos += buf.length;
  }
  finish(): void {
    this.close(Buffer.alloc(0));
    // starts at the very end of the file (no row follows)
    for (const s of this.list.slice(this.next)) s.line = this.lf + 1;
  }
  private close(tail: Buffer): void {
    if (!this.cur) return;
    this.cur.h.update(tail);
    this.cur.at.sha256 = this.cur.h.digest('hex');
    this.cur = null;
  }
}
