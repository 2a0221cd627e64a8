// Golden tests of `data mimic` and `data mimic4` on synthetic, schema-identical tables (testdata/): the exact rows,
// texts, codes and splits; the ICD dot placement; gzip inputs; CSV/Parquet outputs that `train` reads back; the same
// output whatever the number of temporary partitions; splits grouped by patient.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRows } from '../readers.js';
import { readLabeled } from '../dataset.js';
import { formatIcd9, formatIcd10 } from './icd.js';
import { buildMimic3Dataset, type Mimic3Options } from './mimic.js';
import { buildMimic4Dataset } from './mimic4.js';
import { splitBySubject } from './splits.js';
import { writeSyntheticMimic3 } from './synthetic.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const T3 = path.resolve(here, '..', '..', '..', 'src', 'data', 'sources', 'testdata', 'mimic3');
const T4 = path.resolve(here, '..', '..', '..', 'src', 'data', 'sources', 'testdata', 'mimic4');
const quiet = () => {};
let W: string;

const rowsOf = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
const mimic3 = (o: Partial<Mimic3Options> & { output: string }) =>
  buildMimic3Dataset({
    notes: path.join(T3, 'NOTEEVENTS.csv'),
    diagnoses: path.join(T3, 'DIAGNOSES_ICD.csv'),
    procedures: path.join(T3, 'PROCEDURES_ICD.csv'),
    log: quiet,
    ...o,
  });

const TEXT_1001 =
  'Admission Date:  [**2101-1-5**]     Discharge Date:  [**2101-1-10**]\n\nService: MEDICINE\n\n' +
  'History of Present Illness:\nSynthetic patient with hypertension and type 2 diabetes, admitted after a fall ' +
  'from a ladder.\n\nDischarge Diagnosis:\n1. Hypertension\n2. Diabetes mellitus\n\n' +
  'Addendum:\nBlood glucose rechecked before discharge, within target.';
const TEXT_1003 =
  'Admission Date:  [**2102-3-1**]\n\nSynthetic patient on long-term anticoagulants with coronary atherosclerosis ' +
  'and hypertension.\n\nAddendum: synthetic anticoagulation plan, follow up in clinic.';
const TEXT_1004 =
  'Admission Date:  [**2103-7-14**]\n\nChief Complaint: cough, fever, "burning" on urination\n\nSynthetic patient ' +
  'with pneumonia, organism unspecified, and a urinary tract infection, site not specified.\n' +
  'Plan: antibiotics, fluids, follow up.';

describe('ICD codes', () => {
  it('places the dot as the standard MIMIC-III splits do', () => {
    assert.equal(formatIcd9('4019', 'diagnosis'), '401.9');
    assert.equal(formatIcd9('25000', 'diagnosis'), '250.00');
    assert.equal(formatIcd9('486', 'diagnosis'), '486');
    assert.equal(formatIcd9('V5861', 'diagnosis'), 'V58.61');
    assert.equal(formatIcd9('E8497', 'diagnosis'), 'E849.7');
    assert.equal(formatIcd9('E849', 'diagnosis'), 'E849');
    assert.equal(formatIcd9('0389', 'diagnosis'), '038.9');
    assert.equal(formatIcd9('3893', 'procedure'), '38.93');
    assert.equal(formatIcd9('38.93', 'procedure'), '38.93');
    assert.equal(formatIcd9('401.9', 'diagnosis'), '401.9');
    assert.equal(formatIcd10('E119', 'diagnosis'), 'E11.9');
    assert.equal(formatIcd10('I10', 'diagnosis'), 'I10');
    assert.equal(formatIcd10('0DTJ4ZZ', 'procedure'), '0DTJ4ZZ');
  });
});

