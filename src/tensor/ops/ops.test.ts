// Every op, forward and backward: finite differences on the js backend, and js vs native, on odd shapes,
// broadcasting and masked rows.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../random.js';
import { tensor, Tensor } from '../tensor.js';
import { checkOp, compareBackends, randn, randint, runWithGrads, assertClose } from '../testing.js';
import { withBackend, nativeAvailable } from '../backend.js';
import * as op from './index.js';

const g = (seed: number) => new Generator(seed);
/** inputs factory with fixed values */
const inp =
  (...specs: (number[] | ((gen: Generator) => Tensor))[]) =>
  () => {
    const gen = g(1234);
    return specs.map((s) => (typeof s === 'function' ? s(gen) : randn(s, gen)));
  };
const positive = (shape: number[]) => (gen: Generator) => {
  const t = randn(shape, gen);
  for (let i = 0; i < t.size; i++) t.f32[i] = 0.5 + Math.abs(t.f32[i]!);
  return t;
};
const awayFromZero = (shape: number[]) => (gen: Generator) => {
  const t = randn(shape, gen);
  for (let i = 0; i < t.size; i++) t.f32[i] = t.f32[i]! + (t.f32[i]! >= 0 ? 0.1 : -0.1);
  return t;
};

describe('elementwise ops', () => {
  for (const [name, fn] of [
    ['add', op.add],
    ['sub', op.sub],
    ['mul', op.mul],
    ['div', op.div],
  ] as const) {
    it(`${name} with equal shapes`, () =>
      checkOp({ inputs: inp([3, 5], name === 'div' ? positive([3, 5]) : [3, 5]), fn }));
    it(`${name} broadcasting [3,1,5] with [4,1]`, () =>
      checkOp({ inputs: inp([3, 1, 5], name === 'div' ? positive([4, 1]) : [4, 1]), fn }));
    it(`${name} broadcasting a bias [7] over [2,3,7]`, () =>
      checkOp({ inputs: inp([2, 3, 7], name === 'div' ? positive([7]) : [7]), fn }));
  }
  it('scale', () => checkOp({ inputs: inp([4, 3]), fn: (x) => op.scale(x, -2.5) }));
  const unary: [string, (x: Tensor) => Tensor, (shape: number[]) => (gen: Generator) => Tensor][] = [
    ['gelu', op.gelu, (s) => (gen) => randn(s, gen, 2)],
    ['geluTanh', op.geluTanh, (s) => (gen) => randn(s, gen, 2)],
    ['tanh', op.tanh, (s) => (gen) => randn(s, gen)],
    ['relu', op.relu, awayFromZero],
    ['exp', op.exp, (s) => (gen) => randn(s, gen)],
    ['log', op.log, positive],
    ['neg', op.neg, (s) => (gen) => randn(s, gen)],
    ['square', op.square, (s) => (gen) => randn(s, gen)],
    ['sqrt', op.sqrt, positive],
    ['sigmoid', op.sigmoid, (s) => (gen) => randn(s, gen, 2)],
  ];
  for (const [name, fn, make] of unary)
    it(`${name} on an odd shape [5,13]`, () => checkOp({ inputs: inp(make([5, 13])), fn }));
  it('gelu matches HF values', () => {
    const x = tensor([-3, -1, -0.5, 0, 0.5, 1, 3]);
    // torch.nn.functional.gelu (erf) reference values
    assertClose(op.gelu(x).toArray(), [-0.00404969, -0.15865526, -0.15426877, 0, 0.34573123, 0.84134474, 2.99595031], {
      rtol: 1e-5,
      atol: 1e-6,
    });
    assertClose(
      op.geluTanh(x).toArray(),
      [-0.00363752, -0.15880801, -0.15428599, 0, 0.34571401, 0.84119199, 2.99636248],
      { rtol: 1e-5, atol: 1e-6 },
    );
  });
});

describe('reductions', () => {
  it('sum over all', () => checkOp({ inputs: inp([3, 4, 5]), fn: (x) => op.sum(x) }));
  it('sum over axis 1 keepDims', () => checkOp({ inputs: inp([3, 4, 5]), fn: (x) => op.sum(x, 1, true) }));
  it('sum over axes [0,2]', () => checkOp({ inputs: inp([3, 4, 5]), fn: (x) => op.sum(x, [0, -1]) }));
  it('mean over last axis', () => checkOp({ inputs: inp([6, 7]), fn: (x) => op.mean(x, -1) }));
  it('sum values', () => assert.deepEqual(op.sum(tensor([1, 2, 3, 4, 5, 6], [2, 3]), 0).toArray(), [5, 7, 9]));
});

