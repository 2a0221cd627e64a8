/**
 * Row readers for CSV, TSV, JSONL and Parquet, streamed: rows are yielded one at a time, so a large file never has to
 * fit in memory. Text files are checked as they are read: binary content and invalid UTF-8 stop with the line number
 * (or are decoded with an explicit encoding), and parser errors are translated into plain words with the line.
 * Messages never quote the data itself (it may be patient text): they name the file, line, row and column.
 */
import { closeSync, createReadStream, existsSync, openSync, readSync, statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import { TextDecoder } from 'node:util';
import path from 'node:path';
import { parse } from 'csv-parse';
import { MedtuneError, type ErrorCode } from '../common/errors.js';

export type Row = Record<string, unknown>;
export type RowFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';
export const ROW_FORMATS: RowFormat[] = ['csv', 'tsv', 'jsonl', 'parquet'];

export class DataError extends MedtuneError {
  constructor(message: string, code: ErrorCode = 'E_INPUT_PARSE') {
    super(message, code);
    this.name = 'DataError';
  }
}

export interface ReadRowsOptions {
  /** csv, tsv, jsonl or parquet (default: from the extension) */
  format?: RowFormat | string;
  /**
   * text encoding of CSV/TSV/JSONL (default utf-8, checked); any WHATWG label such as latin1, windows-1252, utf-16le
   */
  encoding?: string;
  /** receives the column names of a CSV/TSV header as soon as it is read (also for a header-only file) */
  onHeader?: (columns: string[]) => void;
  /** receives the number of bytes read from disk (compressed bytes for .gz), chunk by chunk: for progress bars */
  onBytes?: (n: number) => void;
  /** only these rows (a chunk of a queued job): see RowSlice */
  slice?: RowSlice;
}

/**
 * Rows [start, end) of a file (0-based, counted as readRows yields them). With `bytes` (found by data/slices.ts in an
 * uncompressed UTF-8 CSV/TSV/JSONL file: where row `start` begins and where row `end` begins or the file ends) only
 * those bytes are read, and they must hold exactly end - start rows; without, the rows before `start` are read and
 * skipped (Parquet: only the row groups that hold the rows are read).
 */
export interface RowSlice {
  start: number;
  end: number;
  bytes?: [number, number];
  /** the line of the file where bytes[0] is (for messages) */
  line?: number;
  /** CSV/TSV: the file's header (the bytes of a slice hold none) and its record delimiter */
  columns?: string[];
  delimiter?: string;
}

/** The format of a file: `explicit` when given, else from its extension (`hint` says how to override, if one can). */
export function formatOf(file: string, explicit?: string, hint: string | null = ' (or pass --format)'): RowFormat {
  if (explicit) {
    if ((ROW_FORMATS as string[]).includes(explicit)) return explicit as RowFormat;
    throw new DataError(`unknown --format "${explicit}" (use csv, tsv, jsonl or parquet)`, 'E_USAGE');
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new DataError(
    `cannot tell the format of ${file} from its extension; use .csv, .tsv, .jsonl or .parquet${hint ?? ''}`,
    'E_INPUT_FORMAT',
  );
}

/** An input file that must exist and be a readable file (not a folder). */
export function checkInputFile(file: string, option = 'input'): void {
  if (!file || !existsSync(file))
    throw new DataError(`${option} file ${file || '(empty)'} does not exist`, 'E_INPUT_NOT_FOUND');
  if (statSync(file).isDirectory())
    throw new DataError(`${option} ${file} is a folder, not a data file`, 'E_INPUT_NOT_FOUND');
}

/** A TextDecoder for an encoding label; an unknown label is a usage error. */
export function decoderFor(encoding: string): TextDecoder {
  try {
    return new TextDecoder(encoding);
  } catch {
    throw new DataError(`unknown --encoding "${encoding}" (e.g. utf-8, latin1, windows-1252, utf-16le)`, 'E_USAGE');
  }
}

const countLines = (buf: Buffer, end: number): number => {
  let n = 0;
  for (let i = 0; i < end; i++) if (buf[i] === 10) n++;
  return n;
};

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(b: Buffer): number {
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    const n = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
    if (!n) return i;
    if (!isUtf8(b.subarray(i, i + n))) return i;
    i += n;
  }
  return b.length;
}

/** Length of an incomplete UTF-8 sequence at the end of a chunk (to carry into the next chunk). */
function incompleteTail(b: Buffer): number {
  for (let k = 1; k <= Math.min(3, b.length); k++) {
    const c = b[b.length - k]!;
    if ((c & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

/** Whether a file starts with the gzip signature (1f 8b). */
export function isGzipFile(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/**
 * The bytes of a file, gunzipped when its name ends in .gz (a gzip file under another name stays binary data, as
 * before); a truncated or corrupt gzip stream stops with the line reached (`lineOf`).
 */
async function* fileBytes(
  file: string,
  lineOf: () => number,
  onBytes?: (n: number) => void,
  bytes?: [number, number],
): AsyncGenerator<Buffer> {
  const gzip = /\.gz$/i.test(file);
  if (gzip && !isGzipFile(file))
    throw new DataError(`${file} is named .gz but is not gzip-compressed; rename it`, 'E_INPUT_FORMAT');
  const range = bytes ? { start: bytes[0], end: bytes[1] - 1 } : {};
  const src = createReadStream(file, { highWaterMark: 1 << 16, ...range });
  if (onBytes) src.on('data', (b) => onBytes(b.length));
  if (!gzip) {
    yield* src as AsyncIterable<Buffer>;
    return;
  }
  const gz = createGunzip({ chunkSize: 1 << 16 });
  src.on('error', (e) => gz.destroy(e));
  src.pipe(gz);
  try {
    yield* gz as AsyncIterable<Buffer>;
  } catch (e) {
    const code = String((e as NodeJS.ErrnoException).code);
    if (!code.startsWith('Z_')) throw e;
    throw new DataError(
      `${file}: the gzip data ${code === 'Z_BUF_ERROR' ? 'ends early (truncated file)' : 'is corrupt'} ` +
        `after line ${lineOf()}; download or copy the file again`,
      'E_INPUT_PARSE',
    );
  } finally {
    src.destroy();
  }
}

/**
 * The decoded text of a file (plain or gzip), chunk by chunk; binary files and invalid UTF-8 stop with the line
 * number, and so does a truncated or corrupt gzip file. `slice`: only its bytes (lines counted from its line).
 */
export async function* decodeFile(
  file: string,
  encoding?: string,
  onBytes?: (n: number) => void,
  slice?: RowSlice,
): AsyncGenerator<string> {
  const explicit = encoding && !/^utf-?8$/i.test(encoding) ? decoderFor(encoding) : null;
  let line = slice?.line ?? 1;
  let carry = Buffer.alloc(0);
  let first = true;
  for await (const raw of fileBytes(file, () => line, onBytes, slice?.bytes)) {
    let chunk = raw as Buffer;
    if (first) {
      first = false;
      if (!explicit) checkTextStart(file, chunk);
    }
    if (explicit) {
      line += countLines(chunk, chunk.length);
      yield explicit.decode(chunk, { stream: true });
      continue;
    }
    if (carry.length) chunk = Buffer.concat([carry, chunk]);
    const tail = incompleteTail(chunk);
    const body = chunk.subarray(0, chunk.length - tail);
    carry = Buffer.from(chunk.subarray(chunk.length - tail));
    if (!isUtf8(body)) {
      const at = firstInvalidUtf8(body);
      throw new DataError(
        `${file}: line ${line + countLines(body, at)} is not valid UTF-8 (byte ${at} of that chunk); ` +
          'save the file as UTF-8, or pass --encoding (e.g. latin1, windows-1252) if it uses another encoding',
        'E_INPUT_ENCODING',
      );
    }
    if (body.includes(0)) throw notText(file, line + countLines(body, body.indexOf(0)));
    line += countLines(body, body.length);
    yield body.toString('utf8');
  }
  if (explicit) {
    const rest = explicit.decode();
    if (rest) yield rest;
  } else if (carry.length) {
    throw new DataError(
      `${file}: the last line ends inside a UTF-8 character (line ${line}); the file is truncated or not UTF-8`,
      'E_INPUT_ENCODING',
    );
  }
}

const notText = (file: string, line: number) =>
  new DataError(
    `${file} is not a text file (binary data at line ${line}); ` +
      'medtune reads CSV, TSV and JSONL text files (UTF-8) and Parquet',
    'E_INPUT_ENCODING',
  );

/** The start of a file: UTF-16/32 byte-order marks and binary signatures get a message of their own. */
function checkTextStart(file: string, b: Buffer): void {
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff)) {
    throw new DataError(
      `${file} is UTF-16 text; save it as UTF-8 or pass --encoding utf-16le (or utf-16be)`,
      'E_INPUT_ENCODING',
    );
  }
  const head = b.subarray(0, 8192);
  if (head.subarray(0, 4).toString('latin1') === 'PAR1') {
    throw new DataError(
      `${file} is a Parquet file; give it a .parquet name or pass --format parquet`,
      'E_INPUT_FORMAT',
    );
  }
  if (head.includes(0)) throw notText(file, 1 + countLines(head, head.indexOf(0)));
}

/**
 * Yields the rows of a CSV/TSV (header row required), JSONL or Parquet file. CSV, TSV and JSONL may be
 * gzip-compressed (FILE.csv.gz: the format is told from the name without .gz).
 */
export async function* readRows(file: string, o: ReadRowsOptions = {}): AsyncGenerator<Row> {
  checkInputFile(file);
  const fmt = formatOf(file.replace(/\.gz$/i, ''), o.format);
  if (o.encoding) decoderFor(o.encoding);
  const s = o.slice;
  if (s && !s.bytes && fmt !== 'parquet') yield* rowsOf(readRows(file, { ...o, slice: undefined }), s);
  else if (fmt === 'parquet') yield* readParquet(file, s);
  else if (s) yield* counted(fmt === 'jsonl' ? readJsonl(file, o) : readDelimited(file, fmt, o), file, s);
  else if (fmt === 'jsonl') yield* readJsonl(file, o);
  else yield* readDelimited(file, fmt, o);
}

/** Rows [start, end) of all the rows of a file. */
async function* rowsOf(rows: AsyncGenerator<Row>, s: RowSlice): AsyncGenerator<Row> {
  if (s.end <= s.start) return;
  let i = 0;
  for await (const r of rows) {
    if (i >= s.start) yield r;
    if (++i >= s.end) break;
  }
}

/** The rows of a byte slice, which must be the rows it was found to hold. */
async function* counted(rows: AsyncGenerator<Row>, file: string, s: RowSlice): AsyncGenerator<Row> {
  let n = 0;
  const want = s.end - s.start;
  const wrong = () =>
    new DataError(
      `${file}: bytes ${s.bytes![0]}–${s.bytes![1]} hold ${n > want ? 'more' : 'fewer'} rows than the ${want} ` +
        `(rows ${s.start + 1}–${s.end}) found there when the job started; run without --queue`,
      'E_INPUT_CHANGED',
    );
  for await (const r of rows) {
    if (++n > want) throw wrong();
    yield r;
  }
  if (n !== want) throw wrong();
}

async function* readJsonl(file: string, o: ReadRowsOptions): AsyncGenerator<Row> {
  let n = (o.slice?.line ?? 1) - 1;
  let pending = '';
  const parseLine = (raw: string): Row | null => {
    n++;
    const line = (n === 1 ? raw.replace(/^\uFEFF/, '') : raw).replace(/\r$/, '');
    if (!line.trim()) return null;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      // JSON.parse's message quotes the line: never show it (it may be patient text)
      throw new DataError(
        `${file}: line ${n} is not valid JSON ` +
          '(each line must be one JSON object, e.g. {"text": "...", "label": "..."})',
      );
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj))
      throw new DataError(`${file}: line ${n} is not a JSON object (each line must be one {...})`);
    return obj as Row;
  };
  for await (const chunk of decodeFile(file, o.encoding, o.onBytes, o.slice)) {
    pending += chunk;
    let i;
    while ((i = pending.indexOf('\n')) >= 0) {
      const row = parseLine(pending.slice(0, i));
      pending = pending.slice(i + 1);
      if (row) yield row;
    }
  }
  if (pending) {
    const row = parseLine(pending);
    if (row) yield row;
  }
}

/** csv-parse's errors in plain words with the line; its own messages may quote data, so they are not shown. */
function csvError(file: string, e: unknown, fmt: RowFormat, header: string[], firstLine = 1): MedtuneError {
  if (e instanceof MedtuneError) return e;
  const err = e as { code?: string; lines?: number };
  const at = err.lines ? `line ${err.lines + firstLine - 1}` : 'a line';
  const sep = fmt === 'tsv' ? 'tab' : 'comma';
  const other = header.length === 1 ? /[;|\t]/.exec(header[0]!)?.[0] : undefined;
  switch (err.code) {
    case 'CSV_RECORD_INCONSISTENT_COLUMNS':
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
    case 'CSV_RECORD_DONT_MATCH_COLUMNS_LENGTH':
      if (other)
        return new DataError(
          `${file}: the header has no ${sep} but ${other === '\t' ? 'tabs' : `"${other}"`}: the file is separated by ` +
            `${other === '\t' ? 'tabs (name it .tsv or pass --format tsv)' : `"${other}" — save it with commas`}; ` +
            `medtune reads comma-separated .csv and tab-separated .tsv`,
        );
      return new DataError(
        `${file}: ${at} has a different number of fields than the header` +
          `${fmt === 'csv' ? ' (a comma inside a text that is not in double quotes?)' : ` (a ${sep} inside a text?)`}`,
      );
    case 'CSV_QUOTE_NOT_CLOSED':
      return new DataError(
        `${file}: a double quote opened before ${at} is never closed (end of file reached inside a quoted text)`,
      );
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return new DataError(
        `${file}: ${at} has text right after a closing double quote; write a quote inside a quoted text as ""`,
      );
    case 'INVALID_OPENING_QUOTE':
      return new DataError(
        `${file}: ${at} has a double quote in the middle of a field that is not quoted; ` +
          'quote the whole field and double the quote ("")',
      );
    case 'CSV_MAX_RECORD_SIZE':
      return new DataError(`${file}: ${at} is too long to be one record (an unclosed quote?)`);
    default:
      return new DataError(`${file}: cannot be read as ${fmt.toUpperCase()} at ${at} (${err.code ?? 'parse error'})`);
  }
}

/** Header names: trimmed; empty ones become column_N; a name used twice is an error (a column would be lost). */
function headerOf(file: string, header: string[]): string[] {
  const cols = header.map((h, i) => String(h).trim() || `column_${i + 1}`);
  const seen = new Map<string, number>();
  cols.forEach((c, i) => {
    if (seen.has(c)) {
      const name = nameLike(c) ? `"${c}"` : 'the same name';
      throw new DataError(
        `${file}: the header names column ${name} twice (columns ${seen.get(c)! + 1} and ${i + 1}); rename one`,
        'E_INPUT_COLUMN',
      );
    }
    seen.set(c, i);
  });
  return cols;
}

async function* readDelimited(file: string, fmt: RowFormat, o: ReadRowsOptions): AsyncGenerator<Row> {
  const s = o.slice;
  let rawHeader: string[] = s?.columns ?? [];
  const parser = parse({
    columns:
      s?.columns ??
      ((header: string[]) => {
        rawHeader = header;
        const cols = headerOf(file, header);
        o.onHeader?.(cols);
        return cols;
      }),
    delimiter: fmt === 'tsv' ? '\t' : ',',
    ...(s?.delimiter ? { record_delimiter: s.delimiter } : {}),
    bom: !s,
    relax_column_count: false,
    skip_empty_lines: true,
    quote: fmt === 'tsv' ? false : '"',
    max_record_size: 64 << 20,
  });
  // Feeding by hand (not .pipe) so that a decoding error reaches the consumer instead of leaving it waiting.
  const feed = (async () => {
    try {
      for await (const chunk of decodeFile(file, o.encoding, o.onBytes, s)) {
        if (parser.destroyed) return;
        if (!parser.write(chunk)) await once(parser, 'drain');
      }
      parser.end();
    } catch (e) {
      parser.destroy(e as Error);
    }
  })();
  try {
    for await (const rec of parser) yield rec as Row;
  } catch (e) {
    throw csvError(file, e, fmt, rawHeader, s?.line);
  } finally {
    parser.destroy();
    await feed;
  }
}

/** Parquet, one row group at a time (memory holds one row group, never the whole file); `s`: only those rows. */
async function* readParquet(file: string, s?: RowSlice): AsyncGenerator<Row> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  let buf;
  let meta;
  try {
    buf = await asyncBufferFromFile(file);
    meta = await parquetMetadataAsync(buf);
  } catch (e) {
    throw new DataError(`${file} is not a readable Parquet file (${(e as Error).message.split('\n')[0]})`);
  }
  let start = 0;
  for (const rg of meta.row_groups) {
    const n = Number(rg.num_rows);
    const [from, to] = [Math.max(start, s?.start ?? 0), Math.min(start + n, s?.end ?? Infinity)];
    if (from >= to) {
      start += n;
      if (s && start >= s.end) return;
      continue;
    }
    let rows;
    try {
      rows = await parquetReadObjects({ file: buf, metadata: meta, rowStart: from, rowEnd: to, compressors });
    } catch (e) {
      throw new DataError(
        `${file}: row group at row ${start + 1} cannot be read (${(e as Error).message.split('\n')[0]})`,
      );
    }
    for (const r of rows) {
      // BigInt (INT64) values become numbers for JSON output and label handling
      for (const [k, v] of Object.entries(r)) if (typeof v === 'bigint') (r as Row)[k] = Number(v);
      yield r as Row;
    }
    start += n;
  }
}

/** Common text column names, in order of preference, for auto-detection. */
export const TEXT_COLUMNS = [
  'text',
  'sentence',
  'note',
  'notes',
  'description',
  'symptoms',
  'abstract',
  'content',
  'input',
];

/** A header cell that looks like a column name (short, few words), as opposed to a row of data. */
const nameLike = (c: string) => /^[\p{L}\p{N}_][\p{L}\p{N}_ .()/#-]{0,39}$/u.test(c) && c.split(' ').length <= 4;

/**
 * The column names for a message. A first line that does not look like a header (long or sentence-like "names":
 * a file without a header row, whose first row may be patient text) is described, not quoted.
 */
export function describeColumns(columns: string[]): string {
  if (columns.every(nameLike)) return columns.join(', ');
  return `${columns.length} columns, but the first line does not look like a header row; is the header missing?`;
}

export function pickColumn(
  columns: string[],
  wanted: string | undefined,
  candidates: string[],
  what: string,
  file: string,
): string {
  if (wanted) {
    if (!columns.includes(wanted)) {
      throw new DataError(
        `${file} has no column "${wanted}" (${what}); its columns are: ${describeColumns(columns)}`,
        'E_INPUT_COLUMN',
      );
    }
    return wanted;
  }
  const lower = columns.map((c) => c.toLowerCase());
  for (const c of candidates) {
    const i = lower.indexOf(c);
    if (i >= 0) return columns[i]!;
  }
  throw new DataError(
    `cannot find the ${what} column in ${file} (columns: ${describeColumns(columns)}); pass --${what}-column NAME`,
    'E_INPUT_COLUMN',
  );
}

/** The text of a cell: strings as they are, numbers as digits; anything else (objects, lists) is an error. */
export function textCell(v: unknown, where: { file: string; row: number; column: string }): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  const kind = Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
  throw new DataError(
    `${where.file} row ${where.row}: column "${where.column}" holds ${kind}, not text`,
    'E_INPUT_DATA',
  );
}
