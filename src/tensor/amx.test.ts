// The AMX kernels (native/gemm_amx.h). On any CPU: their packing, edge handling and loop code run on the portable
// emulation of the tile instructions (amx-emu-bf16, amx-emu-int8) and must equal, bit for bit, a straightforward
// reference with the tile rounding (TDPBF16PS: per k pair, even product then odd, each add rounded to fp32 and
// flushed to zero when denormal; TDPBUSD: exact int32), and be close to float64. Where AMX is usable (CPUID, XCR0,
// the permission request), the real kernels are checked against float64 and the emulation; elsewhere those tests
// are skipped with the reason (the missing CPU flags). Also: AMX is never dispatched where it is not usable, and
// the self-check guards it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator } from './random.js';
import { bf16Round } from './kernels.js';
import { jsKernels } from './backends/js/index.js';
import { int8PackedSize, quantizeRows } from './backends/js/int8.js';
import { configureGemm, gemmInfo, kernels, nativeAvailable, withBackend } from './backend.js';
import type { Kernels } from './kernels.js';

const info = gemmInfo();
const noNative = !nativeAvailable() && 'native backend not built';
const noAmx = !noNative && info!.amx !== '' && `AMX is not usable here: ${info!.amx}`;

interface Case {
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  pad: number;
}
interface Operands {
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
  lda: number;
  ldb: number;
  ldc: number;
}

const ODD: [number, number, number][] = [
  [1, 1, 1],
  [17, 33, 65],
  [100, 70, 130],
  [33, 17, 200],
  [16, 16, 32],
  [32, 48, 31],
];
// BERT shapes: mini's projection and attention's per-head products, a base projection (rows cut to keep it quick)
const BERT: [number, number, number][] = [
  [128, 256, 256],
  [128, 128, 64],
  [128, 64, 128],
  [48, 768, 768],
];

function cases(): Case[] {
  const out: Case[] = [];
  ODD.forEach(([M, N, K], n) => {
    for (let t = 0; t < 4; t++) out.push({ tA: !!(t & 1), tB: !!(t & 2), M, N, K, alpha: 1, beta: 0, pad: n % 3 });
  });
  out.push({ tA: false, tB: true, M: 29, N: 71, K: 133, alpha: 0.75, beta: 0.5, pad: 2 });
  for (const [M, N, K] of BERT) out.push({ tA: false, tB: true, M, N, K, alpha: 1, beta: 0, pad: 0 });
  out.push({ tA: true, tB: false, M: 256, N: 64, K: 128, alpha: 1, beta: 1, pad: 0 }); // dW-like, accumulating
  return out;
}

function operands(c: Case, seed: number): Operands {
  const g = new Generator(seed);
  const lda = (c.tA ? c.M : c.K) + c.pad;
  const ldb = (c.tB ? c.K : c.N) + c.pad;
  const ldc = c.N + c.pad;
  const A = new Float32Array(Math.max(1, lda * (c.tA ? c.K : c.M)));
  const B = new Float32Array(Math.max(1, ldb * (c.tB ? c.N : c.K)));
  const C = new Float32Array(ldc * c.M);
  g.fillNormal(A, 1);
  g.fillNormal(B, 1);
  if (c.beta === 0) C.fill(NaN);
  else g.fillNormal(C, 1);
  return { A, B, C, lda, ldb, ldc };
}

function runGemm(c: Case, o: Operands): Float32Array {
  const C = o.C.slice();
  kernels().gemm({
    transA: c.tA,
    transB: c.tB,
    M: c.M,
    N: c.N,
    K: c.K,
    alpha: c.alpha,
    A: o.A,
    lda: o.lda,
    B: o.B,
    ldb: o.ldb,
    beta: c.beta,
    C,
    ldc: o.ldc,
    bf16: true,
  });
  return C;
}

const f = Math.fround;
const ftz = (x: number): number => (Math.abs(x) < 2 ** -126 ? x * 0 : x);

