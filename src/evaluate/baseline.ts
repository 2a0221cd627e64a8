/**
 * The baseline every transformer run is shown beside (REFERENCE.md: it is strong on small clinical datasets):
 * TF-IDF over word 1-2-grams with sublinear tf (sklearn's TfidfVectorizer defaults otherwise) and an
 * L2-regularised logistic regression with C = 10 fitted by L-BFGS — multinomial for single-label, one-vs-rest with
 * balanced class weights for multi-label. Sparse rows, feature-major weights, buffers allocated once, sklearn's
 * stopping rule; progress lines every few seconds. One-vs-rest fits each label in the span of its training rows
 * (`fitBinary`), and a rare label (≤ 20 positives among > 1,000 negatives) on a weighted sample of its negatives
 * (`oneVsRestRows`): 1,000 ICD-style labels over 1,600 notes in about 10 CPU seconds, not 194
 * (docs/long-documents.md, scripts/bench-baseline-icd.mjs).
 */
import { performance } from 'node:perf_hooks';
import { Generator } from '../tensor/random.js';

/** sklearn's default token pattern (?u)\b\w\w+\b on lower-cased text. */
function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]{2,}/gu) ?? [];
}

function ngrams(text: string): string[] {
  const w = words(text);
  const out = [...w];
  for (let i = 0; i + 1 < w.length; i++) out.push(`${w[i]} ${w[i + 1]}`);
  return out;
}

/** Sparse row: feature indices and values (L2-normalised). */
export interface SparseRow {
  idx: Int32Array;
  val: Float64Array;
}

export class TfidfVectorizer {
  vocab = new Map<string, number>();
  idf: Float64Array = new Float64Array(0);

  fit(texts: string[]): this {
    const df = new Map<string, number>();
    for (const t of texts) for (const g of new Set(ngrams(t))) df.set(g, (df.get(g) ?? 0) + 1);
    const terms = [...df.keys()].sort();
    terms.forEach((t, i) => this.vocab.set(t, i));
    this.idf = new Float64Array(terms.length);
    const n = texts.length;
    terms.forEach((t, i) => {
      this.idf[i] = Math.log((1 + n) / (1 + df.get(t)!)) + 1;
    });
    return this;
  }

  transform(texts: string[]): SparseRow[] {
    return texts.map((t) => {
      const tf = new Map<number, number>();
      for (const g of ngrams(t)) {
        const j = this.vocab.get(g);
        if (j !== undefined) tf.set(j, (tf.get(j) ?? 0) + 1);
      }
      const idx = Int32Array.from([...tf.keys()].sort((a, b) => a - b));
      const val = Float64Array.from(idx, (j) => (1 + Math.log(tf.get(j)!)) * this.idf[j]!);
      const norm = Math.sqrt(val.reduce((s, v) => s + v * v, 0)) || 1;
      for (let k = 0; k < val.length; k++) val[k]! /= norm;
      return { idx, val };
    });
  }
}

export interface SolverOptions {
  maxIter?: number;
  /** stop when max |gradient| ≤ gtol (scipy's pgtol, as sklearn's lbfgs sets it, scaled to this objective) */
  gtol?: number;
  /** progress: called at most every `progressEvery` ms with the iteration and objective */
  onProgress?: (iter: number, loss: number) => void;
  progressEvery?: number;
}

/**
 * How L-BFGS measures vectors: their inner product, and the largest gradient component (the stopping rule). The
 * default is plain coordinates; `fitBinary` stores the weights as a combination of the training rows instead.
 */
interface VectorSpace {
  dot(a: Float64Array, b: Float64Array): number;
  /** max |g_j| over the weights the coordinates stand for (called on the gradient f wrote last) */
  gradMax(g: Float64Array): number;
}

/**
 * Minimises f with L-BFGS (memory 10, Armijo backtracking); f returns the value and writes the gradient. Buffers are
 * allocated once (a multinomial model over 277k features × 23 classes is 6.4M doubles per vector); stops like
 * scipy's L-BFGS-B as sklearn calls it: max |g| ≤ gtol, or a relative decrease below 64·ε. Every step is a linear
 * combination of vectors, so coordinates in another `space` (any linear map of the weights) give the same iterates.
 */
