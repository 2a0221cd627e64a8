/**
 * Samplers: which parameters the next trial tries. Random and grid, and TPE (Bergstra et al. 2011) as Optuna does it:
 * the first `startupTrials` are random; then the finished trials are split into the best γ(n) = min(⌈0.1 n⌉, 25)
 * ("below") and the rest ("above"), a Parzen estimator (a mixture of truncated normals, one per observation plus a wide
 * prior; categorical: smoothed counts) is fitted to each, 24 candidates are drawn from l(x) = p(x | below) and the one
 * maximising l(x) / g(x) is taken. Univariate by default (one estimator per parameter); `multivariate` fits one joint
 * estimator with Scott's bandwidth. Pruned trials rank after complete ones (the more evaluations they survived, the
 * better); running trials count as "above" (constant liar), so parallel trials spread out.
 */
import { Generator } from '../tensor/random.js';
import { erf } from '../common/math.js';
import { cardinality, type Distribution, type ParamValue } from './space.js';

export type TrialState = 'waiting' | 'running' | 'complete' | 'pruned' | 'failed';
export type Direction = 'maximize' | 'minimize';

/** What samplers and pruners see of a trial. */
export interface TrialRecord {
  number: number;
  state: TrialState;
  params: Record<string, ParamValue>;
  /** the trial's value (its best evaluation), for complete trials */
  value: number | null;
  /** evaluation index (1, 2, …) → metric */
  intermediate: [number, number][];
}

export interface SampleInput {
  space: Record<string, Distribution>;
  trials: TrialRecord[];
  direction: Direction;
  /** the number of the trial being sampled (samplers are deterministic in seed and number) */
  number: number;
}

export interface Sampler {
  readonly name: string;
  sample(x: SampleInput): Record<string, ParamValue>;
}

/** A generator for trial `number` of a study seeded with `seed` (same draws whatever ran before). */
const rngFor = (seed: number, number: number, salt = 0) =>
  new Generator((seed * 1_000_003 + number * 7919 + salt) >>> 0);

/** A value drawn uniformly (log-uniformly) from a distribution. */
export function drawUniform(d: Distribution, g: Generator): ParamValue {
  if (d.type === 'categorical')
    return d.choices[Math.min(d.choices.length - 1, Math.floor(g.uniform() * d.choices.length))]!;
  const [lo, hi] = internalBounds(d);
  return fromInternal(d, lo + (hi - lo) * g.uniform());
}

export class RandomSampler implements Sampler {
  readonly name = 'random';
  constructor(private seed: number) {}
  sample(x: SampleInput): Record<string, ParamValue> {
    const g = rngFor(this.seed, x.number);
    return Object.fromEntries(Object.entries(x.space).map(([k, d]) => [k, drawUniform(d, g)]));
  }
}

/** The points of a finite grid: choices, every integer (at most `points` spread values of a wide range) and
 * `points` values spread over a continuous range (log-spaced on a log scale), ends included. */
export function gridValues(d: Distribution, points = 3): ParamValue[] {
  if (d.type === 'categorical') return d.choices;
  if (d.type === 'int' && cardinality(d) <= Math.max(points, 10))
    return Array.from({ length: d.high - d.low + 1 }, (_, i) => d.low + i);
  const [lo, hi] = d.log ? [Math.log(d.low), Math.log(d.high)] : [d.low, d.high];
  const vals = Array.from({ length: points }, (_, i) => {
    const v = lo + ((hi - lo) * i) / (points - 1);
    const x = d.log ? Math.exp(v) : v;
    return d.type === 'int' ? Math.round(x) : Number(x.toPrecision(6));
  });
  return [...new Set(vals)];
}

export class GridSampler implements Sampler {
  readonly name = 'grid';
  constructor(
    private seed: number,
    private points = 3,
  ) {}

