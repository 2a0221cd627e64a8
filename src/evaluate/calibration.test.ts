// Known answers: ECE of a hand-made set, temperature scaling recovering the temperature that generated the labels,
// the F1-threshold search, risk–coverage and the threshold for a target accuracy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  fitThresholds,
  MIN_THRESHOLD_POSITIVES,
  bestF1Threshold,
  calibrationMetrics,
  fitTemperature,
  selectiveMetrics,
  softmaxT,
  thresholdForAccuracy,
} from './calibration.js';
import { Generator } from '../tensor/random.js';

describe('calibration', () => {
  it('ECE, MCE, Brier and NLL of a hand-made set', () => {
    // 4 predictions: confidence 0.9 (right, right, wrong) in one bin, 0.6 (right) in another
    const probs = [
      [0.9, 0.1],
      [0.9, 0.1],
      [0.9, 0.1],
      [0.4, 0.6],
    ];
    const gold = [0, 0, 1, 1];
    const m = calibrationMetrics(probs, gold);
    // bin of 0.9: accuracy 2/3, confidence 0.9 → |gap| 0.2333, weight 3/4;
    // bin of 0.6: accuracy 1, confidence 0.6 → 0.4, weight 1/4
    assert.ok(Math.abs(m.ece - (0.75 * (0.9 - 2 / 3) + 0.25 * 0.4)) < 1e-12, String(m.ece));
    assert.ok(Math.abs(m.mce - 0.4) < 1e-12);
    const brier = (2 * (0.1 ** 2 + 0.1 ** 2) + (0.9 ** 2 + 0.9 ** 2) + (0.4 ** 2 + 0.4 ** 2)) / 4;
    assert.ok(Math.abs(m.brier - brier) < 1e-12);
    assert.ok(Math.abs(m.nll - -(2 * Math.log(0.9) + Math.log(0.1) + Math.log(0.6)) / 4) < 1e-12);
  });

  it('temperature scaling recovers the temperature that generated the labels (T = 2.5 → within ±0.05)', () => {
    const g = new Generator(7);
    const logits: number[][] = [];
    const gold: number[] = [];
    for (let i = 0; i < 20000; i++) {
      const z = Array.from({ length: 5 }, () => 4 * g.normal());
      const p = softmaxT(z, 2.5);
      let u = g.uniform();
      let y = 0;
      while (y < 4 && (u -= p[y]!) > 0) y++;
      logits.push(z);
      gold.push(y);
    }
    const T = fitTemperature(logits, gold);
    assert.ok(Math.abs(T - 2.5) <= 0.05, `fitted T = ${T}`);
    const before = calibrationMetrics(
      logits.map((z) => softmaxT(z, 1)),
      gold,
    );
    const after = calibrationMetrics(
      logits.map((z) => softmaxT(z, T)),
      gold,
    );
    assert.ok(after.nll < before.nll && after.ece < before.ece);
    assert.throws(
      () =>
        fitTemperature(
          [
            [1, 0],
            [2, 0],
          ],
          [0, 0],
        ),
      /only one class/,
    );
  });

  it('per-label threshold maximising F1 on a hand-made score list', () => {
    // positives at 0.9, 0.7, 0.35; negatives at 0.8, 0.3, 0.1: best is to take the top 2 positives... check by hand
    const scores = [0.9, 0.8, 0.7, 0.35, 0.3, 0.1];
    const gold = [1, 0, 1, 1, 0, 0];
    const r = bestF1Threshold(scores, gold);
    // thresholds: top1 F1 0.5, top2 0.4, top3 0.8, top4 (incl. 0.35) 6/7 = 0.857, top5 0.75, top6 0.667
    assert.ok(Math.abs(r.f1 - 6 / 7) < 1e-12, String(r.f1));
    assert.ok(r.threshold > 0.3 && r.threshold < 0.35);
    assert.deepEqual(bestF1Threshold([0.2, 0.1], [0, 0]), { threshold: 0.5, f1: 0 });
  });

  it('labels with too few validation positives share one threshold; the others get their own', () => {
    // label a: 6 positives scored 0.3 among negatives scored 0.1 → its own threshold near 0.2
    // label b: 1 positive → the shared threshold, fitted on every score pooled
    const probs = Array.from({ length: 12 }, (_, i) => [i < 6 ? 0.3 : 0.1, i === 0 ? 0.9 : 0.05]);
    const gold = Array.from({ length: 12 }, (_, i) => [i < 6 ? 1 : 0, i === 0 ? 1 : 0]);
    const t = fitThresholds(probs, gold, ['a', 'b']);
    assert.equal(MIN_THRESHOLD_POSITIVES, 5);
    assert.deepEqual(t.positives, [6, 1]);
    assert.ok(t.thresholds.a! > 0.1 && t.thresholds.a! < 0.3);
    assert.equal(t.thresholds.b, t.shared);
  });
  it('risk–coverage, AURC, accuracy at coverage, and the threshold for a target accuracy', () => {
    const conf = [0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2];
    const correct = [true, true, true, true, false, true, false, true, false, false];
    const s = selectiveMetrics(conf, correct);
    assert.equal(s.accuracy_at_coverage['1.0'], 0.6);
    assert.equal(s.accuracy_at_coverage['0.8'], 6 / 8);
    const risks = [0, 0, 0, 0, 1 / 5, 1 / 6, 2 / 7, 2 / 8, 3 / 9, 4 / 10];
    assert.ok(Math.abs(s.aurc - risks.reduce((a, b) => a + b, 0) / 10) < 1e-12);
    assert.deepEqual(s.risk_coverage.at(-1), [1, 0.4]);
    const t = thresholdForAccuracy(conf, correct, 0.8);
    // coverage 6 (acc 5/6 = 0.833) is the largest reaching 0.8 (7: 5/7, 8: 6/8 = 0.75)
    // the threshold lies midway between the last accepted and the first refused confidence
    assert.deepEqual(t, { threshold: 0.55, coverage: 0.6, accuracy: 5 / 6 });
    assert.equal(thresholdForAccuracy(conf, correct, 1).threshold, 0.75);
    assert.throws(
      () => thresholdForAccuracy([0.9, 0.8], [false, false], 0.9),
      /no abstention threshold reaches accuracy 0\.9/,
    );
  });
});
