// Masked-LM heads: parity of mini-biobert's MLM loss with PyTorch (fixture computed once, committed), RoBERTa's
// lm_head.* saved and reloaded unchanged, old-style tied decoder keys, and the error for a folder without a head.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scope, tensor } from '../tensor/tensor.js';
import { fixturePath } from '../testing-fixtures.js';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { loadMaskedLM, maskedLmFromConfig, saveMaskedLM } from './mlm.js';
import type { ModelConfig } from './auto.js';
import { loadClassifier, saveClassifier } from './auto.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.resolve(here, '..', '..', 'src', 'models', 'testdata', 'mlm-parity.json');
const quiet = () => {};

const tinyConfig = (model_type: 'bert' | 'roberta'): ModelConfig => ({
  model_type,
  vocab_size: 50,
  hidden_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 32,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0,
  attention_probs_dropout_prob: 0,
  max_position_embeddings: 40,
  type_vocab_size: 1,
  layer_norm_eps: 1e-12,
  initializer_range: 0.5,
  pad_token_id: model_type === 'roberta' ? 1 : 0,
});

describe('masked-LM parity with PyTorch', () => {
  const bio = fixturePath('models', 'mini-biobert');
  it(
    'mini-biobert: loss on fixed masked inputs equals PyTorch within 1e-4 (full and masked-position paths)',
    { skip: !bio && 'needs ../shared' },
    async () => {
      const fx = JSON.parse(readFileSync(fixture, 'utf8')) as {
        input_ids: number[][];
        attention_mask: number[][];
        token_type_ids: number[][];
        labels: number[][];
        expected_loss: number;
      };
      const { model, report, newHead } = await loadMaskedLM(bio!, { log: quiet });
      assert.equal(newHead, false);
      assert.deepEqual(report.missing, []);
      assert.deepEqual(report.unexpected, []);
      const B = fx.input_ids.length;
      const T = fx.input_ids[0]!.length;
      const inputs = () => ({
        input_ids: tensor(fx.input_ids.flat(), [B, T], 'int32'),
        attention_mask: tensor(fx.attention_mask.flat(), [B, T], 'int32'),
        token_type_ids: tensor(fx.token_type_ids.flat(), [B, T], 'int32'),
      });
      const full = scope(() =>
        model.forward({ ...inputs(), labels: tensor(fx.labels.flat(), [B * T], 'int32') }).loss!.item(),
      );
      assert.ok(Math.abs(full - fx.expected_loss) < 1e-4, `medtune ${full} vs PyTorch ${fx.expected_loss}`);
      const flat = fx.labels.flat();
      const pos = flat.map((l, i) => (l >= 0 ? i : -1)).filter((i) => i >= 0);
      const { crossEntropy } = await import('../tensor/ops/index.js');
      const fast = scope(() =>
        crossEntropy(
          model.maskedLogits(inputs(), tensor(pos, [pos.length], 'int32')),
          tensor(
            pos.map((i) => flat[i]!),
            [pos.length],
            'int32',
          ),
        ).item(),
      );
      assert.ok(Math.abs(fast - fx.expected_loss) < 1e-4, `masked-position path ${fast}`);
      model.dispose();
    },
  );
});