/** op(A) and op(B) rounded to bf16, as [M][K] and [N][K] arrays */
function roundedOperands(c: Case, o: Operands): { a: Float64Array; b: Float64Array } {
  const a = new Float64Array(c.M * c.K);
  const b = new Float64Array(c.N * c.K);
  for (let i = 0; i < c.M; i++)
    for (let k = 0; k < c.K; k++) a[i * c.K + k] = bf16Round(o.A[c.tA ? k * o.lda + i : i * o.lda + k]!);
  for (let j = 0; j < c.N; j++)
    for (let k = 0; k < c.K; k++) b[j * c.K + k] = bf16Round(o.B[c.tB ? j * o.ldb + k : k * o.ldb + j]!);
  return { a, b };
}

/**
 * The AMX bf16 GEMM written plainly: per block of kc values of k (the kernel's cache blocking), a fresh fp32 sum
 * over the k pairs in order, even product first (each add rounded to fp32, flushed to zero when denormal), then
 * C = alpha · sum + beta · C for the first block and C = alpha · sum + C after it.
 */
function amxBf16Reference(c: Case, o: Operands, kc: number): Float32Array {
  const { a, b } = roundedOperands(c, o);
  const C = o.C.slice();
  for (let i = 0; i < c.M; i++)
    for (let j = 0; j < c.N; j++) {
      const ci = i * o.ldc + j;
      for (let k0 = 0; k0 < c.K; k0 += kc) {
        const k1 = Math.min(c.K, k0 + kc);
        let s = 0;
        for (let k = k0; k < k1; k++) s = ftz(f(s + f(a[i * c.K + k]! * b[j * c.K + k]!)));
        const beta = k0 === 0 ? c.beta : 1;
        C[ci] = f(f(c.alpha * s) + (beta === 0 ? 0 : f(beta * C[ci]!)));
      }
      if (c.K === 0) C[ci] = f(c.beta === 0 ? 0 : c.beta * C[ci]!);
    }
  return C;
}

/** |C - float64| within the fp32 bound of a K-term sum of the bf16-rounded operands */
function checkFloat64(c: Case, o: Operands, C: Float32Array, C0: Float32Array, what: string): void {
  const { a, b } = roundedOperands(c, o);
  for (let i = 0; i < c.M; i++)
    for (let j = 0; j < c.N; j++) {
      let s = 0;
      let mag = 0;
      for (let k = 0; k < c.K; k++) {
        s += a[i * c.K + k]! * b[j * c.K + k]!;
        mag += Math.abs(a[i * c.K + k]! * b[j * c.K + k]!);
      }
      const prev = c.beta === 0 ? 0 : c.beta * C0[i * o.ldc + j]!;
      const want = c.alpha * s + prev;
      const tol = (c.K + 2) * 2 ** -24 * (Math.abs(c.alpha) * mag + Math.abs(prev)) + 1e-30;
      const got = C[i * o.ldc + j]!;
      assert.ok(Math.abs(got - want) <= tol, `${what} [${i}, ${j}]: ${got} vs ${want} ± ${tol}`);
    }
}

/** Runs fn with a bf16 / int8 kernel chosen (and the cache blocking MEDTUNE_GEMM_BLOCKING for the bf16 one). */
function withKernel<T>(o: { bf16Isa?: string; int8Isa?: string; blocking?: string }, fn: (kc: number) => T): T {
  return withBackend('native', () => {
    const prev = gemmInfo()!;
    if (o.blocking) process.env.MEDTUNE_GEMM_BLOCKING = o.blocking;
    try {
      configureGemm({ bf16Isa: o.bf16Isa, int8Isa: o.int8Isa });
    } finally {
      delete process.env.MEDTUNE_GEMM_BLOCKING;
    }
    try {
      const m = o.bf16Isa ? new RegExp(`${o.bf16Isa} KC (\\d+)`).exec(gemmInfo()!.blocking) : null;
      return fn(m ? Number(m[1]) : 0);
    } finally {
      configureGemm({ bf16Isa: prev.bf16Isa || 'none', int8Isa: prev.int8Isa });
    }
  });
}

