/**
 * Trust in numbers: calibration metrics (ECE and MCE over 15 equal-width bins, Brier score, NLL), temperature scaling
 * fitted on validation NLL (Guo et al. 2017: one scalar T, accuracy unchanged), per-label thresholds of multi-label
 * models maximising F1 on validation, and selective classification (risk–coverage curve, AURC, accuracy at a
 * coverage, the abstention threshold that reaches a target accuracy; Geifman & El-Yaniv 2017).
 */
import { MedtuneError } from '../common/errors.js';
import type { EvalResult } from './types.js';

export const ECE_BINS = 15;

export interface CalibrationMetrics {
  ece: number;
  mce: number;
  brier: number;
  nll: number;
}

/** softmax(logits / T) of one row. */
export function softmaxT(row: number[], T: number): number[] {
  let mx = -Infinity;
  for (const x of row) mx = Math.max(mx, x / T);
  const e = row.map((x) => Math.exp(x / T - mx));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

/** Reliability bins of top-class confidence: per bin, count, mean confidence and accuracy (empty bins: count 0). */
export function reliability(
  probs: number[][],
  gold: number[],
  bins = ECE_BINS,
): { count: number; confidence: number; accuracy: number; lo: number; hi: number }[] {
  const out = Array.from({ length: bins }, (_, b) => ({
    count: 0,
    confidence: 0,
    accuracy: 0,
    lo: b / bins,
    hi: (b + 1) / bins,
  }));
  probs.forEach((p, i) => {
    let k = 0;
    for (let c = 1; c < p.length; c++) if (p[c]! > p[k]!) k = c;
    const conf = p[k]!;
    // equal-width bins (lo, hi]; confidence 0 goes to the first bin
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(conf * bins) - 1));
    const bin = out[b]!;
    bin.count++;
    bin.confidence += conf;
    bin.accuracy += k === gold[i] ? 1 : 0;
  });
  for (const bin of out)
    if (bin.count) {
      bin.confidence /= bin.count;
      bin.accuracy /= bin.count;
    }
  return out;
}

/** ECE, MCE (15 bins), Brier score (mean squared error of the probability vector) and NLL, single-label. */
export function calibrationMetrics(probs: number[][], gold: number[], bins = ECE_BINS): CalibrationMetrics {
  const n = probs.length;
  const rel = reliability(probs, gold, bins);
  const ece = rel.reduce((s, b) => s + (b.count / n) * Math.abs(b.accuracy - b.confidence), 0);
  const mce = Math.max(0, ...rel.filter((b) => b.count).map((b) => Math.abs(b.accuracy - b.confidence)));
  let brier = 0;
  let nll = 0;
  probs.forEach((p, i) => {
    p.forEach((q, c) => {
      brier += (q - (c === gold[i] ? 1 : 0)) ** 2;
    });
    nll -= Math.log(Math.max(p[gold[i]!]!, 1e-12));
  });
  return { ece, mce, brier: brier / n, nll: nll / n };
}

/** Mean NLL of softmax(logits / T) and its derivative in u = ln T (for Newton steps on a positive T). */
function nllAndGrad(logits: number[][], gold: number[], T: number): { f: number; g: number; h: number } {
  let f = 0;
  let g = 0;
  let h = 0;
  for (let i = 0; i < logits.length; i++) {
    const z = logits[i]!;
    const p = softmaxT(z, T);
    const y = gold[i]!;
    f -= Math.log(Math.max(p[y]!, 1e-300));
    // d/du of -log p_y with s = z / T, u = ln T: ds/du = -s, so d(-log p_y)/du = s_y - Σ p s
    let ps = 0;
    let ps2 = 0;
    for (let c = 0; c < z.length; c++) {
      const s = z[c]! / T;
      ps += p[c]! * s;
      ps2 += p[c]! * s * s;
    }
    const sy = z[y]! / T;
    g += sy - ps;
    // second derivative: -(s_y - Σps) + Var_p(s)
    h += -(sy - ps) + (ps2 - ps * ps);
  }
  const n = logits.length;
  // a weak Gaussian prior on ln T (sd 1): negligible on real validation sets, but it keeps T finite when validation
  // is perfectly separated (then the NLL falls without end as T → 0 and every probability would become 0 or 1)
  const u = Math.log(T);
  return { f: (f + (u * u) / 2) / n, g: (g + u) / n, h: (h + 1) / n };
}

/**
 * The temperature T > 0 minimising validation NLL of softmax(logits / T) (with a weak prior on ln T, see above):
 * Newton's method on ln T, safeguarded by bisection on the gradient. Works on logits or log-probabilities alike.
 */
