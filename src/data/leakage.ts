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
