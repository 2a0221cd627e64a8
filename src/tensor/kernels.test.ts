// The kernel table (native/kernels.mjs) and what is generated from it: the checked-in kernels.gen.ts is current;
// every op code means the same op on both backends; the addon's generated bindings check what they are given (type,
// size, the table's checks) and apply the table's defaults as the js backend does.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator } from './random.js';
import { assertClose } from './testing.js';
import { jsKernels } from './backends/js/index.js';
import { kernels, nativeAvailable, withBackend } from './backend.js';
import { ACTIVATIONS, BINARY_OPS, UNARY_OPS } from './kernels.js';
import type { F32, Kernels, UnaryOp } from './kernels.js';

// dist/tensor -> the package root
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const noNative = !nativeAvailable() && 'native backend not built';

function randn(n: number, seed: number, shift = 0): F32 {
  const x = new Float32Array(n);
  new Generator(seed).fillNormal(x, 1);
  return x.map((v) => v + shift);
}

/** fn on the js and the native kernels, each with its own copy of the buffers it writes. */
function bothBackends(fn: (k: Kernels) => F32[]): [F32[], F32[]] {
  return [fn(jsKernels), withBackend('native', () => fn(kernels()))];
}

describe('kernel table', () => {
  it('src/tensor/kernels.gen.ts is what scripts/gen-kernels.mjs makes of native/kernels.mjs', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'gen-kernels.mjs'), '--check'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  });

  it('every op code means the same op on both backends', { skip: noNative }, () => {
    const x = randn(37, 1, 2); // positive, for log and sqrt
    const y = randn(37, 2, 2);
    const [js, native] = bothBackends((k) => [
      ...UNARY_OPS.map((op) => {
        const out = new Float32Array(37);
        k.unary(op, x, out);
        return out;
      }),
      ...BINARY_OPS.map((op) => {
        const out = new Float32Array(37);
        k.binary(op, x, y, out, [37], [1], [1]);
        return out;
      }),
      ...ACTIVATIONS.map((act) => {
        const out = new Float32Array(37);
        k.biasAct(x.slice(), null, out, 1, 37, act);
        return out;
      }),
    ]);
    js.forEach((want, i) => assertClose(native[i]!, want, { rtol: 1e-5, atol: 1e-6, what: `op ${i}` }));
  });

  it('both backends apply the defaults of the table', { skip: noNative }, () => {
    const [A, B] = [randn(6 * 5, 3), randn(5 * 4, 4)];
    const [js, native] = bothBackends((k) => {
      const implicit = new Float32Array(6 * 4);
      const explicit = new Float32Array(6 * 4);
      k.gemm({ M: 6, N: 4, K: 5, A, lda: 5, B, ldb: 4, C: implicit, ldc: 4 });
      const all = { transA: false, transB: false, alpha: 1, beta: 0, strideA: 0, strideB: 0, strideC: 0, batch: 1 };
      k.gemm({ ...all, M: 6, N: 4, K: 5, A, lda: 5, B, ldb: 4, C: explicit, ldc: 4, bf16: false });
      assert.deepEqual(implicit, explicit);
      const [B_, T, H, D] = [2, 3, 2, 2];
      const [q, kk, v] = [randn(24, 5), randn(24, 6), randn(24, 7)];
      const attn = { q, k: kk, v, keyMask: null, B: B_, T, H, D, scale: 0.5, p: 0, key: 0 };
      const out = [new Float32Array(24), new Float32Array(24)];
      const probs = [new Float32Array(B_ * H * T * T), new Float32Array(B_ * H * T * T)];
      k.attentionForward({ ...attn, out: out[0]!, probs: probs[0]! });
      k.attentionForward({ ...attn, out: out[1]!, probs: probs[1]!, ld: H * D, bf16: false });
      assert.deepEqual(out[0], out[1]);
      return [implicit, out[0]!];
    });
    js.forEach((want, i) => assertClose(native[i]!, want, { rtol: 1e-5, atol: 1e-5, what: `default ${i}` }));
  });

  it('the native bindings check types, sizes and the checks of the table', { skip: noNative }, () =>
    withBackend('native', () => {
      const k = kernels();
      const f = (n: number) => new Float32Array(n);
      assert.throws(() => k.softmaxForward(f(5), f(6), 2, 3), /softmaxForward: x is too small \(5 < 6\)/);
      assert.throws(() => k.softmaxForward(new Float64Array(6) as unknown as F32, f(6), 2, 3), /x must be a Float32/);
      assert.throws(() => k.softmaxForward(f(6), f(6), 2, 'x' as unknown as number), /n must be a number/);
      assert.throws(() => k.unary('cube' as UnaryOp, f(2), f(2)), /unary: op must be a number/);
      const ids = new Int32Array([0, 3]);
      assert.throws(() => k.embeddingForward(ids, f(6), f(4), 2, 2), /token id 3 is outside the embedding table/);
      const copy = { src: f(3), dst: f(2), outer: 1, srcLen: 3, dstLen: 2, dstStart: 0, len: 2, inner: 1 };
      assert.throws(() => k.axisCopy({ ...copy, srcStart: 2 }), /axisCopy: range out of bounds/);
      assert.throws(() => k.permute(f(6), f(6), [2, 3], [0, 0]), /permute: bad permutation/);
      const gemm = { M: 2, N: 2, K: 2, A: f(4), B: f(4), C: f(4), ldb: 2, ldc: 2 };
      assert.throws(() => k.gemm({ ...gemm, lda: 1 }), /gemm: leading dimension too small/);
      k.gemm({ ...gemm, lda: 2 }); // and fine with a proper one
    }),
  );
});
