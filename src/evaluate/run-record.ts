/**
 * What a run records for its report (run.json): the command line, the data files with sha256, seed, backend,
 * threads, duration, and per split the class balance, the token-length distribution, truncated texts and skipped
 * rows. Also the audit columns (--audit-column): demographic groups read beside the labelled rows, by row number.
 * The report (src/report/, a layer above) renders from these files only.
 */
import { describeValues, looksLikeText } from '../data/label-shape.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { describeColumns, readRows, type RowFormat } from '../data/readers.js';
import type { Encoded, Example } from '../data/dataset.js';
import { fileSha256 } from '../models/metadata.js';
import { backendName, getThreads } from '../tensor/backend.js';

/** Audit values of one row: column -> group ("(missing)" when the cell is empty). */
export type AuditValues = Record<string, string>;

export const MISSING_GROUP = '(missing)';
/** More distinct values than this in an audit column: it is not a column of groups (and may hold free text). */
export const MAX_AUDIT_GROUPS = 50;

export interface SplitStats {
  rows: number;
  /** rows per class (multi-label: rows with the label set) */
  classes: Record<string, number>;
  tokens: {
    min: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
    mean: number;
    histogram: { lo: number; hi: number; count: number }[];
  };
  truncated: number;
  max_length: number;
  skipped: { count: number; reasons: Record<string, number> };
  /** per audit column, per group: rows and rows per class (the data view of the bias audit) */
  audit?: Record<string, Record<string, { n: number; classes: Record<string, number> }>>;
}

const quantile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;

/** Token-length histogram over about 20 equal bins of [0, max]. */
function histogram(lens: number[], max: number): SplitStats['tokens']['histogram'] {
  const width = Math.max(1, Math.ceil((max + 1) / 20));
  const n = Math.ceil((max + 1) / width);
  const bins = Array.from({ length: n }, (_, b) => ({ lo: b * width, hi: (b + 1) * width, count: 0 }));
  for (const l of lens) bins[Math.min(bins.length - 1, Math.floor(l / width))]!.count++;
  return bins;
}

export interface SplitStatsInput {
  examples: Example[];
  enc: Pick<Encoded, 'ids' | 'truncated'>;
  labels: string[];
  maxLength: number;
  skipped?: { row: number; reason: string }[];
  audit?: Map<number, AuditValues>;
}

