/**
 * Live performance of a served model version against the outcomes reviewers recorded for its served cases
 * (`GET /v1/models/NAME/performance`, the Models page, the `medtune_live_*` gauges): accuracy, macro-F1 and
 * calibration error with bootstrap intervals and the number of reviewed cases, over time windows, for two streams
 * kept apart — the random sample (an unbiased estimate of the served traffic) and the prioritised cases (chosen
 * because they were doubtful: their figures are lower by design and say nothing about the traffic as a whole).
 * Beside them, before any review, the estimated performance of every captured case (confidence-based performance
 * estimation, CBPE, as NannyML does it): a calibrated model's answer is right with probability p[top], so the
 * estimated accuracy is the mean of p[top], its 95 % interval the normal approximation of the Poisson-binomial
 * (variance Σ p(1 − p) / n²), and the estimated macro-F1 comes from the expected confusion matrix. It holds only
 * while calibration holds on the served notes, and is blind to concept shift (the same notes, other true labels).
 * An alert is raised when the random stream's accuracy, or the estimate, falls below the validation figure by more
 * than the margin; the message says which.
 */
import type { ValidationFigures } from './registry.js';
import { outcomes, type ServedState } from './served-reviews.js';
import type { CaseRecord } from './capture-store.js';
import { figures, type Estimate, type Figures, type Scored } from './stats.js';

export const WINDOWS = [
  { window: '24h', ms: 86_400_000 },
  { window: '7d', ms: 7 * 86_400_000 },
  { window: 'all', ms: Infinity },
] as const;

/** CBPE over a set of captured cases: n, the estimated accuracy with its interval, the estimated macro-F1. */
export interface Expected {
  n: number;
  accuracy: Estimate | null;
  /** macro-F1 of the expected confusion matrix (no interval) */
  macro_f1: number | null;
}

/** The estimate of every captured case of a window, and apart by decision (the three add up to `n`). */
export interface EstimatedFigures extends Expected {
  answered: Expected;
  /** in scope, held back (low confidence) */
  abstained: Expected;
  /** unlike the training notes (answered or not): calibration is least likely to hold there */
  out_of_scope: Expected;
}

export interface PerformanceReport {
  model: string;
  version: string;
  captured: number;
  reviewed: number;
  windows: { window: string; random: Figures; prioritised: Figures; estimated: EstimatedFigures | null }[];
  /** why there is no estimate (null: there is one) */
  estimated_skipped: string | null;
  validation: ValidationFigures | null;
  margin: number;
  /** fired: which figures are below validation − margin */
  alert: { active: boolean; message: string; fired: ('reviewed' | 'estimated')[] };
}

export interface PerformanceOptions {
  model: string;
  version: string;
  validation: ValidationFigures | null;
  /** alert when the live accuracy is below validation − margin */
  margin: number;
  /** random-sample reviewed cases needed before an alert can be raised */
  minCases?: number;
  /** a multi-label model: no estimate (p[top] is not the chance that a set of labels is right) */
  multiLabel?: boolean;
  now?: number;
}

const pct = (x: number) => x.toFixed(3);
const ci = (e: Estimate) => `${pct(e.value)} [95 % CI ${pct(e.low)}, ${pct(e.high)}]`;

/** The label given and its probability. */
function topOf(c: CaseRecord): { label: string; p: number } {
  const label = c.decision.label as string;
  return { label, p: c.decision.probabilities[label] ?? c.decision.score };
}

/** Macro-F1 of the expected confusion matrix: TP_k = Σ p_k over cases given k, FP_k = Σ (1 − p_k), FN_k = Σ p_k
 * over cases given another label; averaged over the labels with 2TP + FP + FN > 0. */
function expectedMacroF1(cases: CaseRecord[]): number | null {
  const labels = new Set(cases.flatMap((c) => Object.keys(c.decision.probabilities)));
  const f1s: number[] = [];
  for (const k of labels) {
    const given = cases.filter((c) => c.decision.label === k);
    const sum = (xs: CaseRecord[]) => xs.reduce((a, c) => a + (c.decision.probabilities[k] ?? 0), 0);
    const tp = sum(given);
    const fp = given.length - tp;
    const fn = sum(cases.filter((c) => c.decision.label !== k));
    if (2 * tp + fp + fn > 0) f1s.push((2 * tp) / (2 * tp + fp + fn));
  }
  return f1s.length ? f1s.reduce((a, b) => a + b, 0) / f1s.length : null;
}

