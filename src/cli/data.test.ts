// `medtune data` as a user runs it: each bad input of the issue (wrong columns naming the expected MIMIC table, a
// note without an admission id, codes without notes, bad XML, a truncated gzip, a split file naming unknown
// admissions, an empty result) gives one `medtune: … (CODE)` line, exit 2 and nothing half-written; Ctrl-C removes
// the temporary partitions; and the whole path on a synthetic MIMIC-III-schema set: data mimic → train
// --multi-label → metrics.json and report.html.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSyntheticMimic3 } from '../data/sources/synthetic.js';
import { runCli } from './program.js';
import { fixturePath } from '../testing-fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.resolve(here, '..', '..', 'bin', 'medtune.js');
const TD = path.resolve(here, '..', '..', 'src', 'data', 'sources', 'testdata');
const T3 = path.join(TD, 'mimic3');
let W: string;

function medtune(args: string[], timeout = 60_000) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
    timeout,
  });
  assert.ok(!r.error, `did not finish: ${args.join(' ')}`);
  return { exit: r.status ?? -1, stderr: r.stderr, stdout: r.stdout };
}

/** Runs the CLI in this process (fast), stderr captured: library log lines and the error line alike. */
async function inProcess(args: string[]) {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  }) as typeof process.stderr.write;
  try {
    const exit = await runCli(['node', 'medtune', ...args], (s) => (stderr += s));
    return { exit, stderr };
  } finally {
    process.stderr.write = write;
  }
}

function strayTemps(dir: string): string[] {
  const found: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = path.join(dir, n);
    if (/\.medtune-\d+-[0-9a-z]+\.tmp$/.test(n)) found.push(p);
    else if (statSync(p).isDirectory()) found.push(...strayTemps(p));
  }
  return found;
}

const mimicArgs = (o: { notes?: string; diagnoses?: string; output: string }, ...extra: string[]) => [
  'data',
  'mimic',
  '--notes',
  o.notes ?? path.join(T3, 'NOTEEVENTS.csv'),
  '--diagnoses',
  o.diagnoses ?? path.join(T3, 'DIAGNOSES_ICD.csv'),
  '--output',
  o.output,
  ...extra,
];

interface Probe {
  name: string;
  args: () => string[];
  code: string;
  match: RegExp;
}