function lbfgs(
  x: Float64Array,
  f: (x: Float64Array, g: Float64Array) => number,
  o: SolverOptions = {},
  space?: VectorSpace,
): number {
  const n = x.length;
  const m = 10;
  const maxIter = o.maxIter ?? 2000;
  const S = Array.from({ length: m }, () => new Float64Array(n));
  const Y = Array.from({ length: m }, () => new Float64Array(n));
  const rho = new Float64Array(m);
  const alpha = new Float64Array(m);
  let count = 0;
  let head = 0; // next slot of the ring buffer
  const g = new Float64Array(n);
  const q = new Float64Array(n);
  const xNew = new Float64Array(n);
  const gNew = new Float64Array(n);
  let fx = f(x, g);
  let lastReport = performance.now();
  const plainDot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += a[i]! * b[i]!;
    return s;
  };
  const dot = space ? space.dot : plainDot;
  const gradMax = (v: Float64Array) => {
    if (space) return space.gradMax(v);
    let m = 0;
    for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(v[i]!));
    return m;
  };
  let it = 0;
  for (; it < maxIter; it++) {
    if (gradMax(g) <= (o.gtol ?? 1e-5)) break;
    // two-loop recursion: q = -H g
    q.set(g);
    for (let c = 0; c < count; c++) {
      const k = (head - 1 - c + m) % m;
      const a = rho[k]! * dot(S[k]!, q);
      alpha[k] = a;
      const yk = Y[k]!;
      for (let i = 0; i < n; i++) q[i]! -= a * yk[i]!;
    }
    if (count) {
      const k = (head - 1 + m) % m;
      const gamma = dot(S[k]!, Y[k]!) / dot(Y[k]!, Y[k]!);
      for (let i = 0; i < n; i++) q[i]! *= gamma;
    } else {
      const gn = Math.sqrt(dot(g, g));
      for (let i = 0; i < n; i++) q[i]! /= Math.max(gn, 1);
    }
    for (let c = count - 1; c >= 0; c--) {
      const k = (head - 1 - c + m) % m;
      const b = rho[k]! * dot(Y[k]!, q);
      const sk = S[k]!;
      const d = alpha[k]! - b;
      for (let i = 0; i < n; i++) q[i]! += sk[i]! * d;
    }
    for (let i = 0; i < n; i++) q[i] = -q[i]!;
    const gd = dot(g, q);
    if (gd >= 0) break;
    let step = 1;
    let fNew = 0;
    for (let ls = 0; ls < 30; ls++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i]! + step * q[i]!;
      fNew = f(xNew, gNew);
      if (fNew <= fx + 1e-4 * step * gd) break;
      step *= 0.5;
    }
    const s = S[head]!;
    const y = Y[head]!;
    for (let i = 0; i < n; i++) {
      s[i] = xNew[i]! - x[i]!;
      y[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, y);
    x.set(xNew);
    g.set(gNew);
    const decrease = (fx - fNew) / Math.max(Math.abs(fx), Math.abs(fNew), 1);
    fx = fNew;
    if (sy > 1e-10) {
      rho[head] = 1 / sy;
      head = (head + 1) % m;
      count = Math.min(m, count + 1);
    }
    if (o.onProgress && performance.now() - lastReport > (o.progressEvery ?? 5000)) {
      lastReport = performance.now();
      o.onProgress(it + 1, fx);
    }
    if (decrease <= 64 * Number.EPSILON) break;
  }
  return it;
}

/**
 * Multinomial logistic regression, sklearn's objective: C·Σ cross-entropy + ½‖W‖² (intercepts not penalised).
 * Weights are stored feature-major (the K class weights of a feature side by side), so each non-zero of a sparse
 * row touches one contiguous block — the main cost with hundreds of thousands of features.
 */
