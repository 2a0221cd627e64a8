/**
 * The bias audit (after fairlearn's MetricFrame): per demographic group n, accuracy, macro-F1, recall per class,
 * ECE and abstention rate; the gap of each group to the rest of the rows and the max–min gap, with seeded bootstrap
 * intervals. Groups are resampled independently (stratified by group), so every comparison of a column is computed
 * in the same bootstrap worlds. The gap intervals of a column are simultaneous: each at 1 − 0.05/k for the k groups
 * compared (Bonferroni), so that a column without any real gap flags none in 19 of 20 audits. A gap is flagged when
 * its interval excludes zero (accuracy, macro-F1, abstention rate; ECE is biased upward in small groups, so its gap
 * is shown, not flagged). Groups below the minimum size are "too small to judge": reported, never ranked.
 */
import { Generator } from '../tensor/random.js';
import { BOOTSTRAP_SEED, DEFAULT_RESAMPLES, percentileInterval, resampleIndices } from './bootstrap.js';

export const DEFAULT_MIN_GROUP = 30;
export const ECE_BINS = 15;
export const GAP_METRICS = ['accuracy', 'f1_macro', 'abstention_rate', 'ece'] as const;
export type GapMetric = (typeof GAP_METRICS)[number];
/** Metrics whose gaps are flagged when their interval excludes zero. */
export const FLAGGED_METRICS: readonly GapMetric[] = ['accuracy', 'abstention_rate'];

/** One evaluated row: gold and predicted label ids (or multi-hot vectors), probabilities, abstention, its groups. */
export interface AuditRow {
  gold: number | number[];
  pred: number | number[];
  probs: number[];
  abstain: boolean;
  groups: Record<string, string>;
}

export interface AuditOptions {
  columns: string[];
  labels: string[];
  multiLabel: boolean;
  minGroup?: number;
  resamples?: number;
  seed?: number;
  level?: number;
}

/** Metrics where higher is better (accuracy, macro-F1); for the others (abstention rate, ECE) lower is better. */
export const HIGHER_IS_BETTER: Record<GapMetric, boolean> = {
  accuracy: true,
  f1_macro: true,
  abstention_rate: false,
  ece: false,
};

export type Side = 'worse' | 'better';

/** Whether a gap (group − rest) in a metric means that the group does worse or better than the rest. */
export const sideOf = (m: GapMetric, gap: number): Side => (gap > 0 === HIGHER_IS_BETTER[m] ? 'better' : 'worse');

export interface Gap {
  gap: number;
  ci: [number, number];
  flagged: boolean;
  /** for a flagged gap: the group does worse, or better, than the rest */
  side?: Side;
}

export interface GroupResult {
  group: string;
  n: number;
  judged: boolean;
  accuracy: number;
  f1_macro: number;
  ece: number | null;
  abstention_rate: number;
  /** recall (sensitivity) per class with support in the group */
  recall: Record<string, number>;
  /** the data view: gold rows per class */
  labels: Record<string, number>;
  /** gap to the rest of the rows, per metric (judged groups only) */
  gaps?: Partial<Record<GapMetric, Gap>>;
}

export interface ColumnAudit {
  column: string;
  groups: GroupResult[];
  too_small: string[];
  /** the level of each gap interval of this column (0.95 adjusted for the groups compared) */
  level: number;
  compared: number;
  max_min: Partial<Record<GapMetric, { max_group: string; min_group: string; gap: number; ci: [number, number] }>>;
  flagged: { group: string; metric: GapMetric; gap: number; ci: [number, number]; side: Side }[];
}

export interface AuditResult {
  n: number;
  labels: string[];
  multi_label: boolean;
  method: {
    resamples: number;
    seed: number;
    level: number;
    adjustment: string;
    min_group: number;
    flagged_metrics: string[];
    ece_bins: number;
  };
  columns: ColumnAudit[];
  flagged: { column: string; group: string; metric: GapMetric; gap: number; ci: [number, number]; side: Side }[];
  notes: string[];
}

