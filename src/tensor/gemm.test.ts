// The native GEMM kernels against a float64 reference: every kernel family this CPU can run (the others are
// skipped with the reason), odd shapes, all four transpose combinations, leading dimensions larger than the rows,
// batches with strides (and a shared operand), alpha/beta (beta = 0 must ignore NaN in C), K = 0, and bf16.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from './random.js';
import { assertClose } from './testing.js';
import { bf16Round } from './kernels.js';
import { jsKernels } from './backends/js/index.js';
import { configureGemm, gemmInfo, getThreads, kernels, nativeAvailable, setThreads, withBackend } from './backend.js';

interface Case {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  batch: number;
  pad: number;
  sharedB?: boolean;
}

interface Operands {
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  lda: number;
  ldb: number;
  ldc: number;
  sA: number;
  sB: number;
  sC: number;
}

function operands(c: Case, gen: Generator): Operands {
  const lda = (c.tA ? c.M : c.K) + c.pad;
  const ldb = (c.tB ? c.K : c.N) + c.pad;
  const ldc = c.N + c.pad;
  const sA = lda * (c.tA ? c.K : c.M) + 7;
  const sB = c.sharedB ? 0 : ldb * (c.tB ? c.N : c.K) + 3;
  const sC = ldc * c.M + 5;
  const A = new Float32Array(Math.max(1, sA * c.batch));
  const B = new Float32Array(Math.max(1, c.sharedB ? sB + ldb * (c.tB ? c.N : c.K) : sB * c.batch));
  const C = new Float32Array(Math.max(1, sC * c.batch));
  gen.fillNormal(A, 1);
  gen.fillNormal(B, 1);
  if (c.beta === 0) C.fill(NaN);
  else gen.fillNormal(C, 1);
  return { A, B, C, lda, ldb, ldc, sA, sB, sC };
}

/** Checks C against Σ in float64 (operands rounded to bf16 first when bf16), within the fp32 worst-case bound. */
function check(c: Case, o: Operands, C0: Float32Array, bf16: boolean, what: string): void {
  const r = bf16 ? bf16Round : (x: number) => x;
  const u = 2 ** -24;
  for (let b = 0; b < c.batch; b++) {
    for (let i = 0; i < c.M; i++) {
      for (let j = 0; j < c.N; j++) {
        let s = 0;
        let mag = 0;
        for (let k = 0; k < c.K; k++) {
          const a = r(o.A[b * o.sA + (c.tA ? k * o.lda + i : i * o.lda + k)]!);
          const bv = r(o.B[b * o.sB + (c.tB ? j * o.ldb + k : k * o.ldb + j)]!);
          s += a * bv;
          mag += Math.abs(a * bv);
        }
        const ci = b * o.sC + i * o.ldc + j;
        const expected = c.alpha * s + (c.beta === 0 ? 0 : c.beta * C0[ci]!);
        const cterm = c.beta === 0 ? 0 : Math.abs(c.beta * C0[ci]!);
        const bound = (c.K + 3) * u * (Math.abs(c.alpha) * mag + cterm) + 1e-30;
        const got = o.C[ci]!;
        if (!(Math.abs(got - expected) <= bound)) {
          assert.fail(`${what}: C[${b}][${i}][${j}] = ${got}, expected ${expected} (bound ${bound.toExponential(2)})`);
        }
      }
      // padding between rows must be untouched
      for (let j = c.N; j < o.ldc && i < c.M - 1; j++) {
        const ci = b * o.sC + i * o.ldc + j;
        assert.ok(Object.is(o.C[ci], C0[ci]), `${what}: padding C[${b}][${i}][${j}] was written`);
      }
    }
  }
}

const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [3, 17, 255],
  [17, 3, 1023],
  [255, 255, 17],
  [1023, 17, 3],
  [3, 1023, 1],
  [1, 255, 1023],
  [65, 33, 129],
];

