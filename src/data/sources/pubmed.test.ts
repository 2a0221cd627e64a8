// Golden tests of `data pubmed` on synthetic MEDLINE XML (testdata/pubmed): title + abstract (structured sections
// keep their labels, inline markup and CDATA become text), major / all MeSH descriptors, a later version of a PMID
// replacing the earlier one, coarse labels at a MeSH tree level from the mtrees file or the descriptor XML.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPubmedDataset, type PubmedOptions } from './pubmed.js';
import { readMeshTree, treeLevel } from './mesh.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const T = path.resolve(here, '..', '..', '..', 'src', 'data', 'sources', 'testdata', 'pubmed');
const INPUTS = [path.join(T, 'pubmed-base.xml'), path.join(T, 'pubmed-update.xml')];
let W: string;

const rowsOf = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
const pubmed = (o: Partial<PubmedOptions>) => {
  const output = path.join(W, `pm-${Math.random().toString(36).slice(2)}.jsonl`);
  return buildPubmedDataset({ input: INPUTS, output, log: () => {}, ...o }).then((r) => ({
    ...r,
    rows: rowsOf(output),
  }));
};

const TEXT_1 =
  'Synthetic screening study of breast tumours (revised).\n\nBACKGROUND: An invented background sentence.\n' +
  'RESULTS: Invented results.';
const TEXT_2 =
  'Glucose & insulin in type 2 diabetes: a synthetic HbA1c trial.\n\n' +
  'A synthetic unstructured abstract spread over two lines.';
const TEXT_5 = 'Blood pressure <control> in a synthetic cohort.\n\nInvented cohort, invented numbers.';

describe('data pubmed', () => {
  before(() => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-pubmed-'));
  });
  after(() => rmSync(W, { recursive: true, force: true }));

  it('major MeSH topics (on the descriptor or a qualifier) as labels, title + abstract as text', async () => {
    const r = await pubmed({});
    assert.deepEqual(r.rows, [
      { text: TEXT_2, labels: ['Diabetes Mellitus, Type 2'], pmid: '90000002' },
      { text: TEXT_1, labels: ['Breast Neoplasms', 'Neoplasms'], pmid: '90000001' },
      { text: TEXT_5, labels: ['Hypertension'], pmid: '90000005' },
    ]);
    assert.deepEqual(r.summary.dropped, {
      without_abstract: 1,
      without_labels: 1,
      delete_citation_entries: 1,
      replaced_by_a_later_version: 1,
      without_top_labels: 0,
    });
    assert.equal(r.summary.label_delimiter, null); // JSONL keeps lists
  });

  it('--mesh all, from gzip files; CSV joins labels with ";" when a label holds a comma', async () => {
    const gz = INPUTS.map((f) => {
      const p = path.join(W, `${path.basename(f)}.gz`);
      writeFileSync(p, gzipSync(readFileSync(f)));
      return p;
    });
    const output = path.join(W, 'all.csv');
    const r = await buildPubmedDataset({ input: gz, output, mesh: 'all', log: () => {} });
    assert.equal(r.summary.label_delimiter, ';');
    const lines = readFileSync(output, 'utf8').split('\n');
    assert.equal(lines[0], 'text,labels,pmid');
    assert.ok(readFileSync(output, 'utf8').includes('"Diabetes Mellitus, Type 2;Adult",90000002'));
    assert.ok(readFileSync(output, 'utf8').includes(',Breast Neoplasms;Neoplasms;Humans,90000001'));
  });

  it('--mesh-level 1 --mesh-branch C: disease categories from the mtrees file or the descriptor XML', async () => {
    const tree = path.join(T, 'mtrees.bin');
    const r = await pubmed({ mesh: 'all', meshLevel: 1, meshBranch: 'C', meshTree: tree });
    assert.deepEqual(
      r.rows.map((x) => [x.pmid, x.labels]),
      [
        ['90000002', ['Nutritional and Metabolic Diseases', 'Endocrine System Diseases']],
        ['90000001', ['Neoplasms', 'Skin and Connective Tissue Diseases']],
        ['90000005', ['Cardiovascular Diseases']],
      ],
    );
    const x = await pubmed({ meshLevel: 1, meshTree: path.join(T, 'desc.xml') });
    assert.deepEqual(
      x.rows.map((y) => [y.pmid, y.labels]),
      [
        ['90000001', ['Neoplasms', 'Skin and Connective Tissue Diseases']],
        ['90000005', ['Cardiovascular Diseases']],
      ],
    );
    const b = await pubmed({ mesh: 'all', meshBranch: 'C04', meshTree: tree });
    assert.deepEqual(
      b.rows.map((y) => [y.pmid, y.labels]),
      [['90000001', ['Breast Neoplasms', 'Neoplasms']]],
    );
  });

  it('reads both MeSH tree formats alike', async () => {
    const a = await readMeshTree(path.join(T, 'mtrees.bin'));
    const d = await readMeshTree(path.join(T, 'desc.xml'));
    assert.deepEqual(a.byName.get('Breast Neoplasms'), ['C04.588.180', 'C17.800.090.500']);
    assert.deepEqual(d.byUi.get('D001943'), ['C04.588.180', 'C17.800.090.500']);
    assert.equal(d.byName.get('Antineoplastic Agents'), undefined); // a name referred to, not a descriptor here
    assert.equal(treeLevel('C04.588.180', 2), 'C04.588');
  });

  it('--top keeps the most frequent labels', async () => {
    const r = await pubmed({ mesh: 'all', top: 1 });
    assert.deepEqual(
      r.rows.map((x) => [x.pmid, x.labels]),
      [
        ['90000001', ['Humans']],
        ['90000005', ['Humans']],
      ],
    );
    assert.equal((r.summary.dropped as Record<string, number>).without_top_labels, 1);
  });
});
