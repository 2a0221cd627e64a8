// The Predictor: stored calibration, thresholds and abstention apply; explicit options win; truncation is counted per
// text; batched results equal one-at-a-time; memory stays flat when every batch has another shape.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Predictor } from './predictor.js';
import { decide } from './decision.js';
import { memoryStats, sizeClass } from '../tensor/storage.js';
import { Generator } from '../tensor/random.js';
import { fixturePath } from '../testing-fixtures.js';

const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');
const multi = fixturePath('fixtures', 'hf', 'tiny-bert-multilabel');

describe('decision', () => {
  it('temperature divides logits before the softmax; thresholds per label; abstention by confidence', () => {
    const d1 = decide([2, 0, 0], { labels: ['a', 'b', 'c'], multiLabel: false });
    const d2 = decide([2, 0, 0], { labels: ['a', 'b', 'c'], multiLabel: false, temperature: 2 });
    assert.ok(Math.abs(d2.probabilities[0]! - Math.exp(1) / (Math.exp(1) + 2)) < 1e-12);
    assert.ok(d2.confidence < d1.confidence);
    assert.equal(decide([2, 0, 0], { labels: ['a', 'b', 'c'], multiLabel: false, abstainBelow: 0.9 }).abstain, true);
    const m = decide([0.1, -0.1, 2], { labels: ['a', 'b', 'c'], multiLabel: true, thresholds: [0.5, 0.4, 0.95] });
    assert.deepEqual(m.predicted, [1, 1, 0]);
  });
});

describe('Predictor', { skip: !tiny && 'needs ../shared' }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-pred-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('applies the stored temperature and abstention; options override them', async () => {
    const m = path.join(dir, 'calibrated');
    cpSync(tiny!, m, { recursive: true });
    const cfg = JSON.parse(readFileSync(path.join(m, 'config.json'), 'utf8'));
    writeFileSync(
      path.join(m, 'config.json'),
      JSON.stringify({ ...cfg, medtune: { temperature: 0.01, abstain: { below: 0.99 } } }),
    );
    const plain = await Predictor.load(tiny!, { log: () => {} });
    const cal = await Predictor.load(m, { log: () => {} });
    const [a] = plain.classify(['fever']);
    const [b] = cal.classify(['fever']);
    assert.equal(a!.label, b!.label, 'temperature never changes the argmax');
    assert.ok(b!.score > a!.score, 'T < 1 sharpens');
    const never = await Predictor.load(m, { log: () => {}, abstainBelow: null, calibrated: false });
    assert.equal(never.classify(['fever'])[0]!.abstain, false);
    assert.ok(Math.abs(never.classify(['fever'])[0]!.score - a!.score) < 1e-9);
    const strict = await Predictor.load(tiny!, { log: () => {}, abstainBelow: 0.99 });
    const r = strict.classify(['fever'])[0]!;
    assert.equal(r.abstain, true);
    assert.equal(r.abstain_reason, 'low_confidence');
    assert.equal(r.in_scope, true, 'no detector: in scope');
    assert.equal(r.ood_score, null);
  });

  it(
    'multi-label: stored per-label thresholds, and an explicit threshold wins over them',
    { skip: !multi && 'needs the multi-label fixture' },
    async () => {
      const m = path.join(dir, 'thresholds');
      cpSync(multi!, m, { recursive: true });
      const cfg = JSON.parse(readFileSync(path.join(m, 'config.json'), 'utf8'));
      const labels = Object.values(cfg.id2label as Record<string, string>);
      writeFileSync(
        path.join(m, 'config.json'),
        JSON.stringify({ ...cfg, medtune: { thresholds: Object.fromEntries(labels.map((l) => [l, 0])) } }),
      );
      assert.deepEqual(
        (await Predictor.load(m, { log: () => {} })).classify(['fever'])[0]!.label,
        labels,
        'threshold 0: every label',
      );
      assert.deepEqual(
        (await Predictor.load(m, { log: () => {}, threshold: 1 })).classify(['fever'])[0]!.label,
        [],
        '--threshold 1 wins',
      );
    },
  );

  it('counts the tokens truncation cut from each text; batched equals one at a time', async () => {
    const p = await Predictor.load(tiny!, { log: () => {}, maxLength: 16, batchSize: 4 });
    const texts = [
      'fever',
      Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '),
      'cough and a rash on both arms',
      'headache',
    ];
    const all = p.classify(texts);
    assert.equal(all[0]!.truncated_tokens, 0);
    assert.ok(all[1]!.truncated_tokens > 20);
    texts.forEach((t, i) => {
      const one = p.classify([t])[0]!;
      for (const [l, v] of Object.entries(one.probabilities))
        assert.ok(Math.abs(v - all[i]!.probabilities[l]!) <= 1e-5);
    });
    await assert.rejects(Predictor.load(tiny!, { log: () => {}, maxLength: 4096 }), /limit of \d+ tokens/);
  });

  it('memory stays flat when every batch has another shape (size-class pool)', async () => {
    assert.equal(sizeClass(1000), 1024);
    assert.equal(sizeClass(1025), 1536);
    assert.equal(sizeClass(1537), 2048);
    const p = await Predictor.load(tiny!, { log: () => {}, batchSize: 64 });
    const g = new Generator(3);
    const batch = () =>
      Array.from({ length: 1 + Math.floor(g.uniform() * 40) }, () =>
        Array.from({ length: 1 + Math.floor(g.uniform() * 30) }, () => 'fever').join(' '),
      );
    for (let i = 0; i < 60; i++) p.classify(batch());
    const warm = memoryStats().allocatedBytes;
    for (let i = 0; i < 300; i++) p.classify(batch());
    const grown = memoryStats().allocatedBytes - warm;
    assert.ok(
      grown < 0.25 * warm + (1 << 20),
      `allocated ${warm} bytes after warm-up, then ${grown} more over 300 batches of new shapes`,
    );
  });
});