export function fitSoftmax(
  X: SparseRow[],
  y: number[],
  nFeatures: number,
  C: number,
  classes: number,
  o: SolverOptions = {},
): (row: SparseRow) => number[] {
  const K = classes;
  const F = nFeatures;
  const W = new Float64Array((F + 1) * K); // rows 0..F-1: features, row F: intercepts
  const s = new Float64Array(K);
  const b0 = F * K;
  const objective = (w: Float64Array, grad: Float64Array) => {
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < X.length; i++) {
      const { idx, val } = X[i]!;
      for (let k = 0; k < K; k++) s[k] = w[b0 + k]!;
      for (let t = 0; t < idx.length; t++) {
        const base = idx[t]! * K;
        const v = val[t]!;
        for (let k = 0; k < K; k++) s[k]! += w[base + k]! * v;
      }
      let mx = -Infinity;
      for (let k = 0; k < K; k++) if (s[k]! > mx) mx = s[k]!;
      let z = 0;
      for (let k = 0; k < K; k++) {
        s[k] = Math.exp(s[k]! - mx);
        z += s[k]!;
      }
      const yi = y[i]!;
      loss += C * (Math.log(z) - Math.log(s[yi]!));
      for (let k = 0; k < K; k++) {
        const r = C * (s[k]! / z - (k === yi ? 1 : 0));
        s[k] = r;
        grad[b0 + k]! += r;
      }
      for (let t = 0; t < idx.length; t++) {
        const base = idx[t]! * K;
        const v = val[t]!;
        for (let k = 0; k < K; k++) grad[base + k]! += s[k]! * v;
      }
    }
    for (let j = 0; j < b0; j++) {
      const v = w[j]!;
      loss += 0.5 * v * v;
      grad[j]! += v;
    }
    return loss;
  };
  lbfgs(W, objective, { gtol: 1e-4 * C * X.length, ...o });
  return (r) => {
    const out = new Array<number>(K);
    for (let k = 0; k < K; k++) out[k] = W[b0 + k]!;
    for (let t = 0; t < r.idx.length; t++) for (let k = 0; k < K; k++) out[k]! += W[r.idx[t]! * K + k]! * r.val[t]!;
    const mx = Math.max(...out);
    const e = out.map((v) => Math.exp(v - mx));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / z);
  };
}

/** Rows packed end to end (CSR): row i is idx/val[ptr[i] .. ptr[i + 1]). */
interface PackedRows {
  ptr: Int32Array;
  idx: Int32Array;
  val: Float64Array;
}

function packRows(X: SparseRow[]): PackedRows {
  const ptr = new Int32Array(X.length + 1);
  X.forEach((r, i) => (ptr[i + 1] = ptr[i]! + r.idx.length));
  const idx = new Int32Array(ptr[X.length]!);
  const val = new Float64Array(idx.length);
  X.forEach((r, i) => (idx.set(r.idx, ptr[i]!), val.set(r.val, ptr[i]!)));
  return { ptr, idx, val };
}

/** z += Aᵀ c (z has a slot per feature). */
function scatterRows({ ptr, idx, val }: PackedRows, c: ArrayLike<number>, z: Float64Array): void {
  for (let i = 0; i + 1 < ptr.length; i++) {
    const ci = c[i]!;
    if (ci === 0) continue;
    for (let t = ptr[i]!; t < ptr[i + 1]!; t++) z[idx[t]!]! += ci * val[t]!;
  }
}

/** out[offset + i] = row i · z */
function gatherRows({ ptr, idx, val }: PackedRows, z: Float64Array, out: Float64Array, offset: number): void {
  for (let i = 0; i + 1 < ptr.length; i++) {
    let s = 0;
    for (let t = ptr[i]!; t < ptr[i + 1]!; t++) s += z[idx[t]!]! * val[t]!;
    out[offset + i] = s;
  }
}

export interface BinaryOptions extends SolverOptions {
  /** one slot per feature, all zero; reused between fits (it is zero again after each) */
  scratch?: Float64Array;
  /**
   * the rows the class weights and the tolerance are for (default: X's): X holds every positive and a sample of the
   * negatives, which then weigh for all `rows` − positives
   */
  rows?: number;
}

/** max |z_j|, then z = 0 again: over all of z, or over the features of A's rows when they are fewer. */
function clearMax({ idx }: PackedRows, z: Float64Array): number {
  let m = 0;
  if (idx.length > z.length) {
    for (let j = 0; j < z.length; j++) m = Math.max(m, Math.abs(z[j]!));
    z.fill(0);
    return m;
  }
  for (let t = 0; t < idx.length; t++) {
    const j = idx[t]!;
    m = Math.max(m, Math.abs(z[j]!));
    z[j] = 0;
  }
  return m;
}

