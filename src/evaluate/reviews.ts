/**
 * Expert review of a run's predictions: the cases (misclassified and low-confidence rows of a run folder's
 * predictions.jsonl, most confident errors first), the reviews in an embedded SQLite database (better-sqlite3 12,
 * WAL; one row per review, so several reviewers may review the same case), their agreement (Cohen's κ for two
 * reviewers, Fleiss' κ for more) and the export of corrected labels as a training file (`medtune review export`).
 * The server's review routes (serve/routes/reviews.ts) and the CLI both use it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'csv-stringify/sync';
import { prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { formatOf } from '../data/readers.js';
import { reviewSource } from './run-record.js';

export type Verdict = 'gold' | 'model' | 'other' | 'unclear';
export const VERDICTS: Verdict[] = ['gold', 'model', 'other', 'unclear'];

export interface Case {
  id: number;
  text: string;
  gold: string | string[];
  predicted: string | string[];
  correct: boolean;
  confidence: number;
  probabilities: Record<string, number>;
  abstain?: boolean;
}

export interface Review {
  id: number;
  case_id: number;
  reviewer: string;
  verdict: Verdict;
  /** the label the reviewer settled on: gold → the gold label, model → the prediction, other → the one chosen */
  label: string | null;
  comment: string | null;
  model_sha256: string | null;
  created: string;
}

const dbError = (file: string, e: unknown) => {
  const m = (e as Error).message;
  const why = /readonly|read-only/i.test(m)
    ? 'the file or its folder is read-only'
    : /locked|busy/i.test(m)
      ? 'another process holds a lock on it'
      : 'it is not a medtune review database';
  return new MedtuneError(`cannot use the review database ${file}: ${why}`, 'E_REVIEW_DB');
};

/**
 * The cases of a run folder (its review split, or an evaluation run's predictions; run-record.ts reviewSource):
 * errors first (most confident first), then correct predictions of low confidence.
 */
export function readCases(runDir: string, lowConfidence = 0.6): Case[] {
  const file = reviewSource(runDir).predictions;
  if (!existsSync(file) || statSync(file).isDirectory()) {
    throw new MedtuneError(
      `${runDir} has no predictions.jsonl; pass a run folder written by medtune train or evaluate`,
      'E_INPUT_NOT_FOUND',
    );
  }
  const rows = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as {
          row: number;
          text: string;
          label: string | string[];
          predicted: string | string[];
          correct: boolean;
          probabilities: Record<string, number>;
          abstain?: boolean;
        };
      } catch {
        throw new MedtuneError(`${file}: line ${i + 1} is not valid JSON`, 'E_INPUT_PARSE');
      }
    });
  const cases = rows.map((r) => ({
    id: r.row,
    text: r.text,
    gold: r.label,
    predicted: r.predicted,
    correct: r.correct,
    probabilities: r.probabilities,
    confidence: Math.max(...Object.values(r.probabilities)),
    ...(r.abstain ? { abstain: true } : {}),
  }));
  const errors = cases.filter((c) => !c.correct).sort((a, b) => b.confidence - a.confidence);
  const unsure = cases
    .filter((c) => c.correct && c.confidence < lowConfidence)
    .sort((a, b) => a.confidence - b.confidence);
  return [...errors, ...unsure];
}

export class ReviewStore {
  private db: Database.Database;

  /** `existing`: the database must already be a medtune review database (review export): nothing is created. */
  constructor(
    readonly file: string,
    o: { existing?: boolean } = {},
  ) {
    try {
      this.db = new Database(file, { fileMustExist: !!o.existing });
      this.refuseForeign(!!o.existing);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 2000');
      this.db.exec(`CREATE TABLE IF NOT EXISTS reviews (
        id INTEGER PRIMARY KEY AUTOINCREMENT, case_id INTEGER NOT NULL, reviewer TEXT NOT NULL, verdict TEXT NOT NULL,
        label TEXT, comment TEXT, model_sha256 TEXT, created TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS reviews_case ON reviews(case_id);
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`);
    } catch (e) {
      throw e instanceof MedtuneError ? e : dbError(file, e);
    }
  }

  /** A file of other tables (or, for `existing`, without ours) is refused: medtune's tables are never added to it. */
  private refuseForeign(existing: boolean): void {
    const tables = (this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[])
      .map((t) => t.name)
      .filter((n) => !n.startsWith('sqlite_'));
    if (tables.includes('reviews') || (!existing && !tables.length)) return;
    this.db.close();
    throw new MedtuneError(
      `cannot use the review database ${this.file}: ` +
        `${tables.length ? 'it is an SQLite file of other tables' : 'it is empty'}, not a medtune review database`,
      'E_REVIEW_DB',
    );
  }

  setMeta(key: string, value: string): void {
    this.db
      .prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
      .run(key, value);
  }

