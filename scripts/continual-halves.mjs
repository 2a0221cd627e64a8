#!/usr/bin/env node
// Splits a labelled CSV into two stratified halves (seeded), for the continual-learning check in docs/ui.md:
//   node scripts/continual-halves.mjs ../shared/data/symptom2disease/train.csv OUT_DIR [seed]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
const [file, out, seed = '1'] = process.argv.slice(2);
const { readLabeled, stratifiedSplit } = await import(new URL('../dist/data/dataset.js', import.meta.url).href);
const d = await readLabeled(file);
const [a, b] = stratifiedSplit(d.examples, 0.5, Number(seed));
for (const [name, rows] of [
  ['half-a.csv', a],
  ['half-b.csv', b],
]) {
  writeFileSync(
    path.join(out, name),
    stringify(
      rows.map((e) => ({ text: e.text, label: d.labels[e.label] })),
      { header: true },
    ),
  );
  console.log(`${name}: ${rows.length} rows`);
}
