// The TF-IDF + logistic-regression baseline: sklearn's TF-IDF definition, and a fit that separates toy data.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TfidfVectorizer, tfidfLogRegBaseline } from './baseline.js';
import { assertClose } from '../tensor/testing.js';

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
});