describe('layout ops', () => {
  it('reshape', () => checkOp({ inputs: inp([4, 6]), fn: (x) => op.reshape(x, [2, -1, 3]) }));
  it('permute', () => checkOp({ inputs: inp([2, 3, 4, 5]), fn: (x) => op.permute(x, [2, 0, 3, 1]) }));
  it('transpose', () => checkOp({ inputs: inp([3, 7]), fn: (x) => op.transpose(x) }));
  it('slice', () => checkOp({ inputs: inp([3, 8, 2]), fn: (x) => op.slice(x, 1, 2, 7) }));
  it('concat', () =>
    checkOp({ inputs: inp([2, 3, 4], [2, 1, 4], [2, 5, 4]), fn: (a, b, c) => op.concat([a!, b!, c!], 1) }));
  it('permute values', () =>
    assert.deepEqual(op.transpose(tensor([1, 2, 3, 4, 5, 6], [2, 3])).toArray(), [1, 4, 2, 5, 3, 6]));
  it('shape errors name the shapes', () => {
    assert.throws(() => op.reshape(tensor([1, 2, 3]), [2, 2]), /has 3 elements, \[2, 2\] needs 4/);
    assert.throws(() => op.add(tensor([1, 2, 3]), tensor([1, 2])), /cannot be broadcast/);
  });
});

describe('matmul and linear', () => {
  for (const [tA, tB] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    it(`2-D ${tA ? 'Aᵀ' : 'A'}·${tB ? 'Bᵀ' : 'B'} with odd sizes`, () =>
      checkOp({
        inputs: inp(tA ? [7, 5] : [5, 7], tB ? [3, 7] : [7, 3]),
        fn: (a, b) => op.matmul(a!, b!, { transA: tA, transB: tB }),
      }));
    it(`batched ${tA ? 'Aᵀ' : 'A'}·${tB ? 'Bᵀ' : 'B'}`, () =>
      checkOp({
        inputs: inp(tA ? [2, 3, 6, 5] : [2, 3, 5, 6], tB ? [2, 3, 4, 6] : [2, 3, 6, 4]),
        fn: (a, b) => op.matmul(a!, b!, { transA: tA, transB: tB }),
      }));
    it(`batched with a shared 2-D B, ${tA ? 'Aᵀ' : 'A'}·${tB ? 'Bᵀ' : 'B'}`, () =>
      checkOp({
        inputs: inp(tA ? [3, 6, 5] : [3, 5, 6], tB ? [4, 6] : [6, 4]),
        fn: (a, b) => op.matmul(a!, b!, { transA: tA, transB: tB }),
      }));
  }
  it('large enough to be split across threads', () =>
    checkOp({ inputs: inp([67, 129], [129, 65]), fn: (a, b) => op.matmul(a!, b!) }, { rtol: 1e-4, atol: 1e-4 }));
  for (const act of ['none', 'gelu', 'gelu_tanh', 'relu', 'tanh'] as const) {
    it(`linear + ${act}`, () =>
      checkOp({ inputs: inp([2, 5, 9], [7, 9], [7]), fn: (x, w, b) => op.linear(x!, w!, b!, act) }));
  }
  it('linear without bias', () => checkOp({ inputs: inp([4, 9], [3, 9]), fn: (x, w) => op.linear(x!, w!, null) }));
  it('inner-dimension mismatch is an error', () =>
    assert.throws(
      () => op.matmul(tensor([1, 2, 3, 4, 5, 6], [2, 3]), tensor([1, 2, 3, 4], [2, 2])),
      /inner dimensions differ/,
    ));
});

