// Metrics against values computed by hand (and matching sklearn's definitions).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { binaryAuc, groupPredictions, multiLabelMetrics, rankingMetrics, singleLabelMetrics } from './metrics.js';
import { lrLambda } from '../train/schedule.js';
import { assertClose } from '../tensor/testing.js';

describe('metrics', () => {
  it('single-label: accuracy, per-class, macro and weighted F1, confusion matrix', () => {
    // gold: a a a b b c ; pred: a a b b c c
    const m = singleLabelMetrics([0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 2], ['a', 'b', 'c']);
    assert.equal(m.accuracy, 4 / 6);
    assert.deepEqual(m.confusion, [
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    // a: P 2/2 R 2/3 F1 0.8; b: P 1/2 R 1/2 F1 0.5; c: P 1/2 R 1 F1 2/3
    assertClose(
      m.per_class.map((r) => r.f1),
      [0.8, 0.5, 2 / 3],
    );
    assertClose([m.f1_macro], [(0.8 + 0.5 + 2 / 3) / 3]);
    assertClose([m.f1_weighted], [(0.8 * 3 + 0.5 * 2 + (2 / 3) * 1) / 6]);
    assertClose([m.precision_macro], [(1 + 0.5 + 0.5) / 3]);
  });
  it('a class never predicted has precision 0, not NaN', () => {
    const m = singleLabelMetrics([0, 0], [0, 1], ['a', 'b']);
    assert.equal(m.per_class[1]!.precision, 0);
    assert.equal(m.per_class[1]!.f1, 0);
  });
  it('multi-label: micro/macro F1 and subset accuracy', () => {
    const m = multiLabelMetrics(
      [
        [1, 0],
        [1, 1],
        [0, 0],
      ],
      [
        [1, 0],
        [0, 1],
        [0, 1],
      ],
      ['x', 'y'],
    );
    // x: tp1 fp1 fn0 -> F1 2/3; y: tp1 fp0 fn1 -> F1 2/3; micro: tp2 fp1 fn1 -> 4/6
    assertClose([m.f1_micro, m.f1_macro, m.subset_accuracy], [2 / 3, 2 / 3, 1 / 3]);
  });
});

describe('multi-label ranking metrics and unseen labels', () => {
  it('ROC-AUC: rank statistic with ties averaged; null without both classes', () => {
    assert.equal(binaryAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
    assert.equal(binaryAuc([0.5, 0.5], [0, 1]), 0.5);
    assert.equal(binaryAuc([0.2, 0.3], [1, 1]), null);
  });
  it('P@k: the share of each text’s k best-scored labels that are right (CAML), micro and macro AUC', () => {
    const C = 16;
    const probs = [Array.from({ length: C }, (_, c) => 1 - c / C), Array.from({ length: C }, (_, c) => c / C)];
    const gold = [
      Array.from({ length: C }, (_, c) => (c < 4 ? 1 : 0)),
      Array.from({ length: C }, (_, c) => (c === 0 ? 1 : 0)),
    ];
    const m = rankingMetrics(probs, gold);
    assertClose([m.precision_at_5!], [(4 / 5 + 0) / 2]);
    assertClose([m.precision_at_8!], [(4 / 8 + 0) / 2]);
    assertClose([m.precision_at_15!], [(4 / 15 + 0) / 2]);
    assert.ok(m.roc_auc_macro! >= 0 && m.roc_auc_macro! <= 1);
    assert.ok(m.roc_auc_micro! > 0.5);
  });
  it('labels the model does not know count as misses in every metric', () => {
    const pred = [
      [1, 0],
      [0, 1],
    ];
    const gold = [
      [1, 0],
      [0, 1],
    ];
    const probabilities = [
      [0.9, 0.1],
      [0.2, 0.8],
    ];
    const known = multiLabelMetrics(pred, gold, ['a', 'b'], { probabilities });
    assert.equal(known.f1_micro, 1);
    assert.equal(known.roc_auc_micro, 1);
    const m = multiLabelMetrics(pred, gold, ['a', 'b'], { probabilities, unseen: [['z'], undefined] });
    assert.equal(m.unseen_labels, 1);
    assert.equal(m.recall_micro, 2 / 3);
    assert.equal(m.subset_accuracy, 0.5);
    assert.equal(m.per_label.at(-1)!.label, 'z');
    assert.equal(m.per_label.at(-1)!.recall, 0);
    assert.ok(m.f1_macro < 1 && m.roc_auc_micro! < 1);
  });
});

describe('grouped metrics', () => {
  // two abstracts of two sentences each, two labels; the model's tuned thresholds were 0.2 for label 0, 0.9 for 1
  const groups = ['a', 'a', 'b', 'b'];
  const gold = [
    [1, 0],
    [0, 0],
    [0, 1],
    [0, 0],
  ];
  const probs = [
    [0.3, 0.6],
    [0.1, 0.1],
    [0.1, 0.95],
    [0.25, 0.2],
  ];
  const decided = probs.map((p) => [p[0]! >= 0.2 ? 1 : 0, p[1]! >= 0.9 ? 1 : 0]);

  it("multi-label: the union of the rows' own decisions (their per-label thresholds), not 0.5 again", () => {
    const g = groupPredictions(groups, gold, probs, { multi: true, predictions: decided });
    assert.deepEqual(g.keys, ['a', 'b']);
    assert.deepEqual(g.gold, [
      [1, 0],
      [0, 1],
    ]);
    assert.deepEqual(g.pred, [
      [1, 0],
      [1, 1],
    ]);
    // without the decisions, a scalar threshold decides: label 0 is missed in a, label 1 wrongly found in a
    assert.deepEqual(groupPredictions(groups, gold, probs, { multi: true, threshold: 0.5 }).pred, [
      [0, 1],
      [0, 1],
    ]);
  });

  it('single-label: the argmax of the mean probability, gold the most frequent row label', () => {
    const g = groupPredictions(
      ['x', 'x', 'x'],
      [1, 1, 0],
      [
        [0.6, 0.4],
        [0.3, 0.7],
        [0.2, 0.8],
      ],
      { multi: false },
    );
    assert.deepEqual(g, { keys: ['x'], gold: [1], pred: [1] });
  });
});

describe('learning-rate schedules', () => {
  it('linear with warm-up matches HF (1 warm-up step of 4)', () => {
    const f = lrLambda({ name: 'linear', totalSteps: 4, warmup: 1 });
    assertClose([0, 1, 2, 3, 4].map(f), [0, 1, 2 / 3, 1 / 3, 0]);
  });
  it('warm-up as a ratio, cosine and constant', () => {
    const c = lrLambda({ name: 'cosine', totalSteps: 10, warmup: 0.2 });
    assertClose([c(0), c(1), c(2), c(6), c(10)], [0, 0.5, 1, 0.5, 0]);
    const k = lrLambda({ name: 'constant', totalSteps: 10 });
    assertClose([k(0), k(9)], [1, 1]);
  });
});
