// The TF-IDF + logistic-regression baseline: sklearn's TF-IDF definition, and a fit that separates toy data.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  RARE_NEGATIVES,
  RARE_POSITIVES,
  RARE_SAMPLE_ABOVE,
  TfidfVectorizer,
  oneVsRestRows,
  tfidfLogRegBaseline,
} from './baseline.js';
import { assertClose } from '../tensor/testing.js';
import { Generator } from '../tensor/random.js';

/** Notes made of their codes' words (two of each code's own) and shared filler; codes Zipf-like, 1–4 a note. */
function codedNotes(o: { labels: number; rows: number; seed: number }): { texts: string[]; y: number[][] } {
  const g = new Generator(o.seed);
  const pick = (n: number) => Math.min(n - 1, Math.floor(n ** g.uniform()) - 1 + Math.floor(g.uniform() * 2));
  const texts: string[] = [];
  const y: number[][] = [];
  for (let r = 0; r < o.rows; r++) {
    const label = new Array<number>(o.labels).fill(0);
    const k = 1 + Math.floor(g.uniform() * 4);
    for (let j = 0; j < k; j++) label[Math.max(0, pick(o.labels))] = 1;
    const words: string[] = [];
    label.forEach((v, c) => v && words.push(`code${c}a`, `code${c}b`, `code${c}a`));
    for (let j = 0; j < 12; j++) words.push(`filler${Math.floor(g.uniform() * 40)}`);
    texts.push(words.sort(() => g.uniform() - 0.5).join(' '));
    y.push(label);
  }
  return { texts, y };
}

describe('TF-IDF + logistic regression baseline', () => {
  it('TF-IDF matches sklearn (smooth idf, sublinear tf, l2 rows, 1-2 grams)', () => {
    const v = new TfidfVectorizer().fit(['fever cough', 'fever fever rash']);
    // idf(fever) = ln(3/3)+1 = 1; idf(cough) = ln(3/2)+1
    assertClose([v.idf[v.vocab.get('fever')!]!, v.idf[v.vocab.get('cough')!]!], [1, Math.log(1.5) + 1]);
    const [row] = v.transform(['fever fever rash']);
    const byTerm = new Map([...row!.idx].map((j, k) => [[...v.vocab].find(([, i]) => i === j)![0], row!.val[k]!]));
    const raw = {
      fever: (1 + Math.log(2)) * 1,
      rash: Math.log(1.5) + 1,
      'fever fever': Math.log(1.5) + 1,
      'fever rash': Math.log(1.5) + 1,
    };
    const norm = Math.sqrt(Object.values(raw).reduce((s, x) => s + x * x, 0));
    for (const [t, x] of Object.entries(raw)) assertClose([byTerm.get(t)!], [x / norm], { what: t });
  });
  it('separates a toy single-label and multi-label task', () => {
    const tr = [
      'burning urination cloudy urine',
      'urine burning pain',
      'wheezing short of breath',
      'breath wheeze cough',
      'rash itchy skin',
      'itchy red rash',
    ];
    const y = [0, 0, 1, 1, 2, 2];
    const p = tfidfLogRegBaseline(tr, y, ['cloudy burning urine', 'wheeze and cough'], 3, false);
    assert.deepEqual(
      p.map((r) => r.indexOf(Math.max(...r))),
      [0, 1],
    );
    const ym = [
      [1, 0],
      [1, 0],
      [0, 1],
      [0, 1],
      [1, 1],
      [1, 1],
    ];
    const pm = tfidfLogRegBaseline(tr, ym, ['itchy rash'], 2, true);
    assert.ok(
      pm[0]!.every((x) => x > 0.5),
      JSON.stringify(pm),
    );
  });
  it('one-vs-rest: the same probabilities as the fit over the features it replaced', () => {
    // reference: the earlier implementation (L-BFGS on one weight per feature), same data, printed to 6 decimals
    const tr = [
      'burning urination cloudy urine fever',
      'urine burning pain',
      'wheezing short of breath fever',
      'breath wheeze cough',
      'rash itchy skin',
      'itchy red rash fever',
      'cough fever chills',
      'cloudy urine and rash',
    ];
    const y = [
      [1, 0, 1],
      [1, 0, 0],
      [0, 1, 1],
      [0, 1, 0],
      [0, 0, 0],
      [0, 0, 1],
      [0, 1, 1],
      [1, 0, 0],
    ];
    const p = tfidfLogRegBaseline(
      tr,
      y,
      ['cloudy burning urine', 'wheeze and cough with fever', 'itchy rash'],
      3,
      true,
    );
    const before = [
      [0.859374, 0.14783, 0.389951],
      [0.273416, 0.679726, 0.400085],
      [0.209252, 0.157104, 0.36768],
    ];
    assertClose(p.flat(), before.flat(), { atol: 2e-6, rtol: 0 });
  });
  it('300 labels × 400 rows: every label scored, the codes of a note ranked first', () => {
    const { texts, y } = codedNotes({ labels: 300, rows: 460, seed: 7 });
    const [trT, teT, trY, teY] = [texts.slice(0, 400), texts.slice(400), y.slice(0, 400), y.slice(400)];
    const p = tfidfLogRegBaseline(trT, trY, teT, 300, true);
    assert.equal(p.length, 60);
    assert.ok(p.every((r) => r.length === 300 && r.every((v) => v >= 0 && v <= 1)));
    // a code no training note has is scored 0
    for (let c = 0; c < 300; c++) if (!trY.some((v) => v[c])) assert.ok(p.every((r) => r[c] === 0));
    const top1 = p.filter((r, i) => teY[i]![r.indexOf(Math.max(...r))] === 1).length;
    assert.ok(top1 >= 50, `top-1 right on ${top1} of 60 notes`);
  });
  it('a rare label is fitted on its positives and a seeded sample of negatives, and still separates', () => {
    const y = Array.from({ length: 1200 }, (_, i) => (i % 240 === 7 ? 1 : 0)); // 5 positives
    const rows = oneVsRestRows(y, 3);
    assert.equal(rows.length, 5 + RARE_NEGATIVES);
    assert.ok(y.every((v, i) => !v || rows.includes(i)));
    assert.deepEqual(oneVsRestRows(y, 3), rows);
    assert.notDeepEqual(oneVsRestRows(y, 4), rows);
    assert.deepEqual(
      [...rows].sort((a, b) => a - b),
      rows,
    );
    // common labels, and rare ones among few negatives, are fitted on every row
    assert.equal(
      oneVsRestRows(
        y.map((v, i) => (i < RARE_POSITIVES + 1 ? 1 : v)),
        3,
      ).length,
      1200,
    );
    assert.equal(oneVsRestRows(y.slice(0, RARE_SAMPLE_ABOVE), 3).length, RARE_SAMPLE_ABOVE);
    const texts = y.map((v, i) => (v ? `itchy rash patch ${i % 7}` : `cough fever ${i % 50} chills ${i % 13}`));
    const p = tfidfLogRegBaseline(
      texts,
      y.map((v) => [v, 1 - v]),
      ['itchy rash', 'cough and fever'],
      2,
      true,
    );
    assert.ok(p[0]![0]! > 0.5 && p[1]![0]! < 0.5, JSON.stringify(p));
  });
});