describe('nn ops', () => {
  it('embedding with repeated ids (scatter-add)', () =>
    checkOp({
      inputs: inp([11, 6], (gen) => randint([2, 7], 11, gen)),
      wrt: [0],
      fn: (t, ids) => op.embedding(ids!, t!),
    }));
  it('embedding rejects ids outside the table', () =>
    assert.throws(() => op.embedding(tensor([5], [1], 'int32'), randn([3, 2], g(1))), /outside the table/));
  it('layerNorm', () =>
    checkOp(
      { inputs: inp([3, 4, 13], [13], [13]), fn: (x, w, b) => op.layerNorm(x!, w!, b!, 1e-5) },
      { rtol: 1e-4, atol: 2e-5 },
    ));
  it('layerNorm fused with a residual', () =>
    checkOp(
      { inputs: inp([3, 13], [13], [13], [3, 13]), fn: (x, w, b, r) => op.layerNorm(x!, w!, b!, 1e-12, r!) },
      { rtol: 1e-4, atol: 2e-5 },
    ));
  it('softmax', () => checkOp({ inputs: inp([4, 3, 9]), fn: (x) => op.softmax(x) }));
  it('softmax of a fully masked row is uniform', () => {
    const x = tensor([-Infinity, -Infinity, -Infinity, 0, 1, 2], [2, 3]);
    for (const be of ['js', ...(nativeAvailable() ? ['native' as const] : [])] as const) {
      withBackend(be, () => assertClose(op.softmax(x).toArray().slice(0, 3), [1 / 3, 1 / 3, 1 / 3]));
    }
  });
  it('dropout (same mask on both backends, scaled by 1/(1-p))', () => {
    checkOp({ inputs: inp([6, 11]), fn: (x) => op.dropout(x!, 0.3, g(77)) });
    const out = op.dropout(tensor(new Array(10000).fill(1)), 0.25, g(3)).toArray();
    const kept = out.filter((v) => v !== 0);
    assert.ok(Math.abs(kept.length / 10000 - 0.75) < 0.02, `kept fraction ${kept.length / 10000}`);
    assertClose(kept.slice(0, 5), new Array(5).fill(1 / 0.75));
  });
  const mask = (gen: Generator, B: number, T: number, fullyMasked: number) => {
    // batch 0 keeps all, batch 1 masks the last 2 keys, batch `fullyMasked` masks every key
    void gen;
    const m: number[] = [];
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++) m.push(b === fullyMasked ? 0 : b === 1 && t >= T - 2 ? 0 : 1);
    return op.attentionMaskFromPadding(tensor(m, [B, T], 'int32'));
  };
  it('attention with padding', () =>
    checkOp(
      {
        inputs: inp([3, 5, 6], [3, 5, 6], [3, 5, 6], (gen) => mask(gen, 3, 5, -1)),
        wrt: [0, 1, 2],
        fn: (q, k, v, m) => op.attention(q!, k!, v!, m!, { heads: 2 }),
      },
      { rtol: 1e-4, atol: 2e-5 },
    ));
  it('attention with a fully masked row (uniform weights, as HF with its float32-min mask)', () => {
    // A fully masked row's scores all round to float32 min, so finite differences see no dependence on q and k,
    // while autograd (ours and PyTorch's) still propagates through the softmax: check v by finite differences,
    // and every gradient js vs native.
    const c = {
      inputs: inp([3, 5, 6], [3, 5, 6], [3, 5, 6], (gen) => mask(gen, 3, 5, 2)),
      fn: (q: Tensor, k: Tensor, v: Tensor, m: Tensor) => op.attention(q, k, v, m, { heads: 2 }),
    } as const;
    checkOp({ ...c, fn: c.fn as (...x: Tensor[]) => Tensor, wrt: [2] }, { rtol: 1e-4, atol: 2e-5 });
    compareBackends({ ...c, fn: c.fn as (...x: Tensor[]) => Tensor, wrt: [0, 1, 2] }, { rtol: 1e-4, atol: 2e-5 });
    const out = withBackend('js', () =>
      op.attention(...(c.inputs() as [Tensor, Tensor, Tensor, Tensor]), { heads: 2 }).toArray(),
    );
    const v = c.inputs()[2]!.toArray();
    // batch 2: every query gets the mean of the values
    for (let d = 0; d < 6; d++) {
      const meanV = [0, 1, 2, 3, 4].reduce((s, t) => s + v[(2 * 5 + t) * 6 + d]!, 0) / 5;
      assertClose([out[(2 * 5 + 0) * 6 + d]!], [meanV], { rtol: 1e-5, atol: 1e-6 });
    }
  });
  it('attention with dropout', () =>
    checkOp(
      {
        inputs: inp([2, 7, 8], [2, 7, 8], [2, 7, 8], (gen) => mask(gen, 2, 7, -1)),
        wrt: [0, 1, 2],
        fn: (q, k, v, m) => op.attention(q!, k!, v!, m!, { heads: 4, dropout: 0.2, generator: g(9) }),
      },
      { rtol: 1e-4, atol: 2e-5 },
    ));
  const qkvInputs = inp([2, 7, 5], [8, 5], [8, 5], [8, 5], [8], [8], [8], (gen) => mask(gen, 2, 7, -1));
  const attnOpts = () => ({ heads: 2, dropout: 0.2, generator: g(5) });
  type QKV = [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const fusedQKV = (...[x, wq, wk, wv, bq, bk, bv, m]: QKV) =>
    op.attentionPacked(op.linearConcat(x, [wq, wk, wv], [bq, bk, bv]), m, attnOpts());
  const separateQKV = (...[x, wq, wk, wv, bq, bk, bv, m]: QKV) =>
    op.attention(op.linear(x, wq, bq), op.linear(x, wk, bk), op.linear(x, wv, bv), m, attnOpts());
  it('fused QKV: linearConcat + attentionPacked (with dropout, padding)', () =>
    checkOp(
      {
        inputs: qkvInputs,
        wrt: [0, 1, 2, 3, 4, 5, 6],
        fn: fusedQKV as (...x: Tensor[]) => Tensor,
      },
      { rtol: 1e-4, atol: 2e-5 },
    ));
  it('fused QKV gives the numbers of three linears and attention()', () => {
    const [parts, separate, fused] = [qkvInputs, separateQKV, fusedQKV];
    for (const be of ['js', ...(nativeAvailable() ? ['native' as const] : [])] as const) {
      withBackend(be, () => {
        const wrt = [0, 1, 2, 3, 4, 5, 6];
        const a = runWithGrads({ inputs: parts, wrt, fn: separate as (...x: Tensor[]) => Tensor });
        const b = runWithGrads({ inputs: parts, wrt, fn: fused as (...x: Tensor[]) => Tensor });
        assertClose(b.out, a.out, { rtol: 1e-5, atol: 1e-6, what: `${be} output` });
        const tol = { rtol: 1e-4, atol: 1e-5 };
        a.grads.forEach((gr, i) => gr && assertClose(b.grads[i]!, gr, { ...tol, what: `${be} grad ${i}` }));
      });
    }
  });
  it('attention equals softmax(QKᵀ/√d + mask)·V written with plain ops', () => {
    const run = () => {
      const gen = g(4);
      const [q, k, v] = [randn([2, 4, 6], gen), randn([2, 4, 6], gen), randn([2, 4, 6], gen)];
      const m = mask(gen, 2, 4, -1);
      const fused = op.attention(q, k, v, m, { heads: 2 }).toArray();
      // reference with generic ops: split heads, batched matmul, softmax
      const split = (t: Tensor) => op.permute(op.reshape(t, [2, 4, 2, 3]), [0, 2, 1, 3]);
      const s = op.add(
        op.scale(op.matmul(split(q), split(k), { transB: true }), 1 / Math.sqrt(3)),
        op.reshape(m, [2, 1, 1, 4]),
      );
      const ref = op.reshape(op.permute(op.matmul(op.softmax(s), split(v)), [0, 2, 1, 3]), [2, 4, 6]).toArray();
      assertClose(fused, ref, { rtol: 1e-5, atol: 1e-6 });
    };
    withBackend('js', run);
    if (nativeAvailable()) withBackend('native', run);
  });
});

