// The retraining loop from reviews: train holds out a review split and records the rows of every split; the review
// queue draws from that split (never from the test set of a training run); retraining on 6 corrections validates and
// calibrates on the parent's validation rows too (not on the corrections alone), never replays a held-out row, and
// names real row numbers in its leakage lines; evaluating a model on rows it was trained on — reviewed corrections
// included — is refused; too few validation rows are refused.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTrain, type TrainOptions } from './run.js';
import { MIN_RETRAIN_VALIDATION } from './retrain.js';
import { runEvaluate } from '../evaluate/run.js';
import { openReview, readCases, runReviewExport } from '../evaluate/reviews.js';
import { parseRowSet } from '../data/leakage.js';
import { syntheticSymptoms } from '../demo/synthetic.js';
import { tinyDemoModel, tinyTrainOptions } from '../testing-fixtures.js';

const csv = (rows: { text: string; label: string }[]) =>
  'text,label\n' + rows.map((r) => `"${r.text}",${r.label}`).join('\n') + '\n';
const config = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
const refused = (code: string, re: RegExp) => (e: Error & { code?: string }) => e.code === code && re.test(e.message);

describe('retraining from reviewed corrections', () => {
  let dir: string;
  const file = (name: string) => path.join(dir, name);
  /** Six cases of a run folder's review queue marked "gold is right" by one reviewer, exported as corrections. */
  const correct6 = (run: string, out: string) => {
    const r = openReview(run);
    for (const c of r.cases.slice(0, 6))
      r.store.add({
        case_id: c.id,
        reviewer: 'ann',
        verdict: 'gold',
        label: c.gold as string,
        comment: null,
        model_sha256: null,
      });
    r.store.close();
    assert.equal(runReviewExport({ db: path.join(run, 'reviews.sqlite'), output: out, log: () => {} }).rows, 6);
  };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-retrain-'));
    const rows = syntheticSymptoms(12, 3);
    writeFileSync(file('train.csv'), csv(rows));
    // the test file holds copies of five training rows: the leakage lines must name them by real row numbers
    writeFileSync(file('test.csv'), csv([...syntheticSymptoms(2, 11), ...rows.slice(0, 5)]));
    writeFileSync(file('heldout.csv'), csv(syntheticSymptoms(2, 21)));
    tinyDemoModel(
      file('init'),
      rows.map((r) => r.text),
    );
    await runTrain(
      tinyTrainOptions({ model: file('init'), train: file('train.csv'), outputDir: file('run'), reviewSplit: 0.1 }),
      () => {},
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('train holds out a review split and records the rows of every split; the queue draws from it', async () => {
    const training = config(file('run/best_model')).medtune.training;
    const split = (s: string) => training.data.find((d: { split: string }) => d.split === s);
    const validation = parseRowSet(split('validation').row_ids);
    const review = parseRowSet(split('review').row_ids);
    assert.ok(validation.size > 20 && review.size > 10, JSON.stringify(training.data));
    assert.ok(
      [...review].every((r) => !validation.has(r)),
      'review rows are not validation rows',
    );
    const trained = training.trained_on[0];
    assert.equal(trained.as, 'training rows');
    assert.deepEqual(parseRowSet(trained.except), new Set([...validation, ...review]));
    assert.ok(existsSync(file('run/review_predictions.jsonl')));
    const cases = readCases(file('run'));
    assert.ok(cases.length > 0 && cases.every((c) => review.has(c.id)), 'cases are review rows');
    // a training run without a review split: its predictions are its test rows, not a review queue
    await runTrain(
      tinyTrainOptions({
        model: file('init'),
        train: file('train.csv'),
        test: file('heldout.csv'),
        outputDir: file('plain'),
      }),
      () => {},
    );
    assert.throws(() => readCases(file('plain')), /training run without a review split.*--review-split/);
  });

  it('6 corrections: validation and calibration include the parent validation rows; none replayed', async () => {
    correct6(file('run'), file('corrections.csv'));
    const lines: string[] = [];
    await runTrain(
      tinyTrainOptions({
        model: file('run/best_model'),
        train: file('corrections.csv'),
        replay: file('train.csv'),
        replayFraction: 1,
        validationSplit: 0.1,
        test: file('test.csv'),
        epochs: 1,
        outputDir: file('retrained'),
      }),
      (l) => lines.push(l),
    );
    const parentRows = Number(/the parent model's (\d+) validation rows/.exec(lines.join('\n'))?.[1]);
    const fittedOn = Number(/calibration \(fitted on (\d+) validation rows\)/.exec(lines.join('\n'))?.[1]);
    assert.ok(parentRows > 20, lines.join('\n'));
    assert.ok(fittedOn >= parentRows && fittedOn > 6 && fittedOn >= MIN_RETRAIN_VALIDATION, lines.join('\n'));
    assert.ok(lines.some((l) => /the parent's \d+ held-out validation\/review rows left out/.test(l)));
    // the leakage line names the replayed copies by their real row numbers
    const leak = lines.find((l) => l.startsWith('leakage check:') && l.includes(' test rows'))!;
    assert.match(leak, /test row \d+ ~ replay row [1-5] \(exact\)/);
    assert.doesNotMatch(leak, /row -\d/);
    const training = config(file('retrained/best_model')).medtune.training;
    const parent = config(file('run/best_model')).medtune.training;
    const reviewed = training.trained_on.find((t: { as: string }) => t.as === 'reviewed corrections');
    assert.equal(parseRowSet(reviewed.rows).size, 6);
    const replayed = parseRowSet(training.data.find((d: { split: string }) => d.split === 'replay').row_ids);
    const heldOut = parseRowSet(parent.trained_on[0].except);
    assert.ok(
      [...replayed].every((r) => !heldOut.has(r)),
      'no held-out row of the parent is replayed',
    );
  });

  it('evaluating on rows the model was trained on, reviewed corrections included, is refused', async () => {
    // reviews of an evaluation run on heldout.csv, exported and trained on
    await runEvaluate(
      { model: file('run/best_model'), test: file('heldout.csv'), outputDir: file('eval'), maxLength: 48 },
      () => {},
    );
    correct6(file('eval'), file('corrections-eval.csv'));
    const retrain = (o: Partial<TrainOptions>) =>
      runTrain(
        tinyTrainOptions({
          model: file('run/best_model'),
          train: file('corrections-eval.csv'),
          validationSplit: 0, // every correction is trained on; validation: the parent's rows
          epochs: 1,
          ...o,
        } as TrainOptions),
        () => {},
      );
    await assert.rejects(
      retrain({ outputDir: file('refused'), test: file('heldout.csv') }),
      refused('E_LEAKAGE', /6 of the \d+ test rows of .*heldout\.csv .* were trained on .*reviewed corrections/),
    );
    await retrain({ outputDir: file('retrained-eval'), test: file('test.csv') });
    await assert.rejects(
      runEvaluate(
        { model: file('retrained-eval/best_model'), test: file('heldout.csv'), outputDir: file('e2'), maxLength: 48 },
        () => {},
      ),
      refused('E_LEAKAGE', /6 of the \d+ test rows .* \(as reviewed corrections\)/),
    );
    // its parent's training rows are refused too (the lineage), and the parent's validation rows are not
    await assert.rejects(
      runEvaluate(
        { model: file('retrained-eval/best_model'), test: file('train.csv'), outputDir: file('e3'), maxLength: 48 },
        () => {},
      ),
      refused('E_LEAKAGE', /as training rows/),
    );
  });

  it(`fewer than ${MIN_RETRAIN_VALIDATION} validation rows: retraining is refused with a clear message`, async () => {
    renameSync(file('train.csv'), file('moved.csv')); // the parent's validation rows can no longer be read
    await assert.rejects(
      runTrain(
        tinyTrainOptions({
          model: file('run/best_model'),
          train: file('corrections.csv'),
          validationSplit: 0.1,
          epochs: 1,
          outputDir: file('too-few'),
        }),
        () => {},
      ),
      refused('E_NO_EVAL_DATA', /on [0-6] validation rows \(0 of them the parent's\); at least 20 are needed/),
    );
  });
});
