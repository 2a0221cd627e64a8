/**
 * The kernel interface: everything a backend must implement, on raw contiguous buffers (llm.c style).
 * One name per kernel; the js backend is the reference, the native backend implements the same names in C++.
 * Ops (src/tensor/ops) do shape checks and autograd and call these; models never call kernels directly.
 *
 * Conventions: row-major, contiguous; `out` buffers are fully overwritten unless a kernel says it accumulates;
 * counts are element counts. Dropout masks come from a counter-based hash of (key, element index), so the mask is
 * the same on every backend and thread count, and backward recomputes it instead of storing it.
 */
export type F32 = Float32Array;
export type I32 = Int32Array;

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';
export type UnaryOp = 'gelu' | 'gelu_tanh' | 'tanh' | 'relu' | 'exp' | 'log' | 'neg' | 'square' | 'sqrt' | 'sigmoid';
export type Activation = 'none' | 'gelu' | 'gelu_tanh' | 'relu' | 'tanh';

export interface Kernels {
  readonly name: 'js' | 'native';
  threads(): number;
  setThreads(n: number): void;

  fill(out: F32, value: number): void;
  /** dst += alpha * src */
  axpy(dst: F32, src: F32, alpha: number): void;
  /** out = alpha * x (out may be x) */
  scale(x: F32, alpha: number, out: F32): void;

  /** out[i] = a[ia] op b[ib] over `shape` with the given (broadcast, possibly 0) strides. */
  binary(
    op: BinaryOp,
    a: F32,
    b: F32,
    out: F32,
    shape: readonly number[],
    aStrides: readonly number[],
    bStrides: readonly number[],
  ): void;
  unary(op: UnaryOp, x: F32, out: F32): void;
  /** dx = dy * f'(x); y = f(x) is passed for ops whose derivative is cheaper from it (tanh, exp, sigmoid, sqrt). */
  unaryBackward(op: UnaryOp, x: F32, y: F32, dy: F32, dx: F32): void;
  /** h[r, j] += bias[j] (in place, bias may be null), then out = act(h). rows × n. */
  biasAct(h: F32, bias: F32 | null, out: F32, rows: number, n: number, act: Activation): void;
  /** dh = dy * act'(h); rows × n. */
  actBackward(h: F32, dy: F32, dh: F32, act: Activation): void;

  /** x viewed as [outer, r, inner] summed over r into out[outer, inner]. */
  reduceSum(x: F32, out: F32, outer: number, r: number, inner: number): void;
  /** Σ x² accumulated in double precision, in a fixed order. */
  sumSquares(x: F32): number;

  /** out = x permuted: out.shape[i] = shape[perm[i]]. */
  permute(x: F32, out: F32, shape: readonly number[], perm: readonly number[]): void;
  /**
   * For o < outer: dst[o, dstStart:dstStart+len, :] (=|+=) src[o, srcStart:srcStart+len, :], with the middle
   * axis of length srcLen in src and dstLen in dst and `inner` contiguous elements per index. Slice and concat.
   */
  axisCopy(
    src: F32,
    dst: F32,
    outer: number,
    srcLen: number,
    srcStart: number,
    dstLen: number,
    dstStart: number,
    len: number,
    inner: number,
    accumulate: boolean,
  ): void;