function cases(): Case[] {
  const out: Case[] = [];
  let n = 0;
  for (const [M, N, K] of SIZES) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        n++;
        const alpha = n % 3 === 0 ? -0.75 : 1;
        out.push({ tA, tB, M, N, K, alpha, beta: [0, 1, 0.5][n % 3]!, batch: 1, pad: n % 2 ? 0 : 5 });
      }
    }
  }
  out.push({ tA: false, tB: true, M: 19, N: 23, K: 31, alpha: 1, beta: 0, batch: 3, pad: 2 });
  out.push({ tA: true, tB: false, M: 128, N: 64, K: 128, alpha: 0.125, beta: 0, batch: 4, pad: 0 });
  out.push({ tA: false, tB: false, M: 37, N: 41, K: 300, alpha: 1, beta: 1, batch: 2, pad: 1, sharedB: true });
  out.push({ tA: false, tB: false, M: 7, N: 9, K: 0, alpha: 1, beta: 0.5, batch: 1, pad: 0 });
  out.push({ tA: true, tB: true, M: 5, N: 6, K: 0, alpha: 1, beta: 0, batch: 2, pad: 3 });
  return out;
}

function runCase(c: Case, seed: number, bf16: boolean, what: string): Float32Array {
  const o = operands(c, new Generator(seed));
  const C0 = o.C.slice();
  const K_ = kernels();
  const { A, lda, sA: strideA, B, ldb, sB: strideB, C, ldc, sC: strideC } = o;
  const sizes = { transA: c.tA, transB: c.tB, M: c.M, N: c.N, K: c.K, alpha: c.alpha, beta: c.beta, batch: c.batch };
  K_.gemm({ ...sizes, A, lda, strideA, B, ldb, strideB, C, ldc, strideC, bf16 });
  check(c, o, C0, bf16, `${what} ${c.tA ? 'T' : 'N'}${c.tB ? 'T' : 'N'} ${c.M}x${c.N}x${c.K} batch ${c.batch}`);
  return o.C;
}

/** linearForward (GEMM + bias + activation in the epilogue) against the js kernels, per activation. */
function runLinear(bf16: boolean, what: string): void {
  const gen = new Generator(77);
  for (const [rows, nIn, nOut] of [
    [37, 45, 70],
    [129, 256, 33],
    [5, 1, 3],
  ] as const) {
    for (const act of ['none', 'gelu', 'gelu_tanh', 'relu', 'tanh'] as const) {
      for (const withBias of [true, false]) {
        const x = new Float32Array(rows * nIn);
        const w = new Float32Array(nOut * nIn);
        const bias = withBias ? new Float32Array(nOut) : null;
        for (const t of [x, w, bias]) if (t) gen.fillNormal(t, 1);
        const run = (k: typeof jsKernels) => {
          const h = new Float32Array(rows * nOut).fill(NaN);
          const out = act === 'none' ? h : new Float32Array(rows * nOut);
          k.linearForward({ x, w, bias, h, out, rows, nIn, nOut, act, bf16 });
          return { h, out };
        };
        const got = run(kernels());
        const ref = run(jsKernels);
        const label = `${what} linearForward ${rows}x${nOut}x${nIn} ${act}${withBias ? ' +bias' : ''}`;
        assertClose(got.h, ref.h, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(nIn), what: `${label} h` });
        assertClose(got.out, ref.out, { rtol: 1e-5, atol: 1e-5 * Math.sqrt(nIn), what: `${label} out` });
      }
    }
  }
}

function runAll(bf16: boolean, what: string): void {
  cases().forEach((c, i) => runCase(c, 100 + i, bf16, what));
  runLinear(bf16, what);
}

const info = gemmInfo();
const noNative = !nativeAvailable() && 'native backend not built';
const initial = info ? { mode: info.mode, isa: info.isa, bf16Isa: info.bf16Isa } : null;
const restore = () => {
  if (initial) configureGemm({ mode: initial.mode, isa: initial.isa, bf16Isa: initial.bf16Isa || 'none' });
};

