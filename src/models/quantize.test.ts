// int8 models: which layers are quantized, logits close to fp32, `medtune quantize` folders (I8 weights + scales)
// loading back to the same int8 model and to its dequantized fp32 weights, refusing training; ONNX export checked
// by onnxruntime-node (a devDependency; skipped visibly where it is not installed).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadClassifier, loadModel, type LoadedClassifier } from './auto.js';
import { int8Layers, isQuantized } from './quantize.js';
import { quantizeFolder } from './quantize-file.js';
import { exportModel, onnxModel } from './onnx-export.js';
import { readSafetensors } from '../io/safetensors.js';
import { noGrad, tensor } from '../tensor/tensor.js';
import { nativeAvailable, withBackend } from '../tensor/backend.js';
import { fixturePath } from '../testing-fixtures.js';
import { MedtuneError } from '../common/errors.js';

const FAMILIES = ['tiny-bert', 'tiny-roberta', 'tiny-distilbert'];
const noFixtures = !fixturePath('fixtures', 'hf', 'tiny-bert') && 'no ../shared/fixtures';
const noNative = !nativeAvailable() && 'native backend not built';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'medtune-int8-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const B = 2;
const T = 7;
function inputs(l: LoadedClassifier, pad: number) {
  const v = Number(l.config.vocab_size);
  const ids = [5, 8, 13, 21, 3, 9, 11, 4, 6, 7, 2, 1, 1, 1].map((x) => (x % (v - 3)) + 3);
  const mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0];
  mask.forEach((m, i) => {
    if (!m) ids[i] = pad;
  });
  return { ids, mask, types: new Array(B * T).fill(0) };
}
function logits(l: LoadedClassifier, x: ReturnType<typeof inputs>): number[] {
  return noGrad(() =>
    l.model
      .forward({
        input_ids: tensor(x.ids, [B, T], 'int32'),
        attention_mask: tensor(x.mask, [B, T], 'int32'),
        token_type_ids: tensor(x.types, [B, T], 'int32'),
      })
      .logits.toArray(),
  );
}
const quiet = { log: () => {} };

describe('int8 models', { skip: noFixtures || noNative }, () => {
  for (const name of FAMILIES) {
    it(`${name}: the transformer blocks' linear layers run int8, logits close to fp32`, async () => {
      const dir = fixturePath('fixtures', 'hf', name)!;
      await withBackend('native', async () => {
        const fp32 = await loadClassifier(dir, quiet);
        const int8 = await loadClassifier(dir, { ...quiet, precision: 'int8' });
        const layers = int8Layers(int8.model);
        assert.ok(layers.length >= 6 && layers.every(([n, l]) => /layer\.\d+\./.test(n) && l.int8));
        assert.ok(!isQuantized(fp32.model));
        const x = inputs(fp32, Number(fp32.config.pad_token_id ?? 0));
        const a = logits(fp32, x);
        const b = logits(int8, x);
        const scale = Math.max(...a.map(Math.abs));
        a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= 0.05 * scale + 1e-3, `${name}: ${b[i]} vs fp32 ${v}`));
      });
    });
  }

  it('medtune quantize: I8 weights + scales, loading back to the same int8 model; training refuses it', async () => {
    const dir = fixturePath('fixtures', 'hf', 'tiny-bert')!;
    const out = path.join(tmp, 'q');
    await withBackend('native', async () => {
      const r = await quantizeFolder(dir, { output: out, log: () => {} });
      const t = readSafetensors(path.join(out, 'model.safetensors'));
      const q = t.get('bert.encoder.layer.0.attention.self.query.weight')!;
      assert.equal(q.dtype, 'I8');
      assert.equal(t.get('bert.encoder.layer.0.attention.self.query.weight_scale')!.dtype, 'F32');
      assert.equal(t.get('classifier.weight')!.dtype, 'F32');
      const cfg = JSON.parse(readFileSync(path.join(out, 'config.json'), 'utf8'));
      assert.equal(cfg.medtune.quantization.layers, r.layers);
      const inMemory = await loadClassifier(dir, { ...quiet, precision: 'int8' });
      const fromFolder = await loadClassifier(out, { ...quiet, precision: 'int8' });
      const x = inputs(inMemory, 0);
      assert.deepEqual(logits(fromFolder, x), logits(inMemory, x));
      const dequantized = await loadClassifier(out, quiet);
      assert.ok(!isQuantized(dequantized.model));
      logits(dequantized, x).forEach((v, i) => assert.ok(Math.abs(v - logits(inMemory, x)[i]!) < 0.02));
      await assert.rejects(
        loadClassifier(out, { ...quiet, labels: ['a', 'b'] }),
        (e: MedtuneError) => e.code === 'E_MODEL_UNSUPPORTED' && /is an int8 model/.test(e.message),
      );
      await assert.rejects(quantizeFolder(out, { output: path.join(tmp, 'q2'), log: () => {} }), /already an int8/);
    });
  });
});

