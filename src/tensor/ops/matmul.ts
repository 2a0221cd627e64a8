/**
 * Matrix products: matmul (2-D and batched, with transposes) and linear (x·Wᵀ + b, optionally fused with an
 * activation).
 */
import { empty, record, Tensor } from '../tensor.js';
import { kernels } from '../backend.js';
import { fmt, sizeOf } from '../shape.js';
import { ShapeError } from '../errors.js';
import type { Activation, F32, LinearForwardArgs } from '../kernels.js';
import { bf16Active } from '../precision.js';

/** A GEMM operand: data, leading dimension, stride between batch elements (0: shared), stored transposed. */
type Operand = [data: F32, ld: number, stride: number, transposed?: boolean];

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/**
 * a: [..., M, K] (or [..., K, M] with transA), b: [..., K, N] (or [..., N, K] with transB). Batch dims of a and b must
 * be equal, or b may be 2-D (shared across the batch).
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const tA = opts.transA ?? false;
  const tB = opts.transB ?? false;
  if (a.rank < 2 || b.rank < 2)
    throw new ShapeError(`matmul: needs tensors of rank ≥ 2, got ${a.describe()} and ${b.describe()}`);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const M = tA ? ac : ar;
  const K = tA ? ar : ac;
  const Kb = tB ? bc : br;
  const N = tB ? br : bc;
  if (K !== Kb)
    throw new ShapeError(
      `matmul: inner dimensions differ: ${a.describe()}${tA ? 'ᵀ' : ''} · ${b.describe()}${tB ? 'ᵀ' : ''} ` +
        `(${K} vs ${Kb})`,
    );
  const batchShape = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const bShared = b.rank === 2 && a.rank > 2;
  if (!bShared && (bBatch.length !== batchShape.length || bBatch.some((d, i) => d !== batchShape[i]))) {
    throw new ShapeError(`matmul: batch dimensions ${fmt(batchShape)} and ${fmt(bBatch)} differ`);
  }
  const batch = sizeOf(batchShape);
  const out = empty([...batchShape, M, N]);
  const K_ = kernels();
  const bf16 = bf16Active();
  const sA = ar * ac;
  const sB = bShared ? 0 : br * bc;
  // C = op(A) · op(B) (+ C with beta 1) for `count` batch elements; each operand is
  // [data, leading dimension, stride between batch elements, stored transposed]
  const gemm = (
    mnk: [number, number, number],
    [A, lda, strideA, transA]: Operand,
    [B, ldb, strideB, transB]: Operand,
    [C, ldc, strideC]: Operand,
    count = batch,
    beta = 0,
  ) =>
    K_.gemm({
      transA,
      transB,
      M: mnk[0],
      N: mnk[1],
      K: mnk[2],
      A,
      lda,
      strideA,
      B,
      ldb,
      strideB,
      beta,
      C,
      ldc,
      strideC,
      batch: count,
      bf16,
    });
  if (bShared && !tA) {
    // fold the batch into M: one big GEMM
    gemm([batch * M, N, K], [a.f32, ac, 0], [b.f32, bc, 0, tB], [out.f32, N, 0], 1);
  } else {
    gemm([M, N, K], [a.f32, ac, sA, tA], [b.f32, bc, sB, tB], [out.f32, N, M * N]);
  }
  const gradA = (g: F32, da: F32) => {
    if (tA) {
      // A stored K×M: dA = op(B) · Gᵀ
      gemm([K, M, N], [b.f32, bc, sB, tB], [g, N, M * N, true], [da, M, M * K]);
    } else if (bShared) {
      // dA[M,K] = G[M,N] · op(B)ᵀ (here with the batch folded into M)
      gemm([batch * M, K, N], [g, N, 0], [b.f32, bc, 0, !tB], [da, K, 0], 1);
    } else {
      gemm([M, K, N], [g, N, M * N], [b.f32, bc, sB, !tB], [da, K, M * K]);
    }
  };
  const gradB = (g: F32, db: F32) => {
    if (bShared && !tA) {
      // fold the batch into the reduction dimension
      if (!tB) gemm([K, N, batch * M], [a.f32, ac, 0, true], [g, N, 0], [db, N, 0], 1);
      else gemm([N, K, batch * M], [g, N, 0, true], [a.f32, ac, 0], [db, K, 0], 1);
    } else if (bShared) {
      K_.fill(db, 0);
      for (let i = 0; i < batch; i++) {
        const [ai, gi] = [a.f32.subarray(i * sA), g.subarray(i * M * N)];
        if (!tB) gemm([K, N, M], [ai, ac, 0], [gi, N, 0], [db, N, 0], 1, 1);
        else gemm([N, K, M], [gi, N, 0, true], [ai, ac, 0, true], [db, K, 0], 1, 1);
      }
    } else if (!tB) {
      // dB[K,N] = op(A)ᵀ · G
      gemm([K, N, M], [a.f32, ac, sA, !tA], [g, N, M * N], [db, N, K * N]);
    } else {
      // B stored N×K: dB = Gᵀ · op(A)
      gemm([N, K, M], [g, N, M * N, true], [a.f32, ac, sA, tA], [db, K, N * K]);
    }
  };
  return record(
    out,
    'matmul',
    [a, b],
    (g) => {
      const da = a.requiresGrad ? empty(a.shape) : null;
      const db = b.requiresGrad ? empty(b.shape) : null;
      if (da) gradA(g.f32, da.f32);
      if (db) gradB(g.f32, db.f32);
      return [da, db];
    },
    [a, b],
  );
}

/** The sizes of a linear layer's GEMMs: x [rows, nIn], w [nOut, nIn], out [rows, nOut]. */
type LinearSizes = Pick<LinearForwardArgs, 'rows' | 'nIn' | 'nOut' | 'bf16'>;

