// Token classification end to end on a tiny model: `train --task token-classification` (CoNLL in, best_model with
// its label map, metrics.json with the entity figures, predictions with character spans, report.html with the
// misses), `evaluate` and `predict` on the saved model, POST /v1/entities, the de-identification model (`deid train`
// on a few synthetic notes, `deid --model`: rules ∪ model with sources), and the bad inputs of the task.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTrain, type TrainOptions } from './run.js';
import { runTokenEvaluate } from '../evaluate/token-eval.js';
import { runPredict } from '../infer/predict-file.js';
import { createServer } from '../serve/app.js';
import { addKey } from '../serve/keys.js';
import { runDeidTrain } from './deid-train.js';
import { runDeidWithModel, uniteEntities } from '../infer/deid-model.js';
import { fixturePath } from '../testing-fixtures.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'medtune.js');
const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');
const skip = !tiny && 'needs ../shared (tiny-bert fixture)';
const quiet = () => {};

const DISEASES = ['pneumonia', 'breast cancer', 'heart failure', 'asthma', 'colon cancer', 'sepsis'];
const FRAMES = ['the patient has', 'we report a case of', 'no evidence of', 'history of', 'treated for'];

/** A small CoNLL corpus: frames followed by diseases (B-/I-Disease), deterministic. */
function conll(n: number, seed: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const frame = FRAMES[(i * 7 + seed) % FRAMES.length]!.split(' ');
    const dis = DISEASES[(i * 5 + seed * 3) % DISEASES.length]!.split(' ');
    for (const w of frame) out.push(`${w}\tO`);
    dis.forEach((w, k) => out.push(`${w}\t${k ? 'I' : 'B'}-Disease`));
    out.push('.\tO', '');
  }
  return out.join('\n');
}

function options(dir: string, files: { train: string; validation: string; test?: string }): TrainOptions {
  return {
    task: 'token-classification',
    model: tiny!,
    ...files,
    outputDir: dir,
    epochs: 8,
    learningRate: 3e-3,
    batchSize: 8,
    weightDecay: 0,
    warmup: 0,
    scheduler: 'linear',
    seed: 1,
    evalEvery: 0,
    gradAccum: 1,
    maxGradNorm: 1,
    labelSmoothing: 0,
    validationSplit: 0,
    saveTotalLimit: 1,
  };
}

