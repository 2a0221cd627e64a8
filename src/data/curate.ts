/**
 * Curation: several labelled files (CSV/TSV/JSONL/Parquet, each with its own column mapping) merged into one with
 * every row's source recorded; filters that count what each removed; exact and near-duplicate detection
 * (normalised-text hash, then MinHash + LSH over word shingles, minhash.ts) that drops or keeps-and-flags copies;
 * conflicting labels on duplicate texts; and the leakage check between training and test data that `train` and
 * `evaluate` run by default. Reports name rows (source:row), never their text.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DataError, formatOf, pickColumn, readRows, TEXT_COLUMNS, type RowFormat } from './readers.js';
import { LABEL_COLUMNS } from './dataset.js';
import { findLabelVariants, mapLabels, type LabelVariantGroup } from './labels.js';
import {
  clusters,
  crossPairs,
  DEFAULT_MINHASH,
  similarPairs,
  sketch,
  type MinHashOptions,
  type SimilarPair,
} from './minhash.js';

/** One input file and how to read it: `FILE` or `FILE:text=COL,label=COL,source=NAME,format=jsonl`. */
export interface InputSpec {
  file: string;
  text?: string;
  label?: string;
  /** name recorded in the source column (default: the file name) */
  source?: string;
  format?: RowFormat;
}

const SPEC_KEYS = ['text', 'label', 'source', 'format'] as const;

export function parseInputSpec(spec: string): InputSpec {
  const m = /^(.*):((?:[a-z]+=[^,]*)(?:,[a-z]+=[^,]*)*)$/.exec(spec);
  if (!m) return { file: spec };
  const out: InputSpec = { file: m[1]! };
  for (const kv of m[2]!.split(',')) {
    const [k, v] = [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)];
    if (!(SPEC_KEYS as readonly string[]).includes(k)) {
      throw new DataError(`--input ${spec}: unknown key "${k}" (use ${SPEC_KEYS.join(', ')})`, 'E_USAGE');
    }
    if (!v) throw new DataError(`--input ${spec}: "${k}=" needs a value`, 'E_USAGE');
    (out as unknown as Record<string, string>)[k] = v;
  }
  return out;
}

export interface MergedRow {
  text: string;
  /** null when the source has no label column or the cell is empty */
  label: string | null;
  source: string;
  /** 1-based data row in its source file */
  row: number;
}

export interface InputSummary {
  file: string;
  source: string;
  rows: number;
  textColumn: string;
  labelColumn: string | null;
}

const labelString = (v: unknown): string | null => {
  if (v === null || v === undefined) return null;
  const s = Array.isArray(v) ? v.map(String).join(',') : String(v).trim();
  return s ? s : null;
};

/** Reads one input into merged rows (every row, even empty ones: filters decide and count). */
export async function readSource(spec: InputSpec): Promise<{ rows: MergedRow[]; summary: InputSummary }> {
  const source = spec.source ?? path.basename(spec.file);
  const rows: MergedRow[] = [];
  let textCol = '';
  let labelCol: string | null = null;
  for await (const r of readRows(spec.file, { format: spec.format })) {
    if (!textCol) {
      const cols = Object.keys(r);
      textCol = pickColumn(cols, spec.text, TEXT_COLUMNS, 'text', spec.file);
      if (spec.label) labelCol = pickColumn(cols, spec.label, [], 'label', spec.file);
      else labelCol = cols.find((c) => LABEL_COLUMNS.includes(c.toLowerCase())) ?? null;
    }
    const v = r[textCol];
    rows.push({
      text: v === null || v === undefined ? '' : String(v),
      label: labelCol ? labelString(r[labelCol]) : null,
      source,
      row: rows.length + 1,
    });
  }
  return { rows, summary: { file: spec.file, source, rows: rows.length, textColumn: textCol, labelColumn: labelCol } };
}

export interface FilterOptions {
  /** fewer characters (after trimming) is "too short" (default 1) */
  minChars?: number;
  /** fewer words is "too short" (default 1) */
  minWords?: number;
  /** more characters is "too long" (default 100,000) */
  maxChars?: number;
  /** rows without a label are removed (default: when some input has a label column) */
  requireLabel?: boolean;
  /** only these labels are kept (multi-label values: every label must be allowed) */
  allowLabels?: string[];
  /** remove non-text content: binary, encoded blobs, mostly digits/symbols (default true) */
  nonText?: boolean;
}