export function fitTemperature(logits: number[][], gold: number[]): number {
  if (logits.length < 2)
    throw new MedtuneError('temperature scaling needs at least two validation examples', 'E_INPUT_EMPTY');
  if (new Set(gold).size < 2)
    throw new MedtuneError(
      'the calibration data has only one class present; calibration needs at least two',
      'E_INPUT_LABEL',
    );
  let lo = Math.log(0.01);
  let hi = Math.log(100);
  if (nllAndGrad(logits, gold, Math.exp(lo)).g > 0) return Math.exp(lo);
  if (nllAndGrad(logits, gold, Math.exp(hi)).g < 0) return Math.exp(hi);
  let u = 0;
  for (let it = 0; it < 100; it++) {
    const { g, h } = nllAndGrad(logits, gold, Math.exp(u));
    if (Math.abs(g) < 1e-10) break;
    if (g > 0) hi = u;
    else lo = u;
    let next = h > 0 ? u - g / h : (lo + hi) / 2;
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - u) < 1e-12) break;
    u = next;
  }
  return Math.exp(u);
}

/** The threshold maximising F1 of one label (ties: the one closest to 0.5); candidates are midpoints of scores. */
export function bestF1Threshold(scores: number[], gold: number[]): { threshold: number; f1: number } {
  const pos = gold.reduce((a, y) => a + (y > 0.5 ? 1 : 0), 0);
  if (pos === 0) return { threshold: 0.5, f1: 0 };
  const order = scores.map((s, i) => [s, gold[i]! > 0.5 ? 1 : 0] as const).sort((a, b) => b[0] - a[0]);
  let best = { threshold: 0.5, f1: -1 };
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    if (order[k]![1]) tp++;
    else fp++;
    // predict positive for the first k+1 scores: threshold between this score and the next lower one
    if (k + 1 < order.length && order[k + 1]![0] === order[k]![0]) continue;
    const next = k + 1 < order.length ? order[k + 1]![0] : 0;
    const threshold = (order[k]![0] + next) / 2;
    const f1 = (2 * tp) / (2 * tp + fp + (pos - tp));
    if (
      f1 > best.f1 + 1e-12 ||
      (Math.abs(f1 - best.f1) <= 1e-12 && Math.abs(threshold - 0.5) < Math.abs(best.threshold - 0.5))
    )
      best = { threshold, f1 };
  }
  return best;
}

export interface SelectiveMetrics {
  aurc: number;
  /** [coverage, risk] points, most confident first (at most ~100 points) */
  risk_coverage: [number, number][];
  accuracy_at_coverage: Record<string, number>;
}

/**
 * Risk–coverage of selective classification: accept the most confident predictions first; risk = error rate among the
 * accepted. AURC = mean risk over the coverages 1/n … 1.
 */
export function selectiveMetrics(confidence: number[], correct: boolean[]): SelectiveMetrics {
  const n = confidence.length;
  const order = confidence.map((c, i) => [c, correct[i]!] as const).sort((a, b) => b[0] - a[0]);
  let errors = 0;
  let area = 0;
  const curve: [number, number][] = [];
  const step = Math.max(1, Math.floor(n / 100));
  order.forEach(([, ok], k) => {
    if (!ok) errors++;
    const risk = errors / (k + 1);
    area += risk;
    if ((k + 1) % step === 0 || k === n - 1) curve.push([(k + 1) / n, risk]);
  });
  const accAt = (cov: number) => {
    const k = Math.max(1, Math.round(cov * n));
    return order.slice(0, k).filter(([, ok]) => ok).length / k;
  };
  return {
    aurc: area / Math.max(1, n),
    risk_coverage: curve,
    accuracy_at_coverage: { '0.8': accAt(0.8), '0.9': accAt(0.9), '1.0': accAt(1) },
  };
}

/**
 * The lowest confidence threshold whose accepted predictions reach accuracy `target` on this data, and the coverage it
 * keeps. Refused (with the best that is possible) when no threshold reaches it.
 */
export function thresholdForAccuracy(
  confidence: number[],
  correct: boolean[],
  target: number,
): { threshold: number; coverage: number; accuracy: number } {
  if (!(target > 0 && target <= 1))
    throw new MedtuneError(`--target-accuracy must be in (0, 1], got ${target}`, 'E_USAGE');
  const order = confidence.map((c, i) => [c, correct[i]!] as const).sort((a, b) => b[0] - a[0]);
  let ok = 0;
  let best: { threshold: number; coverage: number; accuracy: number } | null = null;
  let bestAcc = { accuracy: 0, coverage: 0 };
  for (let k = 0; k < order.length; k++) {
    if (order[k]![1]) ok++;
    if (k + 1 < order.length && order[k + 1]![0] === order[k]![0]) continue;
    const acc = ok / (k + 1);
    if (acc > bestAcc.accuracy) bestAcc = { accuracy: acc, coverage: (k + 1) / order.length };
    // accept everything with confidence ≥ this one; the threshold sits midway to the next lower confidence, so that
    // the same predictions computed in float32 elsewhere fall on the same side of it
    const next = k + 1 < order.length ? order[k + 1]![0] : 0;
    if (acc >= target) best = { threshold: (order[k]![0] + next) / 2, coverage: (k + 1) / order.length, accuracy: acc };
  }
  if (!best) {
    throw new MedtuneError(
      `no abstention threshold reaches accuracy ${target} on the calibration data ` +
        `(the best is ${bestAcc.accuracy.toFixed(3)} ` +
        `at coverage ${bestAcc.coverage.toFixed(3)}); choose a lower --target-accuracy`,
      'E_USAGE',
    );
  }
  return best;
}