describe('train --task token-classification', { skip }, () => {
  let work: string;
  let files: { train: string; validation: string; test: string };
  let run: string;
  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'medtune-token-'));
    files = {
      train: path.join(work, 'train.tsv'),
      validation: path.join(work, 'devel.tsv'),
      test: path.join(work, 'test.tsv'),
    };
    writeFileSync(files.train, conll(48, 1));
    writeFileSync(files.validation, conll(10, 2));
    writeFileSync(files.test, conll(10, 3));
    run = path.join(work, 'run');
    await runTrain(options(run, files), quiet);
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('writes best_model (HF token classifier), metrics.json with entity figures, predictions and report', () => {
    const cfg = JSON.parse(readFileSync(path.join(run, 'best_model', 'config.json'), 'utf8'));
    assert.deepEqual(cfg.architectures, ['BertForTokenClassification']);
    assert.deepEqual(Object.values(cfg.id2label), ['O', 'B-Disease', 'I-Disease']);
    const m = JSON.parse(readFileSync(path.join(run, 'metrics.json'), 'utf8'));
    for (const k of ['entity_precision', 'entity_recall', 'entity_f1', 'token_accuracy', 'per_type'])
      assert.ok(k in m, k);
    assert.equal(m.split, 'test');
    assert.ok(m.entity_f1 > 0.8, `entity F1 ${m.entity_f1}`);
    assert.equal(m.per_type[0].type, 'Disease');
    assert.ok(m.train_seconds_per_epoch > 0);
    const p = readFileSync(path.join(run, 'predictions.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(p.length, 10);
    const hit = p[0].entities[0];
    assert.equal(p[0].text.slice(hit.start, hit.end), p[0].text.slice(p[0].gold[0].start, p[0].gold[0].end));
    assert.ok(hit.score > 0 && hit.score <= 1);
    assert.match(readFileSync(path.join(run, 'report.html'), 'utf8'), /Misses/);
  });

  it('evaluate and predict use the saved model; entities come as character spans', async () => {
    const ev = path.join(work, 'eval');
    const m = await runTokenEvaluate({
      model: path.join(run, 'best_model'),
      test: files.test,
      outputDir: ev,
      log: quiet,
    });
    assert.ok(m.entity_f1 > 0.8);
    const input = path.join(work, 'notes.jsonl');
    writeFileSync(input, JSON.stringify({ text: 'We report a case of breast cancer and asthma.' }) + '\n');
    const out = path.join(work, 'entities.jsonl');
    await runPredict({ model: path.join(run, 'best_model'), input, output: out, log: quiet });
    const r = JSON.parse(readFileSync(out, 'utf8'));
    const text = 'We report a case of breast cancer and asthma.';
    assert.deepEqual(
      r.entities.map((e: { start: number; end: number }) => text.slice(e.start, e.end)),
      ['breast cancer', 'asthma'],
    );
  });

  it('bad input: mismatched tags, label sets that differ, a token model given to diagnose', () => {
    const cli = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    const bad = path.join(work, 'bad.tsv');
    writeFileSync(bad, 'the\tO\ncancer\n');
    let r = cli([
      'train',
      '--task',
      'token-classification',
      '--model',
      tiny!,
      '--train',
      bad,
      '--output-dir',
      path.join(work, 'x'),
    ]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^medtune: .*bad\.tsv line 2: a token without a tag .*\(E_INPUT_TAGS\)\n$/);
    const other = path.join(work, 'other.tsv');
    writeFileSync(other, 'aspirin\tB-Chemical\n');
    r = cli([
      'train', '--task', 'token-classification', '--model', tiny!, '--train', files.train, '--test', other,
      '--output-dir', path.join(work, 'y'),
    ]); // prettier-ignore
    assert.equal(r.status, 2);
    assert.match(r.stderr, /entity types the training file lacks: Chemical .*\(E_INPUT_TAGS\)/);
    const input = path.join(work, 'in.csv');
    writeFileSync(input, 'text\nfever\n');
    r = cli(['calibrate', '--model', path.join(run, 'best_model'), '--data', input]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /token classification model .*\(E_MODEL_TASK\)/);
  });

  it('POST /v1/entities serves a token model; /v1/diagnose refuses it', async () => {
    const keys = path.join(work, 'keys.json');
    const key = addKey(keys, 'clinic');
    const s = await createServer({
      models: [{ name: 'ner', dir: path.join(run, 'best_model') }],
      keys,
      workers: 1,
      threads: 1,
      port: 0,
      logStream: new (await import('node:stream')).Writable({ write: (_c, _e, cb) => cb() }),
    });
    await s.ready;
    try {
      const post = (url: string, payload: unknown) =>
        s.app.inject({
          method: 'POST',
          url,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          payload: JSON.stringify(payload),
        });
      const text = 'history of heart failure .';
      const r = await post('/v1/entities', { texts: [text, 'no evidence of sepsis'] });
      assert.equal(r.statusCode, 200, r.body);
      const b = JSON.parse(r.body);
      assert.equal(b.model.name, 'ner');
      const e = b.results[0].entities[0];
      assert.equal(text.slice(e.start, e.end), 'heart failure');
      assert.equal(e.label, 'Disease');
      assert.ok(e.score > 0.5);
      const d = await post('/v1/diagnose', { text });
      assert.equal(d.statusCode, 400);
      assert.equal(JSON.parse(d.body).error.code, 'E_MODEL_TASK');
      assert.equal((await s.app.inject({ method: 'POST', url: '/v1/entities', payload: { text } })).statusCode, 401);
    } finally {
      await s.close();
    }
  });
});

describe('the de-identification model', { skip }, () => {
  it('rules ∪ model: overlapping spans merge, sources say who found them', () => {
    const text = 'Seen by Ann Lee at 555-123-4567 in Dover.';
    const rules = [{ type: 'PHONE_NUMBER', start: 19, end: 31, score: 0.9, text: '', recognizer: 'phone' }];
    const model = [
      { start: 8, end: 15, label: 'PERSON', score: 0.8 },
      { start: 19, end: 30, label: 'ID', score: 0.6 },
    ];
    const u = uniteEntities(text, rules, model);
    assert.deepEqual(
      u.map((e) => [e.text, e.type, e.source]),
      [
        ['Ann Lee', 'PERSON', 'model'],
        ['555-123-4567', 'PHONE_NUMBER', 'both'],
      ],
    );
  });

  it('deid train writes synthetic notes and a model; deid --model adds the model to the rules', async () => {
    const work = mkdtempSync(path.join(os.tmpdir(), 'medtune-deidtrain-'));
    try {
      const out = path.join(work, 'deid');
      const r = await runDeidTrain({ model: tiny!, outputDir: out, notes: 40, epochs: 1, maxLength: 64, log: quiet });
      assert.ok(existsSync(path.join(out, 'data', 'train.jsonl')) && existsSync(path.join(out, 'data', 'test.jsonl')));
      assert.ok(r.threshold > 0 && r.threshold <= 0.5);
      const cfg = JSON.parse(readFileSync(path.join(out, 'best_model', 'config.json'), 'utf8'));
      assert.equal(cfg.medtune.entity_threshold, r.threshold);
      assert.ok(Object.values(cfg.id2label).includes('B-PERSON'));
      const input = path.join(work, 'notes.jsonl');
      writeFileSync(input, JSON.stringify({ text: 'Call Ann Lee at 555-123-4567.' }) + '\n');
      const output = path.join(work, 'out.jsonl');
      await runDeidWithModel({ input, output, operator: 'tag', model: out, log: quiet });
      const row = JSON.parse(readFileSync(output, 'utf8'));
      assert.ok(!row.text.includes('555-123-4567'));
      assert.ok(row.entities.every((e: { source: string }) => ['rules', 'model', 'both'].includes(e.source)));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
