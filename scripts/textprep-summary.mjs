#!/usr/bin/env node
// Summarises scripts/measure-textprep.sh runs: test accuracy and macro-F1 per condition and data size (mean ± half
// the range over seeds), and accuracy on the test rows with and without a copy in train.csv (the leakage check).
// usage: node scripts/textprep-summary.mjs [OUT=/tmp/textprep-runs] [SHARED=../shared]
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { readLabeled } from '../dist/data/dataset.js';
import { checkLeakage } from '../dist/data/curate.js';

const out = process.argv[2] ?? '/tmp/textprep-runs';
const shared = process.argv[3] ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'shared');
const data = path.join(shared, 'data', 'symptom2disease');
const train = await readLabeled(path.join(data, 'train.csv'));
const test = await readLabeled(path.join(data, 'test.csv'), { labels: train.labels });
const report = checkLeakage(train.examples, test.examples);
/** Test rows with a copy in the training file of a run (its own subset for the 10 % runs). */
const leakedCache = new Map();
async function leakedRows(size, seed) {
  const k = `${size}-${seed}`;
  if (!leakedCache.has(k)) {
    const tr = await readLabeled(path.join(out, `splits-${seed}`, `train-${size}.csv`), { labels: train.labels });
    const r = checkLeakage(tr.examples, test.examples, { maxExamples: Infinity });
    leakedCache.set(k, new Set(r.examples.map((e) => e.row)));
  }
  return leakedCache.get(k);
}
const results = readFileSync(path.join(out, 'results.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l));
const groups = new Map();
for (const r of results) {
  const preds = path.join(out, `run-${r.condition}-${r.size}-${r.seed}`, 'predictions.jsonl');
  if (existsSync(preds)) {
    const leaked = await leakedRows(r.size, r.seed);
    const rows = readFileSync(preds, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const acc = (sel) => {
      const s = rows.filter(sel);
      return s.filter((x) => x.correct).length / s.length;
    };
    r.clean = acc((x) => !leaked.has(x.row));
    r.leaked = acc((x) => leaked.has(x.row));
  }
  const k = `${r.size}|${r.condition}`;
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push(r);
}
const fmt = (xs) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const h = (Math.max(...xs) - Math.min(...xs)) / 2;
  return `${m.toFixed(3)} ± ${h.toFixed(3)}`;
};
console.log(`leakage: ${report.exact + report.near} of ${test.examples.length} test rows have a copy in train.csv`);
for (const [k, v] of leakedCache) console.log(`  training file ${k}: ${v.size} test rows with a copy in it`);
console.log(
  '| training rows | condition | seeds | test accuracy | macro-F1 ' +
    '| accuracy, test rows without a copy in the training rows | accuracy, rows with a copy | fine-tuning s |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const [k, rs] of [...groups].sort()) {
  const [size, cond] = k.split('|');
  console.log(
    `| ${size} % | ${cond} | ${rs.map((r) => r.seed).join(', ')} ` +
      `| ${fmt(rs.map((r) => r.accuracy))} | ${fmt(rs.map((r) => r.f1_macro))} ` +
      `| ${fmt(rs.map((r) => r.clean))} | ${fmt(rs.map((r) => r.leaked))} ` +
      `| ${fmt(rs.map((r) => r.seconds))
        .replace(/\.\d+ ± /, ' ± ')
        .replace(/\.\d+$/, '')} |`,
  );
}
