/**
 * Streamed row output in CSV, TSV or JSONL (format from the extension), appearing under its name only when
 * complete (atomicWriteStream). CSV/TSV need the columns up front; JSONL keeps arrays and numbers as they are.
 */
import { stringify } from 'csv-stringify/sync';
import { atomicWriteStream, type AtomicStream } from '../common/atomic.js';
import { DataError, formatOf, type Row } from './readers.js';

export interface RowWriter {
  write(row: Row): Promise<void>;
  commit(): Promise<void>;
  abort(): void;
}

const cell = (v: unknown): string => (v === null || v === undefined ? '' : Array.isArray(v) ? v.join(',') : String(v));

/** `sink`: where the text goes (default: a streamed atomic file; `medtune data` passes a synchronous one). */
export function openRowWriter(file: string, columns: string[], sink?: () => AtomicStream): RowWriter {
  const fmt = formatOf(file);
  if (fmt === 'parquet')
    throw new DataError(`${file}: medtune writes CSV, TSV or JSONL here, not Parquet`, 'E_INPUT_FORMAT');
  const out = sink ? sink() : atomicWriteStream(file);
  const delimiter = fmt === 'tsv' ? '\t' : ',';
  // TSV has no quoting in our reader: tabs and line breaks inside a field become spaces
  const tsvCell = (v: unknown) => cell(v).replace(/[\t\r\n]+/g, ' ');
  let started = false;
  return {
    write: async (row) => {
      if (fmt === 'jsonl') return out.write(JSON.stringify(row) + '\n');
      if (!started) {
        started = true;
        await out.write(fmt === 'tsv' ? columns.join('\t') + '\n' : stringify([columns], { delimiter }));
      }
      if (fmt === 'tsv') return out.write(columns.map((c) => tsvCell(row[c])).join('\t') + '\n');
      return out.write(stringify([columns.map((c) => cell(row[c]))], { delimiter }));
    },
    commit: async () => {
      if (!started && fmt !== 'jsonl')
        await out.write(fmt === 'tsv' ? columns.join('\t') + '\n' : stringify([columns], { delimiter }));
      await out.commit();
    },
    abort: () => out.abort(),
  };
}