/** The accuracy of answered held-out notes abstention aims for unless told otherwise (--target-accuracy). */
export const DEFAULT_TARGET_ACCURACY = 0.95;

/** A label gets its own decision threshold with at least this many positives in the calibration data. */
export const MIN_THRESHOLD_POSITIVES = 5;

/**
 * Multi-label decision thresholds: a label with at least MIN_THRESHOLD_POSITIVES positives in the calibration data
 * gets its own F1-optimal threshold; the others (too few positives to fit one without overfitting) share one — the
 * micro-F1-optimal threshold over the scores of every label pooled.
 */
export function fitThresholds(
  probs: number[][],
  gold: number[][],
  labels: string[],
): { thresholds: Record<string, number>; positives: number[]; shared: number } {
  const positives = labels.map((_, c) => gold.reduce((a, row) => a + (row[c]! > 0.5 ? 1 : 0), 0));
  const shared = bestF1Threshold(probs.flat(), gold.flat()).threshold;
  const thresholds = Object.fromEntries(
    labels.map((l, c) => [
      l,
      positives[c]! >= MIN_THRESHOLD_POSITIVES
        ? bestF1Threshold(
            probs.map((p) => p[c]!),
            gold.map((row) => row[c]!),
          ).threshold
        : shared,
    ]),
  );
  return { thresholds, positives, shared };
}

export interface FittedCalibration {
  /** single-label */
  temperature?: number;
  /** multi-label, by label name */
  thresholds?: Record<string, number>;
  abstain?: {
    below: number;
    source: 'fixed' | 'target_accuracy';
    target_accuracy?: number;
    /** share of the calibration data answered (in scope and confident enough) */
    coverage?: number;
    /** out-of-scope notes abstain too */
    out_of_scope?: boolean;
  };
}

export interface CalibrationOptions {
  /** abstain below this calibrated confidence */
  abstainBelow?: number;
  /** pick the abstention threshold that reaches this accuracy on the calibration data */
  targetAccuracy?: number;
  /**
   * per row, whether the out-of-scope detector keeps it in scope: out-of-scope rows abstain anyway, so the threshold
   * is chosen on the rest and the coverage counts them as not answered
   */
  inScope?: boolean[];
  /**
   * the target accuracy is a default, not the user's: when no threshold reaches it, this hears why and no confidence
   * threshold is set (instead of an error)
   */
  unreachable?: (why: string) => void;
}

const logOf = (p: number[]) => p.map((q) => Math.log(Math.max(q, 1e-30)));

/** Temperature-scaled probabilities from uncalibrated softmax probabilities (log p are the logits up to a shift). */
export function withTemperature(probs: number[][], temperature: number): number[][] {
  return probs.map((p) => softmaxT(logOf(p), temperature));
}
const topOf = (p: number[]) => p.reduce((k, q, c) => (q > p[k]! ? c : k), 0);

/**
 * Fits calibration on held-out data (never on test): a temperature for single-label models (from uncalibrated
 * probabilities: log p are logits up to a shift, which softmax ignores), per-label F1-optimal thresholds for
 * multi-label models (`fitThresholds`: shared by labels with too few positives), and optionally the abstention
 * threshold.
 */
