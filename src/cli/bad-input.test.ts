// The bad-input corpus: every command against a table of bad inputs (options, files, model folders, output paths,
// resume, environment, signals). For each probe: the exit code, exactly one `medtune: … (CODE)` line with the
// expected code, no stack trace, no hang (subprocess probes run under a timeout), input files unchanged, no partial
// output under the final name, and — after everything — no stray temporary file anywhere under the work folder.
// Most probes run in-process through runCli (fast); hangs, environment and signals run as real processes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
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
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { runCli } from './program.js';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { createScratchModel } from '../demo/scratch.js';
import { syntheticSymptoms, DEMO_DIAGNOSES } from '../demo/synthetic.js';
import { fixturePath } from '../testing-fixtures.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'medtune.js');
const tinyBert = fixturePath('fixtures', 'hf', 'tiny-bert');

let W: string; // work folder
let IN: string; // inputs (must never change)
let M: string; // a small scratch model (trained on the demo's labels)
let TB: string; // tiny-bert fixture copy (3 labels LABEL_0..2) or the scratch model

interface Probe {
  name: string;
  args: string[];
  exit: number;
  code?: string;
  match?: RegExp;
  /** run as a real process (under a timeout) */
  proc?: boolean;
  env?: Record<string, string>;
  /** an output path that must not exist after a failed run */
  output?: string;
  /** extra check after the run */
  check?: (r: Result) => void;
  setup?: () => void;
}

interface Result {
  exit: number;
  stderr: string;
  stdout: string;
}

/** Substitutes $W, $IN, $M, $TB in arguments. */
const sub = (a: string): string => a.replace(/\$W/g, W).replace(/\$IN/g, IN).replace(/\$M/g, M).replace(/\$TB/g, TB);

/** Runs the CLI in this process; stderr and console.log are captured (stdout itself carries the test report). */
async function runInProcess(args: string[]): Promise<Result> {
  let stderr = '';
  let stdout = '';
  const origErr = process.stderr.write.bind(process.stderr);
  const origLog = console.log;
  process.stderr.write = ((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  }) as typeof process.stderr.write;
  console.log = (...xs: unknown[]) => {
    stdout += xs.map(String).join(' ') + '\n';
  };
  try {
    const exit = await runCli(['node', 'medtune', ...args], (s) => {
      stderr += s;
    });
    return { exit, stderr, stdout };
  } finally {
    process.stderr.write = origErr;
    console.log = origLog;
  }
}

