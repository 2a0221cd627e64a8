// The demo end to end (offline, no ../shared): synthetic data is deterministic and the model beats 0.9.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDemo } from '../demo/run.js';
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

  it('--demographics adds sex and age_band, the plain data unchanged; the disparity only touches 80+', () => {
    const plain = syntheticSymptoms(10, 3);
    const demo = syntheticSymptoms(10, 3, { demographics: true });
    const control = syntheticSymptoms(10, 3, { demographics: true, disparity: false });
    assert.deepEqual(syntheticSymptoms(10, 3), plain);
    const bands = ['18-39', '40-59', '60-79', '80+'];
    assert.ok(demo.every((r) => ['female', 'male'].includes(r.sex!) && bands.includes(r.age_band!)));
    assert.deepEqual(
      demo.map((r) => [r.sex, r.age_band]),
      control.map((r) => [r.sex, r.age_band]),
      'the same people',
    );
    const atypical = /new confusion|a fall at home|being off my food|general weakness|not being myself|sleeping more/;
    assert.ok(demo.filter((r) => r.age_band === '80+').every((r) => atypical.test(r.text)));
    assert.ok(!control.some((r) => atypical.test(r.text)) && !plain.some((r) => atypical.test(r.text)));
    // rows before the first 80+ row are the same text with or without the disparity
    const first = demo.findIndex((r) => r.age_band === '80+');
    assert.deepEqual(demo.slice(0, first), control.slice(0, first));
  });

  it('trains from scratch and reaches ≥ 0.9 test accuracy, writing model and reports', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-demo-'));
    const lines: string[] = [];
    const acc = await runDemo({ outputDir: dir, seed: 1 }, (l) => lines.push(l));
    assert.ok(acc >= 0.9, `demo accuracy ${acc}`);
    assert.ok(lines[lines.length - 1]!.endsWith(path.join(dir, 'report.html')), 'the demo ends by naming report.html');
    for (const f of [
      'best_model/config.json',
      'best_model/model.safetensors',
      'best_model/vocab.txt',
      'best_model/README.md',
      'metrics.json',
      'predictions.jsonl',
      'metrics.jsonl',
      'run.json',
      'report.html',
      'data/train.csv',
    ]) {
      assert.ok(existsSync(path.join(dir, f)), f);
    }
    const m = JSON.parse(readFileSync(path.join(dir, 'metrics.json'), 'utf8'));
    assert.equal(m.split, 'test');
    assert.equal(m.accuracy, acc);
    rmSync(dir, { recursive: true });
  });
});