/** dx[rows, nIn] = dh[rows, nOut] · w[nOut, nIn] */
function gradInput(d: LinearSizes, dh: F32, w: F32, dx: F32): void {
  const { rows, nIn, nOut, bf16 } = d;
  kernels().gemm({ M: rows, N: nIn, K: nOut, A: dh, lda: nOut, B: w, ldb: nIn, C: dx, ldc: nIn, bf16 });
}

/** dw[nOut, nIn] = dh[rows, nOut]ᵀ · x[rows, nIn] */
function gradWeight(d: LinearSizes, dh: F32, x: F32, dw: F32): void {
  const { rows, nIn, nOut, bf16 } = d;
  kernels().gemm({ transA: true, M: nOut, N: nIn, K: rows, A: dh, lda: nOut, B: x, ldb: nIn, C: dw, ldc: nIn, bf16 });
}

/**
 * HF's nn.Linear: y = x·Wᵀ + b with W: [out, in], then an optional activation fused into the same pass over
 * memory (bias + GELU). x: [..., in] -> [..., out].
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, activation: Activation = 'none'): Tensor {
  if (weight.rank !== 2) throw new ShapeError(`linear: weight must be [out, in], got ${weight.describe()}`);
  const [nOut, nIn] = weight.shape as [number, number];
  if (x.shape[x.rank - 1] !== nIn)
    throw new ShapeError(
      `linear: input ${x.describe()} has last dimension ${x.shape[x.rank - 1]}, ` +
        `weight ${weight.describe()} expects ${nIn}`,
    );
  if (bias && (bias.rank !== 1 || bias.shape[0] !== nOut))
    throw new ShapeError(`linear: bias ${bias.describe()} must be [${nOut}]`);
  const rows = x.size / nIn;
  const outShape = [...x.shape.slice(0, -1), nOut];
  const K_ = kernels();
  const bf16 = bf16Active();
  const d: LinearSizes = { rows, nIn, nOut, bf16 };
  const h = empty(outShape);
  const out = activation === 'none' ? h : empty(outShape);
  const b = bias ? bias.f32 : null;
  K_.linearForward({
    x: x.f32,
    w: weight.f32,
    bias: b,
    h: h.f32,
    out: out.f32,
    rows,
    nIn,
    nOut,
    act: activation,
    bf16,
  });
  const saved = activation === 'none' ? [x, weight] : [x, weight, h];
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const result = record(
    out,
    activation === 'none' ? 'linear' : `linear+${activation}`,
    inputs,
    (g) => {
      let dh = g;
      if (activation !== 'none') {
        dh = empty(outShape);
        K_.actBackward(h.f32, g.f32, dh.f32, activation);
      }
      let dx: Tensor | null = null;
      let dw: Tensor | null = null;
      let db: Tensor | null = null;
      if (x.requiresGrad) {
        dx = empty(x.shape);
        gradInput(d, dh.f32, weight.f32, dx.f32);
      }
      if (weight.requiresGrad) {
        dw = empty(weight.shape);
        gradWeight(d, dh.f32, x.f32, dw.f32);
      }
      if (bias?.requiresGrad) {
        db = empty(bias.shape);
        K_.reduceSum(dh.f32, db.f32, 1, rows, nOut);
      }
      if (dh !== g) dh.dispose();
      return bias ? [dx, dw, db] : [dx, dw];
    },
    saved,
  );
  if (h !== out) h.dispose(); // the node (if any) retained its own reference
  return result;
}

/**
 * Several linear layers on the same input as one: x·[W1; W2; …]ᵀ + [b1, b2, …] -> [..., Σ out_i], the outputs
 * side by side (e.g. BERT's query, key and value projections, then attentionPacked). One GEMM forward and two
 * backward instead of one and two per layer, and x receives one gradient instead of a sum of three. The weights are
 * copied into one [Σ out_i, in] matrix per call (small next to the GEMMs); biases: all given or none.
 */
