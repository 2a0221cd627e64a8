/**
 * Seeded bootstrap helpers: resampling indices with replacement, and percentile intervals (linear interpolation
 * between order statistics, as numpy's default quantile). One seed and one method for every interval medtune prints
 * (run report, bias audit, model card, the UI's Models page), so the same model on the same data gets the same
 * intervals wherever they are read.
 */
import { Generator } from '../tensor/random.js';

/** The default number of resamples (the audit needs ≥ 1000; tails of adjusted intervals want more). */
export const DEFAULT_RESAMPLES = 2000;

/** The bootstrap seed of every interval (not the training seed: another training seed must not move them). */
export const BOOTSTRAP_SEED = 42;

/** The method, in words, for the pages that print intervals. */
export const BOOTSTRAP_METHOD = `seeded percentile bootstrap (${DEFAULT_RESAMPLES} resamples, seed ${BOOTSTRAP_SEED})`;

/** The p-quantile (0 ≤ p ≤ 1) of sorted values, interpolating between neighbours. */
export function quantileSorted(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** The central `level` percentile interval of bootstrap values (NaN values — an undefined metric — are dropped). */
export function percentileInterval(values: number[], level = 0.95): [number, number] {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const a = (1 - level) / 2;
  return [quantileSorted(s, a), quantileSorted(s, 1 - a)];
}

/** Indices 0..n-1 drawn n times with replacement. */
export function resampleIndices(n: number, g: Generator): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(g.uniform() * n);
  return out;
}

/** Bootstrap values of a statistic of one sample (seeded). */
export function bootstrap<T>(
  xs: T[],
  stat: (sample: T[]) => number,
  o: { resamples?: number; seed?: number } = {},
): number[] {
  const g = new Generator(o.seed ?? BOOTSTRAP_SEED);
  const out: number[] = [];
  for (let b = 0; b < (o.resamples ?? DEFAULT_RESAMPLES); b++) {
    out.push(stat(Array.from(resampleIndices(xs.length, g), (i) => xs[i]!)));
  }
  return out;
}
