// The Trainer end to end on a tiny model and a toy task: learns, keeps the best model, writes metrics.jsonl.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Trainer, DEFAULT_TRAIN_CONFIG } from './trainer.js';
import { BertForSequenceClassification, bertConfig } from '../models/bert.js';
import type { Example } from '../data/dataset.js';

describe('Trainer', () => {
  it('learns a toy task, restores the best model and logs metrics', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-trainer-'));
    const model = new BertForSequenceClassification(
      bertConfig({
        vocab_size: 20,
        hidden_size: 16,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 32,
        max_position_embeddings: 16,
        num_labels: 2,
        hidden_dropout_prob: 0,
        attention_probs_dropout_prob: 0,
      }),
      3,
    );
    // label = whether token 5 appears
    const make = (n: number, seed: number) => {
      const ex: Example[] = [];
      const ids: number[][] = [];
      for (let i = 0; i < n; i++) {
        const y = (i + seed) % 2;
        const row = [1, ...Array.from({ length: 6 }, (_, k) => 6 + ((i * 7 + k * 3 + seed) % 12)), 2];
        if (y) row[1 + (i % 6)] = 5;
        ex.push({ text: '', label: y, row: i + 1 });
        ids.push(row);
      }
      return { examples: ex, enc: { ids, types: ids.map((r) => r.map(() => 0)), truncated: 0, cut: ids.map(() => 0) } };
    };
    const trainer = new Trainer(
      model,
      ['no', 'yes'],
      false,
      0,
      { ...DEFAULT_TRAIN_CONFIG, epochs: 8, learningRate: 3e-3, batchSize: 16, outputDir: dir, logEvery: 5 },
      () => {},
    );
    await trainer.train(make(96, 0), make(32, 1));
    const r = trainer.evaluate(make(32, 1));
    const best = Math.max(...trainer.history.map((h) => (h.metrics as { accuracy: number }).accuracy));
    assert.ok(best >= 0.9, `best validation accuracy ${best}`);
    assert.equal((r.metrics as { accuracy: number }).accuracy, best, 'the restored model is the best one');
    const lines = readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.filter((l) => l.type === 'eval').length, 8);
    assert.ok(lines.some((l) => l.type === 'train' && typeof l.lr === 'number'));
    rmSync(dir, { recursive: true });
  });
});
