// *ForTokenClassification through the family table: HF layout in and out (classifier.*, id2label), logits equal
// after a save -> load round trip for every family, the loss over labelled positions only, and a model of one task
// refused by the other.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadModel, saveModel } from './auto.js';
import { tensor, noGrad, scope } from '../tensor/tensor.js';
import { readSafetensors } from '../io/safetensors.js';
import { fixturePath } from '../testing-fixtures.js';
import type { TokenClassifier } from './token-classification.js';

const quiet = { log: () => {} };
const LABELS = ['O', 'B-Disease', 'I-Disease'];

function logitsOf(m: TokenClassifier): number[] {
  return scope(() =>
    noGrad(() =>
      m
        .forward({
          input_ids: tensor([2, 17, 45, 99, 3, 2, 60, 3, 0, 0], [2, 5], 'int32'),
          attention_mask: tensor([1, 1, 1, 1, 1, 1, 1, 1, 0, 0], [2, 5], 'int32'),
        })
        .logits.toArray(),
    ),
  );
}

describe('token-classification heads', () => {
  for (const [fixture, arch] of [
    ['tiny-bert', 'BertForTokenClassification'],
    ['tiny-roberta', 'RobertaForTokenClassification'],
    ['tiny-distilbert', 'DistilBertForTokenClassification'],
  ] as const) {
    it(`${arch}: a new head from a checkpoint, saved in HF's layout, reloads with equal logits`, async (t) => {
      const base = fixturePath('fixtures', 'hf', fixture);
      if (!base) return t.skip('no ../shared fixtures');
      const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-tok-'));
      try {
        const a = await loadModel(base, { head: 'token-classification', labels: LABELS, seed: 3, ...quiet });
        assert.ok([...a.report.missing, ...a.report.resized].some((k) => k.startsWith('classifier.')));
        saveModel(dir, a.model, a.config, { tokenizerFrom: base });
        const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
        assert.deepEqual(cfg.architectures, [arch]);
        assert.deepEqual(cfg.id2label, { 0: 'O', 1: 'B-Disease', 2: 'I-Disease' });
        assert.equal(cfg.label2id['I-Disease'], 2);
        const keys = [...readSafetensors(path.join(dir, 'model.safetensors')).keys()];
        assert.ok(keys.includes('classifier.weight') && keys.includes('classifier.bias'), keys.join(','));
        assert.ok(!keys.some((k) => k.includes('pooler')), 'a token classifier has no pooler');
        const b = await loadModel(dir, { head: 'token-classification', ...quiet });
        assert.deepEqual(b.labels, LABELS);
        assert.equal(b.report.missing.length + b.report.resized.length, 0);
        const [la, lb] = [logitsOf(a.model), logitsOf(b.model)];
        assert.equal(la.length, 2 * 5 * 3);
        assert.deepEqual(lb, la);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('the loss is cross-entropy over positions whose label is not -100', async (t) => {
    const base = fixturePath('fixtures', 'hf', 'tiny-bert');
    if (!base) return t.skip('no ../shared fixtures');
    const { model } = await loadModel(base, { head: 'token-classification', labels: LABELS, ...quiet });
    const inputs = { input_ids: tensor([2, 17, 45, 3], [1, 4], 'int32') };
    scope(() =>
      noGrad(() => {
        const logits = model.forward(inputs).logits.toArray();
        const ce = (row: number[], y: number) => {
          const mx = Math.max(...row);
          return -(row[y]! - mx - Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0)));
        };
        const expected = (ce(logits.slice(3, 6), 1) + ce(logits.slice(6, 9), 2)) / 2;
        const loss = model.forward({ ...inputs, labels: tensor([-100, 1, 2, -100], [1, 4], 'int32') }).loss!.item();
        assert.ok(Math.abs(loss - expected) < 1e-5, `${loss} vs ${expected}`);
      }),
    );
  });

  it('a model of one task is refused by the other (E_MODEL_TASK), naming what to use', async (t) => {
    const base = fixturePath('fixtures', 'hf', 'tiny-bert');
    if (!base) return t.skip('no ../shared fixtures');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-tok-'));
    try {
      const seq = await loadModel(base, { head: 'sequence-classification', labels: ['a', 'b', 'c'], ...quiet });
      saveModel(dir, seq.model, seq.config);
      await assert.rejects(
        loadModel(dir, { head: 'token-classification', ...quiet }),
        (e: Error & { code?: string }) => e.code === 'E_MODEL_TASK' && /sequence classification model/.test(e.message),
      );
      const tok = await loadModel(base, { head: 'token-classification', labels: LABELS, ...quiet });
      saveModel(dir, tok.model, tok.config);
      await assert.rejects(
        loadModel(dir, { head: 'sequence-classification', ...quiet }),
        (e: Error & { code?: string }) => e.code === 'E_MODEL_TASK' && /\/v1\/entities/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
