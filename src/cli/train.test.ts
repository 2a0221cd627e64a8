// `medtune train` end to end: kill -9 mid-run + --resume reaches exactly the weights of an uninterrupted run;
// early stopping; class weights; grouped metrics.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTrain, classWeightsFor, type TrainOptions as TrainCliOptions } from '../train/run.js';
import { runEvaluate } from '../evaluate/run.js';
import { tinyDemoModel } from '../testing-fixtures.js';
import { syntheticSymptoms } from '../demo/synthetic.js';
import { listCheckpoints } from '../train/resume.js';
import { getThreads } from '../tensor/backend.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'medtune.js');
let work: string;
let model: string;
let trainCsv: string;
/** other rows of the same task: a model is never evaluated on rows it was trained on */
let testCsv: string;
const quiet = () => {};

function base(outputDir: string): TrainCliOptions {
  return {
    model,
    train: trainCsv,
    outputDir,
    epochs: 3,
    learningRate: 2e-3,
    batchSize: 16,
    maxLength: 48,
    weightDecay: 0.01,
    warmup: 0.1,
    scheduler: 'linear',
    seed: 3,
    evalEvery: 0,
    gradAccum: 1,
    maxGradNorm: 1,
    labelSmoothing: 0,
    validationSplit: 0.2,
    saveSteps: 5,
    saveTotalLimit: 0,
  };
}