/** A row reduced to what the statistics add up: right or not, the count cells it increments, its confidence bin. */
interface Prepared {
  ok: number;
  abstain: boolean;
  cells: number[];
  /** confidence bin (single-label), -1 otherwise */
  bin: number;
  conf: number;
}

function prepare(r: AuditRow, C: number, multi: boolean): Prepared {
  if (multi) {
    const g = r.gold as number[];
    const p = r.pred as number[];
    const cells: number[] = [];
    let same = true;
    for (let c = 0; c < C; c++) {
      const y = g[c]! > 0.5;
      const yh = p[c]! > 0.5;
      if (y !== yh) same = false;
      if (y && yh) cells.push(c);
      else if (yh) cells.push(C + c);
      else if (y) cells.push(2 * C + c);
    }
    return { ok: same ? 1 : 0, abstain: r.abstain, cells, bin: -1, conf: 0 };
  }
  const g = r.gold as number;
  const p = r.pred as number;
  const conf = Math.max(...r.probs);
  const bin = Math.min(ECE_BINS - 1, Math.max(0, Math.ceil(conf * ECE_BINS) - 1));
  return { ok: g === p ? 1 : 0, abstain: r.abstain, cells: [g * C + p], bin, conf };
}

/** Sufficient statistics of a set of rows (added row by row, summed and subtracted between groups). */
class Stats {
  /** rows, right answers and abstentions (bootstrap pseudo-rows included: accuracy and abstention rate use these) */
  n = 0;
  correct = 0;
  abstained = 0;
  /** single-label: confusion[gold * C + pred]; multi-label: tp, fp, fn per label */
  counts: Float64Array;
  /** count, confidence sum, correct sum per confidence bin (single-label) */
  bins = new Float64Array(ECE_BINS * 3);
  constructor(
    readonly C: number,
    readonly multi: boolean,
  ) {
    this.counts = new Float64Array(multi ? 3 * C : C * C);
  }

  /** A pseudo-row of the bootstrap pool: counts for accuracy and abstention only. */
  addPseudo(ok: boolean): void {
    this.n++;
    if (ok) {
      this.correct++;
      this.abstained++;
    }
  }

  add(r: Prepared): void {
    this.n++;
    this.correct += r.ok;
    if (r.abstain) this.abstained++;
    for (const k of r.cells) this.counts[k]!++;
    if (r.bin >= 0) {
      this.bins[3 * r.bin]!++;
      this.bins[3 * r.bin + 1]! += r.conf;
      this.bins[3 * r.bin + 2]! += r.ok;
    }
  }

  combine(o: Stats, sign: 1 | -1): Stats {
    const s = new Stats(this.C, this.multi);
    s.n = this.n + sign * o.n;
    s.correct = this.correct + sign * o.correct;
    s.abstained = this.abstained + sign * o.abstained;
    this.counts.forEach((v, i) => {
      s.counts[i] = v + sign * o.counts[i]!;
    });
    this.bins.forEach((v, i) => {
      s.bins[i] = v + sign * o.bins[i]!;
    });
    return s;
  }

  /** per class: true positives, predicted, support */
  private classCounts(c: number): [number, number, number] {
    const C = this.C;
    const tp = this.counts[c]!;
    if (this.multi) return [tp, tp + this.counts[C + c]!, tp + this.counts[2 * C + c]!];
    let predicted = 0;
    let support = 0;
    for (let k = 0; k < C; k++) {
      predicted += this.counts[k * C + c]!;
      support += this.counts[c * C + k]!;
    }
    return [this.counts[c * C + c]!, predicted, support];
  }

  metric(m: GapMetric): number {
    if (!this.n) return NaN;
    if (m === 'accuracy') return this.correct / this.n;
    if (m === 'abstention_rate') return this.abstained / this.n;
    if (m === 'ece') {
      if (this.multi) return NaN;
      let e = 0;
      let total = 0;
      for (let b = 0; b < ECE_BINS; b++) total += this.bins[3 * b]!;
      for (let b = 0; b < ECE_BINS; b++) {
        const k = this.bins[3 * b]!;
        if (k) e += Math.abs(this.bins[3 * b + 2]! / k - this.bins[3 * b + 1]! / k) * (k / total);
      }
      return total ? e : NaN;
    }
    // macro-F1 over the classes present in the rows' gold or predicted labels (sklearn's default label set)
    let sum = 0;
    let k = 0;
    for (let c = 0; c < this.C; c++) {
      const [tp, predicted, support] = this.classCounts(c);
      if (!predicted && !support) continue;
      sum += (2 * tp) / (predicted + support);
      k++;
    }
    return k ? sum / k : NaN;
  }

