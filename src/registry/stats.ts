/**
 * The statistics of live performance and of comparisons: accuracy, macro-F1 and expected calibration error of
 * predictions against outcomes, each with a seeded percentile-bootstrap 95 % interval, and the paired bootstrap of
 * the difference between two models on the same cases.
 */
import { calibrationMetrics } from '../evaluate/calibration.js';
import { singleLabelMetrics } from '../evaluate/metrics.js';

/** A scored prediction: the label given, the true outcome, the probabilities (by label). */
export interface Scored {
  predicted: string;
  outcome: string;
  probabilities: Record<string, number>;
}

export interface Estimate {
  value: number;
  low: number;
  high: number;
}

export interface Figures {
  n: number;
  accuracy: Estimate | null;
  macro_f1: Estimate | null;
  ece: Estimate | null;
}

/** mulberry32: a small seeded generator (the same seed, the same intervals). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.floor(q * (s.length - 1))))]!;
};

/** A statistic of a sample and the 2.5 / 97.5 percentiles of it over `rounds` resamples (with replacement). */
export function bootstrap<T>(
  items: T[],
  stat: (xs: T[]) => number,
  o: { rounds?: number; seed?: number } = {},
): Estimate {
  const value = stat(items);
  const next = rng(o.seed ?? 42);
  const draws: number[] = [];
  for (let b = 0; b < (o.rounds ?? 1000); b++) {
    const s = items.map(() => items[Math.floor(next() * items.length)]!);
    const v = stat(s);
    if (Number.isFinite(v)) draws.push(v);
  }
  return draws.length
    ? { value, low: quantile(draws, 0.025), high: quantile(draws, 0.975) }
    : { value, low: value, high: value };
}

const accuracy = (xs: Scored[]) => xs.filter((x) => x.predicted === x.outcome).length / xs.length;

function labelsOf(xs: Scored[]): string[] {
  return [...new Set(xs.flatMap((x) => [...Object.keys(x.probabilities), x.outcome, x.predicted]))].sort();
}

function macroF1(xs: Scored[], labels: string[]): number {
  const ix = new Map(labels.map((l, i) => [l, i]));
  return singleLabelMetrics(
    xs.map((x) => ix.get(x.predicted)!),
    xs.map((x) => ix.get(x.outcome)!),
    labels,
  ).f1_macro;
}

function ece(xs: Scored[], labels: string[]): number {
  const ix = new Map(labels.map((l, i) => [l, i]));
  return calibrationMetrics(
    xs.map((x) => labels.map((l) => x.probabilities[l] ?? 0)),
    xs.map((x) => ix.get(x.outcome)!),
  ).ece;
}

/** Accuracy, macro-F1 (over the labels seen) and ECE, each with its bootstrap interval; null below one case. */
export function figures(xs: Scored[], seed = 42): Figures {
  if (!xs.length) return { n: 0, accuracy: null, macro_f1: null, ece: null };
  const labels = labelsOf(xs);
  return {
    n: xs.length,
    accuracy: bootstrap(xs, accuracy, { seed }),
    macro_f1: bootstrap(xs, (s) => macroF1(s, labels), { seed, rounds: 400 }),
    ece: bootstrap(xs, (s) => ece(s, labels), { seed, rounds: 400 }),
  };
}

/** Paired bootstrap of mean(b) − mean(a) over the same cases (1 = right, 0 = wrong). */
export function pairedDifference(a: number[], b: number[], seed = 42): Estimate & { n: number } {
  const pairs = a.map((x, i) => [x, b[i]!] as const);
  const diff = (ps: (readonly [number, number])[]) => ps.reduce((s, [x, y]) => s + (y - x), 0) / ps.length;
  return { n: pairs.length, ...bootstrap(pairs, diff, { seed, rounds: 2000 }) };
}