function onnxRuntime(): unknown {
  try {
    return createRequire(import.meta.url)('onnxruntime-node');
  } catch {
    return null;
  }
}
const ort = onnxRuntime() as null | {
  InferenceSession: {
    create(
      f: string,
    ): Promise<{ inputNames: string[]; run(f: object): Promise<Record<string, { data: Float32Array }>> }>;
  };
  Tensor: new (type: string, data: BigInt64Array, dims: number[]) => object;
};
const noOrt = !ort && 'onnxruntime-node is not installed (npm ci installs it: a devDependency)';

describe('ONNX export', { skip: noFixtures || noOrt }, () => {
  for (const name of FAMILIES) {
    it(`${name}: onnxruntime-node gives medtune's logits within 1e-4 (dynamic batch and sequence)`, async () => {
      const dir = fixturePath('fixtures', 'hf', name)!;
      const out = path.join(tmp, `onnx-${name}`);
      await exportModel(dir, { format: 'onnx', output: out, log: () => {} });
      const l = await loadClassifier(dir, quiet);
      const map = JSON.parse(readFileSync(path.join(out, 'label_map.json'), 'utf8'));
      assert.deepEqual(Object.values(map.id2label), l.labels);
      assert.ok(readFileSync(path.join(out, 'tokenizer.json')).length > 0);
      const session = await ort!.InferenceSession.create(path.join(out, 'model.onnx'));
      for (const [b, t] of [
        [B, T],
        [1, 3],
      ] as const) {
        const x = inputs(l, Number(l.config.pad_token_id ?? 0));
        const take = (a: number[]) => Array.from({ length: b }, (_, i) => a.slice(i * T, i * T + t)).flat();
        const [ids, mask, types] = [take(x.ids), take(x.mask), take(x.types)];
        const feeds: Record<string, object> = {};
        const feed = (n: string, a: number[]) =>
          (feeds[n] = new ort!.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [b, t]));
        feed('input_ids', ids);
        feed('attention_mask', mask);
        if (session.inputNames.includes('token_type_ids')) feed('token_type_ids', types);
        const got = Array.from((await session.run(feeds)).logits!.data);
        const want = noGrad(() =>
          l.model
            .forward({
              input_ids: tensor(ids, [b, t], 'int32'),
              attention_mask: tensor(mask, [b, t], 'int32'),
              token_type_ids: tensor(types, [b, t], 'int32'),
            })
            .logits.toArray(),
        );
        assert.equal(got.length, want.length);
        want.forEach((v, i) => assert.ok(Math.abs(v - got[i]!) <= 1e-4, `${name} [${b}×${t}] ${i}: ${got[i]} vs ${v}`));
      }
    });
  }

  it('refuses what it cannot export, in one line', async () => {
    const l = await loadModel(fixturePath('fixtures', 'hf', 'tiny-bert')!, {
      ...quiet,
      head: 'masked-lm',
      initHead: true,
    });
    assert.throws(() => onnxModel(l.model as never), /ONNX export supports BERT, RoBERTa and DistilBERT sequence/);
    await assert.rejects(exportModel('x', { format: 'tflite', output: path.join(tmp, 'n') }), /--format must be onnx/);
  });
});
