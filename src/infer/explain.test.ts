// Integrated gradients: quadrature, word grouping, completeness on the fixtures, and — on a model trained on a task
// where one trigger word decides the label — the trigger gets the largest attribution in ≥ 95 % of test texts.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { explain, gaussLegendre, wordsOf } from './explain.js';
import { Predictor } from './predictor.js';
import { createScratchModel } from '../demo/scratch.js';
import { runTrain } from '../train/run.js';
import { Generator } from '../tensor/random.js';
import { fixturePath } from '../testing-fixtures.js';

const FILLERS = [
  'patient',
  'reports',
  'mild',
  'pain',
  'since',
  'today',
  'with',
  'some',
  'cough',
  'and',
  'fever',
  'after',
  'dinner',
  'denies',
  'nausea',
  'rash',
  'noted',
  'on',
  'exam',
  'left',
  'arm',
  'feels',
  'tired',
  'slept',
  'poorly',
];
const TRIGGERS = { zorblax: 'alpha', quintarn: 'beta' } as const;

function triggerTexts(n: number, seed: number): { text: string; label: string; trigger: string }[] {
  const g = new Generator(seed);
  return Array.from({ length: n }, (_, i) => {
    const words = Array.from(
      { length: 6 + Math.floor(g.uniform() * 6) },
      () => FILLERS[Math.floor(g.uniform() * FILLERS.length)]!,
    );
    const trigger = i % 2 ? 'zorblax' : 'quintarn';
    words.splice(Math.floor(g.uniform() * (words.length + 1)), 0, trigger);
    return { text: words.join(' '), label: TRIGGERS[trigger], trigger };
  });
}

