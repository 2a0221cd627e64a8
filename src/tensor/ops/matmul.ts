/**
 * Matrix products: matmul (2-D and batched, with transposes) and linear (x·Wᵀ + b, optionally fused with an
 * activation).
 */
import { empty, record, Tensor } from '../tensor.js';
import { kernels } from '../backend.js';
import { fmt, sizeOf } from '../shape.js';
import { ShapeError } from '../errors.js';
import type { Activation } from '../kernels.js';
import { bf16Active } from '../precision.js';

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
  const bf = bf16Active();
  const sA = ar * ac;
  const sB = bShared ? 0 : br * bc;
  if (bShared && !tA) {
    // fold the batch into M: one big GEMM
    K_.gemm({ transB: tB, M: batch * M, N, K, A: a.f32, lda: ac, B: b.f32, ldb: bc, C: out.f32, ldc: N, bf16: bf });
  } else {
    K_.gemm({
      transA: tA,
      transB: tB,
      M,
      N,
      K,
      A: a.f32,
      lda: ac,
      strideA: sA,
      B: b.f32,
      ldb: bc,
      strideB: sB,
      C: out.f32,
      ldc: N,
      strideC: M * N,
      batch,
      bf16: bf,
    });
  }
  return record(
    out,
    'matmul',
    [a, b],
    (g) => {
      let da: Tensor | null = null;
      let db: Tensor | null = null;
      if (a.requiresGrad) {
        da = empty(a.shape);
        if (!tA) {
          // dA[M,K] = G[M,N] · op(B)ᵀ
          if (bShared)
            K_.gemm({
              transB: !tB,
              M: batch * M,
              N: K,
              K: N,
              A: g.f32,
              lda: N,
              B: b.f32,
              ldb: bc,
              C: da.f32,
              ldc: K,
              bf16: bf,
            });
          else
            K_.gemm({
              transB: !tB,
              M,
              N: K,
              K: N,
              A: g.f32,
              lda: N,
              strideA: M * N,
              B: b.f32,
              ldb: bc,
              strideB: sB,
              C: da.f32,
              ldc: K,
              strideC: M * K,
              batch,
              bf16: bf,
            });
        } else {
          // A stored K×M: dA = op(B) · Gᵀ
          K_.gemm({
            transA: tB,
            transB: true,
            M: K,
            N: M,
            K: N,
            A: b.f32,
            lda: bc,
            strideA: sB,
            B: g.f32,
            ldb: N,
            strideB: M * N,
            C: da.f32,
            ldc: M,
            strideC: M * K,
            batch,
            bf16: bf,
          });
        }
      }
      if (b.requiresGrad) {
        db = empty(b.shape);
        if (bShared && !tA) {
          // fold the batch into the reduction dimension
          if (!tB)
            K_.gemm({
              transA: true,
              M: K,
              N,
              K: batch * M,
              A: a.f32,
              lda: ac,
              B: g.f32,
              ldb: N,
              C: db.f32,
              ldc: N,
              bf16: bf,
            });
          else
            K_.gemm({
              transA: true,
              M: N,
              N: K,
              K: batch * M,
              A: g.f32,
              lda: N,
              B: a.f32,
              ldb: ac,
              C: db.f32,
              ldc: K,
              bf16: bf,
            });
        } else if (bShared) {
          K_.fill(db.f32, 0);
          for (let i = 0; i < batch; i++) {
            const aOff = a.f32.subarray(i * sA);
            const gOff = g.f32.subarray(i * M * N);
            if (!tB)
              K_.gemm({ M: K, N, K: M, A: aOff, lda: ac, B: gOff, ldb: N, beta: 1, C: db.f32, ldc: N, bf16: bf });
            else
              K_.gemm({
                transA: true,
                transB: true,
                M: N,
                N: K,
                K: M,
                A: gOff,
                lda: N,
                B: aOff,
                ldb: ac,
                beta: 1,
                C: db.f32,
                ldc: K,
                bf16: bf,
              });
          }
        } else if (!tB) {
          // dB[K,N] = op(A)ᵀ · G
          K_.gemm({
            transA: !tA,
            M: K,
            N,
            K: M,
            A: a.f32,
            lda: ac,
            strideA: sA,
            B: g.f32,
            ldb: N,
            strideB: M * N,
            C: db.f32,
            ldc: N,
            strideC: K * N,
            batch,
            bf16: bf,
          });
        } else {
          // B stored N×K: dB = Gᵀ · op(A)
          K_.gemm({
            transA: true,
            transB: tA,
            M: N,
            N: K,
            K: M,
            A: g.f32,
            lda: N,
            strideA: M * N,
            B: a.f32,
            ldb: ac,
            strideB: sA,
            C: db.f32,
            ldc: K,
            strideC: N * K,
            batch,
            bf16: bf,
          });
        }
      }
      return [da, db];
    },
    [a, b],
  );
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
  const bf = bf16Active();
  const h = empty(outShape);
  const out = activation === 'none' ? h : empty(outShape);
  K_.linearForward({
    x: x.f32,
    w: weight.f32,
    bias: bias ? bias.f32 : null,
    h: h.f32,
    out: out.f32,
    rows,
    nIn,
    nOut,
    act: activation,
    bf16: bf,
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
        K_.gemm({
          M: rows,
          N: nIn,
          K: nOut,
          A: dh.f32,
          lda: nOut,
          B: weight.f32,
          ldb: nIn,
          C: dx.f32,
          ldc: nIn,
          bf16: bf,
        });
      }
      if (weight.requiresGrad) {
        dw = empty(weight.shape);
        K_.gemm({
          transA: true,
          M: nOut,
          N: nIn,
          K: rows,
          A: dh.f32,
          lda: nOut,
          B: x.f32,
          ldb: nIn,
          C: dw.f32,
          ldc: nIn,
          bf16: bf,
        });
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
  const bf = bf16Active();
  const out = empty([...x.shape.slice(0, -1), nOut]);
  K_.linearForward({
    x: x.f32,
    w: W.f32,
    bias: bias ? bias.f32 : null,
    h: out.f32,
    out: out.f32,
    rows,
    nIn,
    nOut,
    act: 'none',
    bf16: bf,
  });
  const inputs = biases ? [x, ...weights, ...biases] : [x, ...weights];
  const res = record(
    out,
    'linear(concat)',
    inputs,
    (g) => {
      let dx: Tensor | null = null;
      if (x.requiresGrad) {
        dx = empty(x.shape);
        K_.gemm({ M: rows, N: nIn, K: nOut, A: g.f32, lda: nOut, B: W.f32, ldb: nIn, C: dx.f32, ldc: nIn, bf16: bf });
      }
      // one GEMM for every weight's gradient, then handed out in row blocks (and the bias sums likewise)
      const dW = empty([nOut, nIn]);
      K_.gemm({
        transA: true,
        M: nOut,
        N: nIn,
        K: rows,
        A: g.f32,
        lda: nOut,
        B: x.f32,
        ldb: nIn,
        C: dW.f32,
        ldc: nIn,
        bf16: bf,
      });
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