function runProcess(args: string[], env: Record<string, string> = {}, timeoutMs = 20000): Result {
  const r = spawnSync(process.execPath, [bin, ...args], {
    env: { ...process.env, CI: '1', ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  assert.ok(!r.error, `did not finish in ${timeoutMs} ms (hang?): ${args.join(' ')}`);
  return { exit: r.status ?? -1, stderr: r.stderr, stdout: r.stdout };
}

function hashTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(p, createHash('sha1').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

/**
 * Starts `train --overwrite` into `$W/out/done` (40 epochs, a checkpoint every step) and resolves once it is training
 * and `ready` holds for the folder's entries (or it exited): the child, and what it printed so far.
 */
async function overwriteRunUntil(ready: (names: string[]) => boolean) {
  const out = path.join(W, 'out', 'done');
  const args = [bin, ...tr('done', '--overwrite', '--epochs', '40', '--save-steps', '1').map(sub)];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  await new Promise<void>((res) => {
    const on = (d: Buffer) => {
      text += String(d);
      if (/step \d+\/\d+/.test(text) && ready(readdirSync(out))) res();
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.on('exit', () => res());
  });
  return { child, text: () => text };
}

function strayTemps(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (/\.medtune-\d+-[0-9a-z]+\.tmp$|^\.medtune-probe-/.test(n)) found.push(p);
      if (existsSync(p) && statSync(p).isDirectory()) walk(p);
    }
  };
  walk(dir);
  return found;
}

/** The error contract: one `medtune:` line with the code, last on stderr, and no stack trace. */
function assertOneLine(p: Probe, r: Result): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  const errs = lines.filter((l) => l.startsWith('medtune: '));
  assert.equal(errs.length, 1, `${p.name}: expected one medtune: line, stderr was:\n${r.stderr}`);
  assert.equal(lines.at(-1), errs[0], `${p.name}: the medtune: line must be the last on stderr:\n${r.stderr}`);
  assert.match(errs[0]!, /^medtune: .+ \((E_[A-Z_]+)\)$/, `${p.name}: ${errs[0]}`);
  if (p.code) assert.ok(errs[0]!.endsWith(`(${p.code})`), `${p.name}: expected ${p.code}: ${errs[0]}`);
  if (p.match) assert.match(errs[0]!, p.match, p.name);
  assert.ok(!/^\s+at .+\(.*:\d+:\d+\)$/m.test(r.stderr), `${p.name}: stack trace on stderr:\n${r.stderr}`);
}

// ---------------------------------------------------------------------------------------------- the inputs
function writeInputs(): void {
  const rows = syntheticSymptoms(4, 11);
  const csv = (rs: { text: string; label: string }[]) =>
    'text,label\n' + rs.map((r) => `"${r.text}",${r.label}`).join('\n') + '\n';
  writeFileSync(path.join(IN, 'train.csv'), csv(rows));
  writeFileSync(path.join(IN, 'test.csv'), csv(syntheticSymptoms(1, 12)));
  writeFileSync(path.join(IN, 'train.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(path.join(IN, 'notes.csv'), 'id,text\n1,chest pain and fever\n2,cough for two weeks\n');
  writeFileSync(path.join(IN, 'notes.txt'), 'chest pain\n');
  writeFileSync(path.join(IN, 'header-only.csv'), 'text,label\n');
  writeFileSync(path.join(IN, 'empty.csv'), '');
  writeFileSync(path.join(IN, 'empty.jsonl'), '');
  writeFileSync(path.join(IN, 'blank-texts.csv'), 'text,label\n"",a\n"  ",b\n');
  writeFileSync(path.join(IN, 'one-class.csv'), 'text,label\nfever,flu\ncough,flu\nchills,flu\n');
  writeFileSync(path.join(IN, 'binary.csv'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
  writeFileSync(path.join(IN, 'gzip.csv'), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0]));
  writeFileSync(path.join(IN, 'parquet.csv'), Buffer.concat([Buffer.from('PAR1'), Buffer.alloc(64, 1)]));
  writeFileSync(path.join(IN, 'junk.parquet'), 'this is not parquet at all');
  writeFileSync(
    path.join(IN, 'utf16.csv'),
    Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('text,label\nfever,flu\n', 'utf16le')]),
  );
  writeFileSync(
    path.join(IN, 'latin1.csv'),
    Buffer.concat([
      Buffer.from('text,label\nfever,flu\ncough,cold\n'),
      Buffer.from([0x63, 0x61, 0x66, 0xe9]),
      Buffer.from(',flu\n'),
    ]),
  );
  writeFileSync(path.join(IN, 'unclosed-quote.csv'), 'text,label\n"fever,flu\ncough,cold\n');
  writeFileSync(path.join(IN, 'extra-field.csv'), 'text,label\nfever,flu\nchest pain, left arm,mi\n');
  writeFileSync(path.join(IN, 'mid-quote.csv'), 'text,label\nfever,flu\nsays "ouch",cold\n');
  writeFileSync(path.join(IN, 'after-quote.csv'), 'text,label\n"fever"x,flu\n');
  writeFileSync(path.join(IN, 'dup-header.csv'), 'text,text,label\na,b,c\n');
  writeFileSync(path.join(IN, 'no-label-col.csv'), 'text,other\nfever,flu\n');
  writeFileSync(path.join(IN, 'no-text-col.csv'), 'body,label\nfever,flu\n');
  writeFileSync(
    path.join(IN, 'bad-json.jsonl'),
    '{"text": "fever", "label": "flu"}\n{"text": "cough" "label": "cold"}\n',
  );
  writeFileSync(path.join(IN, 'array-line.jsonl'), '{"text": "fever", "label": "flu"}\n["cough", "cold"]\n');
  writeFileSync(
    path.join(IN, 'label-object.jsonl'),
    '{"text": "fever", "label": {"name": "flu"}}\n{"text": "cough", "label": "cold"}\n',
  );
  writeFileSync(
    path.join(IN, 'label-list.jsonl'),
    '{"text": "fever", "label": ["flu"]}\n{"text": "cough", "label": ["cold"]}\n',
  );
  writeFileSync(
    path.join(IN, 'label-nested.jsonl'),
    '{"text": "fever", "labels": [["flu"]]}\n{"text": "cough", "labels": ["cold"]}\n',
  );
  writeFileSync(
    path.join(IN, 'text-object.jsonl'),
    '{"text": {"a": 1}, "label": "flu"}\n{"text": "cough", "label": "cold"}\n',
  );
  writeFileSync(path.join(IN, 'dup-ids.csv'), 'id,text,label\n1,fever,flu\n1,cough,cold\n');
  writeFileSync(path.join(IN, 'unseen-label.csv'), 'text,label\nfever,not-a-demo-diagnosis\n');
  writeFileSync(path.join(IN, 'groups.csv'), 'text,label,doc\nfever,Influenza,x1\ncough,Common cold,x2\n');
  const bad = Buffer.from('text,label\nfever,flu\ncough,cold\nbad \xff\xfe byte,flu\n', 'latin1');
  writeFileSync(path.join(IN, 'invalid-utf8.csv'), bad);
  writeFileSync(
    path.join(IN, 'invalid-utf8.jsonl'),
    Buffer.concat([
      Buffer.from('{"text": "fever", "label": "flu"}\n{"text": "'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('", "label": "x"}\n'),
    ]),
  );
  writeFileSync(path.join(IN, 'weights-bad.json'), '{not json');
  writeFileSync(path.join(IN, 'weights-unknown.json'), '{"nope": 2}');
  writeFileSync(path.join(IN, 'gold-bad.json'), '[1, 2');
  writeFileSync(path.join(IN, 'gold-shape.json'), '[{"text": "x"}]');
  writeFileSync(path.join(IN, 'a-file'), 'just a file\n');
  writeFileSync(
    path.join(IN, 'long.jsonl'),
    JSON.stringify({ text: Array.from({ length: 300 }, () => 'fever').join(' ') }) + '\n',
  );
  // model folders that are wrong in one way each
  const bad1 = path.join(IN, 'model-no-config');
  mkdirSync(bad1);
  writeFileSync(path.join(bad1, 'weights.txt'), 'x');
  const mk = (name: string, edit: (dir: string) => void) => {
    const d = path.join(IN, name);
    cpSync(M, d, { recursive: true });
    edit(d);
  };
  mk('model-bad-type', (d) =>
    writeFileSync(
      path.join(d, 'config.json'),
      JSON.stringify({ ...JSON.parse(readFileSync(path.join(M, 'config.json'), 'utf8')), model_type: 'gpt2' }),
    ),
  );
  mk('model-bad-config', (d) => writeFileSync(path.join(d, 'config.json'), '{"model_type": "bert",'));
  mk('model-no-weights', (d) => rmSync(path.join(d, 'model.safetensors')));
  mk('model-truncated', (d) =>
    writeFileSync(path.join(d, 'model.safetensors'), readFileSync(path.join(M, 'model.safetensors')).subarray(0, 2000)),
  );
  mk('model-garbage', (d) => writeFileSync(path.join(d, 'model.safetensors'), Buffer.alloc(100, 7)));
  mk('model-no-tokenizer', (d) => {
    for (const f of ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json']) rmSync(path.join(d, f), { force: true });
  });
  writeIssue22Inputs(mk);
  mk('model-bad-meta', (d) =>
    writeFileSync(
      path.join(d, 'config.json'),
      JSON.stringify({
        ...JSON.parse(readFileSync(path.join(M, 'config.json'), 'utf8')),
        medtune: { temperature: -1 },
      }),
    ),
  );
}

/** Inputs of the issue-22 probes: model folders with tensors missing or a config that does not fit, bad data. */
function writeIssue22Inputs(mk: (name: string, edit: (dir: string) => void) => void): void {
  const config = () => JSON.parse(readFileSync(path.join(M, 'config.json'), 'utf8')) as Record<string, unknown>;
  const keep = (d: string, pred: (k: string) => boolean) => {
    const t = [...readSafetensors(path.join(d, 'model.safetensors'))].filter(([k]) => pred(k));
    writeFileSync(path.join(d, 'model.safetensors'), Buffer.concat(serializeSafetensors(t)));
  };
  mk('model-no-head', (d) => keep(d, (k) => !k.startsWith('classifier.')));
  mk('model-no-layer', (d) => keep(d, (k) => !k.includes('.layer.0.')));
  mk('model-more-layers', (d) =>
    writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...config(), num_hidden_layers: 2 })),
  );
  mk('model-huge-vocab', (d) =>
    writeFileSync(path.join(d, 'config.json'), JSON.stringify({ ...config(), vocab_size: 3_000_000_000 })),
  );
  mk('model-bad-tokenizer-json', (d) => writeFileSync(path.join(d, 'tokenizer.json'), '{"version": "1.0", '));
  const rows = syntheticSymptoms(1, 12);
  writeFileSync(
    path.join(IN, 'swapped.csv'),
    'text,label\n' + rows.map((r) => `${r.label},"${r.text}"`).join('\n') + '\n',
  );
  writeFileSync(
    path.join(IN, 'semicolon.csv'),
    'text;label\n' + rows.map((r) => `${r.text.replace(/;/g, ' ')};${r.label}`).join('\n') + '\n',
  );
  const known = Object.values(config().id2label as Record<string, string>);
  writeFileSync(
    path.join(IN, 'known.csv'),
    'text,label\n' + rows.map((r, i) => `"${r.text}",${known[i % known.length]}`).join('\n') + '\n',
  );
  writeFileSync(path.join(IN, 'gold-empty.json'), '[]');
  writeFileSync(path.join(IN, 'gold-no-spans.json'), '[{"full_text": "seen today", "spans": []}]');
  writeFileSync(
    path.join(IN, 'gold-outside.json'),
    '[{"full_text": "seen by Dr. Chen", "spans": [{"entity_type": "PERSON", "start_position": 12, ' +
      '"end_position": 40}]}]',
  );
  writeFileSync(path.join(IN, 'empty.sqlite'), '');
  const db = new Database(path.join(IN, 'foreign.sqlite'));
  db.exec('CREATE TABLE patients (id INTEGER, note TEXT)');
  db.close();
}

// --------------------------------------------------------------------------------------------- the probes
const T = [
  'train',
  '--model',
  '$M',
  '--train',
  '$IN/train.csv',
  '--max-length',
  '32',
  '--epochs',
  '1',
  '--batch-size',
  '8',
  '--no-baseline',
];
const tr = (out: string, ...more: string[]) => [...T, '--output-dir', `$W/out/${out}`, ...more];
const P = (...more: string[]) => ['predict', '--model', '$TB', '--input', '$IN/notes.csv', ...more];
const E = (...more: string[]) => ['evaluate', '--model', '$M', '--test', '$IN/test.csv', ...more];
const D = (...more: string[]) => ['deid', '--input', '$IN/notes.csv', ...more];
const U = 'E_USAGE';

const usageProbes: Probe[] = [
  { name: 'no command', args: [], exit: 2 },
  { name: 'unknown command', args: ['tran'], exit: 2, code: U, match: /unknown command/ },
  {
    name: 'train: unknown option',
    args: tr('u1', '--learning_rate', '1e-4'),
    exit: 2,
    code: U,
    match: /unknown option/,
  },
  {
    name: 'train: missing --model',
    args: ['train', '--train', '$IN/train.csv', '--output-dir', '$W/out/u2'],
    exit: 2,
    code: U,
    match: /--model/,
  },
  {
    name: 'train: missing --train',
    args: ['train', '--model', '$M', '--output-dir', '$W/out/u3'],
    exit: 2,
    code: U,
    match: /--train/,
  },
  {
    name: 'train: missing --output-dir',
    args: ['train', '--model', '$M', '--train', '$IN/train.csv'],
    exit: 2,
    code: U,
    match: /--output-dir/,
  },
  {
    name: 'train: --epochs 0',
    args: tr('u4', '--epochs', '0'),
    exit: 2,
    code: U,
    match: /--epochs must be a number > 0/,
  },
  { name: 'train: --epochs -1', args: tr('u5', '--epochs', '-1'), exit: 2, code: U },
  { name: 'train: --epochs abc', args: tr('u6', '--epochs', 'abc'), exit: 2, code: U, match: /"abc"/ },
  { name: 'train: --learning-rate -1', args: tr('u7', '--learning-rate', '-1'), exit: 2, code: U },
  { name: 'train: --learning-rate NaN', args: tr('u8', '--learning-rate', 'NaN'), exit: 2, code: U },
  { name: 'train: --batch-size 0', args: tr('u9', '--batch-size', '0'), exit: 2, code: U },
  { name: 'train: --batch-size 1.5', args: tr('u10', '--batch-size', '1.5'), exit: 2, code: U, match: /integer/ },
  { name: 'train: --max-length 1', args: tr('u11', '--max-length', '1'), exit: 2, code: U },
  {
    name: 'train: --max-length above the model limit',
    args: tr('u12', '--max-length', '4096'),
    exit: 2,
    code: U,
    match: /limit of 128 tokens/,
  },
  { name: 'train: --validation-split 1', args: tr('u13', '--validation-split', '1'), exit: 2, code: U, match: /< 1/ },
  { name: 'train: --validation-split -0.1', args: tr('u14', '--validation-split', '-0.1'), exit: 2, code: U },
  { name: 'train: --validation-split 1.5', args: tr('u15', '--validation-split', '1.5'), exit: 2, code: U },
  {
    name: 'train: --scheduler foo',
    args: tr('u16', '--scheduler', 'foo'),
    exit: 2,
    code: U,
    match: /linear, cosine, constant/,
  },
  { name: 'train: --seed -1', args: tr('u17', '--seed', '-1'), exit: 2, code: U },
  { name: 'train: --threshold 2', args: tr('u18', '--threshold', '2'), exit: 2, code: U },
  { name: 'train: --label-smoothing 1', args: tr('u19', '--label-smoothing', '1'), exit: 2, code: U },
  {
    name: 'train: unknown --metric-for-best-model',
    args: tr('u20', '--metric-for-best-model', 'acc'),
    exit: 2,
    code: U,
    match: /accuracy, f1_macro/,
  },
  {
    name: 'train: multi-label metric on single-label',
    args: tr('u21', '--metric-for-best-model', 'subset_accuracy'),
    exit: 2,
    code: U,
  },
  { name: 'train: --deid-operator foo', args: tr('u22', '--deid', '--deid-operator', 'foo'), exit: 2, code: U },
  { name: 'train: --format xml', args: tr('u23', '--format', 'xml'), exit: 2, code: U },
  {
    name: 'train: --encoding klingon',
    args: tr('u24', '--encoding', 'klingon'),
    exit: 2,
    code: U,
    match: /unknown --encoding/,
  },
  { name: 'train: --group-regex without --group-column', args: tr('u25', '--group-regex', '^(x)'), exit: 2, code: U },
  {
    name: 'train: invalid --group-regex',
    args: tr('u26', '--group-column', 'doc', '--group-regex', '(['),
    exit: 2,
    code: U,
  },
  {
    name: 'train: --group-regex without a capture group',
    args: tr('u27', '--group-column', 'doc', '--group-regex', 'x\\d'),
    exit: 2,
    code: U,
    match: /capture group/,
  },
  {
    name: 'train: --class-weights missing file',
    args: tr('u28', '--class-weights', '$IN/nope.json'),
    exit: 2,
    code: 'E_INPUT_NOT_FOUND',
  },
  {
    name: 'train: --class-weights bad JSON',
    args: tr('u29', '--class-weights', '$IN/weights-bad.json'),
    exit: 2,
    code: U,
    match: /not valid JSON/,
  },
  {
    name: 'train: --class-weights unknown labels',
    args: tr('u30', '--class-weights', '$IN/weights-unknown.json'),
    exit: 2,
    code: U,
    match: /nope/,
  },
  { name: 'train: --warmup -1', args: tr('u31', '--warmup', '-1'), exit: 2, code: U },
  { name: 'train: --grad-accum 0', args: tr('u32', '--grad-accum', '0'), exit: 2, code: U },
  { name: 'train: --save-total-limit -1', args: tr('u33', '--save-total-limit', '-1'), exit: 2, code: U },
  { name: 'train: --threads 0', args: tr('u34', '--threads', '0'), exit: 2, code: U },
  { name: 'train: extra argument', args: tr('u35', 'stray'), exit: 2, code: U },
  { name: 'train: --max-steps 0', args: tr('u36', '--max-steps', '0'), exit: 2, code: U },
  {
    name: 'evaluate: missing --test',
    args: ['evaluate', '--model', '$M', '--output-dir', '$W/out/u40'],
    exit: 2,
    code: U,
  },
  { name: 'evaluate: --threshold -1', args: E('--output-dir', '$W/out/u41', '--threshold', '-1'), exit: 2, code: U },
  { name: 'evaluate: --max-length 0', args: E('--output-dir', '$W/out/u42', '--max-length', '0'), exit: 2, code: U },
  { name: 'evaluate: --batch-size 0', args: E('--output-dir', '$W/out/u43', '--batch-size', '0'), exit: 2, code: U },
  { name: 'evaluate: unknown option', args: E('--output-dir', '$W/out/u44', '--epochs', '3'), exit: 2, code: U },
  {
    name: 'evaluate: --max-length above the model limit',
    args: E('--output-dir', '$W/out/u45', '--max-length', '9999'),
    exit: 2,
    code: U,
    match: /limit/,
  },
  { name: 'predict: missing --output', args: P(), exit: 2, code: U },
  { name: 'predict: --top-k 0', args: P('--output', '$W/out/u50.jsonl', '--top-k', '0'), exit: 2, code: U },
  { name: 'predict: --threshold 1.5', args: P('--output', '$W/out/u51.jsonl', '--threshold', '1.5'), exit: 2, code: U },
  { name: 'predict: --batch-size x', args: P('--output', '$W/out/u52.jsonl', '--batch-size', 'x'), exit: 2, code: U },
  { name: 'predict: --format foo', args: P('--output', '$W/out/u53.jsonl', '--format', 'foo'), exit: 2, code: U },
  { name: 'predict: unknown option', args: P('--output', '$W/out/u54.jsonl', '--label-column', 'x'), exit: 2, code: U },
  { name: 'deid: --operator foo', args: D('--output', '$W/out/u60.csv', '--operator', 'foo'), exit: 2, code: U },
  { name: 'deid: missing --output', args: D(), exit: 2, code: U },
  {
    name: 'deid: unreadable --allow list',
    args: D('--output', '$W/out/u61.csv', '--allow', '$IN/nope.txt'),
    exit: 2,
    code: U,
    output: '$W/out/u61.csv',
  },
  { name: 'deid-eval: missing --gold', args: ['deid-eval'], exit: 2, code: U },
  { name: 'calibrate: missing --data', args: ['calibrate', '--model', '$M'], exit: 2, code: U },
  {
    name: 'calibrate: both abstention options',
    args: [
      'calibrate',
      '--model',
      '$M',
      '--data',
      '$IN/train.csv',
      '--abstain-below',
      '0.5',
      '--target-accuracy',
      '0.9',
    ],
    exit: 2,
    code: U,
    match: /not both/,
  },
  {
    name: 'calibrate: --target-accuracy 1.5',
    args: ['calibrate', '--model', '$M', '--data', '$IN/train.csv', '--target-accuracy', '1.5'],
    exit: 2,
    code: U,
  },
  {
    name: 'calibrate: labels the model does not have',
    args: ['calibrate', '--model', '$M', '--data', '$IN/one-class.csv'],
    exit: 2,
    code: 'E_INPUT_LABEL',
  },
  {
    name: 'explain: --steps 1',
    args: ['explain', '--model', '$M', '--input', '$IN/notes.csv', '--output', '$W/out/u80.jsonl', '--steps', '1'],
    exit: 2,
    code: U,
  },
  {
    name: 'explain: --baseline foo',
    args: ['explain', '--model', '$M', '--input', '$IN/notes.csv', '--output', '$W/out/u81.jsonl', '--baseline', 'foo'],
    exit: 2,
    code: U,
  },
  {
    name: 'explain: unknown --label',
    args: ['explain', '--model', '$M', '--input', '$IN/notes.csv', '--output', '$W/out/u82.jsonl', '--label', 'Nope'],
    exit: 2,
    code: U,
    match: /not a label/,
    output: '$W/out/u82.jsonl',
  },
  {
    name: 'explain: binary input',
    args: ['explain', '--model', '$M', '--input', '$IN/binary.csv', '--output', '$W/out/u83.jsonl'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
    output: '$W/out/u83.jsonl',
  },
  {
    name: 'explain: a text longer than the model',
    args: ['explain', '--model', '$M', '--input', '$IN/long.jsonl', '--output', '$W/out/u86.jsonl'],
    exit: 2,
    code: U,
    match: /--truncate/,
    output: '$W/out/u86.jsonl',
  },
  {
    name: 'explain: output is the input',
    args: ['explain', '--model', '$M', '--input', '$IN/train.jsonl', '--output', '$IN/train.jsonl'],
    exit: 2,
    code: 'E_OUTPUT_PATH',
  },
  {
    name: 'train: --target-accuracy with --no-calibrate',
    args: tr('u84', '--target-accuracy', '0.9', '--no-calibrate'),
    exit: 2,
    code: U,
    match: /drop --no-calibrate/,
  },
  {
    name: 'predict: --abstain-below 2',
    args: P('--output', '$W/out/u85.jsonl', '--abstain-below', '2'),
    exit: 2,
    code: U,
  },
  { name: 'bench: --shape huge', args: ['bench', 'train', '--shape', 'huge'], exit: 2, code: U },
  { name: 'bench: --threads 0', args: ['bench', 'infer', '--threads', '0'], exit: 2, code: U },
  { name: 'bench: unknown task', args: ['bench', 'fly'], exit: 2, code: U },
  { name: 'demo: --seed -1', args: ['demo', '--seed', '-1', '--output-dir', '$W/out/u70'], exit: 2, code: U },
  { name: 'demo: --epochs 0', args: ['demo', '--epochs', '0', '--output-dir', '$W/out/u71'], exit: 2, code: U },
];

const inputProbes: Probe[] = [
  {
    name: 'train: missing file',
    args: [...T.slice(0, 4), '$IN/nope.csv', '--output-dir', '$W/out/i1'],
    exit: 2,
    code: 'E_INPUT_NOT_FOUND',
  },
  {
    name: 'train: input is a folder',
    args: [...T.slice(0, 4), '$IN', '--output-dir', '$W/out/i2'],
    exit: 2,
    code: 'E_INPUT_NOT_FOUND',
    match: /folder/,
  },
  {
    name: 'train: unknown extension',
    args: [...T.slice(0, 4), '$IN/notes.txt', '--output-dir', '$W/out/i3'],
    exit: 2,
    code: 'E_INPUT_FORMAT',
    match: /--format/,
  },
  {
    name: 'train: --validation missing',
    args: tr('i4', '--validation', '$IN/nope.csv'),
    exit: 2,
    code: 'E_INPUT_NOT_FOUND',
  },
  { name: 'train: --test missing', args: tr('i5', '--test', '$IN/nope.csv'), exit: 2, code: 'E_INPUT_NOT_FOUND' },
  {
    name: 'train: binary file',
    args: [...T.slice(0, 4), '$IN/binary.csv', '--output-dir', '$W/out/i6'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
    match: /not a text file/,
  },
  {
    name: 'train: gzip file named .csv',
    args: [...T.slice(0, 4), '$IN/gzip.csv', '--output-dir', '$W/out/i7'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
  },
  {
    name: 'train: Parquet named .csv',
    args: [...T.slice(0, 4), '$IN/parquet.csv', '--output-dir', '$W/out/i8'],
    exit: 2,
    code: 'E_INPUT_FORMAT',
    match: /Parquet/,
  },
  {
    name: 'train: corrupt Parquet',
    args: [...T.slice(0, 4), '$IN/junk.parquet', '--output-dir', '$W/out/i9'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    match: /Parquet/,
  },
  {
    name: 'train: UTF-16 file',
    args: [...T.slice(0, 4), '$IN/utf16.csv', '--output-dir', '$W/out/i10'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
    match: /utf-16le/,
  },
  {
    name: 'train: invalid UTF-8 names the line',
    args: [...T.slice(0, 4), '$IN/invalid-utf8.csv', '--output-dir', '$W/out/i11'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
    match: /line 4 is not valid UTF-8/,
  },
  {
    name: 'train: latin-1 without --encoding',
    args: [...T.slice(0, 4), '$IN/latin1.csv', '--output-dir', '$W/out/i12'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
    match: /--encoding/,
  },
  {
    name: 'predict: latin-1 with --encoding latin1 works',
    args: [
      'predict',
      '--model',
      '$TB',
      '--input',
      '$IN/latin1.csv',
      '--output',
      '$W/out/i13.jsonl',
      '--encoding',
      'latin1',
    ],
    exit: 0,
  },
  {
    name: 'train: invalid UTF-8 in JSONL names the line',
    args: [...T.slice(0, 4), '$IN/invalid-utf8.jsonl', '--output-dir', '$W/out/i14'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
    match: /line 2/,
  },
  {
    name: 'train: unclosed quote',
    args: [...T.slice(0, 4), '$IN/unclosed-quote.csv', '--output-dir', '$W/out/i15'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    match: /never closed/,
  },
  {
    name: 'train: extra field names the line',
    args: [...T.slice(0, 4), '$IN/extra-field.csv', '--output-dir', '$W/out/i16'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    match: /line 3 has a different number of fields/,
  },
  {
    name: 'train: quote in the middle of a field',
    args: [...T.slice(0, 4), '$IN/mid-quote.csv', '--output-dir', '$W/out/i17'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    match: /line 3/,
  },
  {
    name: 'train: text after a closing quote',
    args: [...T.slice(0, 4), '$IN/after-quote.csv', '--output-dir', '$W/out/i18'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    match: /closing double quote/,
  },
  {
    name: 'train: duplicate header',
    args: [...T.slice(0, 4), '$IN/dup-header.csv', '--output-dir', '$W/out/i19'],
    exit: 2,
    code: 'E_INPUT_COLUMN',
    match: /twice/,
  },
  {
    name: 'train: no label column',
    args: [...T.slice(0, 4), '$IN/no-label-col.csv', '--output-dir', '$W/out/i20'],
    exit: 2,
    code: 'E_INPUT_COLUMN',
    match: /--label-column/,
  },
  {
    name: 'train: no text column',
    args: [...T.slice(0, 4), '$IN/no-text-col.csv', '--output-dir', '$W/out/i21'],
    exit: 2,
    code: 'E_INPUT_COLUMN',
    match: /--text-column/,
  },
  {
    name: 'train: --text-column that does not exist',
    args: tr('i22', '--text-column', 'note'),
    exit: 2,
    code: 'E_INPUT_COLUMN',
    match: /its columns are: text, label/,
  },
  {
    name: 'train: --label-column that does not exist',
    args: tr('i23', '--label-column', 'dx'),
    exit: 2,
    code: 'E_INPUT_COLUMN',
  },
  {
    name: 'train: invalid JSON line',
    args: [...T.slice(0, 4), '$IN/bad-json.jsonl', '--output-dir', '$W/out/i24'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    match: /line 2 is not valid JSON/,
  },
  {
    name: 'train: JSON line that is an array',
    args: [...T.slice(0, 4), '$IN/array-line.jsonl', '--output-dir', '$W/out/i25'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    match: /line 2/,
  },
  {
    name: 'train: label is an object',
    args: [...T.slice(0, 4), '$IN/label-object.jsonl', '--output-dir', '$W/out/i26'],
    exit: 2,
    code: 'E_INPUT_LABEL',
    match: /row 1.*object/,
  },
  {
    name: 'train: list labels without --multi-label',
    args: [...T.slice(0, 4), '$IN/label-list.jsonl', '--output-dir', '$W/out/i27'],
    exit: 2,
    code: 'E_INPUT_LABEL',
    match: /--multi-label/,
  },
  {
    name: 'train: nested list labels',
    args: [...T.slice(0, 4), '$IN/label-nested.jsonl', '--output-dir', '$W/out/i28', '--multi-label'],
    exit: 2,
    code: 'E_INPUT_LABEL',
  },
  {
    name: 'train: text is an object',
    args: [...T.slice(0, 4), '$IN/text-object.jsonl', '--output-dir', '$W/out/i29'],
    exit: 2,
    code: 'E_INPUT_DATA',
    match: /row 1.*an object, not text/,
  },
  {
    name: 'train: header-only file',
    args: [...T.slice(0, 4), '$IN/header-only.csv', '--output-dir', '$W/out/i30'],
    exit: 2,
    code: 'E_INPUT_EMPTY',
  },
  {
    name: 'train: empty file',
    args: [...T.slice(0, 4), '$IN/empty.csv', '--output-dir', '$W/out/i31'],
    exit: 2,
    code: 'E_INPUT_EMPTY',
  },
  {
    name: 'train: only empty texts',
    args: [...T.slice(0, 4), '$IN/blank-texts.csv', '--output-dir', '$W/out/i32'],
    exit: 2,
    code: 'E_INPUT_EMPTY',
    match: /empty text/,
  },
  {
    name: 'train: one class',
    args: [...T.slice(0, 4), '$IN/one-class.csv', '--output-dir', '$W/out/i33'],
    exit: 2,
    code: 'E_INPUT_LABEL',
    match: /only one class/,
  },
  {
    name: 'train: duplicate ids',
    args: [...T.slice(0, 4), '$IN/dup-ids.csv', '--output-dir', '$W/out/i34'],
    exit: 2,
    code: 'E_INPUT_DATA',
    match: /appears twice/,
  },
  {
    name: 'train: test labels training never had',
    args: tr('i35', '--test', '$IN/unseen-label.csv'),
    exit: 2,
    code: 'E_INPUT_LABEL',
  },
  {
    name: 'train: --group-regex that captures nothing',
    args: [
      ...T.slice(0, 4),
      '$IN/groups.csv',
      '--output-dir',
      '$W/out/i36',
      '--group-column',
      'doc',
      '--group-regex',
      '^(y\\d)',
    ],
    exit: 2,
    code: 'E_INPUT_DATA',
  },
  {
    name: 'evaluate: labels the model does not have',
    args: ['evaluate', '--model', '$M', '--test', '$IN/unseen-label.csv', '--output-dir', '$W/out/i37'],
    exit: 2,
    code: 'E_INPUT_LABEL',
  },
  {
    name: 'evaluate: binary test file',
    args: ['evaluate', '--model', '$M', '--test', '$IN/binary.csv', '--output-dir', '$W/out/i38'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
  },
  {
    name: 'evaluate: header-only test file',
    args: ['evaluate', '--model', '$M', '--test', '$IN/header-only.csv', '--output-dir', '$W/out/i39'],
    exit: 2,
    code: 'E_INPUT_EMPTY',
  },
  {
    name: 'predict: missing input',
    args: ['predict', '--model', '$TB', '--input', '$IN/nope.csv', '--output', '$W/out/i40.jsonl'],
    exit: 2,
    code: 'E_INPUT_NOT_FOUND',
    output: '$W/out/i40.jsonl',
  },
  {
    name: 'predict: binary input',
    args: ['predict', '--model', '$TB', '--input', '$IN/binary.csv', '--output', '$W/out/i41.jsonl'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
    output: '$W/out/i41.jsonl',
  },
  {
    name: 'predict: empty JSONL',
    args: ['predict', '--model', '$TB', '--input', '$IN/empty.jsonl', '--output', '$W/out/i42.jsonl'],
    exit: 2,
    code: 'E_INPUT_EMPTY',
    output: '$W/out/i42.jsonl',
  },
  {
    name: 'predict: text is an object',
    args: ['predict', '--model', '$TB', '--input', '$IN/text-object.jsonl', '--output', '$W/out/i43.jsonl'],
    exit: 2,
    code: 'E_INPUT_DATA',
    output: '$W/out/i43.jsonl',
  },
  {
    name: 'predict: --pooling attention on a model without pooling weights',
    args: [...P('--output', '$W/out/i44a.jsonl', '--pooling', 'attention', '--max-length', '16')],
    exit: 2,
    code: 'E_MODEL_WEIGHTS',
    match: /no attention-pooling weights/,
    output: '$W/out/i44a.jsonl',
  },
  {
    name: 'predict: a window larger than the model positions',
    args: [...P('--output', '$W/out/i44b.jsonl', '--pooling', 'max', '--max-length', '100000')],
    exit: 2,
    code: 'E_USAGE',
    match: /above this model's limit/,
    output: '$W/out/i44b.jsonl',
  },
  {
    name: 'predict: a stride not smaller than the window',
    args: [...P('--output', '$W/out/i44c.jsonl', '--pooling', 'max', '--max-length', '16', '--stride', '14')],
    exit: 2,
    code: 'E_USAGE',
    match: /--stride 14 is not smaller than the window/,
    output: '$W/out/i44c.jsonl',
  },
  {
    name: 'predict: unknown extension',
    args: ['predict', '--model', '$TB', '--input', '$IN/notes.txt', '--output', '$W/out/i44.jsonl'],
    exit: 2,
    code: 'E_INPUT_FORMAT',
    output: '$W/out/i44.jsonl',
  },
  {
    name: 'predict: --format overrides the extension',
    args: ['predict', '--model', '$TB', '--input', '$IN/a-file', '--format', 'jsonl', '--output', '$W/out/i45.jsonl'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    output: '$W/out/i45.jsonl',
  },
  {
    name: 'predict: missing text column',
    args: ['predict', '--model', '$TB', '--input', '$IN/no-text-col.csv', '--output', '$W/out/i46.jsonl'],
    exit: 2,
    code: 'E_INPUT_COLUMN',
    output: '$W/out/i46.jsonl',
  },
  {
    name: 'predict: extra-field CSV',
    args: ['predict', '--model', '$TB', '--input', '$IN/extra-field.csv', '--output', '$W/out/i47.jsonl'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    output: '$W/out/i47.jsonl',
  },
  {
    name: 'deid: header-only keeps the header',
    args: ['deid', '--input', '$IN/header-only.csv', '--output', '$W/out/i50.csv'],
    exit: 0,
    check: () => assert.equal(readFileSync(path.join(W, 'out/i50.csv'), 'utf8'), 'text,label\n'),
  },
  { name: 'deid: Parquet output refused', args: D('--output', '$W/out/i51.parquet'), exit: 2, code: 'E_INPUT_FORMAT' },
  {
    name: 'deid: binary input',
    args: ['deid', '--input', '$IN/binary.csv', '--output', '$W/out/i52.csv'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
    output: '$W/out/i52.csv',
  },
  {
    name: 'deid: missing text column',
    args: ['deid', '--input', '$IN/no-text-col.csv', '--output', '$W/out/i53.csv'],
    exit: 2,
    code: 'E_INPUT_COLUMN',
    output: '$W/out/i53.csv',
  },
  {
    name: 'deid: invalid UTF-8',
    args: ['deid', '--input', '$IN/invalid-utf8.csv', '--output', '$W/out/i54.csv'],
    exit: 2,
    code: 'E_INPUT_ENCODING',
    output: '$W/out/i54.csv',
  },
  {
    name: 'deid: unclosed quote',
    args: ['deid', '--input', '$IN/unclosed-quote.csv', '--output', '$W/out/i55.csv'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    output: '$W/out/i55.csv',
  },
  {
    name: 'deid-eval: invalid JSON',
    args: ['deid-eval', '--gold', '$IN/gold-bad.json'],
    exit: 2,
    code: 'E_INPUT_PARSE',
  },
  {
    name: 'deid-eval: wrong shape',
    args: ['deid-eval', '--gold', '$IN/gold-shape.json'],
    exit: 2,
    code: 'E_INPUT_PARSE',
    match: /Presidio/,
  },
  {
    name: 'deid-eval: missing gold file',
    args: ['deid-eval', '--gold', '$IN/nope.json'],
    exit: 2,
    code: 'E_INPUT_NOT_FOUND',
  },
];

const modelProbes: Probe[] = [
  {
    name: 'model folder missing',
    args: ['predict', '--model', '$IN/no-such-model', '--input', '$IN/notes.csv', '--output', '$W/out/m1.jsonl'],
    exit: 2,
    code: 'E_MODEL_NOT_FOUND',
    output: '$W/out/m1.jsonl',
  },
  {
    name: 'model is a file',
    args: ['predict', '--model', '$IN/a-file', '--input', '$IN/notes.csv', '--output', '$W/out/m2.jsonl'],
    exit: 2,
    code: 'E_MODEL_NOT_FOUND',
    match: /is a file/,
  },
  {
    name: 'model without config.json',
    args: ['predict', '--model', '$IN/model-no-config', '--input', '$IN/notes.csv', '--output', '$W/out/m3.jsonl'],
    exit: 2,
    code: 'E_MODEL_NOT_FOUND',
    match: /config\.json/,
  },
  {
    name: 'unsupported model_type',
    args: ['evaluate', '--model', '$IN/model-bad-type', '--test', '$IN/test.csv', '--output-dir', '$W/out/m4'],
    exit: 2,
    code: 'E_MODEL_UNSUPPORTED',
    match: /gpt2/,
  },
  {
    name: 'corrupt config.json',
    args: ['train', '--model', '$IN/model-bad-config', '--train', '$IN/train.csv', '--output-dir', '$W/out/m5'],
    exit: 2,
    code: 'E_MODEL_WEIGHTS',
    match: /config\.json/,
  },
  {
    name: 'no weight files',
    args: ['predict', '--model', '$IN/model-no-weights', '--input', '$IN/notes.csv', '--output', '$W/out/m6.jsonl'],
    exit: 2,
    code: 'E_MODEL_WEIGHTS',
    match: /no weights/,
  },
  {
    name: 'truncated weights',
    args: ['predict', '--model', '$IN/model-truncated', '--input', '$IN/notes.csv', '--output', '$W/out/m7.jsonl'],
    exit: 2,
    code: 'E_MODEL_WEIGHTS',
    match: /truncated|corrupt/,
  },
  {
    name: 'garbage weights',
    args: ['evaluate', '--model', '$IN/model-garbage', '--test', '$IN/test.csv', '--output-dir', '$W/out/m8'],
    exit: 2,
    code: 'E_MODEL_WEIGHTS',
  },
  {
    name: 'no tokenizer files',
    args: ['predict', '--model', '$IN/model-no-tokenizer', '--input', '$IN/notes.csv', '--output', '$W/out/m9.jsonl'],
    exit: 2,
    code: 'E_TOKENIZER',
  },
  {
    name: 'invalid medtune metadata',
    args: ['predict', '--model', '$IN/model-bad-meta', '--input', '$IN/notes.csv', '--output', '$W/out/m10.jsonl'],
    exit: 2,
    code: 'E_MODEL_WEIGHTS',
    match: /medtune\.temperature/,
  },
  {
    name: 'hub name, offline',
    args: ['predict', '--model', 'nobody/no-such-model', '--input', '$IN/notes.csv', '--output', '$W/out/m11.jsonl'],
    exit: 2,
    code: 'E_MODEL_NOT_FOUND',
    proc: true,
    env: { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: '/nonexistent' },
  },
  {
    name: 'train from a model folder that is not a model',
    args: ['train', '--model', '$IN', '--train', '$IN/train.csv', '--output-dir', '$W/out/m12'],
    exit: 2,
    code: 'E_MODEL_NOT_FOUND',
  },
];

const outputProbes: Probe[] = [
  {
    name: 'train: --output-dir is a file',
    args: tr('', '--output-dir', '$IN/a-file'),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    match: /is a file/,
  },
  {
    name: 'train: --output-dir under a file',
    args: tr('', '--output-dir', '$IN/a-file/run'),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    match: /under .*a-file/,
  },
  {
    name: 'train: --output-dir under /proc (never spins)',
    args: tr('', '--output-dir', '/proc/medtune-x/run'),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    proc: true,
  },
  {
    name: 'train: --output-dir under /sys',
    args: tr('', '--output-dir', '/sys/medtune-x/run'),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    proc: true,
  },
  { name: 'train: --output-dir empty', args: tr('', '--output-dir', ''), exit: 2, code: U },
  { name: 'evaluate: --output-dir is a file', args: E('--output-dir', '$IN/a-file'), exit: 2, code: 'E_OUTPUT_PATH' },
  {
    name: 'evaluate: --output-dir under /proc',
    args: E('--output-dir', '/proc/medtune-y/eval'),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    proc: true,
  },
  {
    name: 'predict: --output is a folder',
    args: P('--output', '$W/out'),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    match: /is a folder/,
  },
  { name: 'predict: --output ends with a slash', args: P('--output', '$W/out/p1/'), exit: 2, code: 'E_OUTPUT_PATH' },
  {
    name: 'predict: --output under a file',
    args: P('--output', '$IN/a-file/out.jsonl'),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    match: /file, not a folder/,
  },
  {
    name: 'predict: --output is the input',
    args: ['predict', '--model', '$TB', '--input', '$IN/train.jsonl', '--output', '$IN/train.jsonl'],
    exit: 2,
    code: 'E_OUTPUT_PATH',
    match: /input file itself/,
  },
  {
    name: 'predict: --output under /proc',
    args: P('--output', '/proc/medtune-z/out.jsonl'),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    proc: true,
  },
  {
    name: 'deid: --output is the input',
    args: ['deid', '--input', '$IN/notes.csv', '--output', '$IN/notes.csv'],
    exit: 2,
    code: 'E_OUTPUT_PATH',
    match: /--in-place/,
  },
  {
    name: 'deid: --output is the input through another path',
    args: ['deid', '--input', '$IN/notes.csv', '--output', '$IN/../in/notes.csv'],
    exit: 2,
    code: 'E_OUTPUT_PATH',
  },
  { name: 'deid: --output is a folder', args: D('--output', '$W/out'), exit: 2, code: 'E_OUTPUT_PATH' },
  {
    name: 'deid: --output under /proc',
    args: D('--output', '/proc/medtune-w/o.csv'),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    proc: true,
  },
  {
    name: 'deid-eval: --output is a folder',
    args: ['deid-eval', '--gold', '$IN/gold-shape.json', '--output', '$W/out'],
    exit: 2,
    code: 'E_OUTPUT_PATH',
  },
  {
    name: 'demo: --output-dir is a file',
    args: ['demo', '--output-dir', '$IN/a-file'],
    exit: 2,
    code: 'E_OUTPUT_PATH',
  },
  {
    name: 'train: a previous run is not overwritten silently',
    args: tr('done'),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    match: /--overwrite/,
  },
  { name: 'train: --overwrite replaces a previous run', args: tr('done2', '--overwrite'), exit: 0 },
];

const resumeProbes: Probe[] = [
  {
    name: 'resume: no checkpoints in the folder',
    args: tr('r0', '--resume'),
    exit: 2,
    code: 'E_CHECKPOINT',
    match: /no checkpoint-N/,
  },
  {
    name: 'resume: checkpoint folder missing',
    args: tr('run', '--resume', '$W/out/run/checkpoint-999'),
    exit: 2,
    code: 'E_CHECKPOINT',
    match: /does not exist.*checkpoint-/,
  },
  {
    name: 'resume: checkpoint of another output folder',
    args: tr('other', '--resume', '$W/out/run/checkpoint-2'),
    exit: 2,
    code: 'E_CHECKPOINT',
    match: /belongs to the run in/,
  },
  {
    name: 'resume: corrupt trainer_state.json',
    args: tr('corrupt', '--resume'),
    exit: 2,
    code: 'E_CHECKPOINT',
    match: /corrupt/,
  },
  {
    name: 'resume: trainer_state.json with invalid fields',
    args: tr('fields', '--resume'),
    exit: 2,
    code: 'E_CHECKPOINT',
    match: /invalid fields/,
  },
  {
    name: 'resume: optimizer state missing',
    args: tr('noopt', '--resume'),
    exit: 2,
    code: 'E_CHECKPOINT',
    match: /optimizer\.safetensors is missing/,
  },
  {
    name: 'resume: batch size changed',
    args: tr('run', '--resume', '--batch-size', '4'),
    exit: 2,
    code: 'E_RESUME_MISMATCH',
    match: /--batch-size was 8, now 4/,
  },
  {
    name: 'resume: seed changed (issue 22 #14: the message names --seed)',
    args: tr('run', '--resume', '--seed', '7'),
    exit: 2,
    code: 'E_RESUME_MISMATCH',
    match: /--seed was 42, now 7/,
  },
  {
    name: "resume: a checkpoint's trainer_state.json given (issue 22 #14)",
    args: tr('run', '--resume', '$W/out/run/checkpoint-2/trainer_state.json'),
    exit: 2,
    code: 'E_CHECKPOINT',
    match: /is a file; give the checkpoint folder that holds it \(--resume .*checkpoint-2\)/,
  },
  {
    name: 'resume: data changed',
    args: [
      'train',
      '--model',
      '$M',
      '--train',
      '$IN/train.jsonl',
      '--max-length',
      '24',
      '--epochs',
      '1',
      '--batch-size',
      '8',
      '--no-baseline',
      '--output-dir',
      '$W/out/run',
      '--resume',
    ],
    exit: 2,
    code: 'E_RESUME_MISMATCH',
    match: /training data/,
  },
  {
    name: 'resume: a new learning rate is a printed decision',
    args: tr('run2', '--resume', '--learning-rate', '1e-4', '--epochs', '2'),
    exit: 0,
    check: (r) =>
      assert.match(
        r.stdout,
        /--learning-rate changed [0-9.e-]+ → 0\.0001: continuing with the new value from step \d+/,
      ),
  },
];

/** No line of stderr quotes a text of the test file (patient text). */
const quotesNoText = (r: Result) => {
  for (const row of syntheticSymptoms(1, 12))
    assert.ok(!r.stderr.includes(row.text.slice(0, 30)), `a text of the data is quoted:\n${r.stderr}`);
};

const PR = (model: string) => [
  'predict',
  '--model',
  model,
  '--input',
  '$IN/notes.csv',
  '--output',
  '$W/out/i22p.jsonl',
];
const W22 = 'E_MODEL_WEIGHTS';
const long = 'x'.repeat(300);

/** Issue 22, the CLI findings 10–16 (each failed before the fix). */
const issue22Probes: Probe[] = [
  {
    name: '#10 pretrain --output-dir is the --model folder',
    args: ['pretrain', '--model', '$M', '--init-mlm-head', '--corpus', '$IN/notes.txt', '--output-dir', '$M'],
    exit: 2,
    code: 'E_OUTPUT_PATH',
    match: /--model and --output-dir name the same path/,
  },
  {
    name: '#10 calibrate --output names a file',
    args: ['calibrate', '--model', '$M', '--data', '$IN/known.csv', '--output', '$IN/a-file'],
    exit: 2,
    code: 'E_OUTPUT_PATH',
    match: /--output .*a-file is a file/,
  },
  {
    name: '#10 clean --changes is --output',
    args: ['clean', '--input', '$IN/notes.csv', '--spell', '--output', '$W/out/c.csv', '--changes', '$W/out/c.csv'],
    exit: 2,
    code: 'E_OUTPUT_PATH',
    output: '$W/out/c.csv',
  },
  {
    name: '#10 explain --html is --output',
    args: [
      'explain',
      '--model',
      '$M',
      '--input',
      '$IN/notes.csv',
      '--output',
      '$W/out/e.html',
      '--html',
      '$W/out/e.html',
    ],
    exit: 2,
    code: 'E_OUTPUT_PATH',
    output: '$W/out/e.html',
  },
  ...['empty', 'foreign'].map((k) => ({
    name: `#10 review export --db on an ${k} SQLite file leaves it as it was`,
    args: ['review', 'export', '--db', `$IN/${k}.sqlite`, '--run', '$W/out', '--output', '$W/out/rev.jsonl'],
    exit: 2,
    code: 'E_REVIEW_DB',
    match: /not a medtune review database/,
    output: '$W/out/rev.jsonl',
  })),
  ...['model-no-head', 'model-no-layer', 'model-more-layers'].map((m) => ({
    name: `#11 predict refuses ${m}`,
    args: PR(`$IN/${m}`),
    exit: 2,
    code: W22,
    match: /lacks \d+ tensors the model needs/,
    output: '$W/out/i22p.jsonl',
  })),
  ...['evaluate', 'calibrate'].map((cmd) => ({
    name: `#11 ${cmd} refuses a model without its classifier tensors`,
    args: [
      cmd,
      '--model',
      '$IN/model-no-head',
      ...(cmd === 'evaluate' ? ['--output-dir', '$W/out/i22e0', '--test'] : ['--data']),
      '$IN/known.csv',
    ],
    exit: 2,
    code: W22,
    match: /classifier\.(weight|bias)/,
  })),
  ...['quantize', 'export'].map((cmd) => ({
    name: `#11 ${cmd} refuses a model without its classifier tensors, writing nothing`,
    args: [cmd, '$IN/model-no-head', '--output', `$W/out/i22-${cmd}`],
    exit: 2,
    code: W22,
    match: /classifier\.(weight|bias)/,
    output: `$W/out/i22-${cmd}`,
  })),
  {
    name: '#11 a config with a 3-billion-token vocabulary',
    args: PR('$IN/model-huge-vocab'),
    exit: 2,
    code: W22,
    match: /vocab_size 3000000000/,
  },
  {
    name: '#12 MEDTUNE_THREADS=100000 is capped with a warning',
    args: PR('$TB'),
    env: { MEDTUNE_THREADS: '100000' },
    exit: 0,
    check: (r) => assert.match(r.stderr, /MEDTUNE_THREADS=100000 is more threads than this machine can use.*using \d+/),
  },
  {
    name: '#12 --threads 100000 is capped with a warning',
    args: [...tr('i22t', '--threads', '100000', '--max-steps', '1')],
    proc: true,
    exit: 0,
    check: (r) => assert.match(r.stderr, /--threads 100000 is more threads than this machine can use/),
  },
  {
    name: '#13 deid-eval: an empty gold list',
    args: ['deid-eval', '--gold', '$IN/gold-empty.json'],
    exit: 2,
    code: 'E_INPUT_EMPTY',
  },
  {
    name: '#13 deid-eval: gold without spans',
    args: ['deid-eval', '--gold', '$IN/gold-no-spans.json'],
    exit: 2,
    code: 'E_INPUT_EMPTY',
  },
  {
    name: '#13 deid-eval: a gold span outside its text',
    args: ['deid-eval', '--gold', '$IN/gold-outside.json'],
    exit: 2,
    code: 'E_INPUT_DATA',
    match: /not inside its text/,
  },
  {
    name: '#13 serve keys list on a missing keys file',
    args: ['serve', 'keys', 'list', '--keys', '$IN/missing-keys.json'],
    exit: 2,
    code: 'E_INPUT_NOT_FOUND',
  },
  {
    name: '#13 pretrain --max-length above the model limit',
    args: [
      'pretrain',
      '--model',
      '$M',
      '--init-mlm-head',
      '--corpus',
      '$IN/notes.txt',
      '--output-dir',
      '$W/out/i22pt',
      '--max-length',
      '100000',
    ],
    exit: 2,
    code: U,
    match: /limit of 128 tokens/,
  },
  {
    name: '#13 train --fail-on-leakage --no-leakage-check',
    args: tr('i22l', '--fail-on-leakage', '--no-leakage-check', '--test', '$IN/train.csv'),
    exit: 2,
    code: U,
    output: '$W/out/i22l/best_model',
  },
  { name: '#14 a corrupt tokenizer.json', args: PR('$IN/model-bad-tokenizer-json'), exit: 2, code: 'E_TOKENIZER' },
  {
    name: '#14 a 300-character output name',
    args: PR('$M').slice(0, -1).concat(`$W/out/${long}.jsonl`),
    exit: 2,
    code: 'E_OUTPUT_PATH',
    match: /the name is too long/,
  },
  {
    name: '#14 clean --lexicon that does not exist',
    args: ['clean', '--input', '$IN/notes.csv', '--spell', '--lexicon', '$IN/nope.txt', '--output', '$W/out/cl.csv'],
    exit: 2,
    code: 'E_LEXICON',
    match: /does not exist/,
  },
  {
    name: '#14 clean --lexicon that is a folder',
    args: ['clean', '--input', '$IN/notes.csv', '--spell', '--lexicon', '$IN', '--output', '$W/out/cl.csv'],
    exit: 2,
    code: 'E_LEXICON',
    match: /is a folder/,
  },
  {
    name: '#14 curate: its summary path is a folder (no partial output)',
    setup: () => mkdirSync(path.join(W, 'out', 'cur.csv.curate.json'), { recursive: true }),
    args: ['curate', '--input', '$IN/train.csv', '--output', '$W/out/cur.csv'],
    exit: 2,
    code: 'E_OUTPUT_PATH',
    output: '$W/out/cur.csv',
  },
  {
    name: '#14 a semicolon-separated CSV',
    args: tr('i22s').map((a) => (a === '$IN/train.csv' ? '$IN/semicolon.csv' : a)),
    exit: 2,
    code: 'E_INPUT_PARSE',
    match: /separated by ";"/,
  },
  {
    name: '#14 #15 text and label columns swapped: refused before training, no note quoted',
    args: tr('i22w').map((a) => (a === '$IN/train.csv' ? '$IN/swapped.csv' : a)),
    exit: 2,
    code: 'E_INPUT_LABEL',
    match: /swapped/,
    output: '$W/out/i22w/best_model',
    check: quotesNoText,
  },
  {
    name: '#14 a keys file that is a folder',
    args: ['serve', 'keys', 'list', '--keys', '$IN'],
    exit: 2,
    code: 'E_INPUT_NOT_FOUND',
  },
  {
    name: '#15 evaluate --label-column text names no note',
    args: E('--output-dir', '$W/out/i22e', '--label-column', 'text'),
    exit: 2,
    code: 'E_INPUT_LABEL',
    check: quotesNoText,
  },
  {
    name: '#15 audit --audit-column text is refused, no note quoted or written',
    args: [
      'audit',
      '--model',
      '$M',
      '--data',
      '$IN/known.csv',
      '--audit-column',
      'text',
      '--output-dir',
      '$W/out/i22a',
    ],
    exit: 2,
    code: 'E_INPUT_DATA',
    output: '$W/out/i22a/audit.json',
    check: quotesNoText,
  },
  {
    name: '#16 an explicit learning rate far below the recipe gets one warning line',
    args: tr('i22lr', '--learning-rate', '2e-5', '--max-steps', '1'),
    exit: 0,
    check: (r) => {
      assert.equal(r.stdout.match(/warning: --learning-rate 0\.00002 is far below/g)?.length, 1, r.stdout);
      assert.match(r.stdout, /recipe auto \(automatic where not given/);
    },
  },
];

const envProbes: Probe[] = [
  {
    name: 'env: MEDTUNE_THREADS=abc',
    args: ['bench', 'infer', '--steps', '1', '--repeat', '1'],
    env: { MEDTUNE_THREADS: 'abc' },
    exit: 2,
    code: 'E_ENV',
    proc: true,
  },
  {
    name: 'env: MEDTUNE_BACKEND=gpu',
    args: ['info'],
    env: { MEDTUNE_BACKEND: 'gpu' },
    exit: 2,
    code: 'E_ENV',
    proc: true,
  },
];

// ------------------------------------------------------------------------------------------------ the tests
describe('bad-input corpus', () => {
  before(() => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-bad-'));
    IN = path.join(W, 'in');
    mkdirSync(IN);
    mkdirSync(path.join(W, 'out'));
    M = path.join(IN, 'model');
    createScratchModel(
      M,
      syntheticSymptoms(4, 11).map((r) => r.text),
      [...DEMO_DIAGNOSES].sort(),
      1,
      { hidden: 16, layers: 1 },
    );
    TB = tinyBert ? path.join(IN, 'tiny-bert') : M;
    if (tinyBert)
      for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'vocab.txt']) {
        mkdirSync(TB, { recursive: true });
        copyFileSync(path.join(tinyBert, f), path.join(TB, f));
      }
    writeInputs();
  });
  after(() => rmSync(W, { recursive: true, force: true }));

  const probes = [
    ...usageProbes,
    ...inputProbes,
    ...modelProbes,
    ...outputProbes,
    ...resumeProbes,
    ...envProbes,
    ...issue22Probes,
  ];

  it(`has at least 120 probes (${probes.length})`, () => assert.ok(probes.length >= 120));

  /** Runs probes; each checks exit code, the one-line error, unchanged inputs and no partial output. */
  async function runProbes(list: Probe[]): Promise<void> {
    for (const p of list) {
      p.setup?.();
      const args = p.args.map(sub);
      const output = p.output ? sub(p.output) : null;
      const existed = output ? existsSync(output) : false;
      const before = hashTree(IN);
      const r = p.proc || p.env ? runProcess(args, p.env) : await runInProcess(args);
      assert.equal(r.exit, p.exit, `${p.name}: exit ${r.exit}, expected ${p.exit}; stderr:\n${r.stderr}`);
      if (p.exit !== 0) assertOneLine(p, r);
      assert.deepEqual(hashTree(IN), before, `${p.name}: an input file changed`);
      if (output && !existed) assert.ok(!existsSync(output), `${p.name}: partial output ${output} left behind`);
      p.check?.(r);
    }
  }

  it('usage errors: one line, exit 2, before any work', async () => runProbes(usageProbes));
  it('input files: encodings, formats, parse errors, labels, empty data', async () => runProbes(inputProbes));
  it('model folders', async () => runProbes(modelProbes));

  it('output paths: checked before work, never a spin, never over the input', async () => {
    await runInProcess(tr('done').map(sub));
    await runInProcess(tr('done2').map(sub));
    await runProbes(outputProbes);
  });

  it('resume: missing, corrupt or foreign checkpoints; changed settings refused or printed', async () => {
    const run = tr('run', '--save-steps', '2', '--save-total-limit', '0').map(sub);
    assert.equal((await runInProcess(run)).exit, 0);
    const ck = path.join(W, 'out/run/checkpoint-2');
    assert.ok(existsSync(ck));
    const variant = (name: string, edit: (dir: string) => void) => {
      const d = path.join(W, 'out', name);
      cpSync(path.join(W, 'out/run'), d, { recursive: true });
      for (const c of readdirSync(d).filter((n) => n.startsWith('checkpoint-'))) edit(path.join(d, c));
    };
    variant('corrupt', (c) => writeFileSync(path.join(c, 'trainer_state.json'), '{"step": 2, '));
    variant('fields', (c) => writeFileSync(path.join(c, 'trainer_state.json'), JSON.stringify({ step: -1 })));
    variant('noopt', (c) => rmSync(path.join(c, 'optimizer.safetensors')));
    variant('run2', () => {});
    await runProbes(resumeProbes);
  });

  it('environment variables', async () => runProbes(envProbes));

  it('issue 22: the CLI findings 10–16', async () => runProbes(issue22Probes));

  it('issue 22 #10: a device or FIFO named as --output is written in place, never renamed over', async () => {
    const fifo = path.join(W, 'out', 'pipe.jsonl');
    spawnSync('mkfifo', [fifo]);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (d) => (got += String(d)));
    const r = await runInProcess(PR('$TB').slice(0, -1).concat(fifo).map(sub));
    const stillFifo = statSync(fifo).isFIFO();
    if (!stillFifo) reader.kill(); // renamed over: nothing will ever write into the FIFO the reader opened
    await new Promise((res) => reader.on('close', res));
    assert.ok(stillFifo, 'the FIFO was replaced by a file');
    assert.equal(r.exit, 0, r.stderr);
    assert.equal(got.trim().split('\n').length, 2);
    rmSync(fifo);
    if (process.getuid?.() !== 0) return; // device nodes: root only (as in a container)
    const full = path.join(W, 'out', 'full');
    assert.equal(spawnSync('mknod', [full, 'c', '1', '7']).status, 0);
    const f = await runInProcess(PR('$TB').slice(0, -1).concat(full).map(sub));
    assert.equal(f.exit, 2);
    assertOneLine({ name: '/dev/full copy', args: [], exit: 2, code: 'E_OUTPUT_PATH', match: /disk is full/ }, f);
    assert.ok(statSync(full).isCharacterDevice(), 'the device node was replaced by a file');
    rmSync(full);
  });

  it('issue 22 #10: Ctrl-C during train --overwrite keeps the previous run', async () => {
    const out = path.join(W, 'out', 'done');
    const before = hashTree(out);
    assert.ok(before.has(path.join(out, 'metrics.json')));
    const { child, text } = await overwriteRunUntil((names) =>
      names.some((n) => n.startsWith('.medtune-previous-run')),
    );
    child.kill('SIGINT');
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    assert.equal(code, 130, text());
    assert.deepEqual(hashTree(out), before, 'the previous run changed');
    assert.deepEqual(
      readdirSync(out).filter((n) => n.startsWith('.')),
      [],
    );
  });

  it('issue 22 #10: kill -9 during train --overwrite: the next run puts the previous run back', async () => {
    const out = path.join(W, 'out', 'done');
    const before = hashTree(out);
    const { child } = await overwriteRunUntil((names) => names.some((n) => n.startsWith('checkpoint-')));
    child.kill('SIGKILL');
    await new Promise((res) => child.on('exit', res));
    assert.ok(
      readdirSync(out).some((n) => n.startsWith('.medtune-previous-run-')),
      'kill -9 left the run aside',
    );
    // the next run without --overwrite puts it back, then refuses the folder as it always does
    const r = await runInProcess(tr('done').map(sub));
    assertOneLine({ name: 'after kill -9', args: [], exit: 2, code: 'E_OUTPUT_PATH', match: /already holds/ }, r);
    assert.match(r.stdout + r.stderr, /put back the previous run that an interrupted --overwrite run \(pid \d+\)/);
    assert.deepEqual(hashTree(out), before, 'the previous run was not put back as it was');
  });

  it('deid --in-place replaces the input only when asked, atomically', async () => {
    const f = path.join(W, 'out', 'inplace.csv');
    copyFileSync(path.join(IN, 'notes.csv'), f);
    writeFileSync(f, 'id,text\n1,Seen by Dr. Chen on 01/02/2020\n');
    const r = await runInProcess(['deid', '--input', f, '--output', f, '--in-place']);
    assert.equal(r.exit, 0, r.stderr);
    assert.equal(readFileSync(f, 'utf8'), 'id,text\n1,Seen by [NAME] on [DATE]\n');
  });

  it(
    'signals: SIGTERM and Ctrl-C remove partial outputs (exit 143/130); ' +
      'kill -9 leftovers are swept by the next run',
    async () => {
      const big = path.join(W, 'out', 'big.jsonl');
      writeFileSync(
        big,
        Array.from({ length: 3000 }, (_, i) =>
          JSON.stringify({ text: `patient ${i} reports chest pain and fever for ${i % 9} days` }),
        ).join('\n') + '\n',
      );
      const outFile = path.join(W, 'out', 'sig.jsonl');
      const args = [bin, 'predict', '--model', TB, '--input', big, '--output', outFile, '--batch-size', '8'];
      for (const [signal, code] of [
        ['SIGTERM', 143],
        ['SIGINT', 130],
        ['SIGKILL', null],
      ] as const) {
        const child = spawn(process.execPath, args, {
          env: { ...process.env, CI: '1' },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        await new Promise<void>((res) => {
          child.stderr.on('data', (d) => {
            stderr += String(d);
            if (/\d+ rows, /.test(stderr)) res();
          });
          child.on('exit', () => res());
        });
        child.kill(signal);
        const [exitCode, sig] = await new Promise<[number | null, string | null]>((res) =>
          child.on('exit', (c, s) => res([c, s])),
        );
        if (code === null) assert.equal(sig, 'SIGKILL');
        else {
          assert.equal(exitCode, code, `${signal}: exit ${exitCode}\n${stderr}`);
          assert.match(
            stderr.trim().split('\n').at(-1)!,
            new RegExp(`^medtune: interrupted by ${signal}; partial outputs removed \\(E_INTERRUPTED\\)$`),
          );
          assert.deepEqual(strayTemps(path.join(W, 'out')), [], `${signal}: temporary files left behind`);
        }
        assert.ok(!existsSync(outFile), `${signal}: partial output under the final name`);
      }
      assert.equal(strayTemps(path.join(W, 'out')).length, 1, 'kill -9 leaves its temporary file');
      const small = path.join(W, 'out', 'small.jsonl');
      writeFileSync(small, '{"text": "fever"}\n');
      const r = runProcess(['predict', '--model', TB, '--input', small, '--output', outFile]);
      assert.equal(r.exit, 0, r.stderr);
      assert.deepEqual(strayTemps(path.join(W, 'out')), [], 'the next run to the same output sweeps what kill -9 left');
    },
  );

  it('SIGTERM during training leaves no temporary checkpoint folders', async () => {
    const out = path.join(W, 'out', 'sigtrain');
    const args = [bin, ...tr('sigtrain', '--epochs', '40', '--save-steps', '1').map(sub)];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    await new Promise<void>((res) => {
      const on = (d: Buffer) => {
        text += String(d);
        if (/step \d+\/\d+/.test(text)) res();
      };
      child.stdout.on('data', on);
      child.stderr.on('data', on);
      child.on('exit', () => res());
    });
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    assert.equal(code, 143, text);
    assert.deepEqual(strayTemps(out), []);
  });

  it('no stray temporary files anywhere after all probes', () => {
    assert.deepEqual(strayTemps(W), []);
  });
});
