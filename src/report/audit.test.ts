// The bias audit's statistics: bootstrap intervals against the analytical intervals of a proportion and of a
// difference of proportions; the injected disparity of the synthetic demographics is found (and the control shows
// none) with the TF-IDF classifier; small groups are too small to judge; results are deterministic.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrap, percentileInterval, quantileSorted } from './bootstrap.js';
import { computeAudit, overallIntervals, type AuditRow } from './audit.js';
import { auditSection } from './audit-html.js';
import { syntheticSymptoms, DEMO_DIAGNOSES, DISPARITY_GROUP } from '../demo/synthetic.js';
import { tfidfLogRegBaseline } from '../evaluate/baseline.js';

const Z975 = 1.959964;

/** n rows of one group, the first `right` of them right (two classes; probabilities made up). */
function rows(group: string, n: number, right: number): AuditRow[] {
  return Array.from({ length: n }, (_, i) => ({
    gold: i % 2,
    pred: i < right ? i % 2 : 1 - (i % 2),
    probs: i < right ? [0.8, 0.2] : [0.6, 0.4],
    abstain: false,
    groups: { g: group },
  }));
}

const labels = [...DEMO_DIAGNOSES].sort((a, b) => a.localeCompare(b));

/** The demo's data with demographics, classified by the TF-IDF baseline (fast, deterministic), as audit rows. */
function tfidfAudit(seed: number, disparity: boolean) {
  const train = syntheticSymptoms(60, seed, { demographics: true, disparity });
  const test = syntheticSymptoms(30, seed + 1000, { demographics: true, disparity });
  const ids = train.map((r) => labels.indexOf(r.label));
  const probs = tfidfLogRegBaseline(
    train.map((r) => r.text),
    ids,
    test.map((r) => r.text),
    labels.length,
    false,
  );
  const audited: AuditRow[] = test.map((r, i) => ({
    gold: labels.indexOf(r.label),
    pred: probs[i]!.indexOf(Math.max(...probs[i]!)),
    probs: probs[i]!,
    abstain: false,
    groups: { sex: r.sex!, age_band: r.age_band! },
  }));
  return computeAudit(audited, { columns: ['sex', 'age_band'], labels, multiLabel: false, seed: 7 });
}

describe('bootstrap', () => {
  it("quantiles interpolate between order statistics (numpy's default)", () => {
    assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
    assert.equal(quantileSorted([1, 2, 3, 4], 0), 1);
    assert.equal(quantileSorted([1, 2, 3, 4], 1), 4);
    assert.deepEqual(percentileInterval([NaN, 1, 2, 3], 1), [1, 3]);
  });

  it('the interval of a proportion matches the analytical (Wald) interval: 300 of 400', () => {
    const xs = Array.from({ length: 400 }, (_, i) => (i < 300 ? 1 : 0));
    const mean = (s: number[]) => s.reduce((a, b) => a + b, 0) / s.length;
    const values = bootstrap(xs, mean, { resamples: 4000, seed: 11 });
    const [lo, hi] = percentileInterval(values, 0.95);
    const half = Z975 * Math.sqrt((0.75 * 0.25) / 400);
    assert.ok(
      Math.abs(lo - (0.75 - half)) < 0.006 && Math.abs(hi - (0.75 + half)) < 0.006,
      `[${lo}, ${hi}] vs 0.75 ± ${half}`,
    );
    assert.deepEqual(values, bootstrap(xs, mean, { resamples: 4000, seed: 11 }), 'seeded');
  });

  it("the audit's overall accuracy interval is that of a proportion", () => {
    const o = { labels: ['x', 'y'], multiLabel: false, resamples: 4000, seed: 3 };
    const [lo, hi] = overallIntervals(rows('a', 400, 300), o).accuracy;
    const half = Z975 * Math.sqrt((0.75 * 0.25) / 400);
    assert.ok(Math.abs(lo - (0.75 - half)) < 0.006 && Math.abs(hi - (0.75 + half)) < 0.006, `[${lo}, ${hi}]`);
  });
});