  /** Every grid point, in a seeded order. */
  grid(space: Record<string, Distribution>): Record<string, ParamValue>[] {
    let out: Record<string, ParamValue>[] = [{}];
    for (const [k, d] of Object.entries(space))
      out = out.flatMap((p) => gridValues(d, this.points).map((v) => ({ ...p, [k]: v })));
    const g = new Generator(this.seed);
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(g.uniform() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** The first grid point no trial has taken yet (a failed trial that was not retried keeps its point). */
  sample(x: SampleInput): Record<string, ParamValue> {
    const key = (p: Record<string, ParamValue>) =>
      JSON.stringify(
        Object.keys(x.space)
          .sort()
          .map((k) => p[k]),
      );
    const used = new Set(x.trials.map((t) => key(t.params)));
    const next = this.grid(x.space).find((p) => !used.has(key(p)));
    return next ?? this.grid(x.space)[x.number % this.grid(x.space).length]!;
  }
}

// ---- TPE ------------------------------------------------------------------------------------------------------

/** Numeric parameters live on an internal axis: ln for log scales, ±0.5 around integers (Optuna's transform). */
function internalBounds(d: Exclude<Distribution, { type: 'categorical' }>): [number, number] {
  const lo = d.type === 'int' ? d.low - 0.5 : d.low;
  const hi = d.type === 'int' ? d.high + 0.5 : d.high;
  return d.log ? [Math.log(lo), Math.log(hi)] : [lo, hi];
}

const toInternal = (d: Exclude<Distribution, { type: 'categorical' }>, v: number) => (d.log ? Math.log(v) : v);

function fromInternal(d: Exclude<Distribution, { type: 'categorical' }>, x: number): number {
  const v = d.log ? Math.exp(x) : x;
  return d.type === 'int' ? Math.min(d.high, Math.max(d.low, Math.round(v))) : Math.min(d.high, Math.max(d.low, v));
}

const Phi = (z: number) => 0.5 * (1 + erf(z / Math.SQRT2));
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

function logsumexp(xs: number[]): number {
  const m = Math.max(...xs);
  if (!Number.isFinite(m)) return m;
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

/** Optuna's default weights: flat for the 25 newest observations, a ramp below that for older ones. */
export function defaultWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = Array.from({ length: n - 25 }, (_, i) => (n - 25 === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (n - 26)));
  return [...ramp, ...new Array<number>(25).fill(1)];
}

/** One dimension of a Parzen estimator: numeric (truncated normals) or categorical (a weight table per kernel). */
type Kernel1D =
  | { kind: 'num'; mus: number[]; sigmas: number[]; lo: number; hi: number; int: boolean; dist: Distribution }
  | { kind: 'cat'; probs: number[][]; dist: Distribution };

interface Parzen {
  /** mixture weights (normalised), one per kernel; the last kernel is the prior */
  weights: number[];
  dims: Record<string, Kernel1D>;
}

/** Univariate bandwidths (Optuna): the larger gap to the sorted neighbours, clipped to [range/min(100, n+1), range]. */
function univariateSigmas(mus: number[], lo: number, hi: number): number[] {
  const n = mus.length;
  const order = mus.map((_, i) => i).sort((a, b) => mus[a]! - mus[b]!);
  const s = order.map((i) => mus[i]!);
  const withEnds = [lo, ...s, hi];
  const sorted = s.map((_, i) => Math.max(withEnds[i + 1]! - withEnds[i]!, withEnds[i + 2]! - withEnds[i + 1]!));
  if (n >= 2) {
    sorted[0] = s[1]! - s[0]!;
    sorted[n - 1] = s[n - 1]! - s[n - 2]!;
  }
  const out = new Array<number>(n);
  order.forEach((i, r) => {
    out[i] = sorted[r]!;
  });
  const minS = (hi - lo) / Math.min(100, 1 + n);
  return out.map((x) => Math.min(hi - lo, Math.max(minS, x)));
}

function buildParzen(
  space: Record<string, Distribution>,
  obs: Record<string, ParamValue>[],
  multivariate: boolean,
): Parzen {
  const n = obs.length;
  const w = [...defaultWeights(n), 1]; // prior weight 1.0
  const total = w.reduce((a, b) => a + b, 0);
  const dims: Record<string, Kernel1D> = {};
  const D = Object.keys(space).length;
  for (const [k, d] of Object.entries(space)) {
    if (d.type === 'categorical') {
      const K = d.choices.length;
      const probs = obs.map((o) => {
        const row = new Array<number>(K).fill(1 / (n + 1)); // prior_weight / n_kernels
        row[
          Math.max(
            0,
            d.choices.findIndex((c) => String(c) === String(o[k])),
          )
        ]! += 1;
        const z = row.reduce((a, b) => a + b, 0);
        return row.map((v) => v / z);
      });
      probs.push(new Array<number>(K).fill(1 / K));
      dims[k] = { kind: 'cat', probs, dist: d };
      continue;
    }
    const [lo, hi] = internalBounds(d);
    const mus = obs.map((o) => toInternal(d, Number(o[k])));
    const sig = multivariate
      ? mus.map(() => 0.2 * Math.pow(Math.max(n, 1), -1 / (D + 4)) * (hi - lo))
      : univariateSigmas([...mus, (lo + hi) / 2], lo, hi).slice(0, n);
    dims[k] = {
      kind: 'num',
      mus: [...mus, (lo + hi) / 2],
      sigmas: [...sig, hi - lo],
      lo,
      hi,
      int: d.type === 'int',
      dist: d,
    };
  }
  return { weights: w.map((x) => x / total), dims };
}

/** log density (numeric) or log probability (categorical, integer bins) of x under kernel j of one dimension. */
function logKernel(k: Kernel1D, j: number, x: number): number {
  if (k.kind === 'cat') return Math.log(k.probs[j]![x]!);
  const mu = k.mus[j]!;
  const s = k.sigmas[j]!;
  const mass = Math.max(1e-12, Phi((k.hi - mu) / s) - Phi((k.lo - mu) / s));
  if (k.int) {
    const d = k.dist as Exclude<Distribution, { type: 'categorical' }>;
    const v = fromInternal(d, x);
    const a = toInternal(d, v - 0.5);
    const b = toInternal(d, v + 0.5);
    const lo = Math.max(k.lo, Number.isFinite(a) ? a : k.lo);
    return Math.log(Math.max(1e-12, Phi((Math.min(k.hi, b) - mu) / s) - Phi((lo - mu) / s)) / mass);
  }
  const z = (x - mu) / s;
  return -0.5 * z * z - LOG_SQRT_2PI - Math.log(s) - Math.log(mass);
}

/** A draw from kernel j of one dimension (truncated normal by rejection, then inverse transform). */
function drawKernel(k: Kernel1D, j: number, g: Generator): number {
  if (k.kind === 'cat') {
    let u = g.uniform();
    const p = k.probs[j]!;
    for (let c = 0; c < p.length; c++) if ((u -= p[c]!) <= 0) return c;
    return p.length - 1;
  }
  for (let tries = 0; tries < 100; tries++) {
    const x = k.mus[j]! + k.sigmas[j]! * g.normal();
    if (x >= k.lo && x <= k.hi) return x;
  }
  return k.lo + (k.hi - k.lo) * g.uniform();
}

function pickKernel(weights: number[], g: Generator): number {
  let u = g.uniform();
  for (let j = 0; j < weights.length; j++) if ((u -= weights[j]!) <= 0) return j;
  return weights.length - 1;
}

/** log p(x) over the named dimensions: a mixture over kernels of the product of per-dimension kernels. */
function logPdf(p: Parzen, x: Record<string, number>, keys: string[]): number {
  return logsumexp(
    p.weights.map((w, j) => Math.log(w) + keys.reduce((s, k) => s + logKernel(p.dims[k]!, j, x[k]!), 0)),
  );
}

export interface TpeOptions {
  seed: number;
  startupTrials?: number;
  candidates?: number;
  multivariate?: boolean;
}

/** Trials ranked best first: complete by value, then pruned by evaluations survived and their last value. */
export function rankTrials(trials: TrialRecord[], direction: Direction): TrialRecord[] {
  const better = (a: number, b: number) => (direction === 'maximize' ? b - a : a - b);
  const complete = trials.filter((t) => t.state === 'complete' && t.value !== null && Number.isFinite(t.value));
  const pruned = trials.filter((t) => t.state === 'pruned' && t.intermediate.length);
  const last = (t: TrialRecord) => t.intermediate[t.intermediate.length - 1]!;
  complete.sort((a, b) => better(a.value!, b.value!));
  pruned.sort((a, b) => last(b)[0] - last(a)[0] || better(last(a)[1], last(b)[1]));
  return [...complete, ...pruned];
}

export class TpeSampler implements Sampler {
  readonly name = 'tpe';
  private startup: number;
  private candidates: number;
  private multivariate: boolean;
  constructor(private o: TpeOptions) {
    this.startup = o.startupTrials ?? 10;
    this.candidates = o.candidates ?? 24;
    this.multivariate = o.multivariate ?? false;
  }

  sample(x: SampleInput): Record<string, ParamValue> {
    const ranked = rankTrials(x.trials, x.direction);
    const g = rngFor(this.o.seed, x.number, 17);
    if (ranked.length < this.startup) return new RandomSampler(this.o.seed).sample(x);
    const nBelow = Math.min(Math.ceil(0.1 * ranked.length), 25);
    const running = x.trials.filter((t) => t.state === 'running' && t.number !== x.number);
    // observations in trial order (the weights favour recent ones)
    const byNumber = (ts: TrialRecord[]) => [...ts].sort((a, b) => a.number - b.number).map((t) => t.params);
    const below = byNumber(ranked.slice(0, nBelow));
    const above = byNumber([...ranked.slice(nBelow), ...running]);
    const groups = this.multivariate ? [Object.keys(x.space)] : Object.keys(x.space).map((k) => [k]);
    const out: Record<string, ParamValue> = {};
    for (const keys of groups) {
      const sub = Object.fromEntries(keys.map((k) => [k, x.space[k]!]));
      const l = buildParzen(sub, below, this.multivariate);
      const gm = buildParzen(sub, above, this.multivariate);
      let best: Record<string, number> | null = null;
      let bestScore = -Infinity;
      for (let c = 0; c < this.candidates; c++) {
        const j = pickKernel(l.weights, g);
        const cand = Object.fromEntries(keys.map((k) => [k, drawKernel(l.dims[k]!, j, g)]));
        const score = logPdf(l, cand, keys) - logPdf(gm, cand, keys);
        if (score > bestScore || best === null) {
          best = cand;
          bestScore = score;
        }
      }
      for (const k of keys) {
        const d = x.space[k]!;
        out[k] = d.type === 'categorical' ? d.choices[best![k]!]! : fromInternal(d, best![k]!);
      }
    }
    return out;
  }
}

export function makeSampler(name: string, o: TpeOptions & { gridPoints?: number }): Sampler {
  if (name === 'random') return new RandomSampler(o.seed);
  if (name === 'grid') return new GridSampler(o.seed, o.gridPoints);
  return new TpeSampler(o);
}
