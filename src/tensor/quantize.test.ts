// int8 inference kernels against float64: the portable int8 kernel (always), AVX512-VNNI (skipped, with the missing
// flag named, on CPUs without it), the js reference; odd shapes, bias and activations, the gradient through an int8
// layer; and the self-check at first use disabling a kernel broken on purpose (MEDTUNE_BREAK_KERNEL).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator } from './random.js';
import { configureGemm, gemmInfo, kernels, nativeAvailable, withBackend } from './backend.js';
import { jsKernels } from './backends/js/index.js';
import { int8PackedSize, quantizeRows } from './backends/js/int8.js';
import { linearInt8, quantizeWeight } from './quantize.js';
import { noGrad, parameter, tensor } from './tensor.js';
import { linear, sum } from './ops/index.js';
import type { Activation, Kernels } from './kernels.js';

const info = gemmInfo();
const noNative = !nativeAvailable() && 'native backend not built';
const noVnni = !info?.cpu.split(' ').includes('avx512_vnni') && `this CPU has no avx512_vnni (flags: ${info?.cpu})`;

interface Shape {
  rows: number;
  nIn: number;
  nOut: number;
}
const SHAPES: Shape[] = [
  { rows: 1, nIn: 1, nOut: 1 },
  { rows: 3, nIn: 5, nOut: 33 },
  { rows: 17, nIn: 133, nOut: 71 },
  { rows: 29, nIn: 255, nOut: 64 },
  { rows: 13, nIn: 1023, nOut: 37 },
];

interface Case extends Shape {
  x: Float32Array;
  w: Float32Array;
  bias: Float32Array;
  q: Int8Array;
  scale: Float32Array;
}

function makeCase(s: Shape, seed: number): Case {
  const g = new Generator(seed);
  const x = new Float32Array(s.rows * s.nIn);
  const w = new Float32Array(s.nOut * s.nIn);
  const bias = new Float32Array(s.nOut);
  g.fillNormal(x, 1);
  g.fillNormal(w, 0.05);
  g.fillNormal(bias, 0.1);
  if (s.rows > 2) x.fill(0, 0, s.nIn); // a row of zeros: scale 0
  const q = new Int8Array(s.nOut * s.nIn);
  const scale = new Float32Array(s.nOut);
  quantizeRows(w, s.nOut, s.nIn, q, scale);
  return { ...s, x, w, bias, q, scale };
}

function run(K: Kernels, c: Case, act: Activation = 'none'): Float32Array {
  const packed = new Int32Array(int8PackedSize(c.nOut, c.nIn));
  const comp = new Int32Array(c.nOut);
  K.int8PackWeights(c.q, c.nOut, c.nIn, packed, comp);
  const h = new Float32Array(c.rows * c.nOut);
  const out = act === 'none' ? h : new Float32Array(c.rows * c.nOut);
  const { x, bias, scale: wScale, rows, nIn, nOut } = c;
  K.linearInt8({ x, packed, comp, wScale, bias, h, out, rows, nIn, nOut, act });
  return out;
}

/**
 * Checks y against float64 twice: (1) the int8 product itself — Σ qa·qb exactly, times the scales, plus the bias —
 * within a few float32 roundings; (2) x·Wᵀ + b within the quantization error bound Σ_k |x|·Δw + |w|·Δx + Δx·Δw.
 */
function checkAgainstFloat64(c: Case, y: Float32Array, what: string): void {
  const qa = new Int8Array(c.rows * c.nIn);
  const sa = new Float32Array(c.rows);
  quantizeRows(c.x, c.rows, c.nIn, qa, sa);
  for (let i = 0; i < c.rows; i++) {
    for (let j = 0; j < c.nOut; j++) {
      let s = 0;
      let exact = c.bias[j]!;
      let bound = 0;
      for (let k = 0; k < c.nIn; k++) {
        const xv = c.x[i * c.nIn + k]!;
        const wv = c.w[j * c.nIn + k]!;
        s += qa[i * c.nIn + k]! * c.q[j * c.nIn + k]!;
        exact += xv * wv;
        const dx = sa[i]! / 2;
        const dw = c.scale[j]! / 2;
        bound += Math.abs(xv) * dw + Math.abs(wv) * dx + dx * dw;
      }
      const int8 = s * sa[i]! * c.scale[j]! + c.bias[j]!;
      const got = y[i * c.nOut + j]!;
      const tol = 4 * 2 ** -24 * (Math.abs(s * sa[i]! * c.scale[j]!) + Math.abs(c.bias[j]!)) + 1e-30;
      assert.ok(Math.abs(got - int8) <= tol, `${what} [${i}, ${j}]: ${got} vs int8 product ${int8}`);
      assert.ok(Math.abs(got - exact) <= bound * 1.0001 + 1e-6, `${what} [${i}, ${j}]: ${got} vs ${exact} ± ${bound}`);
    }
  }
}

function withInt8Kernel<T>(name: string, fn: () => T): T {
  return withBackend('native', () => {
    const prev = gemmInfo()!.int8Isa;
    configureGemm({ int8Isa: name });
    try {
      return fn();
    } finally {
      configureGemm({ int8Isa: prev });
    }
  });
}

