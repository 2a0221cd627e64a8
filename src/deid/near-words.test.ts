// Golden test: capitalised misspellings of clinical words are not names (so spelling correction after
// de-identification still finds them), while names — titled, in context, or invented — still are.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { analyze } from './analyzer.js';
import { isNearWord, osaDistance } from './near-words.js';

const found = (t: string) => analyze(t).map((e) => `${e.type}:${e.text}`);

describe('dictionary-near words', () => {
  it('"Pnuemonia"-style typos are not tagged as names', () => {
    for (const t of [
      'Pnuemonia was treated with antibiotics.',
      'Dx: Diabetis, Hypertenshun and Astma.',
      'Hx Siezure disorder; Anemea on labs.',
      'Productve cough, Bronchitus suspected.',
      'Started Metfromin and Lisinoprel.',
    ])
      assert.deepEqual(found(t), [], t);
  });

  it('names stay names: titled, in context, unknown words far from any clinical word', () => {
    assert.deepEqual(found('Seen by Dr. Pnuemonia today.'), ['PERSON:Dr. Pnuemonia']);
    assert.deepEqual(found('Patient Kowalczyk presents with Siezure.'), ['PERSON:Kowalczyk']);
    assert.deepEqual(found('Seen with Thelbrunix and Kalorven today.'), ['PERSON:Thelbrunix', 'PERSON:Kalorven']);
  });

  it('measures optimal string alignment distance', () => {
    assert.equal(osaDistance('pnuemonia', 'pneumonia'), 1);
    assert.equal(osaDistance('hypertenshun', 'hypertension'), 2);
    assert.equal(isNearWord('kowalczyk'), false);
    assert.equal(isNearWord('astma'), true);
  });
});