export function linearConcat(x: Tensor, weights: Tensor[], biases: Tensor[] | null): Tensor {
  if (weights.length === 0) throw new ShapeError('linearConcat: needs at least one weight');
  const nIn = x.shape[x.rank - 1]!;
  for (const w of weights) {
    if (w.rank !== 2 || w.shape[1] !== nIn) {
      throw new ShapeError(`linearConcat: weight ${w.describe()} must be [out, ${nIn}] for input ${x.describe()}`);
    }
  }
  const badBias = (b: Tensor, i: number) => b.rank !== 1 || b.shape[0] !== weights[i]!.shape[0];
  if (biases && (biases.length !== weights.length || biases.some(badBias))) {
    throw new ShapeError(`linearConcat: biases ${biases.map((b) => b.describe()).join(', ')} do not match the weights`);
  }
  const outs = weights.map((w) => w.shape[0]!);
  const nOut = outs.reduce((a, b) => a + b, 0);
  const rows = x.size / nIn;
  const W = empty([nOut, nIn]);
  const bias = biases ? empty([nOut]) : null;
  let off = 0;
  weights.forEach((w, i) => {
    W.f32.set(w.f32, off * nIn);
    bias?.f32.set(biases![i]!.f32, off);
    off += outs[i]!;
  });
  const K_ = kernels();
  const bf16 = bf16Active();
  const d: LinearSizes = { rows, nIn, nOut, bf16 };
  const out = empty([...x.shape.slice(0, -1), nOut]);
  const b = bias ? bias.f32 : null;
  K_.linearForward({ x: x.f32, w: W.f32, bias: b, h: out.f32, out: out.f32, rows, nIn, nOut, act: 'none', bf16 });
  const inputs = biases ? [x, ...weights, ...biases] : [x, ...weights];
  const res = record(
    out,
    'linear(concat)',
    inputs,
    (g) => {
      let dx: Tensor | null = null;
      if (x.requiresGrad) {
        dx = empty(x.shape);
        gradInput(d, g.f32, W.f32, dx.f32);
      }
      // one GEMM for every weight's gradient, then handed out in row blocks (and the bias sums likewise)
      const dW = empty([nOut, nIn]);
      gradWeight(d, g.f32, x.f32, dW.f32);
      const db = biases ? empty([nOut]) : null;
      if (db) K_.reduceSum(g.f32, db.f32, 1, rows, nOut);
      const split = (all: Tensor, width: number) => {
        let o = 0;
        return outs.map((n) => {
          const t = empty(width ? [n, width] : [n]);
          t.f32.set(all.f32.subarray(o * Math.max(width, 1), (o + n) * Math.max(width, 1)));
          o += n;
          return t;
        });
      };
      const grads = [dx, ...split(dW, nIn), ...(db ? split(db, 0) : [])];
      dW.dispose();
      db?.dispose();
      return grads;
    },
    [x, W],
  );
  W.dispose();
  bias?.dispose();
  return res;
}