/**
 * Binary logistic regression with per-class weights (sklearn class_weight='balanced'), sklearn's objective
 * C·Σ cwᵢ·log-loss + ½‖w‖² (intercept not penalised).
 *
 * Fitted in the span of the training rows: from w = 0 every gradient Xᵀr + w, and so every L-BFGS iterate, is Xᵀa
 * for some a with one entry per row. The solver's vectors are stored as (a, Xw = XXᵀa, intercept) — 2n + 1 numbers
 * instead of one per feature — with the inner product of the weights (aᵀ(XXᵀa') + b·b'), so the iterates are those of
 * L-BFGS over the features, up to rounding, while its vector work is per row, not per feature. One evaluation is two
 * passes over the non-zeros: z = Xᵀ(r + a), the gradient over the features (its largest component: the stopping
 * rule), then X z, its image.
 */
export function fitBinary(
  X: SparseRow[],
  y: number[],
  nFeatures: number,
  C: number,
  o: BinaryOptions = {},
): (row: SparseRow) => number {
  const n = y.length;
  const N = o.rows ?? n;
  const pos = y.filter((v) => v > 0.5).length;
  const wPos = pos ? N / (2 * pos) : 1;
  const wNeg = n - pos ? N / (2 * (n - pos)) : 1;
  const A = packRows(X);
  const z = o.scratch ?? new Float64Array(nFeatures);
  const v = new Float64Array(2 * n + 1); // a (row coefficients) | X w | intercept
  let lastMax = 0;
  const space: VectorSpace = {
    dot: (p, q) => {
      let s = p[2 * n]! * q[2 * n]!;
      for (let i = 0; i < n; i++) s += p[i]! * q[n + i]!;
      return s;
    },
    gradMax: () => lastMax,
  };
  const objective = (x: Float64Array, grad: Float64Array) => {
    let loss = 0;
    let gb = 0;
    const b = x[2 * n]!;
    for (let i = 0; i < n; i++) {
      const s = x[n + i]! + b;
      const yi = y[i]! > 0.5 ? 1 : 0;
      const cw = C * (yi ? wPos : wNeg);
      loss += cw * (Math.max(s, 0) - s * yi + Math.log1p(Math.exp(-Math.abs(s)))) + 0.5 * x[i]! * x[n + i]!;
      const r = cw * (1 / (1 + Math.exp(-s)) - yi);
      gb += r;
      grad[i] = r + x[i]!;
    }
    grad[2 * n] = gb;
    scatterRows(A, grad, z);
    gatherRows(A, z, grad, n);
    lastMax = Math.max(Math.abs(gb), clearMax(A, z)); // a feature no row has: its gradient is its weight, 0
    return loss;
  };
  lbfgs(v, objective, { gtol: 1e-4 * C * N, ...o }, space);
  const W = new Float64Array(nFeatures);
  scatterRows(A, v, W);
  const b = v[2 * n]!;
  return (r) => {
    let s = b;
    for (let t = 0; t < r.idx.length; t++) s += W[r.idx[t]!]! * r.val[t]!;
    return 1 / (1 + Math.exp(-s));
  };
}

/**
 * A rare label — at most `RARE_POSITIVES` positives among more than `RARE_SAMPLE_ABOVE` negatives — is fitted on its
 * positives and `RARE_NEGATIVES` of its negatives.
 */
export const RARE_POSITIVES = 20;
export const RARE_SAMPLE_ABOVE = 1000;
export const RARE_NEGATIVES = 100;

/**
 * The rows a one-vs-rest label is fitted on: every row, or for a rare label every positive and a seeded sample of the
 * negatives (weighted to stand for all of them, `BinaryOptions.rows`). Most of an ICD-scale label set is rare codes;
 * their fits then cost a few hundred rows, not the training set. Labels with more positives are fitted exactly.
 */
