/**
 * The baseline every transformer run is shown beside (REFERENCE.md: it is strong on small clinical datasets):
 * TF-IDF over word 1-2-grams with sublinear tf (sklearn's TfidfVectorizer defaults otherwise) and an
 * L2-regularised logistic regression with C = 10 fitted by L-BFGS — multinomial for single-label, one-vs-rest with
 * balanced class weights for multi-label. Sparse rows; plain TypeScript (the data are small).
 */

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
    terms.forEach((t, i) => { this.idf[i] = Math.log((1 + n) / (1 + df.get(t)!)) + 1; });
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

/** Minimises f with L-BFGS (memory 10); f returns the value and writes the gradient. */
function lbfgs(x: Float64Array, f: (x: Float64Array, g: Float64Array) => number, maxIter = 300, tol = 1e-5): void {
  const n = x.length;
  const m = 10;
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const g = new Float64Array(n);
  let fx = f(x, g);
  const dot = (a: Float64Array, b: Float64Array) => { let s = 0; for (let i = 0; i < n; i++) s += a[i]! * b[i]!; return s; };
  for (let it = 0; it < maxIter; it++) {
    const gnorm = Math.sqrt(dot(g, g));
    if (gnorm < tol * Math.max(1, Math.sqrt(dot(x, x)))) break;
    // two-loop recursion: d = -H g
    const q = Float64Array.from(g);
    const alpha: number[] = [];
    for (let k = S.length - 1; k >= 0; k--) {
      const a = dot(S[k]!, q) / dot(Y[k]!, S[k]!);
      alpha[k] = a;
      for (let i = 0; i < n; i++) q[i]! -= a * Y[k]![i]!;
    }
    if (S.length) {
      const gamma = dot(S[S.length - 1]!, Y[Y.length - 1]!) / dot(Y[Y.length - 1]!, Y[Y.length - 1]!);
      for (let i = 0; i < n; i++) q[i]! *= gamma;
    } else for (let i = 0; i < n; i++) q[i]! /= Math.max(gnorm, 1);
    for (let k = 0; k < S.length; k++) {
      const b = dot(Y[k]!, q) / dot(Y[k]!, S[k]!);
      for (let i = 0; i < n; i++) q[i]! += S[k]![i]! * (alpha[k]! - b);
    }
    for (let i = 0; i < n; i++) q[i] = -q[i]!;
    // backtracking line search (Armijo)
    const gd = dot(g, q);
    if (gd >= 0) break;
    let step = 1;
    const xNew = new Float64Array(n);
    const gNew = new Float64Array(n);
    let fNew = 0;
    for (let ls = 0; ls < 30; ls++) {
      for (let i = 0; i < n; i++) xNew[i] = x[i]! + step * q[i]!;
      fNew = f(xNew, gNew);
      if (fNew <= fx + 1e-4 * step * gd) break;
      step *= 0.5;
    }
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) { s[i] = xNew[i]! - x[i]!; y[i] = gNew[i]! - g[i]!; }
    x.set(xNew);
    g.set(gNew);
    const improved = fx - fNew;
    fx = fNew;
    if (dot(s, y) > 1e-10) {
      S.push(s);
      Y.push(y);
      if (S.length > m) { S.shift(); Y.shift(); }
    }
    if (improved < 1e-9 * Math.max(1, Math.abs(fx))) break;
  }
}