/** CBPE of a set of cases: mean p[top] ± 1.96 √(Σ p(1 − p)) / n (clipped to [0, 1]). */
export function expected(cases: CaseRecord[]): Expected {
  const n = cases.length;
  if (!n) return { n, accuracy: null, macro_f1: null };
  const ps = cases.map((c) => topOf(c).p);
  const value = ps.reduce((a, b) => a + b, 0) / n;
  const half = (1.96 * Math.sqrt(ps.reduce((a, p) => a + p * (1 - p), 0))) / n;
  const accuracy = { value, low: Math.max(0, value - half), high: Math.min(1, value + half) };
  return { n, accuracy, macro_f1: expectedMacroF1(cases) };
}

export function estimatedOf(cases: CaseRecord[]): EstimatedFigures {
  const out = cases.filter((c) => !c.decision.in_scope);
  const inside = cases.filter((c) => c.decision.in_scope);
  return {
    ...expected(cases),
    answered: expected(inside.filter((c) => !c.decision.abstain)),
    abstained: expected(inside.filter((c) => c.decision.abstain)),
    out_of_scope: expected(out),
  };
}

interface AlertInput {
  live: Figures;
  estimated: EstimatedFigures | null;
  validation: number | null;
  margin: number;
  min: number;
}

/** The alert: the random stream's reviewed accuracy and the estimate, each against validation − margin. */
function alertOf(a: AlertInput): PerformanceReport['alert'] {
  if (a.validation === null)
    return {
      active: false,
      fired: [],
      message: 'no validation accuracy recorded for this version: no alert threshold',
    };
  const floor = a.validation - a.margin;
  const threshold = `validation ${pct(a.validation)}, alert below ${pct(floor)} (margin ${a.margin})`;
  const fired: ('reviewed' | 'estimated')[] = [];
  const parts: string[] = [];
  const { live, estimated: e } = a;
  if (!live.accuracy || live.n < a.min) parts.push(`${live.n} of the ${a.min} randomly sampled reviewed cases needed`);
  else {
    if (live.accuracy.value < floor) fired.push('reviewed');
    parts.push(`live accuracy ${ci(live.accuracy)} on ${live.n} randomly sampled reviewed cases`);
  }
  if (e?.accuracy && e.n >= a.min) {
    if (e.accuracy.value < floor) fired.push('estimated');
    parts.push(`estimated accuracy ${ci(e.accuracy)} on ${e.n} captured cases (from confidence, before review)`);
  }
  const said = `${parts.join('; ')}; ${threshold}`;
  if (!fired.length) return { active: false, fired, message: `No alert: ${said}.` };
  const which = fired.length === 2 ? 'reviewed and estimated' : fired[0];
  return { active: true, fired, message: `Performance alert (${which}): ${said}. Re-validate or roll back the model.` };
}

const SKIP_MULTI =
  'multi-label model: no confidence-based estimate (p[top] is not the chance that a set of labels is right)';

export function performanceOf(st: ServedState, o: PerformanceOptions): PerformanceReport {
  const now = o.now ?? Date.now();
  const settled = outcomes(st);
  const mine = [...st.cases.values()].filter((c) => c.model.name === o.model && c.model.version === o.version);
  const single = mine.filter((c) => !Array.isArray(c.decision.label));
  const reviewed = single
    .filter((c) => settled.has(c.id))
    .map((c) => ({
      c,
      s: {
        predicted: c.decision.label as string,
        outcome: settled.get(c.id)!.label,
        probabilities: c.decision.probabilities,
      } satisfies Scored,
    }));
  const skipped = o.multiLabel || single.length < mine.length ? SKIP_MULTI : null;
  const windows = WINDOWS.map((w) => {
    const inside = reviewed.filter(({ c }) => now - Date.parse(c.time) <= w.ms);
    return {
      window: w.window,
      random: figures(inside.filter(({ c }) => c.random).map((x) => x.s)),
      prioritised: figures(inside.filter(({ c }) => !c.random).map((x) => x.s)),
      estimated: skipped ? null : estimatedOf(single.filter((c) => now - Date.parse(c.time) <= w.ms)),
    };
  });
  const all = windows[windows.length - 1]!;
  const alert = alertOf({
    live: all.random,
    estimated: all.estimated,
    validation: o.validation?.accuracy ?? null,
    margin: o.margin,
    min: o.minCases ?? 20,
  });
  return {
    model: o.model,
    version: o.version,
    captured: mine.length,
    reviewed: reviewed.length,
    windows,
    estimated_skipped: skipped,
    validation: o.validation,
    margin: o.margin,
    alert,
  };
}
