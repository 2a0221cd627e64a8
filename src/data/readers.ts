/**
 * Row readers for CSV, TSV and JSONL, streamed: rows are yielded one at a time, so a large file never has to fit in
 * memory. CSV/TSV go through csv-parse (quoted fields, embedded newlines, BOM); JSONL is one object per line.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { parse } from 'csv-parse';
import { MedtuneError, type ErrorCode } from '../common/errors.js';

export type Row = Record<string, unknown>;
export type RowFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

export class DataError extends MedtuneError {
  constructor(message: string, code: ErrorCode = 'E_INPUT_PARSE') {
    super(message, code);
    this.name = 'DataError';
  }
}

export function formatOf(file: string, explicit?: string): RowFormat {
  if (explicit) {
    if (explicit === 'csv' || explicit === 'tsv' || explicit === 'jsonl' || explicit === 'parquet') return explicit;
    throw new DataError(`unknown format "${explicit}" (use csv, tsv, jsonl or parquet)`, 'E_USAGE');
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new DataError(`cannot tell the format of ${file} from its extension; use .csv, .tsv, .jsonl or .parquet (or pass --format)`, 'E_INPUT_FORMAT');
}

/** Yields the rows of a CSV/TSV (header row required) or JSONL file. */
export async function* readRows(file: string, format?: RowFormat): AsyncGenerator<Row> {
  if (!existsSync(file)) throw new DataError(`input file ${file} does not exist`, 'E_INPUT_NOT_FOUND');
  if (statSync(file).isDirectory()) throw new DataError(`${file} is a folder, not a data file`, 'E_INPUT_NOT_FOUND');
  const fmt = format ?? formatOf(file);
  if (fmt === 'parquet') {
    yield* readParquet(file);
    return;
  }
  if (fmt === 'jsonl') {
    const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    let n = 0;
    for await (const raw of rl) {
      n++;
      const line = n === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (!line.trim()) continue;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new DataError(`${file}:${n}: not valid JSON (${(e as Error).message})`);
      }
      if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new DataError(`${file}:${n}: each line must be a JSON object`);
      yield obj as Row;
    }
    return;
  }
  const parser = createReadStream(file).pipe(parse({
    columns: (header: string[]) => header.map((h) => h.trim()),
    delimiter: fmt === 'tsv' ? '\t' : ',',
    bom: true,
    relax_column_count: false,
    skip_empty_lines: true,
    quote: fmt === 'tsv' ? false : '"',
  }));
  try {
    for await (const rec of parser) yield rec as Row;
  } catch (e) {
    throw new DataError(`${file}: ${(e as Error).message}`);
  }
}

/** Parquet, one row group at a time (memory holds one row group, never the whole file). */
async function* readParquet(file: string): AsyncGenerator<Row> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } = await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  let buf;
  let meta;
  try {
    buf = await asyncBufferFromFile(file);
    meta = await parquetMetadataAsync(buf);
  } catch (e) {
    throw new DataError(`${file} is not a readable Parquet file (${(e as Error).message})`);
  }
  let start = 0;
  for (const rg of meta.row_groups) {
    const n = Number(rg.num_rows);
    const rows = await parquetReadObjects({ file: buf, metadata: meta, rowStart: start, rowEnd: start + n, compressors });
    for (const r of rows) {
      // BigInt (INT64) values become numbers for JSON output and label handling
      for (const [k, v] of Object.entries(r)) if (typeof v === 'bigint') (r as Row)[k] = Number(v);
      yield r as Row;
    }
    start += n;
  }
}

/** Common text column names, in order of preference, for auto-detection. */
export const TEXT_COLUMNS = ['text', 'sentence', 'note', 'notes', 'description', 'symptoms', 'abstract', 'content', 'input'];

export function pickColumn(columns: string[], wanted: string | undefined, candidates: string[], what: string, file: string): string {
  if (wanted) {
    if (!columns.includes(wanted)) throw new DataError(`${file} has no column "${wanted}" (${what}); its columns are: ${columns.join(', ')}`, 'E_INPUT_COLUMN');
    return wanted;
  }
  const lower = columns.map((c) => c.toLowerCase());
  for (const c of candidates) {
    const i = lower.indexOf(c);
    if (i >= 0) return columns[i]!;
  }
  throw new DataError(`cannot find the ${what} column in ${file} (columns: ${columns.join(', ')}); pass --${what}-column NAME`, 'E_INPUT_COLUMN');
}