  meta(key: string): string | null {
    return (
      (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null
    );
  }

  add(r: Omit<Review, 'id' | 'created'>): Review {
    const created = new Date().toISOString();
    try {
      const info = this.db
        .prepare(
          'INSERT INTO reviews(case_id, reviewer, verdict, label, comment, model_sha256, created) ' +
            'VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(r.case_id, r.reviewer, r.verdict, r.label, r.comment, r.model_sha256, created);
      return { ...r, id: Number(info.lastInsertRowid), created };
    } catch (e) {
      throw dbError(this.file, e);
    }
  }

  all(): Review[] {
    return this.db.prepare('SELECT * FROM reviews ORDER BY id').all() as Review[];
  }

  /** Removes a review of `reviewer` (an undo); null when there is no such review of theirs. */
  remove(id: number, reviewer: string): Review | null {
    try {
      const r = this.db.prepare('SELECT * FROM reviews WHERE id = ? AND reviewer = ?').get(id, reviewer) as
        Review | undefined;
      if (!r) return null;
      this.db.prepare('DELETE FROM reviews WHERE id = ?').run(id);
      return r;
    } catch (e) {
      throw dbError(this.file, e);
    }
  }

  /** The latest review of each (case, reviewer): a reviewer who changes their mind counts once. */
  latest(): Review[] {
    const last = new Map<string, Review>();
    for (const r of this.all()) last.set(`${r.case_id}\u0000${r.reviewer}`, r);
    return [...last.values()];
  }

  close(): void {
    this.db.close();
  }
}

/**
 * One case's reviews as one reviewer may see them: the others' stay hidden (only counted) until the reviewer has
 * given a verdict of their own, so that nobody anchors on a colleague's verdict (and κ is not inflated by it).
 */
export function blindView(reviews: Review[], reviewer: string): { reviews: Review[]; hidden: number } {
  if (reviews.some((r) => r.reviewer === reviewer)) return { reviews, hidden: 0 };
  return { reviews: [], hidden: reviews.length };
}

/** Cohen's κ of two raters over the items both rated. */
export function cohenKappa(a: string[], b: string[]): number {
  const n = a.length;
  if (!n) return NaN;
  const cats = [...new Set([...a, ...b])];
  const po = a.filter((x, i) => x === b[i]).length / n;
  const pe = cats.reduce(
    (s, c) => s + (a.filter((x) => x === c).length / n) * (b.filter((x) => x === c).length / n),
    0,
  );
  return pe === 1 ? 1 : (po - pe) / (1 - pe);
}

/** Fleiss' κ over items with ≥ 2 ratings each (the number of ratings may differ per item). */
export function fleissKappa(items: string[][]): number {
  const rated = items.filter((r) => r.length >= 2);
  if (!rated.length) return NaN;
  const cats = [...new Set(rated.flat())];
  const total = rated.reduce((s, r) => s + r.length, 0);
  const p = cats.map((c) => rated.reduce((s, r) => s + r.filter((x) => x === c).length, 0) / total);
  const Pbar =
    rated.reduce((s, r) => {
      const counts = cats.map((c) => r.filter((x) => x === c).length);
      return s + (counts.reduce((a, k) => a + k * k, 0) - r.length) / (r.length * (r.length - 1));
    }, 0) / rated.length;
  const Pe = p.reduce((s, q) => s + q * q, 0);
  return Pe === 1 ? 1 : (Pbar - Pe) / (1 - Pe);
}

/** What reviewers settled on per case: label (or 'unclear'). */
const settled = (r: Review) => (r.verdict === 'unclear' ? 'unclear' : (r.label ?? 'unclear'));

export interface Agreement {
  reviewers: string[];
  reviews: number;
  cases_reviewed: number;
  /** cases with at least two reviewers */
  cases_shared: number;
  cohen_kappa: number | null;
  fleiss_kappa: number | null;
}

export function agreement(reviews: Review[]): Agreement {
  const reviewers = [...new Set(reviews.map((r) => r.reviewer))].sort();
  const byCase = new Map<number, Review[]>();
  for (const r of reviews) byCase.set(r.case_id, [...(byCase.get(r.case_id) ?? []), r]);
  const shared = [...byCase.values()].filter((rs) => rs.length >= 2);
  let cohen: number | null = null;
  if (reviewers.length === 2) {
    const both = shared.filter((rs) => reviewers.every((n) => rs.some((r) => r.reviewer === n)));
    const pick = (rs: Review[], n: string) => settled(rs.find((r) => r.reviewer === n)!);
    if (both.length)
      cohen = cohenKappa(
        both.map((rs) => pick(rs, reviewers[0]!)),
        both.map((rs) => pick(rs, reviewers[1]!)),
      );
  }
  const fleiss = reviewers.length > 2 && shared.length ? fleissKappa(shared.map((rs) => rs.map(settled))) : null;
  return {
    reviewers,
    reviews: reviews.length,
    cases_reviewed: byCase.size,
    cases_shared: shared.length,
    cohen_kappa: cohen,
    fleiss_kappa: fleiss,
  };
}

/**
 * The corrected training rows: per case, the label most reviewers settled on (ties and 'unclear' majorities are
 * left out and counted).
 */
export function corrections(
  cases: Case[],
  reviews: Review[],
): { rows: { text: string; label: string; row: number; reviewers: number }[]; skipped: number } {
  const byId = new Map(cases.map((c) => [c.id, c]));
  const byCase = new Map<number, Review[]>();
  for (const r of reviews) byCase.set(r.case_id, [...(byCase.get(r.case_id) ?? []), r]);
  const rows: { text: string; label: string; row: number; reviewers: number }[] = [];
  let skipped = 0;
  for (const [id, rs] of byCase) {
    const c = byId.get(id);
    const votes = new Map<string, number>();
    for (const r of rs) votes.set(settled(r), (votes.get(settled(r)) ?? 0) + 1);
    const ranked = [...votes].sort((a, b) => b[1] - a[1]);
    if (!c || ranked[0]![0] === 'unclear' || (ranked[1] && ranked[1][1] === ranked[0]![1])) {
      skipped++;
      continue;
    }
    rows.push({ text: c.text, label: ranked[0]![0], row: id, reviewers: rs.length });
  }
  return { rows: rows.sort((a, b) => a.row - b.row), skipped };
}

/** The review of a run folder: its cases and its database (default RUN_DIR/reviews.sqlite). */
export interface OpenReview {
  dir: string;
  store: ReviewStore;
  cases: Case[];
}

/** Opens the review of a run folder; the database records the folder, for `review export`. */
export function openReview(dir: string, dbFile?: string): OpenReview {
  const cases = readCases(dir);
  const store = new ReviewStore(dbFile ?? path.join(dir, 'reviews.sqlite'));
  store.setMeta('run_dir', path.resolve(dir));
  return { dir: path.resolve(dir), store, cases };
}

/** The label a verdict settles on: gold → the gold label, model → the prediction, other → the one chosen. */
export function verdictLabel(c: Case, verdict: Verdict, other?: string): string | null {
  const asLabel = (x: string | string[]) => (Array.isArray(x) ? x.join(',') : x);
  if (verdict === 'gold') return asLabel(c.gold);
  if (verdict === 'model') return asLabel(c.predicted);
  return verdict === 'other' ? other! : null;
}

export interface ReviewExportOptions {
  db: string;
  output: string;
  run?: string;
  log?: (l: string) => void;
}

/**
 * `medtune review export`: the reviewed cases of a run as a training file (text, label: what most reviewers settled
 * on; ties and "unclear" left out and counted), for `medtune train --model RUN/best_model --train corrections.csv
 * --replay OLD_TRAIN`.
 */
export function runReviewExport(o: ReviewExportOptions): { rows: number; skipped: number } {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  if (!existsSync(o.db))
    throw new MedtuneError(
      `the review database ${o.db} does not exist (reviews are stored by medtune serve --review RUN_DIR)`,
      'E_INPUT_NOT_FOUND',
    );
  const fmt = formatOf(o.output, undefined, null);
  if (fmt === 'parquet') throw new MedtuneError('review export writes CSV, TSV or JSONL', 'E_INPUT_FORMAT');
  prepareOutputFile(o.output, { inputs: [o.db] });
  const store = new ReviewStore(o.db, { existing: true });
  try {
    const run = o.run ?? store.meta('run_dir');
    if (!run) throw new MedtuneError(`${o.db} does not record its run folder; pass --run RUN_DIR`, 'E_USAGE');
    const { rows, skipped } = corrections(readCases(run), store.latest());
    if (!rows.length)
      throw new MedtuneError(`no reviewed case has a settled label yet (${skipped} unclear or tied)`, 'E_INPUT_EMPTY');
    // the reviewed file and row of each correction: train records them, and refuses evaluating on those rows
    const src = reviewSource(run).source;
    const records = rows.map((r) => ({
      text: r.text,
      label: r.label,
      source_row: r.row,
      reviewers: r.reviewers,
      ...(src ? { source_file: src.file, source_sha256: src.sha256 } : {}),
    }));
    const out =
      fmt === 'jsonl'
        ? records.map((r) => JSON.stringify(r)).join('\n') + '\n'
        : stringify(records, { header: true, delimiter: fmt === 'tsv' ? '\t' : ',' });
    writeFileAtomic(o.output, out);
    log(
      `exported ${rows.length} corrected rows to ${o.output}` +
        `${skipped ? ` (${skipped} cases left out: unclear or tied)` : ''}; ` +
        `retrain with: medtune train --model ${run}/best_model --train ${o.output} --replay OLD_TRAIN_FILE`,
    );
    return { rows: rows.length, skipped };
  } finally {
    store.close();
  }
}
