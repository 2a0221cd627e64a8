/**
 * Test helpers: random tensors, comparisons, finite-difference gradient checks, and running the same function on
 * both backends. Used by the *.test.ts files next to the code.
 */
import assert from 'node:assert/strict';
import { empty, scope, tensor, Tensor } from './tensor.js';
import { Generator } from './random.js';
import { nativeAvailable, withBackend, type BackendName } from './backend.js';
import { mul, sum } from './ops/index.js';

export function randn(shape: number[], gen: Generator, std = 1): Tensor {
  const t = empty(shape);
  gen.fillNormal(t.f32, std);
  return t;
}

export function randint(shape: number[], hi: number, gen: Generator): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(
    Array.from({ length: n }, () => Math.floor(gen.uniform() * hi)),
    shape,
    'int32',
  );
}

/** max |a-b| / (atol + rtol·|b|) ≤ 1, with a readable failure message. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  opts: { rtol?: number; atol?: number; what?: string } = {},
): void {
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-6;
  assert.equal(
    actual.length,
    expected.length,
    `${opts.what ?? 'values'}: length ${actual.length} vs ${expected.length}`,
  );
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) !== Number.isNaN(e)) assert.fail(`${opts.what ?? 'values'}[${i}]: ${a} vs ${e}`);
    if (Number.isNaN(e)) continue;
    const r = Math.abs(a - e) / (atol + rtol * Math.abs(e));
    if (r > worst) {
      worst = r;
      at = i;
    }
  }
  if (worst > 1)
    assert.fail(
      `${opts.what ?? 'values'}[${at}]: ${actual[at]} vs expected ${expected[at]} (rtol ${rtol}, atol ${atol})`,
    );
}

/**
 * ‖actual − expected‖ / ‖expected‖ ≤ tol (relative error of the whole tensor, as parity with PyTorch is
 * judged). `floor`: an absolute error norm below which both are rounding noise around an exact zero (e.g. the key
 * biases' gradients, which are exactly 0 in exact arithmetic because softmax ignores a shift shared by all keys).
 */
export function assertRelNorm(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  tol: number,
  floor = 0,
): void {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i]! - expected[i]!) ** 2;
    den += expected[i]! ** 2;
  }
  if (Math.sqrt(num) <= floor) return;
  const r = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
  assert.ok(
    r <= tol,
    `${what}: relative error ${r.toExponential(2)} > ${tol} ` +
      `(‖error‖ ${Math.sqrt(num).toExponential(2)}, ‖expected‖ ${Math.sqrt(den).toExponential(2)})`,
  );
}

export interface GradCase {
  /** builds fresh inputs (same values every call) */
  inputs: () => Tensor[];
  /** which inputs get gradients checked (default: all float32 inputs) */
  wrt?: number[];
  /** the op under test */
  fn: (...xs: Tensor[]) => Tensor;
}

interface RunResult {
  out: number[];
  grads: (number[] | null)[];
}

/** Runs fn, then backward of Σ(out·R) for a fixed random R; returns output and input gradients. */
export function runWithGrads(c: GradCase): RunResult {
  return scope(() => {
    const xs = c.inputs();
    const wrt = c.wrt ?? xs.map((x, i) => (x.dtype === 'float32' ? i : -1)).filter((i) => i >= 0);
    for (const i of wrt) xs[i]!.requiresGrad = true;
    const out = c.fn(...xs);
    const r = randn([...out.shape], new Generator(99));
    const loss = sum(mul(out, r));
    loss.backward();
    const res = { out: out.toArray(), grads: xs.map((x, i) => (wrt.includes(i) && x.grad ? x.grad.toArray() : null)) };
    for (const x of xs) x.dispose();
    return res;
  });
}

/** Central finite differences of Σ(fn(x)·R) on the given input, at up to `maxCoords` coordinates. */
export function numericGrad(
  c: GradCase,
  which: number,
  maxCoords = 24,
  eps = 1e-2,
): { idx: number[]; values: number[] } {
  const gen = new Generator(5);
  const probe = c.inputs();
  const n = probe[which]!.size;
  for (const p of probe) p.dispose();
  const idx =
    n <= maxCoords ? [...Array(n).keys()] : Array.from({ length: maxCoords }, () => Math.floor(gen.uniform() * n));
  const f = (i: number, delta: number): number =>
    scope(() => {
      const xs = c.inputs();
      const x = xs[which]!;
      x.f32[i] = x.f32[i]! + delta;
      const out = c.fn(...xs);
      const r = randn([...out.shape], new Generator(99));
      const o = out.f32;
      let s = 0;
      for (let k = 0; k < o.length; k++) s += o[k]! * r.f32[k]!;
      return s;
    });
  return { idx, values: idx.map((i) => (f(i, eps) - f(i, -eps)) / (2 * eps)) };
}

/** Checks analytic gradients (on the active backend) against finite differences. */
export function gradCheck(c: GradCase, opts: { rtol?: number; atol?: number; eps?: number } = {}): void {
  const res = runWithGrads(c);
  res.grads.forEach((g, which) => {
    if (!g) return;
    const num = numericGrad(c, which, 24, opts.eps ?? 1e-2);
    assertClose(
      num.idx.map((i) => g[i]!),
      num.values,
      { rtol: opts.rtol ?? 2e-2, atol: opts.atol ?? 2e-3, what: `gradient of input ${which} vs finite differences` },
    );
  });
}

/** Runs the case on js and native and checks outputs and gradients agree. */
export function compareBackends(c: GradCase, opts: { rtol?: number; atol?: number } = {}): void {
  if (!nativeAvailable()) return;
  const r: Record<BackendName, RunResult> = {
    js: withBackend('js', () => runWithGrads(c)),
    native: withBackend('native', () => runWithGrads(c)),
  };
  const tol = { rtol: opts.rtol ?? 1e-4, atol: opts.atol ?? 1e-5 };
  assertClose(r.native.out, r.js.out, { ...tol, what: 'native vs js output' });
  r.js.grads.forEach((g, i) => {
    if (g) assertClose(r.native.grads[i]!, g, { ...tol, what: `native vs js gradient of input ${i}` });
  });
}

/** Both checks: finite differences on js (the reference) and js vs native. */
export function checkOp(
  c: GradCase,
  opts: { rtol?: number; atol?: number; eps?: number; fdRtol?: number; fdAtol?: number } = {},
): void {
  withBackend('js', () => gradCheck(c, { rtol: opts.fdRtol, atol: opts.fdAtol, eps: opts.eps }));
  compareBackends(c, opts);
}