interface Int8Case {
  rows: number;
  nIn: number;
  nOut: number;
  x: Float32Array;
  q: Int8Array;
  scale: Float32Array;
  bias: Float32Array;
}
const INT8_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [17, 65, 33],
  [100, 130, 70],
  [16, 64, 32],
  [33, 133, 71],
  [32, 256, 96],
  [64, 768, 768],
  [20, 3072, 96],
];

function int8Case([rows, nIn, nOut]: [number, number, number], seed: number): Int8Case {
  const g = new Generator(seed);
  const x = new Float32Array(rows * nIn);
  const w = new Float32Array(nOut * nIn);
  const bias = new Float32Array(nOut);
  g.fillNormal(x, 1);
  g.fillNormal(w, 0.05);
  g.fillNormal(bias, 0.1);
  const q = new Int8Array(nOut * nIn);
  const scale = new Float32Array(nOut);
  quantizeRows(w, nOut, nIn, q, scale);
  return { rows, nIn, nOut, x, q, scale, bias };
}

function runInt8(K: Kernels, c: Int8Case): Float32Array {
  const packed = new Int32Array(int8PackedSize(c.nOut, c.nIn));
  const comp = new Int32Array(c.nOut);
  K.int8PackWeights(c.q, c.nOut, c.nIn, packed, comp);
  const h = new Float32Array(c.rows * c.nOut);
  const { x, bias, scale: wScale, rows, nIn, nOut } = c;
  K.linearInt8({ x, packed, comp, wScale, bias, h, out: h, rows, nIn, nOut, act: 'none' });
  return h;
}

/** index and values of the first difference, for a readable failure */
function firstDiff(a: Float32Array, b: Float32Array): string {
  const i = a.findIndex((v, k) => !Object.is(v, b[k]));
  return i < 0 ? 'none' : `at ${i}: ${a[i]} vs ${b[i]}`;
}

