// The out-of-scope detector with known answers: the inverse of a hand-made matrix; on Gaussian clusters with a known
// covariance the fitted distance matches the true Mahalanobis distance and separates far points; the threshold keeps
// the asked share; ood.safetensors round-trips and a changed file is refused. The decision: an out-of-scope note
// abstains first, a request's null never abstains; texts without a letter or digit are told apart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fitDetector, fitMahalanobis, invertSpd, keepThreshold, OodDetector } from './ood.js';
import { decide, decideFromProbabilities, withAbstention, type DecisionSettings } from './decision.js';
import { checkHasWords, hasWords } from './input.js';
import { Generator } from '../tensor/random.js';
import { OOD_FILE, versionOf } from '../models/metadata.js';

/** n points around `mean` with independent coordinates of standard deviation `sd`. */
function cluster(g: Generator, mean: number[], sd: number[], n: number): number[][] {
  return Array.from({ length: n }, () => mean.map((m, i) => m + sd[i]! * g.normal()));
}

describe('out-of-scope detector', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-ood-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('invertSpd inverts a symmetric positive-definite matrix', () => {
    const a = Float64Array.from([4, 2, 0, 2, 3, 1, 0, 1, 2]);
    const inv = invertSpd(a, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += a[i * 3 + k]! * inv[k * 3 + j]!;
        assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-12, `(${i}, ${j})`);
      }
  });

  it('the fitted distance is the Mahalanobis distance of the clusters; far points are far', () => {
    const g = new Generator(5);
    const sd = [1, 3, 0.5, 2];
    const a = cluster(g, [0, 0, 0, 0], sd, 4000);
    const b = cluster(g, [10, -10, 5, 0], sd, 4000);
    const fit = fitMahalanobis([...a, ...b], [...a.map(() => 0), ...b.map(() => 1)]);
    assert.equal(fit.classes, 2);
    assert.ok(fit.shrinkage >= 0 && fit.shrinkage < 0.05, `little shrinkage with many rows: ${fit.shrinkage}`);
    const d = new OodDetector(fit, 1);
    const truth = (x: number[], m: number[]) => Math.sqrt(x.reduce((s, v, i) => s + ((v - m[i]!) / sd[i]!) ** 2, 0));
    for (const x of [
      [1, 1, 1, 1],
      [9, -8, 5, 1],
      [-3, 6, 0, 2],
    ]) {
      const want = Math.min(truth(x, [0, 0, 0, 0]), truth(x, [10, -10, 5, 0]));
      assert.ok(Math.abs(d.distance(x) - want) / want < 0.05, `${x}: ${d.distance(x)} vs ${want}`);
    }
    // the threshold keeping 95 % of fresh in-distribution points leaves far points out
    const fresh = cluster(new Generator(6), [0, 0, 0, 0], sd, 1000);
    const th = keepThreshold(
      fresh.map((x) => d.distance(x)),
      0.95,
    );
    const kept = fresh.filter((x) => d.distance(x) <= th).length / fresh.length;
    assert.ok(Math.abs(kept - 0.95) < 0.005, `kept ${kept}`);
    assert.ok(d.distance([40, 40, 40, 40]) > 3 * th);
  });

  it('with fewer rows than features the shrunk covariance still inverts', () => {
    const g = new Generator(9);
    const rows = cluster(g, new Array(50).fill(0), new Array(50).fill(1), 20);
    const fit = fitMahalanobis(
      rows,
      rows.map(() => 0),
    );
    assert.ok(fit.shrinkage > 0.2, `${fit.shrinkage}`);
    assert.ok(Number.isFinite(new OodDetector(fit, 1).distance(rows[0]!)));
  });

  it('keepThreshold keeps the asked share; ood.safetensors round-trips and a changed file is refused', () => {
    assert.equal(keepThreshold([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(keepThreshold([1, 2, 3, 4], 1), 4.1);
    const g = new Generator(3);
    const train = cluster(g, [0, 0, 0], [1, 1, 1], 300);
    const validation = cluster(g, [0, 0, 0], [1, 1, 1], 100);
    const fitted = fitDetector({ train, classOf: train.map(() => 0), validation, features: 'mean' });
    assert.equal(fitted.validationScores.filter((s) => s <= 1).length, 95);
    const sha256 = fitted.detector.write(dir);
    const settings = { ...fitted.settings, sha256 };
    const back = OodDetector.read(dir, settings)!;
    for (const x of validation.slice(0, 5)) assert.ok(Math.abs(back.score(x) - fitted.detector.score(x)) < 1e-6);
    assert.equal(OodDetector.read(dir, undefined), null);
    writeFileSync(path.join(dir, OOD_FILE), 'not the detector');
    assert.throws(() => OodDetector.read(dir, settings), /sha256 differs.*medtune calibrate --ood-data/);
  });

  it('the version names the weights and the decision: another threshold, another version', () => {
    const sha = 'a'.repeat(64);
    assert.equal(versionOf(sha, {}), sha.slice(0, 12), 'no decision settings: the weights hash');
    const v1 = versionOf(sha, { temperature: 0.5, abstain: { below: 0.3 } });
    const v2 = versionOf(sha, { abstain: { below: 0.3 }, temperature: 0.5 });
    const v3 = versionOf(sha, { temperature: 0.5, abstain: { below: 0.4 } });
    assert.equal(v1, v2, 'key order does not matter');
    assert.notEqual(v1, v3);
    assert.equal(versionOf(sha, { version: 'v2', temperature: 0.5 }), 'v2');
  });
});

describe('decision with scope', () => {
  const s: DecisionSettings = {
    labels: ['a', 'b'],
    multiLabel: false,
    abstainBelow: 0.8,
    abstainOutOfScope: true,
  };

  it('out of scope abstains before low confidence; in scope and confident answers', () => {
    const out = decideFromProbabilities([0.6, 0.4], s, 1.5);
    assert.deepEqual([out.abstain, out.abstainReason, out.inScope, out.predicted], [true, 'out_of_scope', false, 0]);
    const unsure = decideFromProbabilities([0.6, 0.4], s, 0.5);
    assert.deepEqual([unsure.abstain, unsure.abstainReason, unsure.inScope], [true, 'low_confidence', true]);
    const sure = decideFromProbabilities([0.9, 0.1], s, 0.5);
    assert.deepEqual([sure.abstain, sure.abstainReason], [false, null]);
    assert.equal(decide([3, 0], s).inScope, true, 'no detector: in scope');
  });

  it('a request null never abstains, a number abstains below it and out of scope', () => {
    const never = withAbstention(s, null);
    const d = decideFromProbabilities([0.6, 0.4], never, 3);
    assert.deepEqual([d.abstain, d.inScope, d.oodScore], [false, false, 3]);
    const zero = withAbstention({ ...s, abstainOutOfScope: false }, 0);
    assert.equal(decideFromProbabilities([0.6, 0.4], zero, 3).abstainReason, 'out_of_scope');
    assert.equal(decideFromProbabilities([0.6, 0.4], zero, 0.2).abstain, false);
  });

  it('texts without a letter or digit are told apart, in any script', () => {
    for (const t of ['fever', 'Fieber 39', 'حمى', '发烧', '3']) assert.equal(hasWords(t), true, t);
    for (const t of ['', '  ', '\u200b\u200c', '\ufeff', '...', '\u0007', '—•', '🤒'])
      assert.equal(hasWords(t), false, t);
    assert.throws(() => checkHasWords(['fever', '\u200b'], true), /^MedtuneError: text 2 has no letter or digit/);
  });
});
