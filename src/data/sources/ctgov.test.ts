// Golden tests of `data ctgov` on synthetic API v2 study records (testdata/ctgov: one study per file, an API page,
// JSONL): text = brief summary + eligibility criteria, labels from conditions / phase / status, a later record of an
// NCT id replacing the earlier one, condition spellings reported and merged with --normalize-labels.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCtgovDataset, type CtgovOptions } from './ctgov.js';
import { readLabeled } from '../dataset.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const T = path.resolve(here, '..', '..', '..', 'src', 'data', 'sources', 'testdata', 'ctgov');
let W: string;

const ctgov = async (o: Partial<CtgovOptions>, ext = 'jsonl') => {
  const output = path.join(W, `ct-${Math.random().toString(36).slice(2)}.${ext}`);
  const r = await buildCtgovDataset({ input: [T], output, log: () => {}, ...o });
  return { ...r, output };
};
const rowsOf = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

const TEXT_1 =
  'This synthetic study tests an invented drug in adults with breast cancer (updated).\n\n' +
  'Inclusion Criteria:\n\n* Adults aged 18 or older';
const TEXT_2 = 'An invented trial in lung carcinoma.\n\nInclusion Criteria:\n\n* Invented criterion';

describe('data ctgov', () => {
  before(() => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-ctgov-'));
  });
  after(() => rmSync(W, { recursive: true, force: true }));

  it('conditions as labels; summary + criteria as text; a later record of an NCT id replaces the first', async () => {
    const r = await ctgov({});
    assert.deepEqual(rowsOf(r.output), [
      { text: TEXT_2, labels: ['Carcinoma, Non-Small-Cell Lung', 'breast cancer'], nct_id: 'NCT90000002' },
      { text: 'An invented observational registry.', labels: ['Breast  cancer.'], nct_id: 'NCT90000003' },
      { text: TEXT_1, labels: ['Breast Cancer', 'Hypertension'], nct_id: 'NCT90000001' },
      { text: 'An invented hypertension study.', labels: ['hypertension'], nct_id: 'NCT90000005' },
    ]);
    assert.deepEqual(r.summary.dropped, {
      without_summary_or_criteria: 1,
      replaced_by_a_later_version: 1,
      without_top_labels: 0,
    });
    const v = r.summary.label_variants as { merged: boolean; groups: { canonical: string }[] };
    assert.equal(v.merged, false);
    assert.deepEqual(
      v.groups.map((g) => g.canonical),
      ['Breast Cancer', 'Hypertension'],
    );
  });

  it('--normalize-labels merges spellings into one label (mapping in the summary); CSV that train reads', async () => {
    const r = await ctgov({ normalizeLabels: true }, 'csv');
    const s = JSON.parse(readFileSync(r.summaryFile, 'utf8'));
    assert.deepEqual(s.label_variants.mapping, {
      'breast cancer': 'Breast Cancer',
      'Breast  cancer.': 'Breast Cancer',
      hypertension: 'Hypertension',
    });
    assert.deepEqual(s.label_frequencies, [
      { label: 'Breast Cancer', count: 3 },
      { label: 'Hypertension', count: 2 },
      { label: 'Carcinoma, Non-Small-Cell Lung', count: 1 },
    ]);
    assert.equal(s.label_delimiter, ';');
    const d = await readLabeled(r.output, { multiLabel: true, labelDelimiter: ';' });
    assert.deepEqual(d.labels, ['Breast Cancer', 'Carcinoma, Non-Small-Cell Lung', 'Hypertension']);
    assert.equal(d.examples.length, 4);
  });

  it('--label phase and --label status', async () => {
    const phase = await ctgov({ label: 'phase' });
    assert.deepEqual(
      rowsOf(phase.output).map((x) => [x.nct_id, x.labels]),
      [
        ['NCT90000002', ['PHASE2', 'PHASE3']],
        ['NCT90000001', ['PHASE2']],
        ['NCT90000005', ['PHASE4']],
      ],
    );
    const status = await ctgov({ label: 'status', input: [path.join(T, 'page.json'), path.join(T, 'studies.jsonl')] });
    assert.deepEqual(
      rowsOf(status.output).map((x) => [x.nct_id, x.labels]),
      [
        ['NCT90000002', ['COMPLETED']],
        ['NCT90000003', ['COMPLETED']],
        ['NCT90000001', ['ACTIVE_NOT_RECRUITING']],
        ['NCT90000005', ['RECRUITING']],
      ],
    );
  });
});