describe('data mimic (MIMIC-III)', () => {
  before(() => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-mimic-'));
  });
  after(() => rmSync(W, { recursive: true, force: true }));

  it('joins discharge summaries and addenda per admission, with the standard split files', async () => {
    const output = path.join(W, 'm3.jsonl');
    const r = await mimic3({
      output,
      splitFiles: path.join(T3, 'splits'),
      descriptions: path.join(T3, 'D_ICD_DIAGNOSES.csv'),
    });
    const rows = rowsOf(output);
    assert.deepEqual(
      rows.map((x) => [x.hadm_id, x.subject_id, x.split, x.labels]),
      [
        [1001, 101, 'train', ['401.9', '250.00', 'E849.7', '38.93']],
        [1002, 101, 'dev', ['428.0', '401.9', '96.04']],
        [1003, 102, 'train', ['V58.61', '414.01', '401.9']],
        [1004, 103, 'train', ['486', '599.0']],
        [1005, 104, 'test', ['599.0', '428.0', '038.9']],
        [1008, 108, 'train', ['995.91', '038.9', 'V15.82', '96.04']],
      ],
    );
    assert.equal(rows[0].text, TEXT_1001); // report, then the addendum (listed first in the file)
    assert.equal(rows[2].text, TEXT_1003); // ISERROR note left out; the addendum after the report
    assert.equal(rows[3].text, TEXT_1004); // commas, doubled quotes and line breaks inside the quoted TEXT
    assert.deepEqual(Object.keys(rows[0]), ['text', 'labels', 'hadm_id', 'subject_id', 'split']);
    const s = JSON.parse(readFileSync(r.summaryFile, 'utf8'));
    assert.equal(r.summaryFile, `${output}.summary.json`);
    assert.deepEqual(s.dropped, {
      empty_codes: 1,
      notes_of_other_categories: 3,
      notes_marked_iserror: 1,
      notes_without_admission_id: 1,
      admissions_with_notes_but_no_codes: 1,
      admissions_with_codes_but_no_notes: 1,
      admissions_without_top_codes: 0,
      admissions_not_in_split_files: 0,
    });
    assert.deepEqual(s.splits, { train: 4, dev: 1, test: 1 });
    assert.deepEqual(s.label_frequencies.slice(0, 2), [
      { label: '401.9', count: 3, description: 'Unspecified essential hypertension' },
      { label: '038.9', count: 2, description: 'Unspecified septicemia' },
    ]);
    assert.deepEqual(s.categories_in_notes, { 'Discharge summary': 11, 'Nursing/other': 1, Radiology: 2 });
    assert.equal(s.first_dropped_row.notes_without_admission_id, 13);
  });

  it('--top keeps the most frequent codes (ties in code order) and drops admissions left without one', async () => {
    const output = path.join(W, 'top.jsonl');
    const r = await mimic3({ output, top: 3, procedures: undefined, splitFiles: path.join(T3, 'splits') });
    assert.deepEqual(
      rowsOf(output).map((x) => [x.hadm_id, x.labels]),
      [
        [1001, ['401.9']],
        [1002, ['428.0', '401.9']],
        [1003, ['401.9']],
        [1005, ['428.0', '038.9']],
        [1008, ['038.9']],
      ],
    );
    assert.equal(r.summary.codes_before_top, 11);
    assert.equal((r.summary.dropped as Record<string, number>).admissions_without_top_codes, 1);
  });

  it('reads gzip tables, and writes CSV split files and Parquet that train reads as multi-label data', async () => {
    const gz = path.join(W, 'gz');
    mkdirSync(gz);
    for (const f of ['NOTEEVENTS.csv', 'DIAGNOSES_ICD.csv', 'PROCEDURES_ICD.csv'])
      writeFileSync(path.join(gz, `${f}.gz`), gzipSync(readFileSync(path.join(T3, f))));
    const csv = path.join(W, 'm3.csv');
    const r = await mimic3({
      notes: path.join(gz, 'NOTEEVENTS.csv.gz'),
      diagnoses: path.join(gz, 'DIAGNOSES_ICD.csv.gz'),
      procedures: path.join(gz, 'PROCEDURES_ICD.csv.gz'),
      output: csv,
      splitFiles: path.join(T3, 'splits'),
      writeSplits: true,
    });
    assert.deepEqual(r.files, [csv, ...['train', 'dev', 'test'].map((s) => path.join(W, `m3.${s}.csv`))]);
    const train = await readLabeled(path.join(W, 'm3.train.csv'), { multiLabel: true });
    assert.equal(train.examples.length, 4);
    assert.equal(train.labelColumn, 'labels');
    assert.equal(train.examples[0]!.text, TEXT_1001);
    assert.deepEqual(
      train.labels.filter((_, i) => (train.examples[0]!.label as number[])[i]),
      ['38.93', '250.00', '401.9', 'E849.7'], // train's label order (numeric-aware)
    );
    const pq = path.join(W, 'm3.parquet');
    await mimic3({ output: pq, splitFiles: path.join(T3, 'splits') });
    const back = [];
    for await (const row of readRows(pq)) back.push(row);
    assert.deepEqual(back, rowsOf(path.join(W, 'm3.jsonl')));
    const all = await readLabeled(pq, { multiLabel: true });
    assert.equal(all.examples.length, 6);
  });

  it('gives the same rows whatever the number of temporary partitions, and leaves no temporary file', async () => {
    const dir = path.join(W, 'syn');
    mkdirSync(dir);
    const t = writeSyntheticMimic3({ dir, admissions: 300 });
    const run = async (name: string, partitionBytes?: number) => {
      const output = path.join(dir, name);
      const r = await buildMimic3Dataset({ ...t, output, log: quiet, partitionBytes });
      return { rows: readFileSync(output, 'utf8'), parts: r.summary.temporary_partitions };
    };
    const one = await run('one.jsonl');
    const many = await run('many.jsonl', 4096);
    assert.equal(one.parts, 1);
    assert.ok((many.parts as number) > 10, `partitions: ${many.parts}`);
    assert.equal(many.rows, one.rows);
    const ids = one.rows
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).hadm_id as number);
    assert.equal(ids.length, 300);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.endsWith('.tmp')),
      [],
    );
  });

  it('splits by patient: no patient in two splits, shares close to the ratio, the same for the same seed', () => {
    const adm = new Map(Array.from({ length: 1000 }, (_, i) => [i, Math.floor(i / 3)] as [number, number]));
    const a = splitBySubject(adm, [0.8, 0.1, 0.1], 1);
    const bySubject = new Map<number, Set<string>>();
    for (const [h, s] of a) {
      const set = bySubject.get(adm.get(h)!) ?? new Set();
      set.add(s);
      bySubject.set(adm.get(h)!, set);
    }
    assert.ok([...bySubject.values()].every((s) => s.size === 1));
    const n = (x: string) => [...a.values()].filter((s) => s === x).length;
    assert.ok(Math.abs(n('train') - 800) <= 3 && Math.abs(n('dev') - 100) <= 3, `${n('train')} ${n('dev')}`);
    assert.deepEqual([...splitBySubject(adm, [0.8, 0.1, 0.1], 1)], [...a]);
  });

  it('without split files: a split grouped by SUBJECT_ID', async () => {
    const output = path.join(W, 'bysubject.jsonl');
    await mimic3({ output });
    const rows = rowsOf(output);
    assert.deepEqual(
      rows.map((x) => [x.hadm_id, x.split]),
      [
        [1001, 'train'],
        [1002, 'train'],
        [1003, 'train'],
        [1004, 'train'],
        [1005, 'train'],
        [1008, 'test'],
      ],
    );
  });
});