describe('losses', () => {
  const targets = (t: number[]) => () => tensor(t, [t.length], 'int32');
  it('cross-entropy', () =>
    checkOp({ inputs: inp([5, 4], targets([0, 3, 1, 1, 2])), fn: (x, t) => op.crossEntropy(x!, t!) }));
  it('cross-entropy with class weights, ignore index and label smoothing', () =>
    checkOp({
      inputs: inp([6, 4], targets([0, -100, 3, 1, 2, 2]), positive([4])),
      wrt: [0],
      fn: (x, t, w) => op.crossEntropy(x!, t!, { weights: w!, labelSmoothing: 0.1 }),
    }));
  it('cross-entropy value matches a hand computation', () => {
    const l = op.crossEntropy(tensor([1, 2, 3, 0, 0, 0], [2, 3]), tensor([2, 0], [2], 'int32')).item();
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    assertClose([l], [(lse - 3 + Math.log(3)) / 2]);
  });
  it('BCE with logits and pos_weight', () =>
    checkOp({
      inputs: inp(
        [5, 3],
        (gen) => {
          const t = randn([5, 3], gen);
          for (let i = 0; i < t.size; i++) t.f32[i] = t.f32[i]! > 0 ? 1 : 0;
          return t;
        },
        positive([3]),
      ),
      wrt: [0],
      fn: (x, t, pw) => op.bceWithLogits(x!, t!, { posWeight: pw! }),
    }));
  it('BCE value matches a hand computation', () => {
    const l = op.bceWithLogits(tensor([0.5, -1], [1, 2]), tensor([1, 0], [1, 2])).item();
    const s = (x: number) => 1 / (1 + Math.exp(-x));
    assertClose([l], [(-Math.log(s(0.5)) - Math.log(1 - s(-1))) / 2]);
  });
  it('MSE', () => checkOp({ inputs: inp([7], [7]), fn: (a, b) => op.mse(a!, b!) }));
});

describe('autograd bookkeeping', () => {
  it('a tensor used twice accumulates both gradients', () => {
    const r = runWithGrads({ inputs: inp([3]), fn: (x) => op.add(op.mul(x!, x!), x!) });
    const x = inp([3])()[0]!.toArray();
    const r2 = runWithGrads({ inputs: inp([3]), fn: (a) => a! });
    // d/dx Σ R·(x²+x) = R·(2x+1), and r2.grads = R
    assertClose(
      r.grads[0]!,
      x.map((v, i) => r2.grads[0]![i]! * (2 * v + 1)),
      { rtol: 1e-5 },
    );
  });
});
