// The de-identification figures of docs/deid.md: rules only, the model alone and rules ∪ model, per PHI type, on the
// held-out synthetic notes of a `medtune deid train` run (another seed) and on ../shared/data/pii-presidio (never
// trained on); then `deid --model` throughput on notes of ~200 words. Needs a build (npx tsc); outside tests and CI.
//   node scripts/deid-measure.mjs DEID_RUN_DIR [PRESIDIO_JSON] [--json OUT]
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DeidModel, uniteEntities } from '../dist/infer/deid-model.js';
import { analyze } from '../dist/deid/analyzer.js';
import { deidentify } from '../dist/deid/anonymize.js';
import { evaluateDeid } from '../dist/deid/evaluate.js';
import { syntheticCorpus } from '../dist/deid/synthetic-corpus.js';
import { Generator } from '../dist/tensor/random.js';

const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonOut = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : null;
const [run, presidio = '../shared/data/pii-presidio/generated_large.json'] = args;
const model = await DeidModel.load(run, { log: () => {} });
console.log(`model ${run}, PHI threshold ${model.threshold}`);

const goldOf = (rows) =>
  rows.map((r) => ({
    full_text: r.text,
    spans: r.entities.map((e) => ({ entity_type: e.label, start_position: e.start, end_position: e.end })),
  }));
const sets = {
  'synthetic held-out': goldOf(
    readFileSync(path.join(run, 'data', 'test.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
  ),
  'pii-presidio': JSON.parse(readFileSync(presidio, 'utf8')),
};
const summary = {};
const pct = (x) => (100 * x).toFixed(1);
for (const [name, docs] of Object.entries(sets)) {
  const texts = docs.map((d) => d.full_text);
  const m = [];
  for (let i = 0; i < texts.length; i += 32) m.push(...model.modelEntities(texts.slice(i, i + 32)));
  const modelOnly = m.map((es, i) => uniteEntities(texts[i], [], es));
  const union = m.map((es, i) => uniteEntities(texts[i], analyze(texts[i]), es));
  summary[name] = {};
  for (const [what, found] of [
    ['rules', undefined],
    ['model', modelOnly],
    ['rules ∪ model', union],
  ]) {
    const r = evaluateDeid(docs, found ? { found } : {});
    summary[name][what] = {
      recall: r.recall,
      precision: r.precision,
      char_precision: r.charPrecision,
      by_type: Object.fromEntries(r.byGoldType.map((t) => [t.type, { recall: t.recall, gold: t.gold }])),
    };
    console.log(
      `${name} (${docs.length} docs), ${what}: recall ${pct(r.recall)}, precision ${pct(r.precision)}, ` +
        `character precision ${pct(r.charPrecision)}`,
    );
    console.log('   ' + r.byGoldType.map((t) => `${t.type} ${pct(t.recall)} (${t.gold})`).join(', '));
  }
}

// throughput: notes of ~200 words (synthetic notes joined until 200 words), rules ∪ model + the tag operator
const g = new Generator(99);
const notes = [];
const pool = syntheticCorpus(2000, 12345);
let k = 0;
while (notes.length < 200) {
  let t = '';
  while (t.split(/\s+/).length < 200) t += pool[k++ % pool.length].text + '\n';
  notes.push(
    t
      .split(/\s+/)
      .slice(0, 200 + Math.floor(g.uniform() * 3))
      .join(' '),
  );
}
const t0 = performance.now();
for (let i = 0; i < notes.length; i += 16) {
  const part = notes.slice(i, i + 16);
  const found = model.analyzeBatch(part);
  part.forEach((t, j) => deidentify(t, { operator: 'tag', entities: found[j] }));
}
const s = (performance.now() - t0) / 1000;
summary.throughput = { notes: notes.length, words_per_note: 200, seconds: s, notes_per_s: notes.length / s };
console.log(
  `deid --model: ${notes.length} notes of 200 words in ${s.toFixed(1)} s = ${(notes.length / s).toFixed(1)} notes/s`,
);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(summary, null, 1) + '\n');