  /**
   * Batched GEMM: for each i < batch, C_i = alpha · op(A_i) · op(B_i) + beta · C_i, row-major, where
   * op(A) is M×K (A stored K×M when transA), op(B) is K×N (B stored N×K when transB). beta = 0: C is not read.
   * bf16: op(A) and op(B) are rounded to bfloat16 (bf16Round) and the products summed in (at least) fp32.
   */
  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    alpha: number,
    A: F32,
    lda: number,
    strideA: number,
    B: F32,
    ldb: number,
    strideB: number,
    beta: number,
    C: F32,
    ldc: number,
    strideC: number,
    batch: number,
    bf16?: boolean,
  ): void;

  /**
   * A linear layer's forward: h[rows, nOut] = x[rows, nIn] · w[nOut, nIn]ᵀ + bias (bias may be null), then
   * out = act(h). With act 'none', out must be h. Native: one GEMM with bias and activation in its epilogue.
   */
  linearForward(
    x: F32,
    w: F32,
    bias: F32 | null,
    h: F32,
    out: F32,
    rows: number,
    nIn: number,
    nOut: number,
    act: Activation,
    bf16?: boolean,
  ): void;

  /** out[i, :] = table[ids[i], :] */
  embeddingForward(ids: I32, table: F32, out: F32, n: number, dim: number): void;
  /** dtable[ids[i], :] += dout[i, :] (accumulates, deterministic order) */
  embeddingBackward(ids: I32, dout: F32, dtable: F32, n: number, dim: number): void;

  /**
   * s = x (+ residual); out = (s - mean) * rstd * gamma + beta per row. Writes mean and rstd (rows), and s into
   * `sum` when residual is given (backward needs it).
   */
  layerNormForward(
    x: F32,
    residual: F32 | null,
    gamma: F32,
    beta: F32,
    out: F32,
    sum: F32 | null,
    mean: F32,
    rstd: F32,
    rows: number,
    dim: number,
    eps: number,
  ): void;
  /** dx = LN backward; dgamma, dbeta are accumulated (+=). s is the layer norm input. */
  layerNormBackward(
    dy: F32,
    s: F32,
    mean: F32,
    rstd: F32,
    gamma: F32,
    dx: F32,
    dgamma: F32,
    dbeta: F32,
    rows: number,
    dim: number,
  ): void;

  /** Row softmax over the last axis of rows × n. */
  softmaxForward(x: F32, out: F32, rows: number, n: number): void;
  softmaxBackward(y: F32, dy: F32, dx: F32, rows: number, n: number): void;

  /** out = x * keep(i) / (1 - p); keep from hash(key, i). */
  dropoutForward(x: F32, out: F32, p: number, key: number): void;
  dropoutBackward(dy: F32, dx: F32, p: number, key: number): void;

  /**
   * Multi-head attention core. q, k, v, out: [B, T, H*D] (heads interleaved as HF lays them out).
   * keyMask: additive [B, T] (0 keep, large negative drop) or null. probs: [B, H, T, T] softmax output (saved).
   * Attention dropout with probability p uses hash(key, ((b*H+h)*T+i)*T+j). bf16: the operands of its two
   * (forward) and four (backward) matrix products are rounded to bfloat16 first; softmax stays fp32.
   * ld (default H*D): row stride of q, k, v and of dq, dk, dv — 3·H·D when they are column blocks of one fused QKV
   * projection [B, T, 3·H·D] (then dq, dk, dv are the blocks of its gradient); out and dout keep stride H*D.
   */
  attentionForward(
    q: F32,
    k: F32,
    v: F32,
    keyMask: F32 | null,
    out: F32,
    probs: F32,
    B: number,
    T: number,
    H: number,
    D: number,
    scale: number,
    p: number,
    key: number,
    bf16?: boolean,
    ld?: number,
  ): void;
  attentionBackward(
    q: F32,
    k: F32,
    v: F32,
    probs: F32,
    dout: F32,
    dq: F32,
    dk: F32,
    dv: F32,
    B: number,
    T: number,
    H: number,
    D: number,
    scale: number,
    p: number,
    key: number,
    bf16?: boolean,
    ld?: number,
  ): void;

  /**
   * Cross-entropy from logits, N × C. For row i with target t (t = ignoreIndex: loss 0, weight 0):
   * loss[i] = (1-ε)·w_t·(-log p_t) + ε/C·Σ_c w_c·(-log p_c), weight[i] = w_t (w ≡ 1 without class weights).
   */
  crossEntropyForward(
    logits: F32,
    targets: I32,
    classWeights: F32 | null,
    loss: F32,
    weight: F32,
    N: number,
    C: number,
    ignoreIndex: number,
    smoothing: number,
  ): void;
  /** dlogits = gradScale · ∂loss[i]/∂logits (rows with ignored targets get 0). */
  crossEntropyBackward(
    logits: F32,
    targets: I32,
    classWeights: F32 | null,
    dlogits: F32,
    N: number,
    C: number,
    ignoreIndex: number,
    smoothing: number,
    gradScale: number,
  ): void;
  /** Elementwise BCE with logits, N × C targets in [0,1], posWeight per class (C) or null. */
  bceWithLogitsForward(logits: F32, targets: F32, posWeight: F32 | null, loss: F32, N: number, C: number): void;
  bceWithLogitsBackward(
    logits: F32,
    targets: F32,
    posWeight: F32 | null,
    dlogits: F32,
    N: number,
    C: number,
    gradScale: number,
  ): void;

  /**
   * PyTorch AdamW step on one parameter: p *= 1 - lr·wd; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
   * p -= (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps), with bc1 = 1-β1^t, bc2 = 1-β2^t; g is scaled by gradScale
   * first.
   */
  adamw(
    param: F32,
    grad: F32,
    m: F32,
    v: F32,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    bc1: number,
    bc2: number,
    gradScale: number,
  ): void;
}

/** Counter-based hash shared by every backend (must match native/common.h). */
export function dropoutHash(key: number, i: number): number {
  let h = (Math.imul(i, 0x9e3779b1) ^ key) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Element is kept when (hash >>> 8) < threshold (24-bit resolution). */
export function dropoutThreshold(p: number): number {
  return Math.round((1 - p) * 16777216);
}

const bfF = new Float32Array(1);
const bfU = new Uint32Array(bfF.buffer);

/**
 * x rounded to the nearest bfloat16 (ties to even), as AVX512-BF16's vcvtneps2bf16 does it: NaN stays NaN,
 * denormals become signed zero. Returned as the float32 with that value (must match native/bf16.h).
 */
export function bf16Round(x: number): number {
  bfF[0] = x;
  const u = bfU[0]!;
  if ((u & 0x7f800000) === 0) bfU[0] = u & 0x80000000;
  else if ((u & 0x7fffffff) > 0x7f800000) bfU[0] = (u | 0x00400000) & 0xffff0000;
  else bfU[0] = ((u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000) >>> 0;
  return bfF[0]!;
}
