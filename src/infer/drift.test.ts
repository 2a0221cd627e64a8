// Drift scores: PSI on known distributions, the reference of a set of decisions, and the sliding window.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DriftWindow, psi, referenceFrom, DRIFT_ALERT } from './drift.js';
import { decideFromProbabilities } from './decision.js';

const labels = ['a', 'b', 'c'];
const single = (p: number[]) => decideFromProbabilities(p, { labels, multiLabel: false });

describe('drift', () => {
  it('PSI: zero for equal distributions, the textbook value otherwise, symmetric', () => {
    assert.equal(psi({ a: 0.5, b: 0.5 }, { a: 0.5, b: 0.5 }), 0);
    const expected = (0.7 - 0.5) * Math.log(0.7 / 0.5) + (0.3 - 0.5) * Math.log(0.3 / 0.5);
    assert.ok(Math.abs(psi({ a: 0.7, b: 0.3 }, { a: 0.5, b: 0.5 }) - expected) < 1e-12);
    assert.ok(Math.abs(psi([0.7, 0.3], [0.5, 0.5]) - psi([0.5, 0.5], [0.7, 0.3])) < 1e-12);
    assert.ok(psi({ a: 1 }, { b: 1 }) > 5, 'disjoint distributions are far apart (smoothed, finite)');
  });

  it('the reference counts labels and confidence bins', () => {
    const ref = referenceFrom([single([0.9, 0.05, 0.05]), single([0.2, 0.7, 0.1]), single([0.95, 0.03, 0.02])], labels);
    assert.deepEqual(ref.labels, { a: 2 / 3, b: 1 / 3 });
    assert.equal(ref.confidence.length, 10);
    assert.ok(Math.abs(ref.confidence.reduce((s, v) => s + v, 0) - 1) < 1e-12);
    assert.equal(ref.confidence[9], 2 / 3);
    assert.equal(ref.n, 3);
    const multi = referenceFrom(
      [
        decideFromProbabilities([0.9, 0.8, 0.1], { labels, multiLabel: true }),
        decideFromProbabilities([0.1, 0.2, 0.1], { labels, multiLabel: true }),
      ],
      labels,
    );
    assert.deepEqual(multi.labels, { a: 1 / 3, b: 1 / 3, '(none)': 1 / 3 });
  });

  it('a window like the reference does not alert; a shifted one does', () => {
    const ref = referenceFrom(
      Array.from({ length: 300 }, (_, i) =>
        single(i % 3 === 0 ? [0.8, 0.1, 0.1] : i % 3 === 1 ? [0.1, 0.8, 0.1] : [0.1, 0.1, 0.8]),
      ),
      labels,
    );
    const same = new DriftWindow(ref, labels, 200);
    for (let i = 0; i < 300; i++)
      same.add(single(i % 3 === 0 ? [0.8, 0.1, 0.1] : i % 3 === 1 ? [0.1, 0.8, 0.1] : [0.1, 0.1, 0.8]));
    assert.equal(same.count, 200, 'the window keeps the last 200');
    assert.ok(same.scores()!.label_psi < 0.01 && !same.scores()!.alert);
    const shifted = new DriftWindow(ref, labels, 200);
    for (let i = 0; i < 200; i++) shifted.add(single([0.45, 0.35, 0.2]));
    const s = shifted.scores()!;
    assert.ok(s.label_psi >= DRIFT_ALERT && s.confidence_psi >= DRIFT_ALERT && s.alert);
    assert.equal(new DriftWindow(null, labels).scores(), null, 'no reference, no score');
    assert.equal(new DriftWindow(ref, labels).scores(), null, 'too few predictions');
  });
});