export type FilterReason = 'empty' | 'too_short' | 'too_long' | 'non_text' | 'missing_label' | 'label_not_allowed';

/** Why a text is not prose: decoding garbage, an encoded blob, or mostly digits and symbols. */
export function nonTextReason(text: string): string | null {
  if (text.includes('\uFFFD') || text.includes('\u0000')) return 'binary';
  if (/\S{100,}/.test(text)) return 'encoded blob';
  const visible = text.replace(/\s+/g, '');
  const letters = (visible.match(/\p{L}/gu) ?? []).length;
  return visible.length >= 8 && letters / visible.length < 0.4 ? 'mostly non-letters' : null;
}

export function filterReason(r: MergedRow, o: FilterOptions & { requireLabel: boolean }): FilterReason | null {
  const t = r.text.trim();
  if (!t) return 'empty';
  if (t.length < (o.minChars ?? 1) || t.split(/\s+/).length < (o.minWords ?? 1)) return 'too_short';
  if (t.length > (o.maxChars ?? 100_000)) return 'too_long';
  if (o.nonText !== false && nonTextReason(t)) return 'non_text';
  if (o.requireLabel && r.label === null) return 'missing_label';
  if (o.allowLabels && r.label !== null && !r.label.split(',').every((l) => o.allowLabels!.includes(l.trim()))) {
    return 'label_not_allowed';
  }
  return null;
}

export interface DedupOptions extends MinHashOptions {
  /** drop copies (keep the first of each cluster), keep them with flags, or skip detection */
  mode?: 'drop' | 'flag' | 'off';
}

export interface CuratedRow extends MergedRow {
  /** with mode "flag": the source:row of the first member of this row's duplicate cluster */
  duplicate_of?: string;
  duplicate_kind?: 'exact' | 'near';
  similarity?: number;
}

export interface ConflictGroup {
  rows: string[];
  labels: string[];
}

export interface CurateSummary {
  inputs: InputSummary[];
  rows_in: number;
  removed: Record<FilterReason, number>;
  /** the first few removed rows per reason (source:row) */
  removed_examples: Partial<Record<FilterReason, string[]>>;
  duplicates: {
    mode: 'drop' | 'flag' | 'off';
    threshold: number;
    shingle_size: number;
    num_perm: number;
    exact: number;
    near: number;
    clusters: number;
    /** the first few links: source:row of a copy and of the earlier row it copies, with the Jaccard similarity */
    examples: { copy: string; of: string; kind: 'exact' | 'near'; similarity: number }[];
  };
  conflicting_labels: { groups: number; examples: ConflictGroup[] };
  /** labels that differ only by case, spaces or punctuation; merged (before filtering) with normalizeLabels */
  label_variants?: { merged: boolean; groups: LabelVariantGroup[]; mapping: Record<string, string> };
  rows_out: number;
  seconds: number;
}

const ref = (r: MergedRow) => `${r.source}:${r.row}`;

/** Conflicting labels: duplicate clusters whose members carry more than one distinct label. */
function conflicts(rows: MergedRow[], cluster: number[]): ConflictGroup[] {
  const groups = new Map<number, number[]>();
  cluster.forEach((c, i) => {
    const g = groups.get(c);
    if (g) g.push(i);
    else groups.set(c, [i]);
  });
  const out: ConflictGroup[] = [];
  for (const members of groups.values()) {
    const labels = [...new Set(members.map((i) => rows[i]!.label).filter((l): l is string => l !== null))];
    if (members.length > 1 && labels.length > 1)
      out.push({ rows: members.map((i) => ref(rows[i]!)), labels: labels.sort() });
  }
  return out;
}

