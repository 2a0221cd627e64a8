// Reviews: agreement statistics with known answers, the corrections a set of reviews settles on, cases in review
// order, and a locked database answered with a clear error (never a lost or half-written review).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { agreement, cohenKappa, corrections, fleissKappa, readCases, ReviewStore, type Review } from './reviews.js';

const rev = (case_id: number, reviewer: string, verdict: Review['verdict'], label: string | null): Review => ({
  id: 0,
  case_id,
  reviewer,
  verdict,
  label,
  comment: null,
  model_sha256: null,
  created: '',
});

describe('reviews', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-reviews-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("Cohen's κ and Fleiss' κ on textbook cases", () => {
    // two raters, 50 items: both yes 20, both no 15, (yes, no) 5, (no, yes) 10 → po 0.7, pe 0.5, κ 0.4
    const a = [...Array(20).fill('y'), ...Array(15).fill('n'), ...Array(5).fill('y'), ...Array(10).fill('n')];
    const b = [...Array(20).fill('y'), ...Array(15).fill('n'), ...Array(5).fill('n'), ...Array(10).fill('y')];
    assert.ok(Math.abs(cohenKappa(a, b) - 0.4) < 1e-12);
    assert.equal(cohenKappa(['x', 'y'], ['x', 'y']), 1);
    // Fleiss: perfect agreement 1; three raters split evenly on two items of two categories
    assert.equal(
      fleissKappa([
        ['a', 'a', 'a'],
        ['b', 'b', 'b'],
      ]),
      1,
    );
    const k = fleissKappa([
      ['a', 'a', 'b'],
      ['a', 'b', 'b'],
    ]);
    // P_i = (4+1-3)/6 = 1/3 each; p = (1/2, 1/2) → Pe 1/2; κ = (1/3 - 1/2)/(1/2) = -1/3
    assert.ok(Math.abs(k + 1 / 3) < 1e-12, String(k));
  });

  it('agreement picks Cohen for two reviewers and Fleiss for more; corrections take the majority', () => {
    const two = [
      rev(1, 'ann', 'gold', 'A'),
      rev(1, 'bob', 'gold', 'A'),
      rev(2, 'ann', 'model', 'B'),
      rev(2, 'bob', 'other', 'C'),
      rev(3, 'ann', 'unclear', null),
    ];
    const ag = agreement(two);
    assert.deepEqual(ag.reviewers, ['ann', 'bob']);
    assert.equal(ag.cases_shared, 2);
    assert.equal(typeof ag.cohen_kappa, 'number');
    assert.equal(ag.fleiss_kappa, null);
    assert.equal(typeof agreement([...two, rev(1, 'cy', 'gold', 'A')]).fleiss_kappa, 'number');
    const cases = [1, 2, 3].map((id) => ({
      id,
      text: `note ${id}`,
      gold: 'A',
      predicted: 'B',
      correct: false,
      confidence: 0.9,
      probabilities: {},
    }));
    const c = corrections(cases, two);
    assert.deepEqual(
      c.rows.map((r) => [r.row, r.label]),
      [[1, 'A']],
      'case 2 is tied, case 3 unclear',
    );
    assert.equal(c.skipped, 2);
  });

  it('cases: errors first (most confident first), then low-confidence correct predictions', () => {
    const run = path.join(dir, 'run');
    mkdirRun(run, [
      { row: 1, correct: true, p: 0.95 },
      { row: 2, correct: false, p: 0.6 },
      { row: 3, correct: false, p: 0.9 },
      { row: 4, correct: true, p: 0.5 },
    ]);
    assert.deepEqual(
      readCases(run).map((c) => c.id),
      [3, 2, 4],
    );
    assert.throws(() => readCases(dir), /has no predictions\.jsonl/);
  });

  it('a locked database is a clear error (E_REVIEW_DB), and nothing half-written stays', () => {
    const file = path.join(dir, 'locked.sqlite');
    const store = new ReviewStore(file);
    const other = new Database(file);
    other.exec('BEGIN EXCLUSIVE');
    try {
      assert.throws(
        () =>
          store.add({ case_id: 1, reviewer: 'ann', verdict: 'gold', label: 'A', comment: null, model_sha256: null }),
        (e: Error & { code?: string }) => e.code === 'E_REVIEW_DB' && /another process holds a lock/.test(e.message),
      );
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    assert.equal(store.all().length, 0);
    store.add({ case_id: 1, reviewer: 'ann', verdict: 'gold', label: 'A', comment: null, model_sha256: null });
    assert.equal(store.all().length, 1, 'the retry succeeds');
    store.close();
    writeFileSync(path.join(dir, 'not-a-db.sqlite'), 'this is not sqlite');
    assert.throws(() => new ReviewStore(path.join(dir, 'not-a-db.sqlite')), /not a medtune review database/);
  });
});

function mkdirRun(run: string, rows: { row: number; correct: boolean; p: number }[]): void {
  mkdirSync(run, { recursive: true });
  writeFileSync(
    path.join(run, 'predictions.jsonl'),
    rows
      .map((r) =>
        JSON.stringify({
          row: r.row,
          text: `t${r.row}`,
          label: 'A',
          predicted: r.correct ? 'A' : 'B',
          correct: r.correct,
          probabilities: { A: r.correct ? r.p : 1 - r.p, B: r.correct ? 1 - r.p : r.p },
        }),
      )
      .join('\n') + '\n',
  );
}
