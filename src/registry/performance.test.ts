// Confidence-based performance estimation (CBPE) against the truth: a classifier that is calibrated by construction
// (each note's true label is drawn from the probabilities the model gives it) serves windows of notes whose true
// labels are all known and reviewed. The estimate's interval covers the actual accuracy about 95 % of the time; when
// the notes get harder and the model stays calibrated, the estimate follows the drop before any review; when the
// labels change and the notes do not (concept shift), the estimate stays high while the reviewed accuracy falls —
// the case CBPE cannot see. And the alert says which figure fired; multi-label models get no estimate.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CaseRecord, ReviewRecord } from './capture-store.js';
import { estimatedOf, performanceOf, type PerformanceReport } from './performance.js';
import type { ServedState } from './served-reviews.js';
import { rng } from './stats.js';

const LABELS = ['asthma', 'flu', 'migraine', 'psoriasis', 'varicella'];
const NOW = Date.parse('2026-12-01T12:00:00Z');

interface Note {
  probabilities: Record<string, number>;
  predicted: string;
  truth: string;
}

/** A normal draw (Box–Muller) from a seeded generator. */
const normal = (next: () => number) => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());

/**
 * Notes served to a calibrated model: logits ~ N(0, spread²) per label, p = softmax, the answer argmax p, the truth
 * drawn from p (so P(truth = k | p) = p_k: calibrated). A smaller spread: harder notes, flatter probabilities.
 * `relabel`: the truth renamed afterwards (concept shift: the notes and the model's answers do not change).
 */
function serve(n: number, o: { seed: number; spread: number; relabel?: Record<string, string> }): Note[] {
  const next = rng(o.seed);
  return Array.from({ length: n }, () => {
    const z = LABELS.map(() => o.spread * normal(next));
    const e = z.map((v) => Math.exp(v - Math.max(...z)));
    const p = e.map((v) => v / e.reduce((a, b) => a + b, 0));
    const predicted = LABELS[p.indexOf(Math.max(...p))]!;
    let u = next();
    const drawn = LABELS[p.findIndex((pk) => (u -= pk) < 0)] ?? LABELS[LABELS.length - 1]!;
    const probabilities = Object.fromEntries(LABELS.map((l, k) => [l, p[k]!]));
    return { probabilities, predicted, truth: o.relabel?.[drawn] ?? drawn };
  });
}

const caseOf = (x: Note, id: number, d: Partial<CaseRecord['decision']> = {}): CaseRecord => ({
  kind: 'case',
  id,
  time: new Date(NOW - 3_600_000).toISOString(),
  model: { name: 'dx', version: 'v1', sha256: 'x' },
  key: null,
  text: '[note]',
  deid_entities: 0,
  decision: {
    label: x.predicted,
    score: x.probabilities[x.predicted]!,
    probabilities: x.probabilities,
    ...{ abstain: false, abstain_reason: null, in_scope: true, ood_score: null },
    ...d,
  },
  random: true,
});

/** Every note served, captured and (when `reviewed`) reviewed once with its true label. */
function stateOf(notes: Note[], reviewed = true): ServedState {
  const cases = new Map(notes.map((x, i) => [i + 1, caseOf(x, i + 1)]));
  const reviews: ReviewRecord[] = reviewed
    ? notes.map((x, i) => ({
        kind: 'review',
        id: i + 1,
        case_id: i + 1,
        reviewer: 'r',
        verdict: x.truth === x.predicted ? 'model' : 'other',
        label: x.truth,
        comment: null,
        time: new Date(NOW).toISOString(),
      }))
    : [];
  return { cases, shadows: new Map(), reviews };
}

const actual = (notes: Note[]) => notes.filter((x) => x.truth === x.predicted).length / notes.length;

const report = (notes: Note[], o: { reviewed?: boolean; validation?: number } = {}): PerformanceReport =>
  performanceOf(stateOf(notes, o.reviewed ?? true), {
    model: 'dx',
    version: 'v1',
    validation:
      o.validation === undefined ? null : { split: 'test', accuracy: o.validation, f1_macro: null, ece: null },
    margin: 0.05,
    now: NOW,
  });