function lacks(isa: string): string | false {
  if (!info) return 'native backend not built';
  const flags = info.cpu.split(' ');
  const need: Record<string, string[]> = {
    avx2: ['avx2', 'fma'],
    avx512: ['avx512f', 'avx512dq', 'avx512bw', 'avx512vl'],
    avx512bf16: ['avx512f', 'avx512_bf16'],
  };
  const missing = (need[isa] ?? []).filter((f) => !flags.includes(f));
  if (missing.length) return `${isa} kernel not tested: this CPU lacks ${missing.join(', ')} (has: ${info.cpu})`;
  return false;
}

describe('native GEMM kernels against float64', () => {
  after(restore);
  const configured = info ? `${info.mode}, ${info.isa}${info.blas ? `, ${info.blas}` : ''}` : 'none';
  it(`the configured GEMM (${configured})`, { skip: noNative }, () =>
    withBackend('native', () => runAll(false, 'configured')),
  );
  for (const isa of ['avx512', 'avx2', 'portable']) {
    it(`own fp32 kernel: ${isa}`, { skip: lacks(isa) }, () =>
      withBackend('native', () => {
        configureGemm({ mode: 'own', isa });
        try {
          runAll(false, isa);
        } finally {
          restore();
        }
      }),
    );
  }
  const noBlas = noNative || (!info?.blas && 'this build has no BLAS (own GEMM only)');
  it('BLAS path', { skip: noBlas }, () =>
    withBackend('native', () => {
      configureGemm({ mode: 'blas' });
      try {
        runAll(false, 'blas');
      } finally {
        restore();
      }
    }),
  );
  for (const isa of ['avx512bf16', 'portable-bf16']) {
    it(`bf16 kernel: ${isa} (bf16 operands, fp32 sums)`, { skip: lacks(isa) }, () =>
      withBackend('native', () => {
        configureGemm({ bf16Isa: isa });
        try {
          runAll(true, isa);
        } finally {
          restore();
        }
      }),
    );
  }
  it('avx512bf16 and portable-bf16 give the same sums', { skip: lacks('avx512bf16') }, () =>
    withBackend('native', () => {
      const c: Case = { tA: false, tB: true, M: 45, N: 70, K: 333, alpha: 1, beta: 0, batch: 1, pad: 1 };
      try {
        configureGemm({ bf16Isa: 'avx512bf16' });
        const fast = runCase(c, 7, true, 'avx512bf16');
        configureGemm({ bf16Isa: 'portable-bf16' });
        const ref = runCase(c, 7, true, 'portable-bf16');
        assert.deepEqual(fast, ref);
      } finally {
        restore();
      }
    }),
  );
  it('own GEMM results do not depend on the thread count', { skip: noNative }, () =>
    withBackend('native', () => {
      const threads = getThreads();
      const c: Case = { tA: false, tB: true, M: 301, N: 257, K: 190, alpha: 1, beta: 0, batch: 1, pad: 0 };
      try {
        configureGemm({ mode: 'own' });
        setThreads(1);
        const one = runCase(c, 9, false, '1 thread');
        setThreads(3);
        const three = runCase(c, 9, false, '3 threads');
        assert.deepEqual(three, one);
      } finally {
        setThreads(threads);
        restore();
      }
    }),
  );
  it('the js reference rounds to bf16 the same way', () => {
    const c: Case = { tA: true, tB: false, M: 9, N: 11, K: 40, alpha: 1, beta: 0, batch: 1, pad: 0 };
    const o = operands(c, new Generator(3));
    const C0 = o.C.slice();
    const { A, lda, B, ldb, C, ldc } = o;
    jsKernels.gemm({ transA: c.tA, transB: c.tB, M: c.M, N: c.N, K: c.K, A, lda, B, ldb, C, ldc, bf16: true });
    check(c, o, C0, true, 'js bf16');
    assert.equal(bf16Round(1 + 2 ** -9), 1); // tie -> even
    assert.equal(bf16Round(1 + 3 * 2 ** -9), 1 + 2 ** -7);
    assert.equal(bf16Round(1e-40), 0); // denormal -> 0
    assert.ok(Number.isNaN(bf16Round(NaN)));
  });
});