describe('medtune data: bad input', () => {
  before(() => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-data-cli-'));
    mkdirSync(path.join(W, 'in'));
    const notes = readFileSync(path.join(T3, 'NOTEEVENTS.csv'));
    writeFileSync(path.join(W, 'in', 'NOTEEVENTS.csv.gz'), gzipSync(notes).subarray(0, 700));
    const noHadm = readFileSync(path.join(T3, 'NOTEEVENTS.csv'), 'utf8').replace(
      /^(\d+,\d+,)\d+,/gm,
      (_, a: string) => `${a},`,
    );
    writeFileSync(path.join(W, 'in', 'NOTEEVENTS-nohadm.csv'), noHadm);
    writeFileSync(
      path.join(W, 'in', 'DIAGNOSES-other.csv'),
      '"ROW_ID","SUBJECT_ID","HADM_ID","SEQ_NUM","ICD9_CODE"\n1,9,9001,1,"4019"\n',
    );
    cpSync(path.join(T3, 'splits'), path.join(W, 'in', 'splits'), { recursive: true });
    writeFileSync(path.join(W, 'in', 'splits', 'test_full_hadm_ids.csv'), '1005\n424242\n');
    writeFileSync(path.join(W, 'in', 'bad.xml'), '<PubmedArticleSet><PubmedArticle><MedlineCitation></PubmedArticle>');
    writeFileSync(path.join(W, 'in', 'other.xml'), '<html><body/></html>');
    const pm = readFileSync(path.join(TD, 'pubmed', 'pubmed-base.xml'));
    writeFileSync(path.join(W, 'in', 'pubmed.xml.gz'), gzipSync(pm).subarray(0, 400));
    writeFileSync(path.join(W, 'in', 'bad.jsonl'), '{"protocolSection": {}}\n{not json\n');
    writeFileSync(path.join(W, 'in', 'notstudy.json'), '{"hello": "world"}');
    mkdirSync(path.join(W, 'out'));
  });
  after(() => rmSync(W, { recursive: true, force: true }));

  const out = (n: string) => path.join(W, 'out', n);
  const inp = (n: string) => path.join(W, 'in', n);
  const probes: Probe[] = [
    {
      name: 'notes file with the columns of another table',
      args: () => mimicArgs({ notes: path.join(T3, 'DIAGNOSES_ICD.csv'), output: out('a.csv') }),
      code: 'E_INPUT_COLUMN',
      match: /DIAGNOSES_ICD\.csv has no column CHARTDATE, CATEGORY, TEXT: expected the MIMIC-III NOTEEVENTS table/,
    },
    {
      name: 'diagnoses file without ICD9_CODE (a MIMIC-IV table)',
      args: () => mimicArgs({ diagnoses: path.join(TD, 'mimic4', 'diagnoses_icd.csv'), output: out('a.csv') }),
      code: 'E_INPUT_COLUMN',
      match: /has no column ICD9_CODE: expected the MIMIC-III DIAGNOSES_ICD table \(columns ROW_ID, SUBJECT_ID/,
    },
    {
      name: 'mimic4 given MIMIC-III notes',
      args: () => [
        'data',
        'mimic4',
        '--notes',
        path.join(T3, 'NOTEEVENTS.csv'),
        '--diagnoses',
        path.join(TD, 'mimic4', 'diagnoses_icd.csv'),
        '--output',
        out('a.csv'),
      ],
      code: 'E_INPUT_COLUMN',
      match: /expected the MIMIC-IV-Note discharge table/,
    },
    {
      name: 'no note has an admission id',
      args: () => mimicArgs({ notes: inp('NOTEEVENTS-nohadm.csv'), output: out('a.csv') }),
      code: 'E_INPUT_EMPTY',
      match: /no admission is left to write \(left out: .*notes without admission id 10,/,
    },
    {
      name: 'codes of admissions that have no notes',
      args: () => mimicArgs({ diagnoses: inp('DIAGNOSES-other.csv'), output: out('a.csv') }),
      code: 'E_INPUT_EMPTY',
      match: /admissions with notes but no codes 7, admissions with codes but no notes 1\).*same release/,
    },
    {
      name: 'truncated gzip notes',
      args: () => mimicArgs({ notes: inp('NOTEEVENTS.csv.gz'), output: out('a.csv') }),
      code: 'E_INPUT_PARSE',
      match: /NOTEEVENTS\.csv\.gz: the gzip data ends early \(truncated file\) after line \d+/,
    },
    {
      name: 'a split file naming an unknown admission',
      args: () => mimicArgs({ output: out('a.csv') }, '--split-files', inp('splits')),
      code: 'E_INPUT_DATA',
      match: /test_full_hadm_ids\.csv line 2: admission 424242 is in none of the input tables/,
    },
    {
      name: 'an empty result after filtering (no note of the category)',
      args: () => mimicArgs({ output: out('a.csv') }, '--categories', 'Echo'),
      code: 'E_INPUT_EMPTY',
      match: /no admission is left.*the notes file has the categories Discharge summary, Nursing\/other, Radiology/,
    },
    {
      name: 'bad --split-ratio',
      args: () => mimicArgs({ output: out('a.csv') }, '--split-ratio', '0.8,0.2'),
      code: 'E_USAGE',
      match: /--split-ratio must be three numbers/,
    },
    {
      name: 'split folder with two sets',
      args: () => {
        writeFileSync(inp('splits/train_50_hadm_ids.csv'), '1001\n');
        return mimicArgs({ output: out('a.csv') }, '--split-files', inp('splits'), '--top', '3');
      },
      code: 'E_INPUT_NOT_FOUND',
      match: /2 files for train \(train_50_hadm_ids\.csv, train_full_hadm_ids\.csv\) and none or several named \*_3_\*/,
    },
    {
      name: 'output is an input',
      args: () => mimicArgs({ output: path.join(T3, 'NOTEEVENTS.csv') }),
      code: 'E_OUTPUT_PATH',
      match: /is the input file itself/,
    },
    {
      name: 'bad XML',
      args: () => ['data', 'pubmed', '--input', inp('bad.xml'), '--output', out('p.jsonl')],
      code: 'E_INPUT_PARSE',
      match: /bad\.xml: line 1, column \d+: the XML is not well-formed \(unexpected close tag\)/,
    },
    {
      name: 'XML that is not PubMed',
      args: () => ['data', 'pubmed', '--input', inp('other.xml'), '--output', out('p.jsonl')],
      code: 'E_INPUT_FORMAT',
      match: /the root element is <html>, expected <PubmedArticleSet>/,
    },
    {
      name: 'truncated gzip XML',
      args: () => ['data', 'pubmed', '--input', inp('pubmed.xml.gz'), '--output', out('p.jsonl')],
      code: 'E_INPUT_PARSE',
      match: /pubmed\.xml\.gz: the gzip data ends early/,
    },
    {
      name: '--mesh-level without a tree',
      args: () => ['data', 'pubmed', '--input', inp('bad.xml'), '--output', out('p.jsonl'), '--mesh-level', '1'],
      code: 'E_USAGE',
      match: /--mesh-level and --mesh-branch need --mesh-tree/,
    },
    {
      name: 'a JSONL line that is not a study',
      args: () => ['data', 'ctgov', '--input', inp('bad.jsonl'), '--output', out('c.jsonl')],
      code: 'E_INPUT_PARSE',
      match: /bad\.jsonl: line 1: not a ClinicalTrials\.gov study record in the API v2 format/,
    },
    {
      name: 'a JSON file that is not a study',
      args: () => ['data', 'ctgov', '--input', inp('notstudy.json'), '--output', out('c.jsonl')],
      code: 'E_INPUT_PARSE',
      match: /notstudy\.json: not a ClinicalTrials\.gov study record/,
    },
    {
      name: 'a missing input',
      args: () => ['data', 'ctgov', '--input', inp('nope'), '--output', out('c.jsonl')],
      code: 'E_INPUT_NOT_FOUND',
      match: /nope does not exist/,
    },
  ];

  for (const p of probes) {
    it(`${p.name}: one line (${p.code}), exit 2, nothing written`, async () => {
      const r = await inProcess(p.args());
      const lines = r.stderr.split('\n').filter((l) => l.trim());
      assert.equal(r.exit, 2, r.stderr);
      assert.equal(lines.filter((l) => l.startsWith('medtune: ')).length, 1, r.stderr);
      assert.match(lines.at(-1)!, new RegExp(`^medtune: .+ \\(${p.code}\\)$`));
      assert.match(lines.at(-1)!, p.match);
      assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
      assert.deepEqual(readdirSync(path.join(W, 'out')), [], 'nothing written, no temporary file left');
    });
  }

  it('a note without an admission id is left out with one line naming the file and row', async () => {
    const output = out('ok.csv');
    const notes = readFileSync(path.join(T3, 'NOTEEVENTS.csv'), 'utf8');
    const r = await inProcess(mimicArgs({ output }));
    assert.equal(r.exit, 0, r.stderr);
    assert.match(r.stderr, /NOTEEVENTS\.csv: 1 selected note has no admission id \(data row 13\); left out\n/);
    assert.match(r.stderr, /left out: .*admissions with codes but no notes 1/);
    assert.ok(!r.stderr.includes(notes.split('\n')[20]!.slice(0, 30)), 'no note text in the log');
    rmSync(output);
    rmSync(`${output}.summary.json`);
  });

  it('Ctrl-C removes the temporary partitions and the partial output (exit 130)', async () => {
    const dir = path.join(W, 'sig');
    mkdirSync(dir);
    const t = writeSyntheticMimic3({ dir, admissions: 6000 });
    const output = path.join(dir, 'o.csv');
    const child = spawn(process.execPath, [bin, ...mimicArgs({ ...t, output })], {
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    let gone = false;
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => ((gone = true), res(c))));
    // (a loaded machine may take seconds to start the process: wait for its temporary folder, not a fixed time)
    for (let i = 0; i < 6000 && !gone && !strayTemps(dir).length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(strayTemps(dir).length, 'the temporary folder was seen');
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    assert.match(stderr.trim().split('\n').at(-1)!, /^medtune: interrupted by SIGINT; partial outputs removed/);
    assert.deepEqual(strayTemps(dir), []);
    assert.ok(!existsSync(output));
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('medtune data: the whole path', () => {
  const model = fixturePath('models', 'mini-biobert');
  it('data mimic → train --multi-label → metrics.json and report.html', { skip: !model && 'no ../shared' }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-data-e2e-'));
    try {
      const t = writeSyntheticMimic3({ dir, admissions: 150, summaryWords: 20 });
      const data = path.join(dir, 'mimic.csv');
      const d = medtune(
        mimicArgs({ ...t, output: data }, '--procedures', t.procedures, '--write-splits', '--top', '8'),
      );
      assert.equal(d.exit, 0, d.stderr);
      assert.match(d.stderr, /MIMIC-III: \d+ admissions \(train \d+, dev \d+, test \d+\), 8 codes \(top 8 of 13\)/);
      const run = path.join(dir, 'run');
      const split = (s: string) => path.join(dir, `mimic.${s}.csv`);
      const tr = medtune(
        [
          'train',
          '--model',
          model!,
          '--train',
          split('train'),
          '--validation',
          split('dev'),
          '--test',
          split('test'),
          '--multi-label',
          '--output-dir',
          run,
          '--epochs',
          '2',
          '--max-length',
          '48',
          '--batch-size',
          '16',
          '--no-baseline',
        ],
        120_000,
      );
      assert.equal(tr.exit, 0, tr.stderr);
      const m = JSON.parse(readFileSync(path.join(run, 'metrics.json'), 'utf8'));
      const test = m.test ?? m;
      assert.equal(typeof test.f1_micro, 'number', JSON.stringify(Object.keys(m)));
      assert.ok(existsSync(path.join(run, 'report.html')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('curate --normalize-labels', () => {
  it('reports label spellings that differ only by case or punctuation, and merges them when asked', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-curate-norm-'));
    try {
      const input = path.join(dir, 'in.csv');
      const rows = [
        'text,label',
        'burning when passing urine and fever,Urinary tract infection',
        'frequent painful urination with cloudy urine,urinary tract infection',
        'pain on urination and lower belly ache for days,Urinary tract infection.',
        'itchy red rash on both arms after gardening,Allergy',
      ];
      writeFileSync(input, rows.join('\n') + '\n');
      const plain = await inProcess(['curate', '--input', input, '--output', path.join(dir, 'plain.csv')]);
      assert.equal(plain.exit, 0, plain.stderr);
      assert.match(plain.stderr, /labels: 1 group of labels differ only by case.*merge them with --normalize-labels/);
      const kept = readFileSync(path.join(dir, 'plain.csv'), 'utf8');
      assert.match(kept, /,urinary tract infection,/);
      const out = path.join(dir, 'merged.csv');
      const merged = await inProcess(['curate', '--input', input, '--output', out, '--normalize-labels']);
      assert.equal(merged.exit, 0, merged.stderr);
      assert.match(merged.stderr, /merged into the most frequent spelling/);
      const text = readFileSync(out, 'utf8');
      assert.equal((text.match(/,Urinary tract infection,/g) ?? []).length, 3);
      const summary = JSON.parse(readFileSync(`${out}.curate.json`, 'utf8'));
      assert.equal(summary.label_variants.merged, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