describe('CBPE: the accuracy estimated from calibrated confidence, before review', () => {
  it('covers the actual accuracy of a window about 95 % of the time (300 windows of 150 notes)', (t) => {
    let covered = 0;
    let error = 0;
    for (let w = 0; w < 300; w++) {
      const notes = serve(150, { seed: 1000 + w, spread: 2 });
      const e = estimatedOf(notes.map((x, i) => caseOf(x, i))).accuracy!;
      const truth = actual(notes);
      if (e.low <= truth && truth <= e.high) covered++;
      error += Math.abs(e.value - truth) / 300;
    }
    t.diagnostic(`coverage ${covered / 300}, mean absolute error ${error.toFixed(4)}`);
    assert.ok(covered / 300 >= 0.9 && covered / 300 <= 0.99, `coverage ${covered / 300}`);
    assert.ok(error < 0.05, `mean absolute error ${error}`);
  });

  it('tracks a drop while the model stays calibrated (harder notes), with no review at all', () => {
    const before = serve(800, { seed: 1, spread: 3 });
    const after = serve(800, { seed: 2, spread: 1 });
    const [a, b] = [before, after].map((n) => report(n, { reviewed: false }).windows[2]!.estimated!);
    assert.ok(actual(before) - actual(after) > 0.2, `the notes got harder: ${actual(before)} → ${actual(after)}`);
    for (const [e, notes] of [
      [a, before],
      [b, after],
    ] as const) {
      assert.ok(e.accuracy!.low <= actual(notes) && actual(notes) <= e.accuracy!.high, JSON.stringify(e));
      assert.equal(e.n, 800);
    }
    assert.ok(a.accuracy!.value - b.accuracy!.value > 0.2);
  });

  it('the estimated macro-F1 (expected confusion matrix) is near the actual macro-F1', () => {
    const notes = serve(2000, { seed: 5, spread: 2 });
    const r = report(notes);
    const all = r.windows[2]!;
    assert.ok(Math.abs(all.estimated!.macro_f1! - all.random.macro_f1!.value) < 0.03, JSON.stringify(all));
  });

  it('cannot see concept shift: labels change, notes do not — the estimate stays, the reviewed accuracy falls', () => {
    const before = serve(800, { seed: 3, spread: 2 });
    // the same kind of notes; two conditions are now recorded under each other's name
    const shifted = serve(800, { seed: 4, spread: 2, relabel: { asthma: 'flu', flu: 'asthma' } });
    const [a, b] = [report(before), report(shifted)].map((r) => r.windows[2]!);
    assert.ok(Math.abs(a.estimated!.accuracy!.value - b.estimated!.accuracy!.value) < 0.03, 'the estimate stays');
    assert.ok(b.random.accuracy!.high < b.estimated!.accuracy!.low, JSON.stringify(b));
    assert.ok(a.random.accuracy!.value - b.random.accuracy!.value > 0.2, 'the reviewed accuracy falls');
  });

  it('the alert fires on the estimate before any review, and says which figure fired', () => {
    const notes = serve(200, { seed: 6, spread: 1 });
    const r = report(notes, { reviewed: false, validation: 0.8 });
    assert.deepEqual(r.alert.fired, ['estimated']);
    assert.ok(r.alert.active);
    assert.match(r.alert.message, /^Performance alert \(estimated\): 0 of the 20 randomly sampled reviewed cases/);
    assert.match(r.alert.message, /estimated accuracy 0\.\d{3} \[95 % CI .*\] on 200 captured cases/);
    const both = report(notes, { validation: 0.8 });
    assert.deepEqual(both.alert.fired, ['reviewed', 'estimated']);
    const shifted = serve(200, { seed: 7, spread: 2, relabel: { asthma: 'flu', flu: 'asthma' } });
    const base = actual(serve(200, { seed: 8, spread: 2 }));
    assert.deepEqual(report(shifted, { validation: base }).alert.fired, ['reviewed'], 'concept shift: reviews only');
  });

  it('answered, abstained and out-of-scope cases apart; multi-label models are skipped with the reason', () => {
    const notes = serve(30, { seed: 9, spread: 2 });
    const cases = notes.map((x, i) =>
      caseOf(x, i, i < 5 ? { abstain: true } : i < 12 ? { in_scope: false, abstain: i % 2 === 0 } : {}),
    );
    const e = estimatedOf(cases);
    assert.deepEqual([e.n, e.answered.n, e.abstained.n, e.out_of_scope.n], [30, 18, 5, 7]);
    const mean = (xs: Note[]) => xs.reduce((a, x) => a + x.probabilities[x.predicted]!, 0) / xs.length;
    assert.ok(Math.abs(e.abstained.accuracy!.value - mean(notes.slice(0, 5))) < 1e-12);
    const multi = stateOf(notes.slice(0, 3), false);
    multi.cases.get(1)!.decision.label = ['asthma', 'flu'];
    const r = performanceOf(multi, { model: 'dx', version: 'v1', validation: null, margin: 0.05, now: NOW });
    assert.equal(r.windows[2]!.estimated, null);
    assert.match(r.estimated_skipped!, /^multi-label model: no confidence-based estimate/);
    assert.equal(report(notes).estimated_skipped, null);
  });
});
