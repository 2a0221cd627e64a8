/**
 * Curves drawn from predictions.jsonl: one-vs-rest ROC and precision–recall points with their areas (sklearn's
 * definitions: trapezoidal ROC-AUC, average precision as the step sum Σ (R_k − R_{k−1}) P_k), and reliability
 * bins.
 */
import { ECE_BINS } from './audit.js';

export interface Curve {
  label: string;
  points: [number, number][];
  area: number;
  positives: number;
}

/** At most `max` points, evenly thinned, first and last kept (the SVG stays small; the area uses every point). */
function thin(points: [number, number][], max = 150): [number, number][] {
  if (points.length <= max) return points;
  const step = (points.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => points[Math.round(i * step)]!);
}

/** Score-sorted cumulative true and false positives at each distinct threshold. */
function sweep(scores: number[], positive: boolean[]): { tp: number; fp: number }[] {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const out: { tp: number; fp: number }[] = [];
  let tp = 0;
  let fp = 0;
  order.forEach((i, k) => {
    if (positive[i]) tp++;
    else fp++;
    if (k + 1 === order.length || scores[order[k + 1]!] !== scores[i]) out.push({ tp, fp });
  });
  return out;
}

export function rocCurve(label: string, scores: number[], positive: boolean[]): Curve | null {
  const P = positive.filter(Boolean).length;
  const N = positive.length - P;
  if (!P || !N) return null;
  const pts: [number, number][] = [[0, 0]];
  for (const { tp, fp } of sweep(scores, positive)) pts.push([fp / N, tp / P]);
  let area = 0;
  for (let k = 1; k < pts.length; k++) area += ((pts[k]![0] - pts[k - 1]![0]) * (pts[k]![1] + pts[k - 1]![1])) / 2;
  return { label, points: thin(pts), area, positives: P };
}

export function prCurve(label: string, scores: number[], positive: boolean[]): Curve | null {
  const P = positive.filter(Boolean).length;
  if (!P) return null;
  const pts: [number, number][] = [[0, 1]];
  let area = 0;
  let prevR = 0;
  for (const { tp, fp } of sweep(scores, positive)) {
    const r = tp / P;
    const p = tp / (tp + fp);
    area += (r - prevR) * p;
    prevR = r;
    pts.push([r, p]);
  }
  return { label, points: thin(pts), area, positives: P };
}

/** Classes to draw: the `k` with most support; among equals, the lowest area (the hardest), then label order. */
export function topClasses(labels: string[], support: number[], area: number[], k = 6): number[] {
  return labels
    .map((_, c) => c)
    .filter((c) => support[c]! > 0)
    .sort((a, b) => support[b]! - support[a]! || area[a]! - area[b]! || a - b)
    .slice(0, k);
}

/** Reliability bins (15 equal-width bins of top-class confidence): mean confidence, accuracy, count. */
export interface ReliabilityBin {
  confidence: number;
  accuracy: number;
  count: number;
}

export function reliabilityBins(probs: number[][], gold: number[]): ReliabilityBin[] {
  const bins = Array.from({ length: ECE_BINS }, () => ({ conf: 0, ok: 0, count: 0 }));
  probs.forEach((p, i) => {
    let k = 0;
    for (let c = 1; c < p.length; c++) if (p[c]! > p[k]!) k = c;
    const b = bins[Math.min(ECE_BINS - 1, Math.max(0, Math.ceil(p[k]! * ECE_BINS) - 1))]!;
    b.count++;
    b.conf += p[k]!;
    b.ok += k === gold[i] ? 1 : 0;
  });
  return bins
    .filter((b) => b.count)
    .map((b) => ({ confidence: b.conf / b.count, accuracy: b.ok / b.count, count: b.count }));
}

/**
 * Probabilities before temperature scaling, from the calibrated ones: p_cal ∝ p_raw^(1/T), so p_raw ∝ p_cal^T
 * (exact up to the 6 decimals predictions.jsonl keeps; a probability written as 0 is taken as 1e-7).
 */
export function uncalibrated(probs: number[][], temperature: number): number[][] {
  return probs.map((p) => {
    const logs = p.map((q) => temperature * Math.log(Math.max(q, 1e-7)));
    const mx = Math.max(...logs);
    const e = logs.map((l) => Math.exp(l - mx));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  });
}