describe('AMX kernels on the tile emulation (any CPU)', { skip: noNative }, () => {
  it('bf16: bit for bit the reference with the tile rounding, and close to float64', () => {
    for (const blocking of ['96,64', '']) {
      withKernel({ bf16Isa: 'amx-emu-bf16', blocking }, (kc) => {
        assert.ok(kc > 0, gemmInfo()!.blocking);
        if (blocking) assert.equal(kc, 96);
        cases().forEach((c, n) => {
          if (!blocking && c.M * c.N * c.K > 1 << 22) return; // the large ones once (emulation and reference: slow)
          const o = operands(c, n + 1);
          const got = runGemm(c, o);
          const want = amxBf16Reference(c, o, kc);
          const what = `${JSON.stringify(c)} KC ${kc}`;
          assert.ok(
            got.every((v, k) => Object.is(v, want[k])),
            `${what}: first difference ${firstDiff(got, want)}`,
          );
          checkFloat64(c, o, got, o.C, what);
        });
      });
    }
  });

  it('bf16: linear layers (bias in the epilogue) and K = 0', () => {
    withKernel({ bf16Isa: 'amx-emu-bf16' }, (kc) => {
      for (const [rows, nIn, nOut] of [
        [17, 65, 33],
        [40, 128, 96],
      ] as const) {
        const c: Case = { tA: false, tB: true, M: rows, N: nOut, K: nIn, alpha: 1, beta: 0, pad: 0 };
        const o = operands(c, rows);
        const bias = Float32Array.from({ length: nOut }, (_, j) => (j % 7) - 3.25);
        const h = new Float32Array(rows * nOut);
        kernels().linearForward({ x: o.A, w: o.B, bias, h, out: h, rows, nIn, nOut, act: 'none', bf16: true });
        const want = amxBf16Reference(c, o, kc).map((v, k) => f(v + bias[k % nOut]!));
        assert.ok(
          h.every((v, k) => Object.is(v, want[k])),
          `linear ${rows}×${nIn}×${nOut}: ${firstDiff(h, want)}`,
        );
      }
      const c: Case = { tA: false, tB: false, M: 5, N: 7, K: 0, alpha: 1, beta: 0.5, pad: 0 };
      const o = operands(c, 3);
      assert.deepEqual(
        runGemm(c, o),
        o.C.map((v) => f(0.5 * v)),
      );
    });
  });

  it('int8: bit for bit the js reference (exact int32 sums, the same epilogue)', () => {
    withKernel({ int8Isa: 'amx-emu-int8' }, () => {
      INT8_SHAPES.forEach((s, n) => {
        const c = int8Case(s, n + 1);
        const got = runInt8(kernels(), c);
        const want = runInt8(jsKernels, c);
        assert.ok(
          got.every((v, k) => Object.is(v, want[k])),
          `${s.join('×')}: first difference ${firstDiff(got, want)}`,
        );
      });
    });
  });

  it('is never chosen by default, and a broken one is disabled by the self-check', () => {
    assert.ok(!info!.bf16Isa.startsWith('amx-emu') && !info!.int8Isa.startsWith('amx-emu'), JSON.stringify(info));
    const backend = path.join(path.dirname(fileURLToPath(import.meta.url)), 'backend.js');
    const script = `
      import { configureGemm } from ${JSON.stringify(backend)};
      try { configureGemm({ int8Isa: 'amx-emu-int8' }); console.log('accepted'); }
      catch (e) { console.log(e.message); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, MEDTUNE_BREAK_KERNEL: 'amx-emu-int8' },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /the amx-emu-int8 int8 GEMM kernel is disabled for this process: its self-check/);
    assert.match(r.stdout, /int8 GEMM kernel "amx-emu-int8" is disabled: its self-check/);
  });
});

describe('AMX dispatch', { skip: noNative }, () => {
  it('AMX runs only where it is usable, and says why not elsewhere', () => {
    if (info!.amx === '') {
      assert.equal(info!.bf16Isa, info!.disabled.includes('amx-bf16') ? info!.bf16Isa : 'amx-bf16');
      return;
    }
    assert.match(info!.amx, /no AMX|no AMX kernels|XCR0|permission|MEDTUNE_NO_AMX|x86-64|Linux/);
    if (!info!.cpu.includes('amx_tile')) assert.match(info!.amx, /lacks amx_tile amx_bf16 amx_int8/);
    assert.ok(!info!.bf16Isa.startsWith('amx') && !info!.int8Isa.startsWith('amx'), JSON.stringify(info));
    assert.throws(() => configureGemm({ bf16Isa: 'amx-bf16' }), /"amx-bf16" is not available: /);
    assert.throws(() => configureGemm({ int8Isa: 'amx-int8' }), /"amx-int8" is not available: /);
  });
});

describe('AMX kernels on the tiles (CPUs with AMX)', () => {
  const skip = noNative || noAmx;
  it('amx-bf16 is close to float64 on odd and BERT shapes (and how often it equals the emulation)', { skip }, (t) => {
    let differ = 0;
    let total = 0;
    cases().forEach((c, n) => {
      const o = operands(c, n + 1);
      const got = withKernel({ bf16Isa: 'amx-bf16', blocking: '96,64' }, () => runGemm(c, o));
      checkFloat64(c, o, got, o.C, `amx-bf16 ${JSON.stringify(c)}`);
      const emu = withKernel({ bf16Isa: 'amx-emu-bf16', blocking: '96,64' }, () => runGemm(c, o));
      total += got.length;
      got.forEach((v, k) => (differ += Object.is(v, emu[k]) ? 0 : 1));
    });
    // the emulation follows the SDM's pseudocode; this says whether the hardware rounds the same (docs/engine.md)
    t.diagnostic(`amx-bf16 vs the emulation: ${differ} of ${total} elements differ`);
  });

  it('amx-int8 equals the js reference bit for bit', { skip }, () => {
    withKernel({ int8Isa: 'amx-int8' }, () => {
      INT8_SHAPES.forEach((s, n) => {
        const c = int8Case(s, n + 1);
        const got = runInt8(kernels(), c);
        const want = runInt8(jsKernels, c);
        assert.ok(
          got.every((v, k) => Object.is(v, want[k])),
          `${s.join('×')}: first difference ${firstDiff(got, want)}`,
        );
      });
    });
  });
});
