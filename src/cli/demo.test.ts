// The demo end to end (offline, no ../shared): synthetic data is deterministic and the model beats 0.9.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDemo } from './demo.js';
import { syntheticSymptoms, buildWordPieceVocab } from '../demo/synthetic.js';

describe('medtune demo', () => {
  it('synthetic data is deterministic, covers 21 diagnoses, and shares symptoms across them', () => {
    const a = syntheticSymptoms(10, 3);
    assert.deepEqual(a, syntheticSymptoms(10, 3));
    assert.notDeepEqual(a, syntheticSymptoms(10, 4));
    assert.equal(new Set(a.map((r) => r.label)).size, 21);
    const withFatigue = new Set(a.filter((r) => /tired|fatigue|exhausted|no energy/i.test(r.text)).map((r) => r.label));
    assert.ok(withFatigue.size >= 5, 'fatigue appears in many diagnoses');
    const vocab = buildWordPieceVocab(a.map((r) => r.text));
    assert.deepEqual(vocab.slice(0, 5), ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    assert.ok(vocab.includes('##a') && vocab.includes('fever'));
  });

  it('trains from scratch and reaches ≥ 0.9 test accuracy, writing model and reports', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-demo-'));
    const acc = await runDemo({ outputDir: dir, seed: 1 }, () => {});
    assert.ok(acc >= 0.9, `demo accuracy ${acc}`);
    for (const f of ['best_model/config.json', 'best_model/model.safetensors', 'best_model/vocab.txt', 'metrics.json', 'predictions.jsonl', 'metrics.jsonl', 'data/train.csv']) {
      assert.ok(existsSync(path.join(dir, f)), f);
    }
    const m = JSON.parse(readFileSync(path.join(dir, 'metrics.json'), 'utf8'));
    assert.equal(m.split, 'test');
    assert.equal(m.accuracy, acc);
    rmSync(dir, { recursive: true });
  });
});
