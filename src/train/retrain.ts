/**
 * Retraining soundly (continuing from a fine-tuned model, e.g. on reviewed corrections): the rows each split comes
 * from, so that no row is trained on and evaluated on. The validation split includes the parent's validation rows
 * (read again from the files it records), and below MIN_RETRAIN_VALIDATION rows the run is refused; replayed rows
 * never include rows the parent held out; the reviewed cases a corrections file came from (its source_* columns,
 * written by `medtune review export`) are recorded; and `trained_on` — every row of every file this model and its
 * parents were trained on — goes into the model's metadata, where evaluate's and train's leakage check refuses
 * evaluating on them (data/leakage.ts).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { readLabeled, type Example, type ReadOptions } from '../data/dataset.js';
import { readRows } from '../data/readers.js';
import { formatRowSet, parseRowSet, type EvaluatedRows, type TrainedRows } from '../data/leakage.js';
import { fileSha256, type MedtuneMetadata } from '../models/metadata.js';

/** Fewest validation rows a retraining run selects and calibrates on (below: refused). */
export const MIN_RETRAIN_VALIDATION = 20;

/** Rows of a file held out by a run (its validation and review rows), by the file's sha256. */
export function heldOutRows(meta: MedtuneMetadata, sha256: string): Set<number> {
  const out = new Set<number>();
  for (const d of meta.training?.data ?? [])
    if (d.sha256 === sha256 && (d.split === 'validation' || d.split === 'review') && d.row_ids)
      for (const r of parseRowSet(d.row_ids)) out.add(r);
  return out;
}

/** The parent's validation rows, read again from the files it records (skipped, and said, when a file changed). */
export async function parentValidation(
  meta: MedtuneMetadata,
  readOpts: ReadOptions,
  log: (l: string) => void,
): Promise<{ examples: Example[]; sources: EvaluatedRows[] }> {
  const examples: Example[] = [];
  const sources: EvaluatedRows[] = [];
  for (const d of (meta.training?.data ?? []).filter((x) => x.split === 'validation')) {
    if (!existsSync(d.file) || fileSha256(d.file) !== d.sha256) {
      log(`the parent's validation rows in ${d.file} cannot be used: the file is gone or changed since`);
      continue;
    }
    const only = d.row_ids ? parseRowSet(d.row_ids) : null;
    const read = await readLabeled(d.file, { ...readOpts, groupColumn: undefined, groupRegex: undefined });
    const rows = read.examples.filter((e) => !only || only.has(e.row));
    examples.push(...rows.map((e) => ({ ...e, source: path.basename(d.file) })));
    sources.push({ name: 'validation', file: d.file, sha256: d.sha256, rows: rows.map((e) => e.row) });
  }
  if (examples.length) log(`validation includes the parent model's ${examples.length} validation rows`);
  return { examples, sources };
}

/** Refuses a retraining run whose validation split is too small to select and calibrate on. */
export function checkRetrainValidation(n: number, parentRows: number): void {
  if (n >= MIN_RETRAIN_VALIDATION) return;
  throw new MedtuneError(
    `retraining from a fine-tuned model would select and calibrate on ${n} validation rows ` +
      `(${parentRows} of them the parent's); at least ${MIN_RETRAIN_VALIDATION} are needed: pass --validation FILE ` +
      "(e.g. the parent's validation data), keep the parent's training file at its recorded path, or raise " +
      '--validation-split',
    'E_NO_EVAL_DATA',
  );
}

/** The reviewed cases a corrections file came from: its source_file / source_sha256 / source_row columns. */
export interface ReviewedSource {
  file: string;
  sha256: string;
  /** row of the corrections file → row of the reviewed file */
  rows: Map<number, number>;
}

/** The sources of a `medtune review export` file (none for other files). */
export async function reviewedSources(file: string, o: { format?: string; encoding?: string }) {
  const out = new Map<string, ReviewedSource>();
  let n = 0;
  for await (const r of readRows(file, { format: o.format, encoding: o.encoding })) {
    n++;
    if (n === 1 && !('source_sha256' in r && 'source_row' in r)) return [];
    const sha = String(r.source_sha256 ?? '');
    const row = Number(r.source_row);
    if (!/^[0-9a-f]{64}$/.test(sha) || !Number.isInteger(row)) continue;
    const s = out.get(sha) ?? { file: String(r.source_file ?? ''), sha256: sha, rows: new Map() };
    s.rows.set(n, row);
    out.set(sha, s);
  }
  return [...out.values()];
}

export interface TrainedOnInput {
  train: { file: string; sha256: string; heldOut: number[] };
  replay?: { file: string; sha256: string; rows: number[] };
  /** corrections: the reviewed rows trained on (rows of the corrections file that went to training) */
  reviewed: ReviewedSource[];
  trainedRows: Set<number>;
  parent: MedtuneMetadata | null;
}

/** Every row this run trains on, with what its parent was trained on (its lineage). */
export function trainedOn(x: TrainedOnInput): TrainedRows[] {
  const out: TrainedRows[] = [
    { file: x.train.file, sha256: x.train.sha256, as: 'training rows', except: formatRowSet(x.train.heldOut) },
  ];
  if (x.replay)
    out.push({ file: x.replay.file, sha256: x.replay.sha256, as: 'replayed rows', rows: formatRowSet(x.replay.rows) });
  for (const r of x.reviewed) {
    const rows = [...r.rows].filter(([own]) => x.trainedRows.has(own)).map(([, src]) => src);
    if (rows.length) out.push({ file: r.file, sha256: r.sha256, as: 'reviewed corrections', rows: formatRowSet(rows) });
  }
  return [...out, ...(x.parent?.training?.trained_on ?? [])];
}
