// bf16 mixed precision: which ops round to bf16 (and which stay fp32), native vs the js emulation, the portable
// bf16 kernel vs AVX512-BF16 on a whole training step, and the refusals (bad names, no bf16 on this CPU/backend).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from './random.js';
import { scope, type Tensor } from './tensor.js';
import { configureGemm, gemmInfo, nativeAvailable, withBackend } from './backend.js';
import { bf16CacheKey, bf16Unavailable, parsePrecision, precision, setPrecision, withPrecision } from './precision.js';
import { assertRelNorm, randn, runWithGrads, type GradCase } from './testing.js';
import { MedtuneError } from '../common/errors.js';
import * as op from './ops/index.js';
import { BertForSequenceClassification, bertConfig } from '../models/bert.js';
import { AdamW, hfParamGroups } from '../train/adamw.js';
import { tensor } from './tensor.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const info = gemmInfo();
const initialBf16 = info?.bf16Isa || 'none';
// Where the CPU has no AVX512-BF16, the portable bf16 kernel (bf16 storage, fp32 compute) stands in for the tests.
const testBf16Isa = info?.bf16Isa || 'portable-bf16';
const noNative = !nativeAvailable() && 'native backend not built';
const noBf16 = noNative || (!info?.bf16Isa && `this CPU has no avx512_bf16 (flags: ${info?.cpu})`);
const here = (f: string) => path.join(path.dirname(fileURLToPath(import.meta.url)), f);
const restore = () => {
  if (info) configureGemm({ bf16Isa: initialBf16 });
};
const inBf16 = <T>(fn: () => T): T =>
  withBackend('native', () => {
    configureGemm({ bf16Isa: testBf16Isa });
    try {
      return withPrecision('bf16', fn);
    } finally {
      restore();
    }
  });

const gen = (s: number) => new Generator(s);
const cases: Record<string, GradCase> = {
  'linear + GELU': {
    inputs: () => [randn([2, 7, 48], gen(1)), randn([40, 48], gen(2), 0.3), randn([40], gen(3))],
    fn: (x, w, b) => op.linear(x, w, b, 'gelu'),
  },
  'batched matmul, transposed B': {
    inputs: () => [randn([3, 9, 33], gen(4)), randn([3, 17, 33], gen(5))],
    fn: (a, b) => op.matmul(a, b, { transB: true }),
  },
  'attention with a padding mask': {
    inputs: () => [randn([2, 12, 32], gen(6)), randn([2, 12, 32], gen(7)), randn([2, 12, 32], gen(8))],
    fn: (q, k, v) => {
      const mask = tensor(
        [...Array(24).keys()].map((i) => (i % 12 < 10 ? 0 : -1e30)),
        [2, 12],
      );
      return op.attention(q, k, v, mask, { heads: 4 });
    },
  },
};