describe('integrated gradients', () => {
  it('Gauss–Legendre nodes lie in (0, 1), weights sum to 1, and integrate polynomials exactly', () => {
    const { nodes, weights } = gaussLegendre(8);
    assert.ok(nodes.every((x) => x > 0 && x < 1));
    assert.ok(Math.abs(weights.reduce((a, w) => a + w, 0) - 1) < 1e-12);
    // ∫₀¹ x^15 dx = 1/16 (exact for degree ≤ 2n − 1)
    assert.ok(Math.abs(nodes.reduce((a, x, i) => a + weights[i]! * x ** 15, 0) - 1 / 16) < 1e-12);
  });

  it('word pieces are summed into words; punctuation stands alone; special tokens are left out', () => {
    const text = 'Fever, headache';
    const offsets: [number, number][] = [
      [0, 0],
      [0, 3],
      [3, 5],
      [5, 6],
      [7, 11],
      [11, 15],
      [0, 0],
    ];
    const w = wordsOf(text, offsets, [9, 1, 2, 3, 4, 5, 9], [true, false, false, false, false, false, true]);
    assert.deepEqual(
      w.map((x) => [x.word, x.score]),
      [
        ['Fever', 3],
        [',', 3],
        ['headache', 9],
      ],
    );
  });

  it(
    'completeness: attributions sum to f(x) − f(baseline) on the fixtures (error ≤ 1e-4; f = log p)',
    { skip: !fixturePath('fixtures') && 'needs ../shared' },
    async () => {
      for (const name of ['tiny-bert', 'tiny-roberta', 'tiny-distilbert', 'tiny-bert-multilabel']) {
        const p = await Predictor.load(fixturePath('fixtures', 'hf', name)!, { log: () => {} });
        for (const baseline of ['pad', 'zero'] as const) {
          const e = explain(p, 'The patient reports chest pain, fever and a dry cough since Monday.', {
            steps: 16,
            baseline,
          });
          const total = e.words.reduce((a, w) => a + w.score, 0);
          assert.ok(e.completeness_error <= 1e-4, `${name}/${baseline}: ${e.completeness_error}`);
          const f = (q: number) => (name.includes('multilabel') ? Math.log(q / (1 - q)) : Math.log(q));
          assert.ok(
            Math.abs(total - (f(e.probability) - f(e.baseline_probability))) <= 1e-4,
            `${name}: Σ ${total} vs ${e.total}`,
          );
          assert.ok(Math.abs(e.total - (f(e.probability) - f(e.baseline_probability))) <= 1e-5);
          assert.equal(e.words.length, 14);
        }
        assert.throws(() => explain(p, 'fever', { label: 'NOPE' }), /not a label of this model/);
        assert.throws(() => explain(p, 'fever', { steps: 1 }), /--steps/);
      }
    },
  );

  it(
    'over windows: a long note is explained whole (words to its last one, completeness kept, one window = plain)',
    { skip: !fixturePath('fixtures') && 'needs ../shared' },
    async () => {
      const dir = fixturePath('fixtures', 'hf', 'tiny-bert')!;
      const note = Array.from({ length: 12 }, (_, i) => `Day ${i + 1}: the patient reports chest pain and fever.`);
      const text = note.join(' ');
      const windowed = await Predictor.load(dir, { log: () => {}, pooling: 'mean', maxLength: 16, stride: 4 });
      const e = explain(windowed, text, { steps: 16 });
      assert.equal(e.truncated_tokens, 0);
      assert.equal(e.words.length, text.split(/\s+|(?=[:.,])/).filter(Boolean).length);
      const last = e.words.at(-1)!;
      assert.equal(text.slice(last.start, last.end), '.');
      assert.equal(last.end, text.length);
      assert.ok(e.words.every((w) => text.slice(w.start, w.end) === w.word));
      assert.ok(e.completeness_error <= 1e-3 * Math.max(1, Math.abs(e.total)), `error ${e.completeness_error}`);
      // a text that fits one window is explained as without windows
      const short = 'The patient reports chest pain, fever and a dry cough since Monday.';
      const plain = await Predictor.load(dir, { log: () => {}, maxLength: 64 });
      const oneWindow = await Predictor.load(dir, { log: () => {}, pooling: 'max', maxLength: 64 });
      const [a, b] = [explain(plain, short, { steps: 8 }), explain(oneWindow, short, { steps: 8 })];
      assert.deepEqual(
        b.words.map((w) => w.word),
        a.words.map((w) => w.word),
      );
      b.words.forEach((w, i) => assert.ok(Math.abs(w.score - a.words[i]!.score) <= 1e-4, `${w.word}`));
    },
  );

  describe('a trigger word decides the label', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-ig-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('gets the largest attribution in ≥ 95 % of test texts', async () => {
      const train = triggerTexts(400, 1);
      const file = path.join(dir, 'train.csv');
      writeFileSync(file, 'text,label\n' + train.map((r) => `${r.text},${r.label}`).join('\n') + '\n');
      const init = path.join(dir, 'init');
      createScratchModel(
        init,
        train.map((r) => r.text),
        ['alpha', 'beta'],
        3,
        { hidden: 32, layers: 1 },
      );
      const out = path.join(dir, 'run');
      await runTrain(
        {
          model: init,
          train: file,
          outputDir: out,
          epochs: 6,
          learningRate: 2e-3,
          batchSize: 16,
          maxLength: 32,
          weightDecay: 0.01,
          warmup: 0.1,
          scheduler: 'linear',
          seed: 3,
          evalEvery: 0,
          gradAccum: 1,
          maxGradNorm: 1,
          labelSmoothing: 0,
          validationSplit: 0.1,
          baseline: false,
          leakageCheck: false,
        },
        () => {},
      );
      const p = await Predictor.load(path.join(out, 'best_model'), { log: () => {} });
      const test = triggerTexts(60, 99);
      let top = 0;
      let maxError = 0;
      for (const t of test) {
        const e = explain(p, t.text);
        const best = e.words.reduce((a, w) => (w.score > a.score ? w : a));
        if (best.word === t.trigger) top++;
        maxError = Math.max(maxError, e.completeness_error / Math.max(1e-3, Math.abs(e.total)));
      }
      assert.ok(top / test.length >= 0.95, `the trigger was the top word in ${top} of ${test.length} texts`);
      assert.ok(maxError <= 0.05, `relative completeness error up to ${maxError}`);
    });
  });
});