function classCounts(examples: Example[], labels: string[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(labels.map((l) => [l, 0]));
  for (const e of examples) {
    if (Array.isArray(e.label))
      e.label.forEach((v, c) => {
        if (v) counts[labels[c]!]!++;
      });
    else counts[labels[e.label]!]!++;
  }
  return counts;
}

/** Rows and class balance per audit group. */
function auditView(examples: Example[], labels: string[], audit: Map<number, AuditValues>): SplitStats['audit'] {
  const out: NonNullable<SplitStats['audit']> = {};
  for (const e of examples) {
    // a row of another file (replayed, the parent's validation) has no values in this file's audit columns
    if (e.source !== undefined) continue;
    for (const [col, group] of Object.entries(audit.get(e.row) ?? {})) {
      const g = ((out[col] ??= {})[group] ??= { n: 0, classes: {} });
      g.n++;
      const ls = Array.isArray(e.label) ? labels.filter((_, c) => (e.label as number[])[c]) : [labels[e.label]!];
      for (const l of ls) g.classes[l] = (g.classes[l] ?? 0) + 1;
    }
  }
  return out;
}

export function splitStats(x: SplitStatsInput): SplitStats {
  const lens = x.enc.ids.map((ids) => ids.length);
  const sorted = [...lens].sort((a, b) => a - b);
  const max = sorted[sorted.length - 1] ?? 0;
  const reasons: Record<string, number> = {};
  for (const s of x.skipped ?? []) reasons[s.reason] = (reasons[s.reason] ?? 0) + 1;
  return {
    rows: x.examples.length,
    classes: classCounts(x.examples, x.labels),
    tokens: {
      min: sorted[0] ?? 0,
      p50: quantile(sorted, 0.5),
      p90: quantile(sorted, 0.9),
      p99: quantile(sorted, 0.99),
      max,
      mean: lens.reduce((a, b) => a + b, 0) / Math.max(1, lens.length),
      histogram: histogram(lens, max),
    },
    truncated: x.enc.truncated,
    max_length: x.maxLength,
    skipped: { count: x.skipped?.length ?? 0, reasons },
    ...(x.audit ? { audit: auditView(x.examples, x.labels, x.audit) } : {}),
  };
}

export interface RunRecord {
  kind: 'train' | 'evaluate';
  command: string[];
  medtune_version: string;
  node: string;
  backend: string;
  threads: number;
  seed?: number;
  started_at: string;
  finished_at?: string;
  duration_seconds?: number;
  model: { source: string; dir?: string; version?: string; sha256?: string };
  data: { split: string; file: string; sha256: string; rows?: number }[];
  /** de-identification applied before the model saw the texts (the operator), or false */
  deid: string | false;
  /** texts may be shown in the report (false: --no-texts) */
  texts: boolean;
  audit_columns: string[];
  /** the split the final metrics are on */
  evaluated_split: string;
  splits: Record<string, SplitStats>;
  recipe?: Record<string, unknown>;
  [k: string]: unknown;
}

/** The part of a run record known when the run starts. */
export interface RecordStart {
  kind: RunRecord['kind'];
  command?: string[];
  model: string;
  seed?: number;
  deid?: string | false;
  texts?: boolean;
  auditColumns?: string[];
}

export function startRecord(o: RecordStart): RunRecord {
  return {
    kind: o.kind,
    command: o.command ?? ['medtune', o.kind],
    medtune_version: '0.1.0',
    node: process.version,
    backend: backendName(),
    threads: getThreads(),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    started_at: new Date().toISOString(),
    model: { source: o.model },
    data: [],
    deid: o.deid ?? false,
    texts: o.texts !== false,
    audit_columns: o.auditColumns ?? [],
    evaluated_split: '',
    splits: {},
  };
}

/** A data file entry of run.json (absolute path, sha256, rows). */
export function dataEntry(split: string, file: string, rows?: number): RunRecord['data'][number] {
  return { split, file: path.resolve(file), sha256: fileSha256(file), ...(rows !== undefined ? { rows } : {}) };
}

export function writeRunRecord(outputDir: string, r: RunRecord): void {
  writeFileAtomic(path.join(outputDir, 'run.json'), JSON.stringify(r, null, 2) + '\n');
}

/** --audit-column values must be names; repeated names are one column. */
export function checkAuditColumns(cols: string[] | undefined): string[] {
  const out = [...new Set(cols ?? [])];
  if (out.some((c) => !c.trim())) {
    throw new MedtuneError('--audit-column is empty; give a column name such as sex or age_band', 'E_USAGE');
  }
  return out;
}

/**
 * The audit columns of a labelled file, by 1-based data row (the numbering of `Example.row`). A column the file
 * does not have is an error naming it and the columns there are; so is a column with more distinct values than a
 * column of groups has (it would put free text — perhaps patient text — into the audit).
 */
export async function readAuditValues(
  file: string,
  columns: string[],
  o: { format?: string; encoding?: string } = {},
): Promise<Map<number, AuditValues>> {
  const out = new Map<number, AuditValues>();
  if (!columns.length) return out;
  const distinct = new Map<string, Set<string>>(columns.map((c) => [c, new Set()]));
  let n = 0;
  for await (const r of readRows(file, { format: o.format as RowFormat | undefined, encoding: o.encoding })) {
    n++;
    if (n === 1) {
      const missing = columns.filter((c) => !(c in r));
      if (missing.length) {
        throw new MedtuneError(
          `${file} has no column "${missing[0]}" (--audit-column); ` +
            `its columns are: ${describeColumns(Object.keys(r))}`,
          'E_INPUT_COLUMN',
        );
      }
    }
    const v: AuditValues = {};
    for (const c of columns) {
      const cell = r[c];
      const s = cell === null || cell === undefined || typeof cell === 'object' ? '' : String(cell).trim();
      v[c] = s || MISSING_GROUP;
      distinct.get(c)!.add(v[c]);
    }
    out.set(n, v);
  }
  for (const [c, set] of distinct) {
    if (set.size > MAX_AUDIT_GROUPS) {
      throw new MedtuneError(
        `${file}: --audit-column ${c} has ${set.size} distinct values in ${n} rows; ` +
          'an audit column holds groups ' +
          `(sex, age band, site, note type; at most ${MAX_AUDIT_GROUPS}), so bin it first`,
        'E_INPUT_DATA',
      );
    }
    const values = [...out.values()].map((v) => v[c]!);
    if (looksLikeText(values))
      throw new MedtuneError(
        `${file}: --audit-column ${c} holds text, not groups (${describeValues(values)}); ` +
          'an audit column holds groups (sex, age band, site, note type): name another column',
        'E_INPUT_DATA',
      );
  }
  return out;
}

/** The audit values of each example (in example order), or undefined when there are no audit columns. */
export function auditOf(
  examples: Example[],
  values: Map<number, AuditValues> | null,
): (AuditValues | undefined)[] | undefined {
  return values && values.size
    ? examples.map((e) => (e.source === undefined ? values.get(e.row) : undefined))
    : undefined;
}

/** Where a run folder's review cases come from: the predictions file, and the data file its row numbers refer to. */
export interface ReviewSource {
  predictions: string;
  /** the reviewed data file (null: not recorded, e.g. a predictions.jsonl written by hand) */
  source: { file: string; sha256: string } | null;
}

/**
 * The cases a run folder offers for review: a training run's review split (review_predictions.jsonl, written with
 * --review-split), or an evaluation run's predictions. A training run's predictions.jsonl is its test (or validation)
 * set: reviewing it and retraining on the corrections would train on the evaluation data, so it is refused.
 */
export function reviewSource(runDir: string): ReviewSource {
  const runFile = path.join(runDir, 'run.json');
  let run: Partial<RunRecord> | null = null;
  try {
    run = existsSync(runFile) ? (JSON.parse(readFileSync(runFile, 'utf8')) as Partial<RunRecord>) : null;
  } catch {
    run = null;
  }
  const entry = (split: string | undefined) => {
    const d = run?.data?.find((x) => x.split === split);
    return d ? { file: d.file, sha256: d.sha256 } : null;
  };
  const review = path.join(runDir, 'review_predictions.jsonl');
  if (existsSync(review)) return { predictions: review, source: entry('review') };
  if (run?.kind === 'train')
    throw new MedtuneError(
      `${runDir} is a training run without a review split: its predictions.jsonl are its ` +
        `${run.evaluated_split || 'evaluation'} rows, and retraining on their corrections would train on the data ` +
        'the model is evaluated on; train with --review-split 0.1 (rows held out for review), or evaluate the model ' +
        'on a file set aside for review (medtune evaluate --test REVIEW_FILE --output-dir DIR) and review DIR',
      'E_USAGE',
    );
  return { predictions: path.join(runDir, 'predictions.jsonl'), source: entry(run?.evaluated_split) };
}