describe('int8 kernels', () => {
  it('the js reference matches float64 on odd shapes', () => {
    SHAPES.forEach((s, n) => checkAgainstFloat64(makeCase(s, n + 1), run(jsKernels, makeCase(s, n + 1)), 'js'));
  });

  it('the portable int8 kernel matches float64 and the js reference bit for bit', { skip: noNative }, () => {
    withInt8Kernel('portable-int8', () => {
      SHAPES.forEach((s, n) => {
        const c = makeCase(s, n + 1);
        const y = run(kernels(), c);
        checkAgainstFloat64(c, y, `portable ${JSON.stringify(s)}`);
        assert.deepEqual(y, run(jsKernels, c));
      });
    });
  });

  it('the AVX512-VNNI kernel matches float64 and the portable kernel bit for bit', { skip: noNative || noVnni }, () => {
    for (const [n, s] of [...SHAPES, { rows: 64, nIn: 768, nOut: 3 * 32 + 5 }].entries()) {
      const c = makeCase(s, n + 11);
      const y = withInt8Kernel('avx512vnni', () => run(kernels(), c));
      checkAgainstFloat64(c, y, `avx512vnni ${JSON.stringify(s)}`);
      assert.deepEqual(
        y,
        withInt8Kernel('portable-int8', () => run(kernels(), c)),
      );
      for (const act of ['gelu', 'relu', 'tanh'] as Activation[]) {
        const a = withInt8Kernel('avx512vnni', () => run(kernels(), c, act));
        assert.deepEqual(
          a,
          withInt8Kernel('portable-int8', () => run(kernels(), c, act)),
          act,
        );
      }
    }
  });

  it('linearInt8: activation like linear, and the input gradient through the fp32 weight', { skip: noNative }, () => {
    withBackend('native', () => {
      const c = makeCase({ rows: 6, nIn: 40, nOut: 24 }, 5);
      const x = tensor(Array.from(c.x), [2, 3, 40]);
      const w = tensor(Array.from(c.w), [24, 40]);
      const b = tensor(Array.from(c.bias), [24]);
      const qw = quantizeWeight(w);
      assert.deepEqual(qw.q, c.q);
      const y = linearInt8(x, qw, w, b, 'gelu');
      const ref = noGrad(() => linear(x, w, b, 'gelu'));
      assert.deepEqual(y.shape, [2, 3, 24]);
      y.toArray().forEach((v, i) => assert.ok(Math.abs(v - ref.toArray()[i]!) < 0.02, `${v} vs ${ref.toArray()[i]}`));
      // the input gradient of Σ y (no activation) is Σ_j W[j, :] for every row: the fp32 weight, straight through
      const x2 = parameter(tensor(Array.from(c.x), [6, 40]));
      sum(linearInt8(x2, qw, w, b)).backward();
      const g = x2.grad!.toArray();
      for (let k = 0; k < 40; k++) {
        let colSum = 0;
        for (let j = 0; j < 24; j++) colSum += c.w[j * 40 + k]!;
        for (let r = 0; r < 6; r++)
          assert.ok(Math.abs(g[r * 40 + k]! - colSum) < 1e-5, `${g[r * 40 + k]} vs ${colSum}`);
      }
    });
  });
});

const here = path.dirname(fileURLToPath(import.meta.url));

/** A kernel this CPU runs that the self-check guards (an ISA-specific one), and its kind. */
function breakable(): { name: string; field: 'int8Isa' | 'isa' | 'bf16Isa' } | null {
  if (!info) return null;
  if (info.int8Isa === 'avx512vnni') return { name: 'avx512vnni', field: 'int8Isa' };
  if (info.isa !== 'portable') return { name: info.isa, field: 'isa' };
  return null;
}
const target = breakable();

describe('self-check at first use', () => {
  it(
    'disables a kernel broken on purpose, with one line, and the results stay right',
    { skip: noNative || (!target && `no ISA-specific kernel on this CPU (flags: ${info?.cpu})`) },
    () => {
      const script = `
        import { gemmInfo, kernels, withBackend } from ${JSON.stringify(path.join(here, 'backend.js'))};
        const info = gemmInfo();
        const A = Float32Array.from({ length: 37 * 19 }, (_, i) => ((i * 7) % 13) - 6);
        const B = Float32Array.from({ length: 19 * 23 }, (_, i) => ((i * 5) % 11) - 5);
        const C = new Float32Array(37 * 23);
        withBackend('native', () => kernels().gemm({ M: 37, N: 23, K: 19, A, lda: 19, B, ldb: 23, C, ldc: 23 }));
        let s = 0; for (let k = 0; k < 19; k++) s += A[k] * B[k * 23];
        console.log(JSON.stringify({ info, c00: C[0], ref: s }));`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        env: { ...process.env, MEDTUNE_BREAK_KERNEL: target!.name },
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l.includes(target!.name));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^medtune: the \S+ .*kernel is disabled for this process: its self-check .* failed/);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      assert.notEqual(out.info[target!.field], target!.name);
      assert.match(out.info.disabled, new RegExp(`${target!.name}: its self-check`));
      assert.equal(out.c00, out.ref);
      // without the hook the same kernel passes
      assert.equal(info![target!.field], target!.name);
      assert.equal(info!.disabled, '');
    },
  );
});
