// The kernel table: every kernel's name, arguments (name: type, in call order), contract and C++ function, written
// once. scripts/gen-kernels.mjs turns it into
//   - src/tensor/kernels.gen.ts: the op-code lists, the KernelFunctions interface (tensor/kernels.ts) and its options
//     types, and bindNative(), which maps that interface onto the addon (checked in; a test keeps it current);
//   - at build time (binding.gyp), <gen>/medtune/op_codes.h (the op-code enums) and <gen>/medtune/bindings.h (one
//     N-API binding per kernel: unpack and check every argument, then call the C++ kernel; included by addon.cc).
//
// Argument types:
//   f32[size]    Float32Array holding at least `size` elements (a C++ expression over the number arguments, the
//                `let` values and the helpers in native/addon.cc; `len(x)` is the length of array argument x)
//   f32?[size]   the same or null (null in C++)
//   i32[size]    Int32Array
//   i8[size]     Int8Array
//   int | float | u32 | bool     a number (int64_t / float / uint32_t in C++) or a boolean
//   <type> = expr                optional (TypeScript `?:`); C++ uses expr when it is undefined
//   dims         readonly number[] (at most 16 entries): C++ gets int64_t name[16] and int name_n (its length)
//   an enum name one of the strings of that enum (below); C++ gets its code, checked to be in range
// let:     named sizes computed before the arrays are checked.
// checks:  [condition that is an error, message] or an expression giving an error message ("" when fine); they
//          run after the arrays are unpacked, before the call.
// cc:      the C++ call (namespace mt, native/common.h). returns: int | double (default: nothing).
// A kernel with more than 8 arguments takes one options object in TypeScript (named <Kernel>Args).

/** Op codes: the position in each list is the code C++ sees (generated as `enum <Name> { <PREFIX>VALUE = i }`). */
export const enums = {
  BinaryOp: { prefix: 'BIN_', values: ['add', 'sub', 'mul', 'div'] },
  UnaryOp: {
    prefix: 'U_',
    values: ['gelu', 'gelu_tanh', 'tanh', 'relu', 'exp', 'log', 'neg', 'square', 'sqrt', 'sigmoid'],
  },
  Activation: { prefix: 'ACT_', values: ['none', 'gelu', 'gelu_tanh', 'relu', 'tanh'] },
};

const BF16 = ['bf16 && !mt::gemm_bf16_available()', 'bf16 GEMM is not available on this CPU'];
const ATTENTION_DOC = `Multi-head attention core. q, k, v, out: [B, T, H*D] (heads interleaved as HF lays them out).
keyMask: additive [B, T] (0 keep, large negative drop) or null. probs: [B, H, T, T] softmax output (saved).
Attention dropout with probability p uses hash(key, ((b*H+h)*T+i)*T+j). bf16: the operands of its two
(forward) and four (backward) matrix products are rounded to bfloat16 first; softmax stays fp32.
ld (default H*D): row stride of q, k, v and of dq, dk, dv — 3·H·D when they are column blocks of one fused QKV
projection [B, T, 3·H·D] (then dq, dk, dv are the blocks of its gradient); out and dout keep stride H*D.`;
const ATTENTION_SIZES = {
  B: 'int',
  T: 'int',
  H: 'int',
  D: 'int',
  scale: 'float',
  p: 'float',
  key: 'u32',
  bf16: 'bool = false',
  ld: 'int = H * D',
};
const ATTENTION_CHECKS = [['ld < H * D', 'row stride smaller than the hidden size'], BF16];