export function fitCalibration(
  probs: number[][],
  gold: (number | number[])[],
  labels: string[],
  multiLabel: boolean,
  o: CalibrationOptions = {},
): FittedCalibration {
  if (o.abstainBelow !== undefined && o.targetAccuracy !== undefined)
    throw new MedtuneError('give --abstain-below or --target-accuracy, not both', 'E_USAGE');
  if (multiLabel) {
    const g = gold as number[][];
    if (!g.some((row) => row.some((v) => v > 0.5)))
      throw new MedtuneError(
        'the calibration data has no positive label at all; thresholds cannot be fitted',
        'E_INPUT_LABEL',
      );
    const out: FittedCalibration = { thresholds: fitThresholds(probs, g, labels).thresholds };
    if (o.abstainBelow !== undefined) {
      // multi-label confidence: the certainty of the least certain label (as in infer/decision.ts)
      const conf = probs.map((p) => Math.min(...p.map((q) => Math.max(q, 1 - q))));
      out.abstain = { below: o.abstainBelow, source: 'fixed', coverage: coverageAt(conf, o.abstainBelow, o.inScope) };
    }
    if (o.targetAccuracy !== undefined)
      throw new MedtuneError(
        '--target-accuracy is for single-label models; give --abstain-below for a multi-label model',
        'E_USAGE',
      );
    return out;
  }
  const g = gold as number[];
  const temperature = fitTemperature(probs.map(logOf), g);
  const calibrated = withTemperature(probs, temperature);
  const conf = calibrated.map((p) => Math.max(...p));
  const correct = calibrated.map((p, i) => topOf(p) === g[i]);
  const out: FittedCalibration = { temperature };
  if (o.targetAccuracy !== undefined) {
    const kept = conf.map((_, i) => i).filter((i) => o.inScope?.[i] !== false);
    let t: ReturnType<typeof thresholdForAccuracy>;
    try {
      t = thresholdForAccuracy(
        kept.map((i) => conf[i]!),
        kept.map((i) => correct[i]!),
        o.targetAccuracy,
      );
    } catch (e) {
      if (!o.unreachable || !(e instanceof MedtuneError) || e.code !== 'E_USAGE') throw e;
      o.unreachable(e.message.replace(/; choose a lower --target-accuracy$/, ''));
      return out;
    }
    out.abstain = {
      below: t.threshold,
      source: 'target_accuracy',
      target_accuracy: o.targetAccuracy,
      coverage: coverageAt(conf, t.threshold, o.inScope),
    };
  } else if (o.abstainBelow !== undefined) {
    out.abstain = { below: o.abstainBelow, source: 'fixed', coverage: coverageAt(conf, o.abstainBelow, o.inScope) };
  }
  return out;
}

/** Share of rows answered: in scope (when known) and confident enough. */
function coverageAt(conf: number[], below: number, inScope?: boolean[]): number {
  return conf.filter((c, i) => c >= below && inScope?.[i] !== false).length / Math.max(1, conf.length);
}

/** metrics.json's `calibration` block: the evaluation split before and after temperature scaling. */
export function calibrationReport(probs: number[][], gold: number[], temperature: number): Record<string, number> {
  const before = calibrationMetrics(probs, gold);
  const after = calibrationMetrics(withTemperature(probs, temperature), gold);
  return {
    temperature,
    ece_before: before.ece,
    ece_after: after.ece,
    mce_before: before.mce,
    mce_after: after.mce,
    brier_before: before.brier,
    brier_after: after.brier,
    nll_before: before.nll,
    nll_after: after.nll,
  };
}

/**
 * The trust block of metrics.json for an evaluated split: `selective` (risk–coverage of the confidences), calibration
 * metrics of the probabilities as used (single-label), `abstention` — what the model's abstention did: the rows it
 * answered (coverage) and their accuracy, the rows referred by reason — and `out_of_scope` (rows the detector put
 * out of scope) when the model has a detector. Accuracy in the metrics beside it stays over every row.
 */
export function trustMetrics(r: EvalResult, gold: (number | number[])[], multiLabel: boolean): Record<string, unknown> {
  const { probabilities: probs, predictions, abstained } = r;
  const correct = predictions.map((p, i) => JSON.stringify(p) === JSON.stringify(gold[i]));
  const confidence = probs.map((p) => (multiLabel ? Math.min(...p.map((q) => Math.max(q, 1 - q))) : Math.max(...p)));
  const out: Record<string, unknown> = { selective: selectiveMetrics(confidence, correct) };
  if (!multiLabel) out.calibration_metrics = calibrationMetrics(probs, gold as number[]);
  if (abstained) {
    const n = abstained.length;
    const kept = correct.filter((_, i) => !abstained[i]);
    const count = (why: string) => (r.abstainReasons ?? []).filter((x) => x === why).length;
    out.abstention = {
      abstained: abstained.filter(Boolean).length,
      rate: abstained.filter(Boolean).length / Math.max(1, n),
      coverage: kept.length / Math.max(1, n),
      accuracy_of_the_rest: kept.length ? kept.filter(Boolean).length / kept.length : null,
      out_of_scope: count('out_of_scope'),
      low_confidence: count('low_confidence'),
    };
  }
  if (r.oodScores?.some((x) => x !== null)) {
    const outside = r.oodScores.filter((x) => x !== null && x > 1).length;
    out.out_of_scope = { rows: outside, in_scope_rate: 1 - outside / Math.max(1, r.oodScores.length) };
  }
  return out;
}