  recall(labels: string[]): Record<string, number> {
    const out: Record<string, number> = {};
    labels.forEach((l, c) => {
      const [tp, , support] = this.classCounts(c);
      if (support) out[l] = tp / support;
    });
    return out;
  }
}

/** Group names in natural order, "(missing)" last. */
const byName = (a: string, b: string) =>
  a === '(missing)' ? 1 : b === '(missing)' ? -1 : a.localeCompare(b, 'en', { numeric: true });

/** A stable seed per column: adding a column does not change the others' intervals. */
function columnSeed(seed: number, column: string): number {
  let h = seed >>> 0;
  for (const ch of column) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Stats of rows by index; -1 and -2 are the two pseudo-rows of a bootstrap pool (right + abstained, wrong). */
function statsOf(rows: Prepared[], idx: ArrayLike<number>, C: number, multi: boolean): Stats {
  const s = new Stats(C, multi);
  for (let i = 0; i < idx.length; i++) {
    const k = idx[i]!;
    if (k >= 0) s.add(rows[k]!);
    else s.addPseudo(k === -1);
  }
  return s;
}

function goldCounts(rows: AuditRow[], idx: number[], labels: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of idx) {
    const g = rows[i]!.gold;
    const names = Array.isArray(g) ? labels.filter((_, c) => g[c]! > 0.5) : [labels[g]!];
    for (const l of names) out[l] = (out[l] ?? 0) + 1;
  }
  return out;
}

/** One column's groups: names (sorted), row indices, point statistics, whether each is judged. */
interface ColumnPlan {
  names: string[];
  members: number[][];
  stats: Stats[];
  judged: boolean[];
  metrics: GapMetric[];
  /** per metric: the groups with the highest and lowest point estimate (the max–min pair, fixed) */
  pairs: Map<GapMetric, [number, number]>;
}

interface BootOptions {
  resamples: number;
  C: number;
  multi: boolean;
  seed: number;
}

/** One bootstrap world: each group resampled from its pool (its rows and the two pseudo-rows). */
function resampleGroups(rows: Prepared[], pools: number[][], g: Generator, o: BootOptions): Stats[] {
  return pools.map((pool) => {
    const s = new Stats(o.C, o.multi);
    for (const k of resampleIndices(pool.length, g)) {
      const r = pool[k]!;
      if (r >= 0) s.add(rows[r]!);
      else s.addPseudo(r === -1);
    }
    return s;
  });
}

/** Bootstrap values per metric: the gap of each judged group to the rest (i), and of the max–min pair (i = -1). */
function bootstrapColumn(rows: Prepared[], plan: ColumnPlan, o: BootOptions): (m: GapMetric, i: number) => number[] {
  const g = new Generator(o.seed);
  const gaps = new Map<string, number[]>();
  const key = (m: GapMetric, i: number) => `${m}:${i}`;
  const push = (k: string, v: number) => (gaps.get(k) ?? gaps.set(k, []).get(k)!).push(v);
  // each group's pool holds its rows and two pseudo-rows (one right, one wrong: Agresti–Caffo's adjustment),
  // so a group without a single error still has a spread and a gap of zero stays inside the interval
  const pools = plan.members.map((idx) => [...idx, -1, -2]);
  for (let b = 0; b < o.resamples; b++) {
    const stats = resampleGroups(rows, pools, g, o);
    const total = stats.reduce((a, s) => a.combine(s, 1), new Stats(o.C, o.multi));
    const rests = stats.map((s, i) => (plan.judged[i] ? total.combine(s, -1) : null));
    for (const m of plan.metrics) {
      plan.judged.forEach((j, i) => {
        if (j) push(key(m, i), stats[i]!.metric(m) - rests[i]!.metric(m));
      });
      const pair = plan.pairs.get(m);
      if (pair) push(key(m, -1), stats[pair[0]]!.metric(m) - stats[pair[1]]!.metric(m));
    }
  }
  return (m, i) => gaps.get(key(m, i)) ?? [];
}

