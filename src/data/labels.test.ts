// Label standardisation: spellings that differ only by case, spaces or punctuation are grouped, the canonical one
// chosen (most frequent, then tidy, then capitalised, then first seen), merged on request; in `curate` too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeVariants, findLabelVariants, labelKey, mapLabels } from './labels.js';
import { curate } from './curate.js';

describe('label variants', () => {
  it('keys ignore case, whitespace and punctuation', () => {
    assert.equal(labelKey('Urinary tract infection'), labelKey('  urinary-tract   INFECTION. '));
    assert.notEqual(labelKey('Type 1 diabetes'), labelKey('Type 2 diabetes'));
    assert.equal(labelKey('!!!'), '!!!'); // nothing but punctuation: the label itself
  });

  it('groups spellings, picks the canonical one and maps the others to it', () => {
    const v = findLabelVariants(
      new Map([
        ['urinary tract infection', 2],
        ['Urinary tract infection', 5],
        ['Urinary-tract infection.', 1],
        ['Pneumonia', 3],
        ['breast cancer', 1],
        ['Breast  cancer.', 1],
        ['Breast Cancer', 1],
      ]),
    );
    assert.deepEqual(
      v.groups.map((g) => [g.canonical, g.variants.map((x) => `${x.label}:${x.count}`)]),
      [
        [
          'Urinary tract infection',
          ['Urinary tract infection:5', 'urinary tract infection:2', 'Urinary-tract infection.:1'],
        ],
        ['Breast Cancer', ['Breast Cancer:1', 'breast cancer:1', 'Breast  cancer.:1']],
      ],
    );
    assert.deepEqual(mapLabels(['urinary tract infection', 'Pneumonia', 'Urinary tract infection'], v.mapping), [
      'Urinary tract infection',
      'Pneumonia',
    ]);
    assert.match(describeVariants(v, false), /^labels: 2 groups .*"Urinary tract infection" \/ .*--normalize-labels$/);
    assert.equal(findLabelVariants({ a: 1, b: 2 }).groups.length, 0);
  });

  it('labels named like object properties are plain labels', () => {
    const v = findLabelVariants(
      new Map([
        ['__proto__', 1],
        ['constructor', 2],
        ['Constructor', 1],
      ]),
    );
    assert.deepEqual(mapLabels(['__proto__', 'Constructor'], v.mapping), ['__proto__', 'constructor']);
  });

  it('curate reports label variants in its summary and merges them with normalizeLabels', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-labels-'));
    try {
      const f = path.join(dir, 'a.csv');
      writeFileSync(
        f,
        'text,label\nfever and dysuria today,Urinary tract infection\nburning on urination,urinary tract infection\n' +
          'cough with sputum,Pneumonia\nfrequent urination and pain,Urinary tract infection\n',
      );
      const plain = await curate({ inputs: [{ file: f }] });
      assert.equal(plain.summary.label_variants?.merged, false);
      assert.equal(plain.summary.label_variants?.groups[0]?.canonical, 'Urinary tract infection');
      assert.deepEqual(
        plain.rows.map((r) => r.label),
        ['Urinary tract infection', 'urinary tract infection', 'Pneumonia', 'Urinary tract infection'],
      );
      const merged = await curate({ inputs: [{ file: f }], normalizeLabels: true });
      assert.deepEqual(
        { ...merged.summary.label_variants?.mapping },
        { 'urinary tract infection': 'Urinary tract infection' },
      );
      assert.deepEqual(
        merged.rows.map((r) => r.label),
        ['Urinary tract infection', 'Urinary tract infection', 'Pneumonia', 'Urinary tract infection'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
