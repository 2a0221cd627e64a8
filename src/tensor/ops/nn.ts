/** Neural-network ops: embedding, layer norm (optionally fused with a residual add), softmax, dropout, attention. */
import { empty, record, Tensor, zeros } from '../tensor.js';
import { kernels } from '../backend.js';
import { fmt } from '../shape.js';
import { ShapeError } from '../errors.js';
import type { Generator } from '../random.js';
import { bf16Active } from '../precision.js';
import type { AttentionForwardArgs, F32 } from '../kernels.js';

/** table[ids]: ids int32 [...], table [vocab, dim] -> [..., dim]. Backward scatter-adds into a dense gradient. */
export function embedding(ids: Tensor, table: Tensor): Tensor {
  if (ids.dtype !== 'int32') throw new ShapeError(`embedding: ids must be int32, got ${ids.describe()}`);
  if (table.rank !== 2) throw new ShapeError(`embedding: table must be [vocab, dim], got ${table.describe()}`);
  const [vocab, dim] = table.shape as [number, number];
  const idv = ids.i32;
  for (let i = 0; i < ids.size; i++) {
    const v = idv[i]!;
    if (v < 0 || v >= vocab)
      throw new ShapeError(
        `embedding: id ${v} at position ${i} is outside the table ${table.describe()} (vocabulary of ${vocab}); ` +
          'is the tokenizer from the same model?',
      );
  }
  const out = empty([...ids.shape, dim]);
  kernels().embeddingForward(ids.i32, table.f32, out.f32, ids.size, dim);
  return record(
    out,
    'embedding',
    [table],
    (g) => {
      const d = zeros(table.shape);
      kernels().embeddingBackward(ids.i32, g.f32, d.f32, ids.size, dim);
      return [d];
    },
    [ids],
  );
}

