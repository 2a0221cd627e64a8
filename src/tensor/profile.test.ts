// The kernel profiler names GEMMs and linear layers by their shapes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jsKernels } from './backends/js/index.js';
import { profiled } from './profile.js';

describe('kernel profiler', () => {
  it('splits gemm and linearForward by shape and counts the calls', () => {
    const p = profiled(jsKernels);
    const f = (n: number) => new Float32Array(n);
    p.kernels.gemm({ transB: true, M: 2, N: 3, K: 4, A: f(8), lda: 4, B: f(12), ldb: 4, C: f(6), ldc: 3, batch: 1 });
    p.kernels.gemm({ M: 2, N: 3, K: 4, A: f(16), lda: 4, strideA: 8, B: f(12), ldb: 3, C: f(12), ldc: 3, batch: 2 });
    p.kernels.linearForward({
      x: f(8),
      w: f(12),
      bias: null,
      h: f(6),
      out: f(6),
      rows: 2,
      nIn: 4,
      nOut: 3,
      act: 'gelu',
    });
    p.kernels.fill(f(3), 1);
    p.kernels.fill(f(3), 2);
    const calls = Object.fromEntries(p.stats().map((s) => [s.kernel, s.calls]));
    assert.deepEqual(calls, { 'gemm NT 2x3x4': 1, 'gemm NN 2x3x4 x2': 1, 'linear NT 2x3x4 +gelu': 1, fill: 2 });
  });
});