describe('medtune train', () => {
  before(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'medtune-train-'));
    const rows = syntheticSymptoms(8, 5);
    trainCsv = path.join(work, 'train.csv');
    writeFileSync(
      trainCsv,
      'text,label,doc\n' +
        rows.map((r, i) => `"${r.text}",${r.label},doc${Math.floor(i / 2)}_s${i % 2}`).join('\n') +
        '\n',
    );
    testCsv = path.join(work, 'test.csv');
    writeFileSync(
      testCsv,
      'text,label\n' +
        syntheticSymptoms(2, 9)
          .map((r) => `"${r.text}",${r.label}`)
          .join('\n') +
        '\n',
    );
    model = path.join(work, 'init');
    tinyDemoModel(
      model,
      rows.map((r) => r.text),
    );
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('after kill -9 and --resume, the final weights equal an uninterrupted run bit for bit', async () => {
    const full = path.join(work, 'full');
    await runTrain({ ...base(full), threads: getThreads() }, quiet);
    const killed = path.join(work, 'killed');
    const args = [
      bin,
      'train',
      '--model',
      model,
      '--train',
      trainCsv,
      '--output-dir',
      killed,
      '--epochs',
      '3',
      '--learning-rate',
      '2e-3',
      '--batch-size',
      '16',
      '--max-length',
      '48',
      '--warmup',
      '0.1',
      '--seed',
      '3',
      '--validation-split',
      '0.2',
      '--save-steps',
      '5',
      '--save-total-limit',
      '0',
      '--threads',
      String(getThreads()),
    ];
    const r = spawnSync(process.execPath, args, {
      env: { ...process.env, MEDTUNE_TEST_KILL_AT_STEP: '13', CI: '1' },
      encoding: 'utf8',
    });
    assert.equal(r.signal, 'SIGKILL', `the run should have been killed: ${r.stderr}`);
    assert.deepEqual(
      listCheckpoints(killed).map((c) => c.step),
      [5, 10],
      'checkpoints written before the kill',
    );
    await runTrain({ ...base(killed), resume: true, threads: getThreads() }, quiet);
    const last = listCheckpoints(full).at(-1)!;
    const lastResumed = listCheckpoints(killed).at(-1)!;
    assert.equal(lastResumed.step, last.step);
    for (const f of ['model.safetensors', 'optimizer.safetensors']) {
      assert.ok(
        readFileSync(path.join(last.dir, f)).equals(readFileSync(path.join(lastResumed.dir, f))),
        `${f} differs after resume`,
      );
    }
    assert.ok(
      readFileSync(path.join(full, 'best_model', 'model.safetensors')).equals(
        readFileSync(path.join(killed, 'best_model', 'model.safetensors')),
      ),
      'best model differs',
    );
    const m1 = JSON.parse(readFileSync(path.join(full, 'metrics.json'), 'utf8'));
    const m2 = JSON.parse(readFileSync(path.join(killed, 'metrics.json'), 'utf8'));
    assert.equal(m2.accuracy, m1.accuracy);
  });

  it('--resume without checkpoints is a clear error; --save-total-limit keeps the newest', async () => {
    await assert.rejects(runTrain({ ...base(path.join(work, 'none')), resume: true }, quiet), /no checkpoint-N folder/);
    const out = path.join(work, 'limited');
    await runTrain({ ...base(out), epochs: 1, saveSteps: 2, saveTotalLimit: 2 }, quiet);
    assert.equal(listCheckpoints(out).length, 2);
  });

  it('early stopping ends training when the metric stops improving', async () => {
    const out = path.join(work, 'early');
    const lines: string[] = [];
    // metric = loss with a learning rate of 0: never improves after the first evaluation
    await runTrain({ ...base(out), epochs: 6, learningRate: 0, earlyStopping: 2, metricForBestModel: 'loss' }, (l) =>
      lines.push(l),
    );
    assert.ok(
      lines.some((l) => /early stopping: no improvement in loss for 2 evaluations/.test(l)),
      lines.join('\n'),
    );
    const evals = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((x) => x.type === 'eval');
    assert.equal(evals.length, 3);
  });

  it('class weights: balanced and from a file; grouped metrics', async () => {
    const ex = [
      { text: 'a', label: 0, row: 1 },
      { text: 'b', label: 0, row: 2 },
      { text: 'c', label: 0, row: 3 },
      { text: 'd', label: 1, row: 4 },
    ];
    assert.deepEqual(classWeightsFor('balanced', ex, ['x', 'y'], false), [4 / 6, 2]);
    const f = path.join(work, 'w.json');
    writeFileSync(f, JSON.stringify({ y: 3 }));
    assert.deepEqual(classWeightsFor(f, ex, ['x', 'y'], false), [1, 3]);
    writeFileSync(f, JSON.stringify({ z: 3 }));
    assert.throws(() => classWeightsFor(f, ex, ['x', 'y'], false), /labels the data does not have: z/);
    const out = path.join(work, 'grouped');
    const lines: string[] = [];
    await runTrain(
      { ...base(out), epochs: 1, classWeights: 'balanced', groupColumn: 'doc', groupRegex: '^(doc\\d+)_s', deid: true },
      (l) => lines.push(l),
    );
    assert.ok(
      lines.some((l) => /de-identified before tokenising \(--deid, operator tag\): \d+ PHI entities/.test(l)),
      lines.join('\n'),
    );
    const m = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    assert.equal(m.grouped.column, 'doc');
    assert.ok(m.grouped.groups > 0 && m.grouped.groups < m.n);
    assert.ok(existsSync(path.join(out, 'best_model', 'model.safetensors')));
  });

  it(
    'calibration is fitted on validation and saved; ' + 'metrics.json reports it; the saved model classifies the same',
    async () => {
      const out = path.join(work, 'calibrated');
      const lines: string[] = [];
      await runTrain({ ...base(out), epochs: 2, targetAccuracy: 0.2 }, (l) => lines.push(l));
      assert.ok(
        lines.some((l) => /^calibration \(fitted on \d+ validation rows\): temperature [0-9.]+$/.test(l)),
        lines.join('\n'),
      );
      assert.ok(
        lines.some((l) =>
          /^abstention \("refer to a clinician"\): .*below confidence [0-9.]+ \(target accuracy 0.2/.test(l),
        ),
        lines.join('\n'),
      );
      const cfg = JSON.parse(readFileSync(path.join(out, 'best_model', 'config.json'), 'utf8'));
      assert.ok(cfg.medtune.temperature > 0);
      assert.equal(cfg.medtune.abstain.source, 'target_accuracy');
      assert.ok(cfg.medtune.reference.n > 0 && cfg.medtune.training.data[0].sha256.length === 64);
      const m = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8'));
      for (const k of [
        'temperature',
        'ece_before',
        'ece_after',
        'mce_before',
        'mce_after',
        'brier_before',
        'brier_after',
        'nll_before',
        'nll_after',
      ]) {
        assert.equal(typeof m.calibration[k], 'number', k);
      }
      assert.equal(m.calibration.fitted_on, 'validation');
      assert.ok(
        m.selective.aurc >= 0 &&
          Array.isArray(m.selective.risk_coverage) &&
          typeof m.selective.accuracy_at_coverage['0.8'] === 'number',
      );
      assert.match(m.model.sha256, /^[0-9a-f]{64}$/);
      // the saved model through evaluate gives the metrics and probabilities that training reported
      await runEvaluate(
        {
          model: path.join(out, 'best_model'),
          test: trainCsv,
          outputDir: path.join(work, 'calibrated-eval'),
          maxLength: 48,
          batchSize: 16,
          leakageCheck: false,
        },
        quiet,
      );
      const trainedPreds = readFileSync(path.join(out, 'predictions.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const evalPreds = new Map(
        readFileSync(path.join(work, 'calibrated-eval', 'predictions.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
          .map((r) => [r.row, r]),
      );
      for (const r of trainedPreds.slice(0, 10)) {
        const e = evalPreds.get(r.row)!;
        for (const [l, p] of Object.entries(r.probabilities as Record<string, number>))
          assert.ok(Math.abs(p - e.probabilities[l]) < 1e-4, `row ${r.row} ${l}`);
        assert.equal(!!r.abstain, !!e.abstain);
      }
      const none = path.join(work, 'uncalibrated');
      const l2: string[] = [];
      await runTrain({ ...base(none), epochs: 1, calibrate: false }, (l) => l2.push(l));
      assert.equal(
        JSON.parse(readFileSync(path.join(none, 'best_model', 'config.json'), 'utf8')).medtune.temperature,
        undefined,
      );
      const l3: string[] = [];
      await runTrain(
        { ...base(path.join(work, 'noval')), epochs: 1, validationSplit: 0, test: testCsv, overwrite: true },
        (l) => l3.push(l),
      );
      assert.ok(l3.some((l) => /^calibration: no validation split to fit it on/.test(l)));
    },
  );

  it(
    'continual learning: the parent label map is kept, ' + 'the head loads by name, replay and forgetting are reported',
    async () => {
      const parent = path.join(work, 'full', 'best_model');
      const parentLabels = JSON.parse(readFileSync(path.join(parent, 'config.json'), 'utf8')).id2label;
      // corrections: a few rows, two labels only, in another file order
      const corr = path.join(work, 'corrections.csv');
      writeFileSync(
        corr,
        'text,label\n' +
          syntheticSymptoms(3, 77)
            .filter((r) => r.label === 'Migraine' || r.label === 'Influenza')
            .map((r) => `"${r.text}",${r.label}`)
            .join('\n') +
          '\n',
      );
      const out = path.join(work, 'continued');
      const lines: string[] = [];
      await runTrain(
        {
          ...base(out),
          model: parent,
          train: corr,
          epochs: 1,
          validationSplit: 0,
          test: testCsv,
          replay: trainCsv,
          replayFraction: 0.3,
          oldTest: trainCsv,
        },
        (l) => lines.push(l),
      );
      assert.ok(
        lines.some((l) => /continuing from a fine-tuned classifier: its 21 labels are kept in their order/.test(l)),
        lines.join('\n'),
      );
      assert.ok(lines.some((l) => /--replay: \d+ of 168 rows/.test(l)));
      assert.ok(lines.some((l) => /classification head loaded by label name: 21 labels kept/.test(l)));
      assert.deepEqual(
        JSON.parse(readFileSync(path.join(out, 'best_model', 'config.json'), 'utf8')).id2label,
        parentLabels,
        "the label map is the parent's",
      );
      const m = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8'));
      assert.equal(typeof m.continual.old_test.accuracy_before, 'number');
      assert.equal(typeof m.continual.old_test.forgetting, 'number');
      assert.equal(typeof m.continual.new_data.accuracy_after, 'number');
      const cfg = JSON.parse(readFileSync(path.join(out, 'best_model', 'config.json'), 'utf8'));
      assert.match(cfg.medtune.parent_sha256, /^[0-9a-f]{64}$/);
      // a label the parent lacks is refused unless --add-labels, which grows the head
      const extra = path.join(work, 'new-label.csv');
      writeFileSync(
        extra,
        'text,label\nsudden ringing in both ears,Tinnitus\nringing ears after a concert,Tinnitus\n' +
          'fever and chills,Influenza\n',
      );
      await assert.rejects(
        runTrain(
          {
            ...base(path.join(work, 'grow-refused')),
            model: parent,
            train: extra,
            epochs: 1,
            validationSplit: 0,
            test: testCsv,
          },
          quiet,
        ),
        /does not have: Tinnitus; pass --add-labels/,
      );
      const grown = path.join(work, 'grown');
      await runTrain(
        {
          ...base(grown),
          model: parent,
          train: extra,
          epochs: 1,
          validationSplit: 0,
          test: testCsv,
          addLabels: true,
          replay: trainCsv,
        },
        quiet,
      );
      const g = JSON.parse(readFileSync(path.join(grown, 'best_model', 'config.json'), 'utf8')).id2label;
      assert.equal(Object.keys(g).length, 22);
      assert.equal(g['21'], 'Tinnitus');
      assert.deepEqual(Object.fromEntries(Object.entries(g).slice(0, 21)), parentLabels);
    },
  );

  it('medtune evaluate writes metrics, flagged predictions and an SVG confusion matrix', async () => {
    const out = path.join(work, 'eval');
    const metrics = await runEvaluate(
      {
        model: path.join(work, 'full', 'best_model'),
        test: testCsv,
        outputDir: out,
        threshold: 0.5,
        maxLength: 48,
        batchSize: 16,
      },
      quiet,
    );
    assert.equal(typeof metrics.accuracy, 'number');
    assert.ok(typeof metrics.roc_auc_ovr === 'number');
    const rows = readFileSync(path.join(out, 'predictions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(rows.length, 42);
    assert.equal(rows.filter((r) => !r.correct).length, Math.round(42 * (1 - (metrics.accuracy as number))));
    // the model's own training rows are refused as test rows (they would inflate every metric)
    await assert.rejects(
      runEvaluate(
        { model: path.join(work, 'full', 'best_model'), test: trainCsv, outputDir: out, maxLength: 48 },
        quiet,
      ),
      (e: Error & { code?: string }) => e.code === 'E_LEAKAGE' && /were trained on by this model/.test(e.message),
    );
    assert.match(
      readFileSync(path.join(out, 'confusion_matrix.svg'), 'utf8'),
      /^<svg[\s\S]*Confusion matrix[\s\S]*<\/svg>$/,
    );
  });
});