/** Filters, de-duplicates and reports; rows stay in input order. */
export function curateRows(
  rows: MergedRow[],
  o: { filters?: FilterOptions; dedup?: DedupOptions; requireLabel: boolean },
) {
  const t0 = performance.now();
  const removed = { empty: 0, too_short: 0, too_long: 0, non_text: 0, missing_label: 0, label_not_allowed: 0 };
  const removedExamples: CurateSummary['removed_examples'] = {};
  const kept: MergedRow[] = [];
  for (const r of rows) {
    const why = filterReason(r, { ...o.filters, requireLabel: o.requireLabel });
    if (!why) {
      kept.push(r);
      continue;
    }
    removed[why]++;
    const ex = (removedExamples[why] ??= []);
    if (ex.length < 5) ex.push(ref(r));
  }
  const d = { ...DEFAULT_MINHASH, mode: 'drop' as const, ...o.dedup };
  const pairs: SimilarPair[] =
    d.mode === 'off'
      ? []
      : similarPairs(
          sketch(
            kept.map((r) => r.text),
            d,
          ),
          d,
        );
  const cluster = clusters(kept.length, pairs);
  const linkOf = new Map(pairs.map((p) => [p.b, p]));
  const out: CuratedRow[] = [];
  kept.forEach((r, i) => {
    const p = linkOf.get(i);
    if (!p) out.push(r);
    else if (d.mode === 'flag') {
      out.push({
        ...r,
        duplicate_of: ref(kept[cluster[i]!]!),
        duplicate_kind: p.kind,
        similarity: Number(p.similarity.toFixed(3)),
      });
    }
  });
  const conflictGroups = conflicts(kept, cluster);
  const summary: CurateSummary = {
    inputs: [],
    rows_in: rows.length,
    removed,
    removed_examples: removedExamples,
    duplicates: {
      mode: d.mode,
      threshold: d.threshold,
      shingle_size: d.shingleSize,
      num_perm: d.numPerm,
      exact: pairs.filter((p) => p.kind === 'exact').length,
      near: pairs.filter((p) => p.kind === 'near').length,
      clusters: new Set(pairs.map((p) => cluster[p.a])).size,
      examples: pairs.slice(0, 10).map((p) => ({
        copy: ref(kept[p.b]!),
        of: ref(kept[p.a]!),
        kind: p.kind,
        similarity: Number(p.similarity.toFixed(3)),
      })),
    },
    conflicting_labels: { groups: conflictGroups.length, examples: conflictGroups.slice(0, 10) },
    rows_out: out.length,
    seconds: (performance.now() - t0) / 1000,
  };
  return { rows: out, summary };
}

export interface CurateOptions {
  inputs: InputSpec[];
  filters?: FilterOptions;
  dedup?: DedupOptions;
  /** merge labels that differ only by case, spaces or punctuation into their most frequent spelling */
  normalizeLabels?: boolean;
}

/** Label spellings that differ only by case, spaces or punctuation: found, and merged in place when asked. */
function standardiseLabels(rows: MergedRow[], merge: boolean): NonNullable<CurateSummary['label_variants']> {
  const counts = new Map<string, number>();
  for (const r of rows) if (r.label !== null) counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
  const v = findLabelVariants(counts);
  const merged = merge && v.groups.length > 0;
  if (merged) for (const r of rows) if (r.label !== null) r.label = mapLabels([r.label], v.mapping)[0]!;
  return { merged, groups: v.groups, mapping: merged ? v.mapping : {} };
}

/** Reads every input, merges, filters and de-duplicates. */
export async function curate(o: CurateOptions): Promise<{ rows: CuratedRow[]; summary: CurateSummary }> {
  if (!o.inputs.length) throw new DataError('give at least one --input file', 'E_USAGE');
  const all: MergedRow[] = [];
  const inputs: InputSummary[] = [];
  for (const spec of o.inputs) {
    const r = await readSource(spec);
    if (inputs.some((s) => s.source === r.summary.source)) {
      throw new DataError(
        `two inputs are both named "${r.summary.source}"; give one a name with FILE:source=NAME`,
        'E_USAGE',
      );
    }
    inputs.push(r.summary);
    all.push(...r.rows);
  }
  const requireLabel = o.filters?.requireLabel ?? inputs.some((s) => s.labelColumn !== null);
  const variants = standardiseLabels(all, o.normalizeLabels ?? false);
  const res = curateRows(all, { filters: o.filters, dedup: o.dedup, requireLabel });
  res.summary.inputs = inputs;
  res.summary.label_variants = variants;
  if (!res.rows.length) {
    const why = Object.entries(res.summary.removed)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    throw new DataError(`no usable rows left of ${all.length}${why ? ` (removed: ${why})` : ''}`, 'E_INPUT_EMPTY');
  }
  return res;
}

/**
 * A row of a split for the leakage check: its text, row number in its file, (optional) label, and the file it comes
 * from when that is not the split's own (e.g. "replay": a row of the --replay file).
 */
export interface SplitRow {
  text: string;
  row: number;
  label?: string | number | number[];
  source?: string;
}