/**
 * LayerNorm over the last axis: (s - mean)/sqrt(var + eps)·gamma + beta with s = x (+ residual).
 * Passing the residual fuses BERT's "add & norm" into one pass.
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps: number, residual?: Tensor | null): Tensor {
  const dim = x.shape[x.rank - 1]!;
  if (gamma.size !== dim || beta.size !== dim)
    throw new ShapeError(
      `layerNorm: gamma ${gamma.describe()} and beta ${beta.describe()} ` +
        `must have ${dim} elements for input ${x.describe()}`,
    );
  if (residual && (residual.rank !== x.rank || residual.shape.some((d, i) => d !== x.shape[i]))) {
    throw new ShapeError(`layerNorm: residual ${residual.describe()} must have the shape of ${x.describe()}`);
  }
  const rows = x.size / dim;
  const out = empty(x.shape);
  const mean = empty([rows]);
  const rstd = empty([rows]);
  const s = residual ? empty(x.shape) : x;
  kernels().layerNormForward({
    x: x.f32,
    residual: residual ? residual.f32 : null,
    gamma: gamma.f32,
    beta: beta.f32,
    out: out.f32,
    sum: residual ? s.f32 : null,
    mean: mean.f32,
    rstd: rstd.f32,
    rows,
    dim,
    eps,
  });
  const inputs = residual ? [x, gamma, beta, residual] : [x, gamma, beta];
  const res = record(
    out,
    residual ? 'add+layerNorm' : 'layerNorm',
    inputs,
    (g) => {
      const dx = empty(x.shape);
      const dg = zeros(gamma.shape);
      const db = zeros(beta.shape);
      const [dy, dgamma, dbeta] = [g.f32, dg.f32, db.f32];
      kernels().layerNormBackward({
        dy,
        s: s.f32,
        mean: mean.f32,
        rstd: rstd.f32,
        gamma: gamma.f32,
        dx: dx.f32,
        dgamma,
        dbeta,
        rows,
        dim,
      });
      const grads: (Tensor | null)[] = [
        x.requiresGrad ? dx : null,
        gamma.requiresGrad ? dg : null,
        beta.requiresGrad ? db : null,
      ];
      if (residual) grads.push(residual.requiresGrad ? dx : null);
      return grads;
    },
    [s, mean, rstd, gamma],
  );
  if (residual) s.dispose();
  mean.dispose();
  rstd.dispose();
  return res;
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  const n = x.shape[x.rank - 1]!;
  const rows = n === 0 ? 0 : x.size / n;
  const out = empty(x.shape);
  kernels().softmaxForward(x.f32, out.f32, rows, n);
  return record(
    out,
    'softmax',
    [x],
    (g) => {
      const dx = empty(x.shape);
      kernels().softmaxBackward(out.f32, g.f32, dx.f32, rows, n);
      return [dx];
    },
    [out],
  );
}

/** Inverted dropout; identity when p = 0 or not training. The mask is a hash of a key from `gen`. */
export function dropout(x: Tensor, p: number, gen: Generator, training = true): Tensor {
  if (!(p >= 0 && p < 1)) throw new ShapeError(`dropout: p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const key = gen.dropoutKey();
  const out = empty(x.shape);
  kernels().dropoutForward(x.f32, out.f32, p, key);
  return record(out, 'dropout', [x], (g) => {
    const dx = empty(x.shape);
    kernels().dropoutBackward(g.f32, dx.f32, p, key);
    return [dx];
  });
}

export interface AttentionOptions {
  heads: number;
  /** attention-probability dropout (training only) */
  dropout?: number;
  generator?: Generator;
  training?: boolean;
  /** default 1/sqrt(head size) */
  scale?: number;
}

/** The sizes and scalars of attentionForward / attentionBackward. */
type AttentionSetup = Pick<AttentionForwardArgs, 'B' | 'T' | 'H' | 'D' | 'scale' | 'p' | 'key' | 'bf16'>;

/** Checks heads and mask for hidden size C, draws the dropout key. */
function attentionSetup(
  B: number,
  T: number,
  C: number,
  keyMask: Tensor | null,
  opts: AttentionOptions,
): AttentionSetup {
  const H = opts.heads;
  if (!Number.isInteger(H) || H < 1 || C % H !== 0) {
    throw new ShapeError(`attention: hidden size ${C} is not divisible by ${H} heads`);
  }
  if (keyMask && (keyMask.rank !== 2 || keyMask.shape[0] !== B || keyMask.shape[1] !== T)) {
    throw new ShapeError(`attention: keyMask must be ${fmt([B, T])}, got ${keyMask.describe()}`);
  }
  const D = C / H;
  const p = opts.training === false ? 0 : (opts.dropout ?? 0);
  if (p > 0 && !opts.generator) throw new ShapeError('attention: dropout needs a generator');
  const key = p > 0 ? opts.generator!.dropoutKey() : 0;
  return { B, T, H, D, scale: opts.scale ?? 1 / Math.sqrt(D), p, key, bf16: bf16Active() };
}

/** Where attention reads q, k, v: the tensors it records, and q, k, v as views (row stride ld) into their data. */
interface AttentionInputs {
  tensors: Tensor[];
  views: (data: F32[]) => [F32, F32, F32];
  ld: number;
}

/** The attention kernels: out [B, T, H·D]; backward writes dq, dk, dv into the same views of gradients. */
function attentionKernels(name: string, a: AttentionInputs, s: AttentionSetup, keyMask: F32 | null): Tensor {
  const { B, T, H, D, scale, p, key, bf16 } = s;
  const ld = a.ld;
  const [q, k, v] = a.views(a.tensors.map((t) => t.f32));
  const out = empty([B, T, H * D]);
  const probs = empty([B, H, T, T]);
  kernels().attentionForward({ q, k, v, keyMask, out: out.f32, probs: probs.f32, B, T, H, D, scale, p, key, bf16, ld });
  const res = record(
    out,
    name,
    a.tensors,
    (g) => {
      const grads = a.tensors.map((t) => empty(t.shape));
      const [dq, dk, dv] = a.views(grads.map((t) => t.f32));
      const dout = g.f32;
      kernels().attentionBackward({ q, k, v, probs: probs.f32, dout, dq, dk, dv, B, T, H, D, scale, p, key, bf16, ld });
      return grads;
    },
    [...a.tensors, probs],
  );
  probs.dispose();
  return res;
}

/**
 * Multi-head scaled-dot-product attention on projected q, k, v: [B, T, H·D] -> [B, T, H·D].
 * keyMask: additive float [B, T] (0 = attend, large negative = padding), see attentionMaskFromPadding.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, keyMask: Tensor | null, opts: AttentionOptions): Tensor {
  if (q.rank !== 3) throw new ShapeError(`attention: q must be [batch, seq, hidden], got ${q.describe()}`);
  for (const t of [k, v]) {
    if (t.rank !== 3 || t.shape.some((d, i) => d !== q.shape[i])) {
      throw new ShapeError(`attention: ${t.describe()} must match q ${q.describe()}`);
    }
  }
  const [B, T, C] = q.shape as [number, number, number];
  const s = attentionSetup(B, T, C, keyMask, opts);
  const views = (d: F32[]): [F32, F32, F32] => [d[0]!, d[1]!, d[2]!];
  return attentionKernels('attention', { tensors: [q, k, v], views, ld: C }, s, keyMask ? keyMask.f32 : null);
}

/**
 * attention() on the output of one fused QKV projection: qkv [B, T, 3·C] holds q, k and v as its column blocks
 * (linearConcat(x, [Wq, Wk, Wv], [bq, bk, bv])). The kernels read the blocks in place (row stride 3·C) and write
 * the gradient as one [B, T, 3·C] tensor, so the projection's backward is one GEMM for dx and one for the weights
 * instead of three each plus two gradient additions. Same numbers as attention() on the three slices.
 */
export function attentionPacked(qkv: Tensor, keyMask: Tensor | null, opts: AttentionOptions): Tensor {
  if (qkv.rank !== 3 || qkv.shape[2]! % 3 !== 0) {
    throw new ShapeError(`attentionPacked: qkv must be [batch, seq, 3·hidden], got ${qkv.describe()}`);
  }
  const [B, T, C3] = qkv.shape as [number, number, number];
  const C = C3 / 3;
  const s = attentionSetup(B, T, C, keyMask, opts);
  const views = ([f]: F32[]): [F32, F32, F32] => [f!, f!.subarray(C), f!.subarray(2 * C)];
  return attentionKernels('attention(qkv)', { tensors: [qkv], views, ld: C3 }, s, keyMask ? keyMask.f32 : null);
}

/** HF's extended attention mask: (1 - mask) · float32 min, shape [B, T], from a 0/1 int32 or float mask. */
export function attentionMaskFromPadding(mask: Tensor): Tensor {
  const out = empty(mask.shape);
  const m = mask.data;
  const o = out.f32;
  const MIN = -3.4028234663852886e38;
  for (let i = 0; i < mask.size; i++) o[i] = m[i] ? 0 : MIN;
  return out;
}