describe('bf16 precision', () => {
  after(restore);

  it('rejects unknown precisions and defaults to fp32', () => {
    assert.equal(precision(), process.env.MEDTUNE_PRECISION || 'fp32');
    const usage = (e: MedtuneError) => e.code === 'E_USAGE' && /fp32, bf16 or int8/.test(e.message);
    assert.throws(() => setPrecision('fp16'), usage);
    assert.throws(
      () => parsePrecision('half', 'MEDTUNE_PRECISION'),
      (e: MedtuneError) => e.code === 'E_ENV',
    );
  });

  it('int8 is for inference: a training command refuses it in one line', () => {
    assert.throws(
      () => parsePrecision('int8', '--precision', { training: true }),
      (e: MedtuneError) => e.code === 'E_USAGE' && /int8 is for inference .*medtune quantize/.test(e.message),
    );
    assert.throws(() => parsePrecision('int8', '--precision', { training: true }), /^(?!.*\n)/);
  });

  it('bf16 runs only where it measured faster than fp32, cached per CPU model', { skip: noBf16 }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-bf16-'));
    try {
      const key = bf16CacheKey();
      const child = (cache: object | null) => {
        if (cache) writeFileSync(path.join(dir, 'cpu-speed.json'), JSON.stringify(cache));
        else rmSync(path.join(dir, 'cpu-speed.json'), { force: true });
        const from = JSON.stringify(here('precision.js'));
        const script = `import { setPrecision, precision, precisionKernel } from ${from};
          setPrecision('bf16', '--precision'); console.log(JSON.stringify([precision(), precisionKernel('bf16')]));`;
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
          env: { ...process.env, MEDTUNE_CACHE_DIR: dir, MEDTUNE_BF16: '', MEDTUNE_QUIET_BACKEND: '' },
          encoding: 'utf8',
        });
        assert.equal(r.status, 0, r.stderr);
        return { out: JSON.parse(r.stdout) as [string, string], err: r.stderr.trim() };
      };
      const slow = child({ [key]: { bf16_speedup: 0.71, measured_at: 'x' } });
      assert.equal(slow.out[0], 'fp32');
      assert.match(
        slow.err,
        /^medtune: --precision bf16: fp32 \(\S+\): the \S+ kernel runs at 0.71× fp32 .*running fp32$/,
      );
      const fast = child({ [key]: { bf16_speedup: 1.8, measured_at: 'x' } });
      assert.deepEqual([fast.out[0], fast.err], ['bf16', '']);
      assert.match(fast.out[1], /1.8× fp32 on this CPU \(measured earlier on this CPU model/);
      const measured = child(null);
      const cached = JSON.parse(readFileSync(path.join(dir, 'cpu-speed.json'), 'utf8'));
      assert.ok(cached[key].bf16_speedup > 0);
      assert.equal(measured.out[0], cached[key].bf16_speedup >= 1.05 ? 'bf16' : 'fp32');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bf16 on the js backend and on a CPU without a bf16 kernel', { skip: noNative }, () => {
    withBackend('js', () => {
      const refused = (e: MedtuneError) => e.code === 'E_PRECISION_UNSUPPORTED' && e.exitCode === 2;
      assert.throws(() => setPrecision('bf16'), refused);
    });
    withBackend('native', () => {
      configureGemm({ bf16Isa: 'none' });
      try {
        assert.match(bf16Unavailable() ?? '', /AVX512-BF16/);
        assert.throws(
          () => setPrecision('bf16'),
          (e: MedtuneError) => e.code === 'E_PRECISION_UNSUPPORTED',
        );
        assert.equal(precision(), process.env.MEDTUNE_PRECISION || 'fp32');
      } finally {
        restore();
      }
    });
  });

  for (const [name, c] of Object.entries(cases)) {
    it(`${name}: native bf16 (${testBf16Isa}) matches the js bf16 emulation, not fp32`, { skip: noNative }, () => {
      const fp32 = withBackend('native', () => runWithGrads(c));
      const { nat, js } = inBf16(() => ({ nat: runWithGrads(c), js: withBackend('js', () => runWithGrads(c)) }));
      // same bf16-rounded operands; only the fp32 accumulation order differs (and a rare rounding flip in backward)
      assertRelNorm(nat.out, js.out, `${name} output, native vs js bf16`, 2e-6);
      js.grads.forEach((g, i) => g && assertRelNorm(nat.grads[i]!, g, `${name} grad ${i}, native vs js bf16`, 2e-3));
      // bf16 rounds (relative error ~2^-9 per operand) but stays close to fp32
      assertRelNorm(nat.out, fp32.out, `${name} output, bf16 vs fp32`, 2e-2);
      const diff = nat.out.some((x, i) => x !== fp32.out[i]);
      assert.ok(diff, 'bf16 output is bit-identical to fp32: the bf16 path did not run');
    });
  }

  it('layer norm, softmax and the loss stay fp32 under bf16', { skip: noNative }, () => {
    const run = () =>
      scope(() => {
        const x = randn([5, 24], gen(9));
        const y = op.softmax(op.layerNorm(x, randn([24], gen(10)), randn([24], gen(11)), 1e-12));
        return y.toArray();
      });
    const fp32 = withBackend('native', run);
    assert.deepEqual(inBf16(run), fp32);
  });

  it('a bf16 training step: the portable kernel gives the same sums as AVX512-BF16', { skip: noNative }, () => {
    const cfg = bertConfig({
      vocab_size: 50,
      hidden_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 64,
      max_position_embeddings: 16,
      num_labels: 3,
    });
    const step = (isa: string) =>
      withBackend('native', () => {
        configureGemm({ bf16Isa: isa });
        try {
          return withPrecision('bf16', () => {
            const m = new BertForSequenceClassification(cfg, 4);
            const opt = new AdamW(hfParamGroups(m, 0.01), { lr: 1e-3 });
            const g = gen(12);
            const ids = tensor(
              Array.from({ length: 24 }, () => 1 + Math.floor(g.uniform() * 49)),
              [2, 12],
              'int32',
            );
            const labels = tensor([0, 2], [2], 'int32');
            const losses = [0, 1].map(() =>
              scope(() => {
                const out = m.forward({ input_ids: ids, labels });
                out.loss!.backward();
                opt.step({ maxGradNorm: 1 });
                opt.zeroGrad();
                return out.loss!.item();
              }),
            );
            const w = m.namedParameters().map(([, t]: [string, Tensor]) => t.toArray());
            opt.dispose();
            m.dispose();
            return { losses, w };
          });
        } finally {
          restore();
        }
      });
    const portable = step('portable-bf16');
    assert.ok(portable.losses.every(Number.isFinite));
    if (!info?.bf16Isa) return; // no AVX512-BF16 here: the portable path ran; nothing faster to compare it with
    const fast = step(info.bf16Isa);
    assert.deepEqual(fast.losses, portable.losses);
    fast.w.forEach((w, i) => assert.deepEqual(w, portable.w[i]));
  });
});