/** Multinomial logistic regression, sklearn's objective: C·Σ cross-entropy + ½‖W‖² (intercepts not penalised). */
export function fitSoftmax(X: SparseRow[], y: number[], nFeatures: number, C: number, classes: number): (row: SparseRow) => number[] {
  const K = classes;
  const D = nFeatures + 1; // last column: intercept
  const W = new Float64Array(K * D);
  const scores = new Float64Array(K);
  lbfgs(W, (w, grad) => {
    grad.fill(0);
    let loss = 0;
    X.forEach((r, i) => {
      for (let k = 0; k < K; k++) {
        let s = w[k * D + nFeatures]!;
        for (let t = 0; t < r.idx.length; t++) s += w[k * D + r.idx[t]!]! * r.val[t]!;
        scores[k] = s;
      }
      let mx = -Infinity;
      for (let k = 0; k < K; k++) mx = Math.max(mx, scores[k]!);
      let z = 0;
      for (let k = 0; k < K; k++) z += Math.exp(scores[k]! - mx);
      loss += C * (mx + Math.log(z) - scores[y[i]!]!);
      for (let k = 0; k < K; k++) {
        const p = Math.exp(scores[k]! - mx) / z - (k === y[i] ? 1 : 0);
        const c = C * p;
        grad[k * D + nFeatures]! += c;
        for (let t = 0; t < r.idx.length; t++) grad[k * D + r.idx[t]!]! += c * r.val[t]!;
      }
    });
    for (let k = 0; k < K; k++) for (let j = 0; j < nFeatures; j++) {
      const v = w[k * D + j]!;
      loss += 0.5 * v * v;
      grad[k * D + j]! += v;
    }
    return loss;
  });
  return (r) => {
    const s = new Array<number>(K).fill(0);
    for (let k = 0; k < K; k++) {
      let v = W[k * D + nFeatures]!;
      for (let t = 0; t < r.idx.length; t++) v += W[k * D + r.idx[t]!]! * r.val[t]!;
      s[k] = v;
    }
    const mx = Math.max(...s);
    const e = s.map((v) => Math.exp(v - mx));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / z);
  };
}

/** Binary logistic regression with per-class weights (sklearn class_weight='balanced'). */
export function fitBinary(X: SparseRow[], y: number[], nFeatures: number, C: number): (row: SparseRow) => number {
  const D = nFeatures + 1;
  const n = y.length;
  const pos = y.filter((v) => v > 0.5).length;
  const wPos = pos ? n / (2 * pos) : 1;
  const wNeg = n - pos ? n / (2 * (n - pos)) : 1;
  const W = new Float64Array(D);
  lbfgs(W, (w, grad) => {
    grad.fill(0);
    let loss = 0;
    X.forEach((r, i) => {
      let s = w[nFeatures]!;
      for (let t = 0; t < r.idx.length; t++) s += w[r.idx[t]!]! * r.val[t]!;
      const yi = y[i]! > 0.5 ? 1 : 0;
      const cw = C * (yi ? wPos : wNeg);
      loss += cw * (Math.max(s, 0) - s * yi + Math.log1p(Math.exp(-Math.abs(s))));
      const p = 1 / (1 + Math.exp(-s));
      const c = cw * (p - yi);
      grad[nFeatures]! += c;
      for (let t = 0; t < r.idx.length; t++) grad[r.idx[t]!]! += c * r.val[t]!;
    });
    for (let j = 0; j < nFeatures; j++) {
      loss += 0.5 * w[j]! * w[j]!;
      grad[j]! += w[j]!;
    }
    return loss;
  });
  return (r) => {
    let s = W[nFeatures]!;
    for (let t = 0; t < r.idx.length; t++) s += W[r.idx[t]!]! * r.val[t]!;
    return 1 / (1 + Math.exp(-s));
  };
}

/** Fits on train texts and returns probabilities for the test texts (one row per text, one column per label). */
export function tfidfLogRegBaseline(trainTexts: string[], trainLabels: (number | number[])[], testTexts: string[], labels: number, multiLabel: boolean, C = 10): number[][] {
  const vec = new TfidfVectorizer().fit(trainTexts);
  const Xtr = vec.transform(trainTexts);
  const Xte = vec.transform(testTexts);
  const F = vec.vocab.size;
  if (!multiLabel) {
    const model = fitSoftmax(Xtr, trainLabels as number[], F, C, labels);
    return Xte.map(model);
  }
  const cols: number[][] = [];
  for (let c = 0; c < labels; c++) {
    const model = fitBinary(Xtr, (trainLabels as number[][]).map((v) => v[c]!), F, C);
    cols.push(Xte.map(model));
  }
  return testTexts.map((_, i) => cols.map((col) => col[i]!));
}
