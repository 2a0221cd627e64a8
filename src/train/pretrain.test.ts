// Whole-word masking (15 %, 80/10/10, words kept whole) and `medtune pretrain` on a tiny BERT: the held-out
// masked-token accuracy improves, checkpoints resume exactly, the output fine-tunes with `medtune train`.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Generator } from '../tensor/random.js';
import { maskWholeWords, wordIds } from './masking.js';
import { tinyDemoModel } from '../testing-fixtures.js';
import { syntheticSymptoms } from '../demo/synthetic.js';
import { runPretrain, type PretrainOptions } from './pretrain.js';
import { runTrain } from './run.js';
import { listCheckpoints } from './resume.js';

describe('whole-word masking', () => {
  it('groups word pieces by offsets: "dia ##bet ##es" is one word, "pus - filled" three', () => {
    const text = 'diabetes pus-filled';
    const offsets: [number, number][] = [
      [0, 0],
      [0, 3],
      [3, 6],
      [6, 8],
      [9, 12],
      [12, 13],
      [13, 19],
      [0, 0],
    ];
    const special = offsets.map(([s, e]) => s === 0 && e === 0);
    assert.deepEqual(wordIds(text, offsets, special), [-1, 0, 0, 0, 1, 2, 3, -1]);
  });

  it('predicts ~15 % of tokens by whole words, 80 % [MASK] / 10 % random / 10 % kept; never special tokens', () => {
    const gen = new Generator(3);
    // 40 words of 1-3 pieces between [CLS]=1 and [SEP]=2; ids ≥ 10; mask id 4
    const words = Array.from({ length: 40 }, (_, w) => 1 + (w % 3));
    const ids = [1, ...words.flatMap((n, w) => Array.from({ length: n }, (_, k) => 10 + w * 3 + k)), 2];
    const wid = [-1, ...words.flatMap((n, w) => new Array<number>(n).fill(w)), -1];
    let chosen = 0;
    let masked = 0;
    let kept = 0;
    let tokens = 0;
    for (let r = 0; r < 500; r++) {
      const { input, labels } = maskWholeWords({ ids, words: wid }, gen, { maskId: 4, vocabSize: 1000 });
      tokens += ids.length - 2;
      assert.equal(labels[0], -100);
      assert.equal(labels[labels.length - 1], -100);
      const byWord = new Map<number, boolean[]>();
      labels.forEach((l, i) => {
        if (wid[i]! < 0) return;
        byWord.set(wid[i]!, [...(byWord.get(wid[i]!) ?? []), l >= 0]);
        if (l < 0) return;
        chosen++;
        assert.equal(l, ids[i]);
        if (input[i] === 4) masked++;
        else if (input[i] === ids[i]) kept++;
      });
      for (const flags of byWord.values())
        assert.ok(
          flags.every((f) => f === flags[0]),
          'a word is masked whole or not at all',
        );
    }
    assert.ok(Math.abs(chosen / tokens - 0.15) < 0.01, `share predicted ${chosen / tokens}`);
    assert.ok(Math.abs(masked / chosen - 0.8) < 0.03, `share [MASK] ${masked / chosen}`);
    assert.ok(Math.abs(kept / chosen - 0.1) < 0.03, `share kept ${kept / chosen}`);
  });
});

describe('medtune pretrain', () => {
  let work: string;
  let model: string;
  let corpus: string;
  const quiet = () => {};
  const opts = (outputDir: string): PretrainOptions => ({
    model,
    corpus: [corpus],
    outputDir,
    initMlmHead: true,
    epochs: 4,
    learningRate: 3e-3,
    batchSize: 16,
    maxLength: 48,
    weightDecay: 0.01,
    warmup: 0.1,
    scheduler: 'linear',
    maxGradNorm: 1,
    maskProbability: 0.15,
    validationSplit: 0.1,
    seed: 4,
    saveSteps: 5,
    saveTotalLimit: 0,
  });

  before(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'medtune-pretrain-'));
    const rows = syntheticSymptoms(6, 9);
    corpus = path.join(work, 'corpus.txt');
    writeFileSync(corpus, rows.map((r) => r.text).join('\n') + '\n');
    writeFileSync(
      path.join(work, 'train.csv'),
      'text,label\n' + rows.map((r) => `"${r.text}",${r.label}`).join('\n') + '\n',
    );
    model = path.join(work, 'init');
    tinyDemoModel(
      model,
      rows.map((r) => r.text),
    );
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('a classifier folder without --init-mlm-head: a clear error that says what to do', async () => {
    await assert.rejects(
      runPretrain({ ...opts(path.join(work, 'nohead')), initMlmHead: false }, quiet),
      (e: Error & { code?: string }) => e.code === 'E_MODEL_NO_MLM_HEAD' && /--init-mlm-head/.test(e.message),
    );
  });

  it('a corpus with no usable text is an error', async () => {
    const empty = path.join(work, 'empty.csv');
    writeFileSync(empty, 'text\n""\n"  "\n"--- ..."\n');
    await assert.rejects(runPretrain({ ...opts(path.join(work, 'empty')), corpus: [empty] }, quiet), /no usable text/);
  });

  it('learns (held-out masked-token accuracy up), checkpoints resume exactly, and the output fine-tunes', async () => {
    const full = path.join(work, 'full');
    const { before: b, after: a } = await runPretrain(opts(full), quiet);
    assert.ok(a!.accuracy > b!.accuracy + 0.05, `accuracy ${b!.accuracy} -> ${a!.accuracy}`);
    assert.ok(a!.perplexity < b!.perplexity);
    const cks = listCheckpoints(full);
    assert.ok(cks.length >= 3);
    // resume from the second checkpoint of the same run: ends with the same weights, bit for bit
    const resumed = path.join(work, 'resumed');
    cpSync(cks[1]!.dir, path.join(resumed, path.basename(cks[1]!.dir)), { recursive: true });
    await runPretrain({ ...opts(resumed), resume: true }, quiet);
    assert.ok(
      readFileSync(path.join(full, 'model.safetensors')).equals(readFileSync(path.join(resumed, 'model.safetensors'))),
      'weights differ after resume',
    );
    const cfg = JSON.parse(readFileSync(path.join(full, 'config.json'), 'utf8'));
    assert.deepEqual(cfg.architectures, ['BertForMaskedLM']);
    assert.equal(cfg.medtune.training.kind, 'masked-lm');
    const metrics = JSON.parse(readFileSync(path.join(full, 'metrics.json'), 'utf8'));
    assert.equal(typeof metrics.after.perplexity, 'number');
    const ft = await runTrain(
      {
        model: full,
        train: path.join(work, 'train.csv'),
        outputDir: path.join(work, 'ft'),
        epochs: 1,
        learningRate: 1e-3,
        batchSize: 16,
        maxLength: 48,
        weightDecay: 0,
        warmup: 0,
        scheduler: 'linear',
        seed: 1,
        evalEvery: 0,
        gradAccum: 1,
        maxGradNorm: 1,
        labelSmoothing: 0,
        validationSplit: 0.2,
        baseline: false,
      },
      quiet,
    );
    assert.equal(typeof ft.metrics.loss, 'number');
    assert.ok(existsSync(path.join(work, 'ft', 'best_model', 'model.safetensors')));
  });
});
