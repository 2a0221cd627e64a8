// The text-preparation commands end to end: curate (merge + summary), clean (--spell with its sidecar), augment
// (parent ids), train --augment (training split only) / --clean (recorded, applied by predict) / the leakage check,
// and one-line errors with exit code 2 for bad input.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCurate } from '../data/curate-file.js';
import { runClean } from '../text/clean-file.js';
import { runAugment } from '../infer/augment-file.js';
import { runTrain, type TrainOptions as TrainCliOptions } from '../train/run.js';
import { runPredict } from '../infer/predict-file.js';
import { prepareTexts } from '../train/prepare.js';
import { tinyDemoModel } from '../testing-fixtures.js';
import { syntheticSymptoms } from '../demo/synthetic.js';
import type { Example } from '../data/dataset.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'medtune.js');
const quiet = () => {};
let work: string;
let model: string;
let trainCsv: string;
let testCsv: string;

function medtune(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });
}

const csvOf = (rows: { text: string; label: string }[]) =>
  'text,label\n' + rows.map((r) => `"${r.text}",${r.label}`).join('\n') + '\n';

describe('text preparation commands', () => {
  before(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'medtune-textprep-'));
    const rows = syntheticSymptoms(6, 21);
    trainCsv = path.join(work, 'train.csv');
    writeFileSync(trainCsv, csvOf(rows));
    // test: two rows copied from training (one with whitespace and case changed), the rest new
    const test = syntheticSymptoms(2, 99);
    test[0] = { ...rows[3]! };
    test[1] = { ...rows[8]!, text: `  ${rows[8]!.text.toUpperCase()}  ` };
    testCsv = path.join(work, 'test.csv');
    writeFileSync(testCsv, csvOf(test));
    model = path.join(work, 'init');
    tinyDemoModel(
      model,
      rows.map((r) => r.text),
    );
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const base = (outputDir: string): TrainCliOptions => ({
    model,
    train: trainCsv,
    test: testCsv,
    outputDir,
    epochs: 1,
    maxSteps: 2,
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
  });

  it('curate merges inputs, drops duplicates and writes its summary beside the output', async () => {
    const b = path.join(work, 'b.jsonl');
    writeFileSync(
      b,
      [
        '{"note":"Fever and chills since Monday.","dx":"flu"}',
        '{"note":"fever  and CHILLS since monday","dx":"cold"}',
        '{"note":"","dx":"flu"}',
      ].join('\n') + '\n',
    );
    const out = path.join(work, 'merged.csv');
    const r = await runCurate({
      input: [trainCsv, `${b}:text=note,label=dx,source=clinic`],
      output: out,
      sourceColumn: 'source',
      minChars: 1,
      minWords: 1,
      maxChars: 1e5,
      nonText: true,
      duplicates: 'drop',
      threshold: 0.7,
      shingleSize: 2,
      numPerm: 128,
      log: quiet,
    });
    const summary = JSON.parse(readFileSync(r.summaryFile, 'utf8'));
    assert.equal(summary.removed.empty, 1);
    assert.ok(summary.duplicates.exact >= 1);
    assert.equal(summary.conflicting_labels.groups >= 1, true);
    const lines = readFileSync(out, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'text,label,source,source_row');
    assert.ok(lines.some((l) => l.endsWith(',clinic,1')));
    assert.equal(lines.length - 1, r.rows);
  });

  it('clean --spell writes the cleaned file and a JSONL of every change', async () => {
    const f = path.join(work, 'notes.csv');
    const good = 'persistent cough with fever and fatigue';
    writeFileSync(
      f,
      'id,text\n' +
        [1, 2, 3, 4].map((i) => `${i},"${good}"`).join('\n') +
        '\n5,"persistant  cough,\u00A0feverr and fatigue"\n',
    );
    const out = path.join(work, 'notes.clean.csv');
    const r = await runClean({ input: f, output: out, steps: 'default', spell: true, minCount: 3, log: quiet });
    assert.equal(r.changes, 2);
    assert.match(readFileSync(out, 'utf8'), /5,"persistent cough, fever and fatigue"/);
    const changes = readFileSync(`${out}.changes.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      changes.map((c) => [c.row, c.from, c.to]),
      [
        [5, 'persistant', 'persistent'],
        [5, 'feverr', 'fever'],
      ],
    );
  });

  it('augment writes the originals, then copies that name their parent and operations', async () => {
    const out = path.join(work, 'aug.jsonl');
    const r = await runAugment({ input: trainCsv, output: out, perExample: 2, alpha: 0.2, seed: 1, log: quiet });
    const rows = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, r.rows + r.augmented);
    assert.ok(r.augmented > r.rows);
    const copy = rows[r.rows]!;
    assert.equal(copy.parent_id, '1');
    assert.match(copy.augment_ops, /^(synonym|insert|swap|delete):\d+$/);
  });

  it('augmentation touches the training split only: validation and test rows are the originals', async () => {
    const ex = (text: string, row: number): Example => ({ text, label: 0, row });
    const train = [
      ex('mild cough and a sore throat for two days', 1),
      ex('a very bad headache every single morning', 2),
    ];
    const val = [ex('tired all the time and quite dizzy lately', 3)];
    const test = [ex('burning pain when passing urine at night', 4)];
    const snapshot = JSON.stringify([val, test]);
    const r = await prepareTexts({
      train,
      evaluation: [
        { name: 'validation', examples: val },
        { name: 'test', examples: test },
      ],
      labels: ['x'],
      model,
      seed: 1,
      o: { augment: 3 },
      log: quiet,
    });
    assert.equal(JSON.stringify([val, test]), snapshot);
    assert.ok(r.train.length > train.length && r.train.length <= 8);
    const evalTexts = new Set([...val, ...test].map((e) => e.text));
    assert.ok(r.train.every((e) => !evalTexts.has(e.text)));
  });

  it('train: leakage check reports copies; --augment grows only training rows; --fail-on-leakage stops', async () => {
    const lines: string[] = [];
    await runTrain({ ...base(path.join(work, 'aug')), augment: 2 }, (l) => lines.push(l));
    // the two copied rows: either one is a training row (then the test copy is leakage) or it went to validation
    assert.ok(
      lines.some((l) =>
        /^leakage check: [12] of \d+ test rows .*\([12] exact, 0 near.*test row \d+ ~ train row \d+ \(exact\)/.test(l),
      ),
      lines.join('\n'),
    );
    const trainLine = lines.find((l) => l.startsWith('train: '))!;
    const valLine = lines.find((l) => l.startsWith('validation: '))!;
    const plain: string[] = [];
    await runTrain({ ...base(path.join(work, 'plain')) }, (l) => plain.push(l));
    assert.equal(
      valLine,
      plain.find((l) => l.startsWith('validation: ')),
    );
    const n = (l: string) => Number(/^\w+: (\d+) rows/.exec(l)![1]);
    assert.ok(n(trainLine) > 2 * n(plain.find((l) => l.startsWith('train: '))!));
    await assert.rejects(
      runTrain({ ...base(path.join(work, 'fail')), failOnLeakage: true }, quiet),
      (e: Error & { code?: string }) => e.code === 'E_LEAKAGE',
    );
  });

  it('train --clean records the cleaning in config.json; predict applies it', async () => {
    const out = path.join(work, 'clean');
    await runTrain({ ...base(out), clean: true }, quiet);
    const cfg = JSON.parse(readFileSync(path.join(out, 'best_model', 'config.json'), 'utf8'));
    assert.deepEqual(cfg.medtune.preprocessing, {
      clean: { unicode: true, controls: true, whitespace: true, linebreaks: true },
    });
    const input = path.join(work, 'pred.jsonl');
    writeFileSync(
      input,
      ['{"text":"fever and a dry cough"}', '{"text":"  fever\\u00A0and a\\tdry   cough\\u200B "}'].join('\n') + '\n',
    );
    const output = path.join(work, 'pred.out.jsonl');
    await runPredict({ model: path.join(out, 'best_model'), input, output, log: quiet });
    const [a, b] = readFileSync(output, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(a.probabilities, b.probabilities);
  });

  it('bad input: one line, exit code 2', () => {
    const empty = path.join(work, 'empty.csv');
    writeFileSync(empty, 'text,label\n"",a\n');
    const cases: [string[], RegExp][] = [
      [
        ['curate', '--input', empty, '--output', path.join(work, 'x.csv')],
        /no usable rows left of 1 \(removed: empty 1\) \(E_INPUT_EMPTY\)/,
      ],
      [
        ['augment', '--input', trainCsv, '--output', path.join(work, 'x.csv'), '--per-example', '0'],
        /--per-example must be .* at least 1; got 0 \(E_USAGE\)/,
      ],
      [
        ['augment', '--input', trainCsv, '--output', path.join(work, 'x.csv'), '--per-example', '1000000'],
        /too many.*\(E_USAGE\)/,
      ],
      [
        ['train', '--model', model, '--train', trainCsv, '--output-dir', path.join(work, 'y'), '--augment', '0'],
        /--augment must be .* at least 1; got 0 \(E_USAGE\)/,
      ],
      [
        [
          'clean',
          '--input',
          trainCsv,
          '--output',
          path.join(work, 'x.csv'),
          '--spell',
          '--lexicon',
          path.join(work, 'missing.txt'),
        ],
        /cannot read the lexicon .*missing\.txt: it does not exist \(E_LEXICON\)/,
      ],
      [
        ['pretrain', '--model', model, '--corpus', trainCsv, '--output-dir', path.join(work, 'z')],
        /has no masked-LM head \(cls\.predictions\.\*\).*--init-mlm-head.*\(E_MODEL_NO_MLM_HEAD\)/,
      ],
      [
        ['pretrain', '--model', model, '--corpus', empty, '--output-dir', path.join(work, 'z'), '--init-mlm-head'],
        /no usable text.*\(E_INPUT_EMPTY\)/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = medtune(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, re);
    }
    assert.ok(!existsSync(path.join(work, 'x.csv')));
  });
});
