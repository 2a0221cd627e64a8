/**
 * The leakage check `train` and `evaluate` run by default: each evaluation split (validation, test) against the
 * training rows, exact and near copies (MinHash + LSH, curate.ts), one log line per split with counts and row numbers
 * (never text); --fail-on-leakage turns copies into an error.
 */
import { MedtuneError } from '../common/errors.js';
import { checkLeakage, formatLeakage, type LeakageReport, type SplitRow } from './curate.js';

export type { LeakageReport };

export interface LeakageOptions {
  /** run the check (default true) */
  leakageCheck?: boolean;
  /** copies are an error (E_LEAKAGE) instead of a warning */
  failOnLeakage?: boolean;
}

/** Leakage of each evaluation split against training; throws E_LEAKAGE with --fail-on-leakage. */
export function leakageChecks(
  train: SplitRow[],
  evaluation: { name: string; examples: SplitRow[] }[],
  o: LeakageOptions,
  log: (l: string) => void,
): LeakageReport[] {
  if (o.leakageCheck === false) return [];
  const reports = evaluation
    .filter((s) => s.examples.length)
    .map((s) => checkLeakage(train, s.examples, { name: s.name }));
  for (const r of reports) log(formatLeakage(r));
  const bad = reports.filter((r) => r.exact + r.near > 0);
  if (bad.length && o.failOnLeakage) {
    throw new MedtuneError(
      `--fail-on-leakage: ${bad.map((r) => `${r.exact + r.near} ${r.split} rows`).join(' and ')} have copies in ` +
        'the training data; de-duplicate across splits (medtune curate) or drop --fail-on-leakage',
      'E_LEAKAGE',
    );
  }
  return reports;
}

/** Row numbers as compact ranges ("1-5,9,12-20"), for metadata that lists the rows of a file. */
export function formatRowSet(rows: Iterable<number>): string {
  const xs = [...new Set(rows)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < xs.length;) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j]! + 1) j++;
    parts.push(j > i ? `${xs[i]}-${xs[j]}` : `${xs[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The row numbers of `formatRowSet`'s text. */
export function parseRowSet(text: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number);
    for (let r = a!; r <= (b ?? a!); r++) out.add(r);
  }
  return out;
}

/**
 * Rows of a file a model was trained on (the model's metadata, `medtune.training.trained_on`, its parents' included):
 * `rows` — exactly these rows (a replay sample, reviewed corrections); `except` — every row but these (a training
 * file with its held-out validation and review rows); neither — every row.
 */
export interface TrainedRows {
  file: string;
  sha256: string;
  /** what the rows were: "train", "replay", "reviewed corrections (corrections.csv)", … */
  as: string;
  rows?: string;
  except?: string;
}

/** An evaluation split checked against the rows a model was trained on: its file's sha256 and row numbers. */
export interface EvaluatedRows {
  name: string;
  file: string;
  sha256: string;
  rows: number[];
}

/** The rows of the split that the model was trained on, by how they were trained on. */
export function trainedOverlap(trained: TrainedRows[], split: EvaluatedRows): { as: string; rows: number[] }[] {
  const out: { as: string; rows: number[] }[] = [];
  for (const t of trained.filter((x) => x.sha256 === split.sha256)) {
    const only = t.rows !== undefined ? parseRowSet(t.rows) : null;
    const except = t.except !== undefined ? parseRowSet(t.except) : null;
    const rows = split.rows.filter((r) => (only ? only.has(r) : !except?.has(r)));
    if (rows.length) out.push({ as: t.as, rows });
  }
  return out;
}

/**
 * Evaluating a model on rows it was trained on is refused (E_LEAKAGE): a training file used as test data, the
 * reviewed cases a model was retrained on, replayed rows. Skipped with --no-leakage-check. Messages name files and
 * row numbers, never text.
 */
export function checkNotTrainedOn(trained: TrainedRows[], splits: EvaluatedRows[], o: LeakageOptions): void {
  if (o.leakageCheck === false) return;
  for (const s of splits) {
    const hits = trainedOverlap(trained, s);
    if (!hits.length) continue;
    const rows = [...new Set(hits.flatMap((h) => h.rows))].sort((a, b) => a - b);
    const list = `${rows.slice(0, 8).join(', ')}${rows.length > 8 ? ', …' : ''}`;
    throw new MedtuneError(
      `${rows.length} of the ${s.rows.length} ${s.name} rows of ${s.file} (rows ${list}) were trained on by this ` +
        `model (as ${[...new Set(hits.map((h) => h.as))].join('; ')}): its metrics there would be inflated; ` +
        'evaluate on rows it has not seen (or pass --no-leakage-check)',
      'E_LEAKAGE',
    );
  }
}