/** Groups of a column, their statistics, which are judged, and the max–min pair of each metric. */
function planColumn(
  raw: AuditRow[],
  rows: Prepared[],
  column: string,
  o: Required<AuditOptions>,
  metrics: GapMetric[],
): ColumnPlan {
  const byGroup = new Map<string, number[]>();
  raw.forEach((r, i) => {
    const v = r.groups[column] ?? '(missing)';
    (byGroup.get(v) ?? byGroup.set(v, []).get(v)!).push(i);
  });
  const names = [...byGroup.keys()].sort(byName);
  const members = names.map((n) => byGroup.get(n)!);
  const stats = members.map((idx) => statsOf(rows, idx, o.labels.length, o.multiLabel));
  const judged = members.map((m) => m.length >= o.minGroup && rows.length - m.length >= o.minGroup);
  const pairs = new Map<GapMetric, [number, number]>();
  for (const m of metrics) {
    const cand = judged.map((j, i) => (j && Number.isFinite(stats[i]!.metric(m)) ? i : -1)).filter((i) => i >= 0);
    if (cand.length < 2) continue;
    const sorted = [...cand].sort((a, b) => stats[b]!.metric(m) - stats[a]!.metric(m) || a - b);
    pairs.set(m, [sorted[0]!, sorted[sorted.length - 1]!]);
  }
  return { names, members, stats, judged, metrics, pairs };
}

/** A group's numbers, and its gaps (with intervals at `level`) when it is judged. */
interface GroupContext {
  raw: AuditRow[];
  all: Stats;
  o: Required<AuditOptions>;
  level: number;
  boot: ((m: GapMetric, i: number) => number[]) | null;
}

function groupResult(p: ColumnPlan, i: number, x: GroupContext): GroupResult {
  const s = p.stats[i]!;
  const res: GroupResult = {
    group: p.names[i]!,
    n: s.n,
    judged: p.judged[i]!,
    accuracy: s.metric('accuracy'),
    f1_macro: s.metric('f1_macro'),
    ece: x.o.multiLabel ? null : s.metric('ece'),
    abstention_rate: s.metric('abstention_rate'),
    recall: s.recall(x.o.labels),
    labels: goldCounts(x.raw, p.members[i]!, x.o.labels),
  };
  if (!p.judged[i] || !x.boot) return res;
  const rest = x.all.combine(s, -1);
  res.gaps = Object.fromEntries(
    p.metrics.map((m) => {
      const ci = percentileInterval(x.boot!(m, i), x.level);
      const flagged = FLAGGED_METRICS.includes(m) && (ci[0] > 0 || ci[1] < 0);
      const gap = s.metric(m) - rest.metric(m);
      return [m, { gap, ci, flagged, ...(flagged ? { side: sideOf(m, gap) } : {}) }];
    }),
  );
  return res;
}

/** The audit of one column. */
function auditColumn(
  raw: AuditRow[],
  rows: Prepared[],
  column: string,
  o: Required<AuditOptions>,
  metrics: GapMetric[],
): ColumnAudit {
  const p = planColumn(raw, rows, column, o, metrics);
  const k = p.judged.filter(Boolean).length;
  // two groups and nothing else: each one's gap mirrors the other's, one comparison
  const compared = k === 2 && p.names.length === 2 ? 1 : k;
  const level = 1 - (1 - o.level) / Math.max(1, compared);
  const all = statsOf(
    rows,
    rows.map((_, i) => i),
    o.labels.length,
    o.multiLabel,
  );
  const seed = columnSeed(o.seed, column);
  const boot = k
    ? bootstrapColumn(rows, p, { resamples: o.resamples, C: o.labels.length, multi: o.multiLabel, seed })
    : null;
  const groups = p.names.map((_, i) => groupResult(p, i, { raw, all, o, level, boot }));
  const maxMin: ColumnAudit['max_min'] = {};
  for (const [m, [hi, lo]] of p.pairs) {
    const gap = p.stats[hi]!.metric(m) - p.stats[lo]!.metric(m);
    const ci = percentileInterval(boot!(m, -1), o.level);
    maxMin[m] = { max_group: p.names[hi]!, min_group: p.names[lo]!, gap, ci };
  }
  const flagged = groups.flatMap((gr) =>
    Object.entries(gr.gaps ?? {})
      .filter(([, v]) => v.flagged)
      .map(([m, v]) => ({ group: gr.group, metric: m as GapMetric, gap: v.gap, ci: v.ci, side: v.side! })),
  );
  const tooSmall = groups.filter((x) => !x.judged).map((x) => x.group);
  return { column, groups, too_small: tooSmall, level, compared, max_min: maxMin, flagged };
}