describe('bias audit', () => {
  it('the gap between two groups has the analytical interval of a difference of proportions (Agresti–Caffo)', () => {
    // a: 240 of 300 right; b: 140 of 200 right; with two groups each is compared with the other, one comparison
    const o = { columns: ['g'], labels: ['x', 'y'], multiLabel: false, resamples: 4000, seed: 5 };
    const audit = computeAudit([...rows('a', 300, 240), ...rows('b', 200, 140)], o);
    const col = audit.columns[0]!;
    assert.equal(col.compared, 1);
    assert.equal(col.level, 0.95);
    const a = col.groups.find((g) => g.group === 'a')!;
    const gap = a.gaps!.accuracy!;
    assert.ok(Math.abs(gap.gap - 0.1) < 1e-12);
    // Agresti–Caffo: one right and one wrong added to each group
    const pa = 241 / 302;
    const pb = 141 / 202;
    const half = Z975 * Math.sqrt((pa * (1 - pa)) / 302 + (pb * (1 - pb)) / 202);
    const mid = pa - pb;
    assert.ok(
      Math.abs(gap.ci[0] - (mid - half)) < 0.01 && Math.abs(gap.ci[1] - (mid + half)) < 0.01,
      `[${gap.ci}] vs ${mid} ± ${half}`,
    );
    assert.equal(gap.flagged, gap.ci[0] > 0, 'flagged exactly when the interval excludes zero');
    const b = col.groups.find((g) => g.group === 'b')!;
    assert.ok(Math.abs(b.gaps!.accuracy!.ci[0] + gap.ci[1]) < 1e-12, "the other group's gap mirrors it");
  });

  it('a group without a single error still has an interval that keeps zero when the others are as good', () => {
    const o = { columns: ['g'], labels: ['x', 'y'], multiLabel: false, seed: 1 };
    const audit = computeAudit([...rows('a', 60, 60), ...rows('b', 300, 294)], o);
    const a = audit.columns[0]!.groups.find((g) => g.group === 'a')!;
    assert.ok(a.gaps!.accuracy!.ci[0] < 0, `${a.gaps!.accuracy!.ci}`);
    assert.equal(audit.flagged.length, 0);
  });

  it('groups below the minimum size are too small to judge, never ranked; the result is deterministic', () => {
    const data = [...rows('a', 100, 90), ...rows('b', 100, 70), ...rows('c', 1, 0), ...rows('d', 12, 6)];
    const audit = computeAudit(data, { columns: ['g'], labels: ['x', 'y'], multiLabel: false, minGroup: 30 });
    const col = audit.columns[0]!;
    assert.deepEqual(col.too_small, ['c', 'd']);
    const c = col.groups.find((g) => g.group === 'c')!;
    assert.equal(c.n, 1);
    assert.equal(c.judged, false);
    assert.equal(c.gaps, undefined);
    const note = /^g = c: 1 row \(below the minimum of 30\): too small to judge$/;
    assert.ok(
      audit.notes.some((n) => note.test(n)),
      audit.notes.join('\n'),
    );
    assert.ok(!audit.flagged.some((f) => f.group === 'c' || f.group === 'd'));
    assert.ok(col.max_min.accuracy && col.max_min.accuracy.max_group === 'a' && col.max_min.accuracy.min_group === 'b');
    assert.equal(col.compared, 2);
    assert.ok(Math.abs(col.level - (1 - 0.05 / 2)) < 1e-12, 'Bonferroni over the groups compared');
    assert.deepEqual(
      computeAudit(data, { columns: ['g'], labels: ['x', 'y'], multiLabel: false, minGroup: 30 }),
      audit,
    );
  });

  it('per group: recall per class, abstention rate, ECE and the label counts of the data view', () => {
    const data: AuditRow[] = [
      ...Array.from({ length: 40 }, (_, i) => ({
        gold: 0,
        pred: i < 30 ? 0 : 1,
        probs: [0.9, 0.1],
        abstain: i >= 36,
        groups: { s: 'f' },
      })),
      ...Array.from({ length: 40 }, (_, i) => ({
        gold: 1,
        pred: 1,
        probs: [0.2, 0.8],
        abstain: false,
        groups: { s: i < 20 ? 'f' : 'm' },
      })),
    ];
    const audit = computeAudit(data, { columns: ['s'], labels: ['x', 'y'], multiLabel: false, minGroup: 10 });
    const f = audit.columns[0]!.groups.find((g) => g.group === 'f')!;
    assert.equal(f.n, 60);
    assert.deepEqual(f.recall, { x: 0.75, y: 1 });
    assert.deepEqual(f.labels, { x: 40, y: 20 });
    assert.equal(f.abstention_rate, 4 / 60);
    assert.ok(f.gaps!.abstention_rate, 'abstention gaps when the model abstained');
    // confidence 0.9 on 40 rows (30 right) and 0.8 on 20 rows (all right)
    assert.ok(Math.abs(f.ece! - ((40 / 60) * Math.abs(0.75 - 0.9) + (20 / 60) * Math.abs(1 - 0.8))) < 1e-12);
  });

  it('multi-label rows: subset accuracy and macro-F1 over the labels present', () => {
    const data: AuditRow[] = Array.from({ length: 80 }, (_, i) => ({
      gold: [1, i % 2, 0],
      pred: [1, i < 40 ? i % 2 : 0, 0],
      probs: [0.9, 0.4, 0.1],
      abstain: false,
      groups: { s: i < 40 ? 'a' : 'b' },
    }));
    const audit = computeAudit(data, { columns: ['s'], labels: ['p', 'q', 'r'], multiLabel: true, minGroup: 10 });
    const [a, b] = audit.columns[0]!.groups;
    assert.equal(a!.accuracy, 1);
    assert.equal(b!.accuracy, 0.5);
    assert.equal(a!.ece, null);
    assert.ok(Math.abs(b!.f1_macro - 0.5) < 1e-12, 'label r is in no row: not averaged; q has F1 0');
    assert.equal(audit.flagged.length, 2, 'a better, b worse: both gaps flagged');
  });

  it('finds the disparity of demo --demographics (80+, interval excludes zero), nothing on the control', () => {
    const audit = tfidfAudit(1, true);
    const age = audit.columns.find((c) => c.column === 'age_band')!;
    const old = age.groups.find((g) => g.group === DISPARITY_GROUP.value)!;
    assert.ok(old.judged && old.gaps!.accuracy!.flagged && old.gaps!.accuracy!.ci[1] < 0, JSON.stringify(old.gaps));
    assert.ok(audit.flagged.some((f) => f.column === 'age_band' && f.group === '80+' && f.metric === 'accuracy'));
    assert.ok(!audit.flagged.some((f) => f.column === 'sex'), 'no disparity was injected by sex');
    const control = tfidfAudit(1, false);
    assert.deepEqual(control.flagged, [], JSON.stringify(control.flagged));
    assert.ok(control.columns.every((c) => c.groups.every((g) => g.judged)));
  });
  it('a group that does better than the rest is marked apart from one that does worse', async () => {
    const a = computeAudit([...rows('good', 120, 114), ...rows('bad', 120, 60), ...rows('mid', 120, 90)], {
      columns: ['g'],
      labels: ['x', 'y'],
      multiLabel: false,
    });
    const side = (g: string) => a.columns[0]!.groups.find((x) => x.group === g)!.gaps!.accuracy!;
    assert.equal(side('good').side, 'better');
    assert.equal(side('bad').side, 'worse');
    const html = await auditSection(a);
    assert.match(html, /<span class="better">\+0\.\d+ \[[^\]]+\] ▲ better<\/span>/);
    assert.match(html, /<span class="flag">−?-0\.\d+ \[[^\]]+\] ⚑ worse<\/span>/);
    assert.match(html, /good does better than the rest/);
  });
});
