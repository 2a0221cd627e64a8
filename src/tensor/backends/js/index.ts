/**
 * The js backend: every kernel in plain TypeScript, written to be obviously correct rather than fast.
 * It is the reference the native kernels are tested against, and the fallback when the addon is missing.
 * Accumulations use JS numbers (double precision).
 */
import type { Activation, BinaryOp, F32, Kernels, UnaryOp } from '../../kernels.js';
import { bf16Round, dropoutHash, dropoutThreshold } from '../../kernels.js';
import { gelu, geluGrad, geluTanh, geluTanhGrad, sigmoid } from './math.js';
import { int8PackWeights, linearInt8Reference } from './int8.js';

function forEachIndex(
  shape: readonly number[],
  aStrides: readonly number[],
  bStrides: readonly number[],
  fn: (o: number, ia: number, ib: number) => void,
): void {
  const rank = shape.length;
  const total = shape.reduce((x, y) => x * y, 1);
  if (total === 0) return;
  const idx = new Array<number>(rank).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < total; o++) {
    fn(o, ia, ib);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      ia += aStrides[d]!;
      ib += bStrides[d]!;
      if (idx[d]! < shape[d]!) break;
      ia -= aStrides[d]! * shape[d]!;
      ib -= bStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

function unaryFn(op: UnaryOp): (x: number) => number {
  switch (op) {
    case 'gelu':
      return gelu;
    case 'gelu_tanh':
      return geluTanh;
    case 'tanh':
      return Math.tanh;
    case 'relu':
      return (x) => (x > 0 ? x : 0);
    case 'exp':
      return Math.exp;
    case 'log':
      return Math.log;
    case 'neg':
      return (x) => -x;
    case 'square':
      return (x) => x * x;
    case 'sqrt':
      return Math.sqrt;
    case 'sigmoid':
      return sigmoid;
  }
}

/** f'(x) given x and y = f(x). */
function unaryGrad(op: UnaryOp): (x: number, y: number) => number {
  switch (op) {
    case 'gelu':
      return (x) => geluGrad(x);
    case 'gelu_tanh':
      return (x) => geluTanhGrad(x);
    case 'tanh':
      return (_x, y) => 1 - y * y;
    case 'relu':
      return (x) => (x > 0 ? 1 : 0);
    case 'exp':
      return (_x, y) => y;
    case 'log':
      return (x) => 1 / x;
    case 'neg':
      return () => -1;
    case 'square':
      return (x) => 2 * x;
    case 'sqrt':
      return (_x, y) => 0.5 / y;
    case 'sigmoid':
      return (_x, y) => y * (1 - y);
  }
}

function actFn(act: Activation): (x: number) => number {
  return act === 'none' ? (x) => x : unaryFn(act);
}
function actGrad(act: Activation): (x: number) => number {
  if (act === 'none') return () => 1;
  const g = unaryGrad(act);
  const f = unaryFn(act);
  return (x) => g(x, f(x));
}

let threadCount = 1;

export const jsKernels: Kernels = {
  name: 'js',
  threads: () => threadCount,
  setThreads: (n) => {
    threadCount = n;
  },

  fill(out, value) {
    out.fill(value);
  },
  axpy(dst, src, alpha) {
    for (let i = 0; i < dst.length; i++) dst[i]! += alpha * src[i]!;
  },
  scale(x, alpha, out) {
    for (let i = 0; i < x.length; i++) out[i] = alpha * x[i]!;
  },

  binary(op: BinaryOp, a, b, out, shape, aStrides, bStrides) {
    const f =
      op === 'add'
        ? (x: number, y: number) => x + y
        : op === 'sub'
          ? (x: number, y: number) => x - y
          : op === 'mul'
            ? (x: number, y: number) => x * y
            : (x: number, y: number) => x / y;
    forEachIndex(shape, aStrides, bStrides, (o, ia, ib) => {
      out[o] = f(a[ia]!, b[ib]!);
    });
  },
  unary(op, x, out) {
    const f = unaryFn(op);
    for (let i = 0; i < x.length; i++) out[i] = f(x[i]!);
  },
  unaryBackward(op, x, y, dy, dx) {
    const g = unaryGrad(op);
    for (let i = 0; i < x.length; i++) dx[i] = dy[i]! * g(x[i]!, y[i]!);
  },
  biasAct(h, bias, out, rows, n, act) {
    const f = actFn(act);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) {
        const i = r * n + j;
        if (bias) h[i] = h[i]! + bias[j]!;
        out[i] = f(h[i]!);
      }
    }
  },
  actBackward(h, dy, dh, act) {
    const g = actGrad(act);
    for (let i = 0; i < h.length; i++) dh[i] = dy[i]! * g(h[i]!);
  },

  reduceSum(x, out, outer, r, inner) {
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += x[(o * r + k) * inner + j]!;
        out[o * inner + j] = s;
      }
    }
  },
  sumSquares(x) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
    return s;
  },

  permute(x, out, shape, perm) {
    const rank = shape.length;
    const inStrides = new Array<number>(rank);
    let acc = 1;
    for (let d = rank - 1; d >= 0; d--) {
      inStrides[d] = acc;
      acc *= shape[d]!;
    }
    const outShape = perm.map((p) => shape[p]!);
    const srcStrides = perm.map((p) => inStrides[p]!);
    forEachIndex(outShape, srcStrides, srcStrides, (o, ia) => {
      out[o] = x[ia]!;
    });
  },
  axisCopy({ src, dst, outer, srcLen, srcStart, dstLen, dstStart, len, inner, accumulate = false }) {
    for (let o = 0; o < outer; o++) {
      const s = (o * srcLen + srcStart) * inner;
      const d = (o * dstLen + dstStart) * inner;
      const n = len * inner;
      if (accumulate) for (let i = 0; i < n; i++) dst[d + i]! += src[s + i]!;
      else for (let i = 0; i < n; i++) dst[d + i] = src[s + i]!;
    }
  },

  gemm(o) {
    const { transA = false, transB = false, M, N, K, alpha = 1, lda, strideA = 0, ldb, strideB = 0, beta = 0 } = o;
    const { C, ldc, strideC = 0, batch = 1, bf16 = false } = o;
    let { A, B } = o;
    // The innermost loop walks memory contiguously (the fallback backend must not be hopelessly slow);
    // accumulation in double precision.
    if (bf16) {
      A = A.map(bf16Round);
      B = B.map(bf16Round);
    }
    const acc = new Float64Array(N);
    const bt_ = transB ? new Float32Array(K * N) : null;
    for (let bt = 0; bt < batch; bt++) {
      const oa = bt * strideA;
      let Bm: Float32Array = B;
      let ob = bt * strideB;
      let ldB = ldb;
      if (bt_) {
        // B stored N×K: transpose it once so that the inner loop below is contiguous
        for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) bt_[k * N + j] = B[ob + j * ldb + k]!;
        Bm = bt_;
        ob = 0;
        ldB = N;
      }
      const oc = bt * strideC;
      for (let i = 0; i < M; i++) {
        // C[i,:] = Σ_k op(A)[i,k] · op(B)[k,:]
        acc.fill(0);
        for (let k = 0; k < K; k++) {
          const av = transA ? A[oa + k * lda + i]! : A[oa + i * lda + k]!;
          if (av === 0) continue;
          const bo = ob + k * ldB;
          for (let j = 0; j < N; j++) acc[j]! += av * Bm[bo + j]!;
        }
        const co = oc + i * ldc;
        for (let j = 0; j < N; j++) C[co + j] = alpha * acc[j]! + (beta === 0 ? 0 : beta * C[co + j]!);
      }
    }
  },

  embeddingForward(ids, table, out, n, dim) {
    for (let i = 0; i < n; i++) {
      const row = ids[i]!;
      for (let j = 0; j < dim; j++) out[i * dim + j] = table[row * dim + j]!;
    }
  },
  embeddingBackward(ids, dout, dtable, n, dim) {
    for (let i = 0; i < n; i++) {
      const row = ids[i]!;
      for (let j = 0; j < dim; j++) dtable[row * dim + j]! += dout[i * dim + j]!;
    }
  },

  layerNormForward({ x, residual, gamma, beta, out, sum, mean, rstd, rows, dim, eps }) {
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      let m = 0;
      for (let j = 0; j < dim; j++) {
        const s = residual ? Math.fround(x[o + j]! + residual[o + j]!) : x[o + j]!;
        if (sum) sum[o + j] = s;
        m += s;
      }
      m /= dim;
      let v = 0;
      for (let j = 0; j < dim; j++) {
        const s = residual ? sum![o + j]! : x[o + j]!;
        v += (s - m) * (s - m);
      }
      v /= dim;
      const rs = 1 / Math.sqrt(v + eps);
      mean[r] = m;
      rstd[r] = rs;
      for (let j = 0; j < dim; j++) {
        const s = residual ? sum![o + j]! : x[o + j]!;
        out[o + j] = (s - m) * rs * gamma[j]! + beta[j]!;
      }
    }
  },
  layerNormBackward({ dy, s, mean, rstd, gamma, dx, dgamma, dbeta, rows, dim }) {
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      const m = mean[r]!;
      const rs = rstd[r]!;
      let sumD = 0;
      let sumDX = 0;
      for (let j = 0; j < dim; j++) {
        const xh = (s[o + j]! - m) * rs;
        const d = dy[o + j]! * gamma[j]!;
        sumD += d;
        sumDX += d * xh;
        dgamma[j]! += dy[o + j]! * xh;
        dbeta[j]! += dy[o + j]!;
      }
      sumD /= dim;
      sumDX /= dim;
      for (let j = 0; j < dim; j++) {
        const xh = (s[o + j]! - m) * rs;
        dx[o + j] = rs * (dy[o + j]! * gamma[j]! - sumD - xh * sumDX);
      }
    }
  },

  softmaxForward(x, out, rows, n) {
    for (let r = 0; r < rows; r++) softmaxRow(x, out, r * n, n);
  },
  softmaxBackward(y, dy, dx, rows, n) {
    for (let r = 0; r < rows; r++) {
      const o = r * n;
      let d = 0;
      for (let j = 0; j < n; j++) d += dy[o + j]! * y[o + j]!;
      for (let j = 0; j < n; j++) dx[o + j] = y[o + j]! * (dy[o + j]! - d);
    }
  },

  dropoutForward(x, out, p, key) {
    const th = dropoutThreshold(p);
    const sc = Math.fround(1 / (1 - p));
    for (let i = 0; i < x.length; i++) out[i] = dropoutHash(key, i) >>> 8 < th ? x[i]! * sc : 0;
  },
  dropoutBackward(dy, dx, p, key) {
    const th = dropoutThreshold(p);
    const sc = Math.fround(1 / (1 - p));
    for (let i = 0; i < dy.length; i++) dx[i] = dropoutHash(key, i) >>> 8 < th ? dy[i]! * sc : 0;
  },

  linearForward({ x, w, bias, h, out, rows, nIn, nOut, act, bf16 }) {
    jsKernels.gemm({ transB: true, M: rows, N: nOut, K: nIn, A: x, lda: nIn, B: w, ldb: nIn, C: h, ldc: nOut, bf16 });
    jsKernels.biasAct(h, bias, out, rows, nOut, act);
  },

  int8PackWeights,
  linearInt8(o) {
    linearInt8Reference(o);
    jsKernels.biasAct(o.h, null, o.out, o.rows, o.nOut, o.act);
  },

  attentionForward(o) {
    const { keyMask, out, probs, B, T, H, D, scale, p, key, bf16 = false, ld = H * D } = o;
    let { q, k, v } = o;
    const C = H * D;
    const r = bf16 ? bf16Round : (x: number) => x;
    if (bf16) [q, k, v] = [q.map(bf16Round), k.map(bf16Round), v.map(bf16Round)];
    const th = dropoutThreshold(p);
    const sc = p > 0 ? Math.fround(1 / (1 - p)) : 1;
    const row = new Float32Array(T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          const qo = (b * T + i) * ld + h * D;
          for (let j = 0; j < T; j++) {
            const ko = (b * T + j) * ld + h * D;
            let s = 0;
            for (let d = 0; d < D; d++) s += q[qo + d]! * k[ko + d]!;
            row[j] = s * scale + (keyMask ? keyMask[b * T + j]! : 0);
          }
          const po = ((b * H + h) * T + i) * T;
          softmaxRow(row, probs, 0, T, po);
          for (let d = 0; d < D; d++) {
            let s = 0;
            for (let j = 0; j < T; j++) {
              let pj = probs[po + j]!;
              if (p > 0) pj = dropoutHash(key, po + j) >>> 8 < th ? pj * sc : 0;
              s += r(pj) * v[(b * T + j) * ld + h * D + d]!;
            }
            out[(b * T + i) * C + h * D + d] = s;
          }
        }
      }
    }
  },
  attentionBackward(o) {
    const { probs, dq, dk, dv, B, T, H, D, scale, p, key, bf16 = false, ld = H * D } = o;
    let { q, k, v, dout } = o;
    const C = H * D;
    const r = bf16 ? bf16Round : (x: number) => x;
    if (bf16) [q, k, v, dout] = [q.map(bf16Round), k.map(bf16Round), v.map(bf16Round), dout.map(bf16Round)];
    const th = dropoutThreshold(p);
    const sc = p > 0 ? Math.fround(1 / (1 - p)) : 1;
    for (const g of [dq, dk, dv]) for (let t = 0; t < B * T; t++) g.fill(0, t * ld, t * ld + C);
    const dP = new Float64Array(T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          const qo = (b * T + i) * ld + h * D;
          const oo = (b * T + i) * C + h * D;
          const po = ((b * H + h) * T + i) * T;
          let dot = 0;
          for (let j = 0; j < T; j++) {
            const vo = (b * T + j) * ld + h * D;
            const keep = p > 0 ? (dropoutHash(key, po + j) >>> 8 < th ? sc : 0) : 1;
            // dV += dropped P^T dO ; dPdrop = dO V^T
            let s = 0;
            const pd = r(probs[po + j]! * keep);
            for (let d = 0; d < D; d++) {
              dv[vo + d]! += pd * dout[oo + d]!;
              s += dout[oo + d]! * v[vo + d]!;
            }
            dP[j] = s * keep;
            dot += dP[j]! * probs[po + j]!;
          }
          for (let j = 0; j < T; j++) {
            const ds = r(probs[po + j]! * (dP[j]! - dot) * scale);
            const ko = (b * T + j) * ld + h * D;
            for (let d = 0; d < D; d++) {
              dq[qo + d]! += ds * k[ko + d]!;
              dk[ko + d]! += ds * q[qo + d]!;
            }
          }
        }
      }
    }
  },

  crossEntropyForward({ logits, targets, classWeights, loss, weight, N, C, ignoreIndex, smoothing }) {
    for (let i = 0; i < N; i++) {
      const t = targets[i]!;
      if (t === ignoreIndex) {
        loss[i] = 0;
        weight[i] = 0;
        continue;
      }
      const o = i * C;
      const lse = logSumExp(logits, o, C);
      const wt = classWeights ? classWeights[t]! : 1;
      let l = (1 - smoothing) * wt * (lse - logits[o + t]!);
      if (smoothing > 0) {
        let s = 0;
        for (let c = 0; c < C; c++) s += (classWeights ? classWeights[c]! : 1) * (lse - logits[o + c]!);
        l += (smoothing / C) * s;
      }
      loss[i] = l;
      weight[i] = wt;
    }
  },
  crossEntropyBackward({ logits, targets, classWeights, dlogits, N, C, ignoreIndex, smoothing, gradScale }) {
    for (let i = 0; i < N; i++) {
      const t = targets[i]!;
      const o = i * C;
      if (t === ignoreIndex) {
        for (let c = 0; c < C; c++) dlogits[o + c] = 0;
        continue;
      }
      const lse = logSumExp(logits, o, C);
      const wt = classWeights ? classWeights[t]! : 1;
      let W = C;
      if (classWeights) {
        W = 0;
        for (let c = 0; c < C; c++) W += classWeights[c]!;
      }
      for (let c = 0; c < C; c++) {
        const pc = Math.exp(logits[o + c]! - lse);
        const wc = classWeights ? classWeights[c]! : 1;
        let g = (1 - smoothing) * wt * (pc - (c === t ? 1 : 0));
        if (smoothing > 0) g += (smoothing / C) * (W * pc - wc);
        dlogits[o + c] = g * gradScale;
      }
    }
  },
  bceWithLogitsForward(logits, targets, posWeight, loss, N, C) {
    for (let i = 0; i < N * C; i++) {
      const x = logits[i]!;
      const y = targets[i]!;
      const lw = posWeight ? (posWeight[i % C]! - 1) * y + 1 : 1;
      loss[i] = (1 - y) * x + lw * (Math.log1p(Math.exp(-Math.abs(x))) + Math.max(-x, 0));
    }
  },
  bceWithLogitsBackward(logits, targets, posWeight, dlogits, N, C, gradScale) {
    for (let i = 0; i < N * C; i++) {
      const s = sigmoid(logits[i]!);
      const y = targets[i]!;
      const pw = posWeight ? posWeight[i % C]! : 1;
      dlogits[i] = ((1 - y) * s - pw * y * (1 - s)) * gradScale;
    }
  },

  adamw({ param, grad, m, v, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale }) {
    const stepSize = lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    for (let i = 0; i < param.length; i++) {
      const g = grad[i]! * gradScale;
      let p = param[i]!;
      if (weightDecay !== 0) p = Math.fround(p * Math.fround(1 - lr * weightDecay));
      const mi = Math.fround(beta1 * m[i]! + (1 - beta1) * g);
      const vi = Math.fround(beta2 * v[i]! + (1 - beta2) * g * g);
      m[i] = mi;
      v[i] = vi;
      const denom = Math.fround(Math.fround(Math.sqrt(vi) / bc2Sqrt) + eps);
      param[i] = p - Math.fround(stepSize * Math.fround(mi / denom));
    }
  },
};

function logSumExp(x: F32, o: number, n: number): number {
  let mx = -Infinity;
  for (let j = 0; j < n; j++) if (x[o + j]! > mx) mx = x[o + j]!;
  if (mx === -Infinity) return -Infinity;
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(x[o + j]! - mx);
  return mx + Math.log(s);
}

/** Softmax of x[xo : xo+n] into out[oo : oo+n]; a row that is all -Infinity becomes uniform. */
function softmaxRow(x: F32, out: F32, xo: number, n: number, oo = xo): void {
  let mx = -Infinity;
  for (let j = 0; j < n; j++) if (x[xo + j]! > mx) mx = x[xo + j]!;
  if (mx === -Infinity) {
    for (let j = 0; j < n; j++) out[oo + j] = 1 / n;
    return;
  }
  let s = 0;
  for (let j = 0; j < n; j++) {
    const e = Math.exp(x[xo + j]! - mx);
    out[oo + j] = e;
    s += e;
  }
  for (let j = 0; j < n; j++) out[oo + j] = out[oo + j]! / s;
}