export interface LeakageReport {
  /** name of the split checked against training (test, validation) */
  split: string;
  trainRows: number;
  rows: number;
  /** rows of the split with an exact copy (after normalisation) in training */
  exact: number;
  /** rows of the split with a near-duplicate (Jaccard ≥ threshold) in training */
  near: number;
  /** of those, how many carry a different label than their training copy */
  conflictingLabels: number;
  threshold: number;
  /** the first pairs by row number (`source`, `trainSource`: the file a row comes from, when not its split's) */
  examples: {
    row: number;
    trainRow: number;
    kind: 'exact' | 'near';
    similarity: number;
    source?: string;
    trainSource?: string;
  }[];
}

/** Near-duplicates across splits: every row of `split` with a copy in `train` (the first `maxExamples` listed). */
export function checkLeakage(
  train: SplitRow[],
  split: SplitRow[],
  o: MinHashOptions & { name?: string; maxExamples?: number } = {},
): LeakageReport {
  const d = { ...DEFAULT_MINHASH, ...o };
  const texts = (rows: SplitRow[]) => sketch(rows.map((r) => r.text), d); // prettier-ignore
  const pairs = crossPairs(texts(train), texts(split), d);
  const same = (a: SplitRow['label'], b: SplitRow['label']) => JSON.stringify(a) === JSON.stringify(b);
  const conflicting = pairs.filter((p) => {
    const label = train[p.a]!.label;
    return label !== undefined && !same(label, split[p.b]!.label);
  });
  return {
    split: o.name ?? 'test',
    trainRows: train.length,
    rows: split.length,
    threshold: d.threshold,
    exact: pairs.filter((p) => p.kind === 'exact').length,
    near: pairs.filter((p) => p.kind === 'near').length,
    conflictingLabels: conflicting.length,
    examples: pairs.slice(0, o.maxExamples ?? 10).map((p) => ({
      row: split[p.b]!.row,
      trainRow: train[p.a]!.row,
      kind: p.kind,
      similarity: Number(p.similarity.toFixed(3)),
      ...(split[p.b]!.source ? { source: split[p.b]!.source } : {}),
      ...(train[p.a]!.source ? { trainSource: train[p.a]!.source } : {}),
    })),
  };
}

/** One line for logs: counts and row numbers, never text. */
export function formatLeakage(r: LeakageReport): string {
  const n = r.exact + r.near;
  if (!n) {
    return `leakage check: no ${r.split} row is a copy or near-copy (Jaccard ≥ ${r.threshold}) of a training row`;
  }
  const sim = (e: LeakageReport['examples'][number]) => (e.kind === 'exact' ? 'exact' : e.similarity.toFixed(2));
  const ex = r.examples
    .slice(0, 5)
    .map((e) => `${e.source ?? r.split} row ${e.row} ~ ${e.trainSource ?? 'train'} row ${e.trainRow} (${sim(e)})`);
  const share = ((100 * n) / Math.max(1, r.rows)).toFixed(1);
  const conflicts = r.conflictingLabels ? `; ${r.conflictingLabels} with a different label` : '';
  return (
    `leakage check: ${n} of ${r.rows} ${r.split} rows (${share}%) have a copy in the training data ` +
    `(${r.exact} exact, ${r.near} near, Jaccard ≥ ${r.threshold}${conflicts}): ` +
    `${ex.join(', ')}${n > 5 ? ', …' : ''}`
  );
}

/** Texts of a corpus file: .txt (one text per line) or a CSV/TSV/JSONL/Parquet text column; blank texts skipped. */
export async function readCorpus(file: string, textColumn?: string): Promise<string[]> {
  if (/\.txt$/i.test(file)) {
    let raw: string;
    try {
      raw = readFileSync(file, 'utf8');
    } catch (e) {
      throw new DataError(
        `cannot read the corpus ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        'E_INPUT_NOT_FOUND',
      );
    }
    return raw.split(/\r?\n/).filter((l) => l.trim());
  }
  formatOf(file);
  const out: string[] = [];
  let col: string | undefined;
  for await (const r of readRows(file)) {
    col ??= pickColumn(Object.keys(r), textColumn, TEXT_COLUMNS, 'text', file);
    const v = r[col];
    if (v !== null && v !== undefined && String(v).trim()) out.push(String(v));
  }
  return out;
}