describe('data mimic4 (MIMIC-IV)', () => {
  before(() => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-mimic4-'));
  });
  after(() => rmSync(W, { recursive: true, force: true }));

  const mimic4 = (output: string, icdVersion?: '9' | '10' | 'both') =>
    buildMimic4Dataset({
      notes: path.join(T4, 'discharge.csv'),
      diagnoses: path.join(T4, 'diagnoses_icd.csv'),
      procedures: path.join(T4, 'procedures_icd.csv'),
      descriptions: path.join(T4, 'd_icd_diagnoses.csv'),
      output,
      icdVersion,
      splitRatio: '2,1,0',
      log: quiet,
    });

  it('keeps the ICD version on each code and orders notes by chart time, then note_seq', async () => {
    const output = path.join(W, 'm4.jsonl');
    const r = await mimic4(output);
    const rows = rowsOf(output);
    assert.deepEqual(
      rows.map((x) => [x.hadm_id, x.subject_id, x.labels]),
      [
        [20000001, 10000001, ['ICD10:I10', 'ICD10:E11.9', 'ICD10:Z79.84', 'ICD10:0DTJ4ZZ']],
        [20000002, 10000001, ['ICD10:I50.32', 'ICD10:I10']],
        [20000003, 10000002, ['ICD9:401.9', 'ICD9:250.00', 'ICD9:E849.7', 'ICD9:38.93']],
      ],
    );
    assert.equal(
      rows[0].text,
      'Name:  ___                 Unit No:   ___\n \nAdmission Date:  ___              Discharge Date:   ___\n \n' +
        'Synthetic patient with essential hypertension and type 2 diabetes, "well controlled".\n' +
        'Underwent an invented excision procedure.\n\nAddendum written after the summary: synthetic glucose follow-up.',
    );
    assert.equal(rows[0].split, rows[1].split, 'one patient, one split');
    assert.deepEqual(r.summary.dropped, {
      notes_without_admission_id: 1,
      admissions_with_notes_but_no_codes: 1,
      admissions_with_codes_but_no_notes: 1,
      admissions_without_top_codes: 0,
    });
    const freq = r.summary.label_frequencies as { label: string; description?: string }[];
    assert.equal(
      freq.find((f) => f.label === 'ICD10:E11.9')?.description,
      'Type 2 diabetes mellitus without complications',
    );
  });

  it('--icd-version keeps one version', async () => {
    const output = path.join(W, 'm4-9.jsonl');
    const r = await mimic4(output, '9');
    assert.deepEqual(
      rowsOf(output).map((x) => [x.hadm_id, x.labels]),
      [[20000003, ['ICD9:401.9', 'ICD9:250.00', 'ICD9:E849.7', 'ICD9:38.93']]],
    );
    assert.equal((r.summary.dropped as Record<string, number>).codes_of_other_icd_version, 7);
  });
});