export function oneVsRestRows(y: number[], label: number): number[] {
  const positives = y.flatMap((v, i) => (v ? [i] : []));
  const negatives = y.flatMap((v, i) => (v ? [] : [i]));
  if (positives.length > RARE_POSITIVES || negatives.length <= RARE_SAMPLE_ABOVE) return y.map((_, i) => i);
  const g = new Generator(1 + label);
  for (let i = 0; i < RARE_NEGATIVES; i++) {
    const j = i + Math.floor(g.uniform() * (negatives.length - i));
    [negatives[i], negatives[j]] = [negatives[j]!, negatives[i]!];
  }
  return [...positives, ...negatives.slice(0, RARE_NEGATIVES)].sort((a, b) => a - b);
}

/** Fits on train texts and returns probabilities for the test texts (one row per text, one column per label). */
export function tfidfLogRegBaseline(
  trainTexts: string[],
  trainLabels: (number | number[])[],
  testTexts: string[],
  labels: number,
  multiLabel: boolean,
  C = 10,
  progress?: (line: string) => void,
): number[][] {
  const t0 = performance.now();
  const vec = new TfidfVectorizer().fit(trainTexts);
  const Xtr = vec.transform(trainTexts);
  const Xte = vec.transform(testTexts);
  const F = vec.vocab.size;
  const secs = () => ((performance.now() - t0) / 1000).toFixed(0);
  progress?.(
    `baseline: TF-IDF of ${trainTexts.length} training texts, ${F} features (${secs()} s); fitting logistic regression`,
  );
  const solver = (what: string): SolverOptions => ({
    onProgress:
      progress &&
      ((it, loss) => progress(`baseline: ${what}iteration ${it}, objective ${loss.toFixed(2)} (${secs()} s)`)),
  });
  if (!multiLabel) {
    const model = fitSoftmax(Xtr, trainLabels as number[], F, C, labels, solver(''));
    return Xte.map(model);
  }
  return oneVsRest({ train: Xtr, test: Xte, y: trainLabels as number[][], labels, features: F, C, solver });
}

/**
 * The rows with their features renumbered by document frequency, most frequent first: the features most rows share
 * then sit together in the per-feature buffers, which the one-vs-rest passes reach in row order.
 */
function byDocumentFrequency(rowSets: SparseRow[][], nFeatures: number): SparseRow[][] {
  const df = new Int32Array(nFeatures);
  for (const { idx } of rowSets[0]!) for (let t = 0; t < idx.length; t++) df[idx[t]!]!++;
  const order = Int32Array.from({ length: nFeatures }, (_, j) => j).sort((a, b) => df[b]! - df[a]! || a - b);
  const rank = new Int32Array(nFeatures);
  order.forEach((j, r) => (rank[j] = r));
  return rowSets.map((rows) =>
    rows.map(({ idx, val }) => {
      const k = Array.from(idx, (_, t) => t).sort((a, b) => rank[idx[a]!]! - rank[idx[b]!]!);
      return { idx: Int32Array.from(k, (t) => rank[idx[t]!]!), val: Float64Array.from(k, (t) => val[t]!) };
    }),
  );
}

/** One binary fit per label (`fitBinary` on `oneVsRestRows`); a label no training row has is scored 0. */
function oneVsRest(o: {
  train: SparseRow[];
  test: SparseRow[];
  y: number[][];
  labels: number;
  features: number;
  C: number;
  solver: (what: string) => SolverOptions;
}): number[][] {
  const [Xtr, Xte] = byDocumentFrequency([o.train, o.test], o.features) as [SparseRow[], SparseRow[]];
  const cols: number[][] = [];
  const scratch = new Float64Array(o.features);
  for (let c = 0; c < o.labels; c++) {
    const y = o.y.map((v) => (v[c]! > 0.5 ? 1 : 0));
    // a label no training text has: nothing to fit (its regression would chase an intercept of −∞); scored 0
    if (!y.includes(1)) {
      cols.push(Xte.map(() => 0));
      continue;
    }
    const rows = oneVsRestRows(y, c);
    const model = fitBinary(
      rows.map((i) => Xtr[i]!),
      rows.map((i) => y[i]!),
      o.features,
      o.C,
      { ...o.solver(`label ${c + 1}/${o.labels}, `), scratch, rows: y.length },
    );
    cols.push(Xte.map(model));
  }
  return Xte.map((_, i) => cols.map((col) => col[i]!));
}