describe('masked-LM folders', () => {
  const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'medtune-mlm-'));

  it("RoBERTa's lm_head.* weights save and reload unchanged (decoder tied, not stored)", async () => {
    const d = tmp();
    const cfg = tinyConfig('roberta');
    const m = maskedLmFromConfig(cfg, 5);
    for (const [, p] of m.namedParameters()) for (let i = 0; i < p.size; i++) p.f32[i] = Math.sin(i * 0.37 + p.size);
    saveMaskedLM(path.join(d, 'm'), m, cfg);
    const keys = [...readSafetensors(path.join(d, 'm', 'model.safetensors')).keys()];
    assert.deepEqual(keys.filter((k) => k.startsWith('lm_head.')).sort(), [
      'lm_head.bias',
      'lm_head.dense.bias',
      'lm_head.dense.weight',
      'lm_head.layer_norm.bias',
      'lm_head.layer_norm.weight',
    ]);
    assert.deepEqual(JSON.parse(readFileSync(path.join(d, 'm', 'config.json'), 'utf8')).architectures, [
      'RobertaForMaskedLM',
    ]);
    const back = await loadMaskedLM(path.join(d, 'm'), { log: quiet });
    const a = new Map(m.namedParameters());
    for (const [k, p] of back.model.namedParameters()) assert.deepEqual(p.f32, a.get(k)!.f32, k);
    assert.deepEqual(back.report.unexpected, []);
    rmSync(d, { recursive: true });
  });

  it('old checkpoints that store the tied decoder (weight + bias) load; an untied decoder is refused', async () => {
    const d = tmp();
    const cfg = tinyConfig('bert');
    const m = maskedLmFromConfig(cfg, 9);
    const tensors = m
      .namedParameters()
      .map(
        ([k, t]) =>
          [k === 'cls.predictions.bias' ? 'cls.predictions.decoder.bias' : k, { shape: t.shape, data: t.f32 }] as [
            string,
            { shape: readonly number[]; data: Float32Array },
          ],
      );
    const emb = m.namedParameters().find(([k]) => k === 'bert.embeddings.word_embeddings.weight')![1];
    tensors.push(['cls.predictions.decoder.weight', { shape: emb.shape, data: emb.f32 }]);
    writeFileSync(path.join(d, 'config.json'), JSON.stringify(cfg));
    writeFileSync(path.join(d, 'model.safetensors'), Buffer.concat(serializeSafetensors(tensors)));
    const back = await loadMaskedLM(d, { log: quiet });
    assert.deepEqual(back.report.missing, []);
    assert.deepEqual(back.report.unexpected, []);
    const untied = Float32Array.from(emb.f32, (v) => v + 1);
    tensors[tensors.length - 1] = ['cls.predictions.decoder.weight', { shape: emb.shape, data: untied }];
    writeFileSync(path.join(d, 'model.safetensors'), Buffer.concat(serializeSafetensors(tensors)));
    await assert.rejects(loadMaskedLM(d, { log: quiet }), /differs from the word embeddings/);
    rmSync(d, { recursive: true });
  });

  it('a folder without MLM head: a clear error offering --init-mlm-head; with it a new head starts', async () => {
    const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');
    const d = tmp();
    let dir = tiny;
    if (!dir) {
      dir = path.join(d, 'cls');
      const cfg = tinyConfig('bert');
      const { classifierFromConfig } = await import('./auto.js');
      saveClassifier(dir, classifierFromConfig({ ...cfg, num_labels: 2 }), { ...cfg, num_labels: 2 });
    }
    await assert.rejects(
      loadMaskedLM(dir, { log: quiet }),
      (e: Error & { code?: string }) =>
        e.code === 'E_MODEL_NO_MLM_HEAD' &&
        /has no masked-LM head \(cls\.predictions\.\*\).*--init-mlm-head/.test(e.message),
    );
    const r = await loadMaskedLM(dir, { initHead: true, log: quiet });
    assert.equal(r.newHead, true);
    assert.ok(r.report.missing.every((k) => k.startsWith('cls.predictions.')));
    // a saved masked-LM loads as a classifier (new pooler and head; cls.* unused), as after `medtune pretrain`
    saveMaskedLM(path.join(d, 'mlm'), r.model, r.config, { tokenizerFrom: tiny ?? undefined });
    if (tiny)
      for (const f of ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json'])
        copyFileSync(path.join(tiny, f), path.join(d, 'mlm', f));
    const c = await loadClassifier(path.join(d, 'mlm'), { labels: ['a', 'b'], log: quiet });
    assert.ok(c.report.unexpected.every((k) => k.startsWith('cls.predictions.')) && c.report.unexpected.length > 0);
    rmSync(d, { recursive: true });
  });
});