/** Why each group that is not judged is not, and columns with too few groups to compare. */
function notesOf(columns: ColumnAudit[], minGroup: number): string[] {
  const notes: string[] = [];
  for (const c of columns) {
    for (const gr of c.groups.filter((g) => !g.judged)) {
      const why = gr.n >= minGroup ? ' (and too few in the rest)' : ` (below the minimum of ${minGroup})`;
      notes.push(`${c.column} = ${gr.group}: ${gr.n} row${gr.n === 1 ? '' : 's'}${why}: too small to judge`);
    }
    if (c.groups.filter((g) => g.judged).length < 2) {
      notes.push(`${c.column}: fewer than two groups large enough to compare`);
    }
  }
  return notes;
}

/** The audit of evaluated rows over their audit columns. */
export function computeAudit(rows: AuditRow[], opts: AuditOptions): AuditResult {
  const o: Required<AuditOptions> = {
    minGroup: DEFAULT_MIN_GROUP,
    resamples: DEFAULT_RESAMPLES,
    seed: BOOTSTRAP_SEED,
    level: 0.95,
    ...opts,
  };
  const anyAbstain = rows.some((r) => r.abstain);
  const metrics = GAP_METRICS.filter((m) => (m !== 'abstention_rate' || anyAbstain) && (m !== 'ece' || !o.multiLabel));
  const prepared = rows.map((r) => prepare(r, o.labels.length, o.multiLabel));
  const columns = o.columns.map((c) => auditColumn(rows, prepared, c, o, metrics));
  return {
    n: rows.length,
    labels: o.labels,
    multi_label: o.multiLabel,
    method: {
      resamples: o.resamples,
      seed: o.seed,
      level: o.level,
      adjustment: 'Bonferroni over the groups compared in a column',
      min_group: o.minGroup,
      flagged_metrics: FLAGGED_METRICS.filter((m) => metrics.includes(m)),
      ece_bins: ECE_BINS,
    },
    columns,
    flagged: columns.flatMap((c) => c.flagged.map((f) => ({ column: c.column, ...f }))),
    notes: notesOf(columns, o.minGroup),
  };
}

export interface IntervalOptions {
  labels: string[];
  multiLabel: boolean;
  resamples?: number;
  seed?: number;
  level?: number;
}

export type Intervals = Record<'accuracy' | 'f1_macro', [number, number]>;

/** Bootstrap percentile intervals (seeded) of accuracy and macro-F1 over all rows: the headline numbers' spread. */
export function overallIntervals(rows: AuditRow[], o: IntervalOptions): Intervals {
  const C = o.labels.length;
  const prepared = rows.map((r) => prepare(r, C, o.multiLabel));
  const g = new Generator(o.seed ?? BOOTSTRAP_SEED);
  const acc: number[] = [];
  const f1: number[] = [];
  for (let b = 0; b < (o.resamples ?? DEFAULT_RESAMPLES); b++) {
    const s = statsOf(prepared, resampleIndices(prepared.length, g), C, o.multiLabel);
    acc.push(s.metric('accuracy'));
    f1.push(s.metric('f1_macro'));
  }
  return { accuracy: percentileInterval(acc, o.level ?? 0.95), f1_macro: percentileInterval(f1, o.level ?? 0.95) };
}