export const kernels = {
  threads: { doc: 'Threads the kernels run on.', args: {}, returns: 'int', cc: 'threads()' },
  setThreads: {
    doc: 'Sets the number of threads (waits for a running job).',
    args: { n: 'int' },
    cc: 'set_threads(n)',
  },

  fill: { args: { out: 'f32[n]', value: 'float' }, let: { n: 'len(out)' }, cc: 'fill(out, n, value)' },
  axpy: {
    doc: 'dst += alpha * src',
    args: { dst: 'f32[n]', src: 'f32[n]', alpha: 'float' },
    let: { n: 'len(dst)' },
    cc: 'axpy(dst, src, n, alpha)',
  },
  scale: {
    doc: 'out = alpha * x (out may be x)',
    args: { x: 'f32[n]', alpha: 'float', out: 'f32[n]' },
    let: { n: 'len(x)' },
    cc: 'scale(x, out, n, alpha)',
  },

  binary: {
    doc: 'out[i] = a[ia] op b[ib] over `shape` with the given (broadcast, possibly 0) strides.',
    args: {
      op: 'BinaryOp',
      a: 'f32[broadcast_extent(shape, aStrides, shape_n)]',
      b: 'f32[broadcast_extent(shape, bStrides, shape_n)]',
      out: 'f32[elements(shape, shape_n)]',
      shape: 'dims',
      aStrides: 'dims',
      bStrides: 'dims',
    },
    checks: [['aStrides_n != shape_n || bStrides_n != shape_n', 'strides and shape differ in rank']],
    cc: 'binary(op, a, b, out, shape_n, shape, aStrides, bStrides)',
  },
  unary: {
    args: { op: 'UnaryOp', x: 'f32[n]', out: 'f32[n]' },
    let: { n: 'len(x)' },
    cc: 'unary_forward(op, x, out, n)',
  },
  unaryBackward: {
    doc: "dx = dy * f'(x); y = f(x) is passed for ops whose derivative is cheaper from it (tanh, exp, sigmoid, sqrt).",
    args: { op: 'UnaryOp', x: 'f32[n]', y: 'f32[n]', dy: 'f32[n]', dx: 'f32[n]' },
    let: { n: 'len(x)' },
    cc: 'unary_backward(op, x, y, dy, dx, n)',
  },
  biasAct: {
    doc: 'h[r, j] += bias[j] (in place, bias may be null), then out = act(h). rows × n.',
    args: { h: 'f32[rows * n]', bias: 'f32?[n]', out: 'f32[rows * n]', rows: 'int', n: 'int', act: 'Activation' },
    cc: 'bias_act_forward(h, bias, out, rows, n, act)',
  },
  actBackward: {
    doc: "dh = dy * act'(h); rows × n.",
    args: { h: 'f32[n]', dy: 'f32[n]', dh: 'f32[n]', act: 'Activation' },
    let: { n: 'len(h)' },
    cc: 'act_backward(h, dy, dh, n, act)',
  },

  reduceSum: {
    doc: 'x viewed as [outer, r, inner] summed over r into out[outer, inner].',
    args: { x: 'f32[outer * r * inner]', out: 'f32[outer * inner]', outer: 'int', r: 'int', inner: 'int' },
    cc: 'reduce_sum(x, out, outer, r, inner)',
  },
  sumSquares: {
    doc: 'Σ x² accumulated in double precision, in a fixed order.',
    args: { x: 'f32[n]' },
    let: { n: 'len(x)' },
    returns: 'double',
    cc: 'sum_squares(x, n)',
  },

  permute: {
    doc: 'out = x permuted: out.shape[i] = shape[perm[i]].',
    args: { x: 'f32[elements(shape, shape_n)]', out: 'f32[elements(shape, shape_n)]', shape: 'dims', perm: 'dims' },
    checks: [['perm_n != shape_n || !is_permutation(perm, perm_n)', 'bad permutation']],
    cc: 'permute(x, out, shape_n, shape, perm)',
  },
  axisCopy: {
    doc: `For o < outer: dst[o, dstStart:dstStart+len, :] (=|+=) src[o, srcStart:srcStart+len, :], with the middle
axis of length srcLen in src and dstLen in dst and \`inner\` contiguous elements per index. Slice and concat.`,
    args: {
      src: 'f32[outer * srcLen * inner]',
      dst: 'f32[outer * dstLen * inner]',
      outer: 'int',
      srcLen: 'int',
      srcStart: 'int',
      dstLen: 'int',
      dstStart: 'int',
      len: 'int',
      inner: 'int',
      accumulate: 'bool = false',
    },
    checks: [
      ['srcStart < 0 || dstStart < 0 || srcStart + len > srcLen || dstStart + len > dstLen', 'range out of bounds'],
    ],
    cc: 'axis_copy(src, dst, outer, srcLen, srcStart, dstLen, dstStart, len, inner, accumulate)',
  },

  gemm: {
    doc: `Batched GEMM: for each i < batch, C_i = alpha · op(A_i) · op(B_i) + beta · C_i, row-major, where
op(A) is M×K (A stored K×M when transA), op(B) is K×N (B stored N×K when transB). beta = 0: C is not read.
bf16: op(A) and op(B) are rounded to bfloat16 (bf16Round) and the products summed in (at least) fp32.`,
    args: {
      transA: 'bool = false',
      transB: 'bool = false',
      M: 'int',
      N: 'int',
      K: 'int',
      alpha: 'float = 1',
      A: 'f32[gemm_extent(transA ? K : M, transA ? M : K, lda, strideA, batch)]',
      lda: 'int',
      strideA: 'int = 0',
      B: 'f32[gemm_extent(transB ? N : K, transB ? K : N, ldb, strideB, batch)]',
      ldb: 'int',
      strideB: 'int = 0',
      beta: 'float = 0',
      C: 'f32[gemm_extent(M, N, ldc, strideC, batch)]',
      ldc: 'int',
      strideC: 'int = 0',
      batch: 'int = 1',
      bf16: 'bool = false',
    },
    checks: [
      ['M < 0 || N < 0 || K < 0 || batch < 1', 'bad sizes'],
      ['lda < (transA ? M : K) || ldb < (transB ? K : N) || ldc < N', 'leading dimension too small'],
      BF16,
    ],
    cc: 'gemm(transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch, bf16)',
  },
  linearForward: {
    doc: `A linear layer's forward: h[rows, nOut] = x[rows, nIn] · w[nOut, nIn]ᵀ + bias (bias may be null), then
out = act(h). With act 'none', out must be h. Native: one GEMM with bias and activation in its epilogue.`,
    args: {
      x: 'f32[rows * nIn]',
      w: 'f32[nOut * nIn]',
      bias: 'f32?[nOut]',
      h: 'f32[rows * nOut]',
      out: 'f32[rows * nOut]',
      rows: 'int',
      nIn: 'int',
      nOut: 'int',
      act: 'Activation',
      bf16: 'bool = false',
    },
    checks: [
      ['rows < 0 || nIn < 0 || nOut < 0', 'bad sizes'],
      ['act == mt::ACT_NONE && out != h', 'without activation, out must be h'],
      BF16,
    ],
    cc: 'linear_forward(x, w, bias, h, out, rows, nIn, nOut, act, bf16)',
  },

  int8PackWeights: {
    doc: `int8 inference: per-channel quantized weights q[nOut, nIn] (symmetric, in [-127, 127]) packed once into
the layout every int8 kernel reads (k quads of 32 output channels; native/gemm_kernels.h), and
comp[j] = 128 · Σ_k q[j, k].`,
    args: {
      q: 'i8[nOut * nIn]',
      nOut: 'int',
      nIn: 'int',
      packed: 'i32[mt::int8_packed_size(nOut, nIn)]',
      comp: 'i32[nOut]',
    },
    checks: [['nOut < 0 || nIn < 0', 'bad sizes']],
    cc: 'int8_pack_weights(q, nOut, nIn, packed, comp)',
  },
  linearInt8: {
    doc: `A linear layer in int8 (inference): each row of x[rows, nIn] quantized symmetrically (scale max|row| / 127,
round to nearest even), times the packed int8 weights (int8PackWeights) in exact int32 sums, then
h = sum · rowScale · wScale[j] + bias[j] (bias may be null) and out = act(h) (act 'none': out must be h).`,
    args: {
      x: 'f32[rows * nIn]',
      packed: 'i32[mt::int8_packed_size(nOut, nIn)]',
      comp: 'i32[nOut]',
      wScale: 'f32[nOut]',
      bias: 'f32?[nOut]',
      h: 'f32[rows * nOut]',
      out: 'f32[rows * nOut]',
      rows: 'int',
      nIn: 'int',
      nOut: 'int',
      act: 'Activation',
    },
    checks: [
      ['rows < 0 || nIn < 0 || nOut < 0 || nIn > 65536', 'bad sizes (nIn at most 65536: exact int32 sums)'],
      ['act == mt::ACT_NONE && out != h', 'without activation, out must be h'],
    ],
    cc: 'linear_int8_forward(x, packed, comp, wScale, bias, h, out, rows, nIn, nOut, act)',
  },

  embeddingForward: {
    doc: 'out[i, :] = table[ids[i], :]',
    args: { ids: 'i32[n]', table: 'f32[rows * dim]', out: 'f32[n * dim]', n: 'int', dim: 'int' },
    let: { rows: 'dim > 0 ? len(table) / dim : 0' },
    checks: ['token_error(ids, n, rows)'],
    cc: 'embedding_forward(ids, table, out, n, dim)',
  },
  embeddingBackward: {
    doc: 'dtable[ids[i], :] += dout[i, :] (accumulates, deterministic order)',
    args: { ids: 'i32[n]', dout: 'f32[n * dim]', dtable: 'f32[rows * dim]', n: 'int', dim: 'int' },
    let: { rows: 'dim > 0 ? len(dtable) / dim : 0' },
    checks: ['token_error(ids, n, rows)'],
    cc: 'embedding_backward(ids, dout, dtable, n, dim)',
  },

  layerNormForward: {
    doc: `s = x (+ residual); out = (s - mean) * rstd * gamma + beta per row. Writes mean and rstd (rows), and s into
\`sum\` when residual is given (backward needs it).`,
    args: {
      x: 'f32[rows * dim]',
      residual: 'f32?[rows * dim]',
      gamma: 'f32[dim]',
      beta: 'f32[dim]',
      out: 'f32[rows * dim]',
      sum: 'f32?[rows * dim]',
      mean: 'f32[rows]',
      rstd: 'f32[rows]',
      rows: 'int',
      dim: 'int',
      eps: 'float',
    },
    checks: [['residual && !sum', 'sum buffer needed with a residual']],
    cc: 'layernorm_forward(x, residual, gamma, beta, out, sum, mean, rstd, rows, dim, eps)',
  },
  layerNormBackward: {
    doc: 'dx = LN backward; dgamma, dbeta are accumulated (+=). s is the layer norm input.',
    args: {
      dy: 'f32[rows * dim]',
      s: 'f32[rows * dim]',
      mean: 'f32[rows]',
      rstd: 'f32[rows]',
      gamma: 'f32[dim]',
      dx: 'f32[rows * dim]',
      dgamma: 'f32[dim]',
      dbeta: 'f32[dim]',
      rows: 'int',
      dim: 'int',
    },
    cc: 'layernorm_backward(dy, s, mean, rstd, gamma, dx, dgamma, dbeta, rows, dim)',
  },

  softmaxForward: {
    doc: 'Row softmax over the last axis of rows × n.',
    args: { x: 'f32[rows * n]', out: 'f32[rows * n]', rows: 'int', n: 'int' },
    cc: 'softmax_forward(x, out, rows, n)',
  },
  softmaxBackward: {
    args: { y: 'f32[rows * n]', dy: 'f32[rows * n]', dx: 'f32[rows * n]', rows: 'int', n: 'int' },
    cc: 'softmax_backward(y, dy, dx, rows, n)',
  },

  dropoutForward: {
    doc: 'out = x * keep(i) / (1 - p); keep from hash(key, i).',
    args: { x: 'f32[n]', out: 'f32[n]', p: 'float', key: 'u32' },
    let: { n: 'len(x)' },
    cc: 'dropout_forward(x, out, n, p, key)',
  },
  dropoutBackward: {
    args: { dy: 'f32[n]', dx: 'f32[n]', p: 'float', key: 'u32' },
    let: { n: 'len(dy)' },
    cc: 'dropout_backward(dy, dx, n, p, key)',
  },

  attentionForward: {
    doc: ATTENTION_DOC,
    args: {
      q: 'f32[nin]',
      k: 'f32[nin]',
      v: 'f32[nin]',
      keyMask: 'f32?[B * T]',
      out: 'f32[B * T * H * D]',
      probs: 'f32[B * H * T * T]',
      ...ATTENTION_SIZES,
    },
    let: { nin: 'strided(B * T, H * D, ld)' },
    checks: ATTENTION_CHECKS,
    cc: 'attention_forward(q, k, v, keyMask, out, probs, B, T, H, D, scale, p, key, bf16, ld)',
  },
  attentionBackward: {
    doc: 'The gradient of attentionForward (same layout and arguments).',
    args: {
      q: 'f32[nin]',
      k: 'f32[nin]',
      v: 'f32[nin]',
      probs: 'f32[B * H * T * T]',
      dout: 'f32[B * T * H * D]',
      dq: 'f32[nin]',
      dk: 'f32[nin]',
      dv: 'f32[nin]',
      ...ATTENTION_SIZES,
    },
    let: { nin: 'strided(B * T, H * D, ld)' },
    checks: ATTENTION_CHECKS,
    cc: 'attention_backward(q, k, v, probs, dout, dq, dk, dv, B, T, H, D, scale, p, key, bf16, ld)',
  },

  crossEntropyForward: {
    doc: `Cross-entropy from logits, N × C. For row i with target t (t = ignoreIndex: loss 0, weight 0):
loss[i] = (1-ε)·w_t·(-log p_t) + ε/C·Σ_c w_c·(-log p_c), weight[i] = w_t (w ≡ 1 without class weights).`,
    args: {
      logits: 'f32[N * C]',
      targets: 'i32[N]',
      classWeights: 'f32?[C]',
      loss: 'f32[N]',
      weight: 'f32[N]',
      N: 'int',
      C: 'int',
      ignoreIndex: 'int',
      smoothing: 'float',
    },
    checks: ['target_error(targets, N, C, ignoreIndex)'],
    cc: 'cross_entropy_forward(logits, targets, classWeights, loss, weight, N, C, ignoreIndex, smoothing)',
  },
  crossEntropyBackward: {
    doc: 'dlogits = gradScale · ∂loss[i]/∂logits (rows with ignored targets get 0).',
    args: {
      logits: 'f32[N * C]',
      targets: 'i32[N]',
      classWeights: 'f32?[C]',
      dlogits: 'f32[N * C]',
      N: 'int',
      C: 'int',
      ignoreIndex: 'int',
      smoothing: 'float',
      gradScale: 'float',
    },
    checks: ['target_error(targets, N, C, ignoreIndex)'],
    cc: 'cross_entropy_backward(logits, targets, classWeights, dlogits, N, C, ignoreIndex, smoothing, gradScale)',
  },
  bceWithLogitsForward: {
    doc: 'Elementwise BCE with logits, N × C targets in [0,1], posWeight per class (C) or null.',
    args: { logits: 'f32[N * C]', targets: 'f32[N * C]', posWeight: 'f32?[C]', loss: 'f32[N * C]', N: 'int', C: 'int' },
    cc: 'bce_forward(logits, targets, posWeight, loss, N, C)',
  },
  bceWithLogitsBackward: {
    args: {
      logits: 'f32[N * C]',
      targets: 'f32[N * C]',
      posWeight: 'f32?[C]',
      dlogits: 'f32[N * C]',
      N: 'int',
      C: 'int',
      gradScale: 'float',
    },
    cc: 'bce_backward(logits, targets, posWeight, dlogits, N, C, gradScale)',
  },

  adamw: {
    doc: `PyTorch AdamW step on one parameter: p *= 1 - lr·wd; m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
p -= (lr / bc1) · m / (sqrt(v) / sqrt(bc2) + eps), with bc1 = 1-β1^t, bc2 = 1-β2^t; g is scaled by gradScale
first.`,
    args: {
      param: 'f32[n]',
      grad: 'f32[n]',
      m: 'f32[n]',
      v: 'f32[n]',
      lr: 'float',
      beta1: 'float',
      beta2: 'float',
      eps: 'float',
      weightDecay: 'float',
      bc1: 'float',
      bc2: 'float',
      gradScale: 'float',
    },
    let: { n: 'len(param)' },
    cc: 'adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, bc1, bc2, gradScale)',
  },
};
