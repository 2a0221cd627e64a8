#!/usr/bin/env node
// Splits for the text-preparation measurements (docs/textprep.md): from a labelled CSV, a stratified 10%
// validation file and the remaining training rows, plus a stratified FRACTION subset of those training rows.
// usage: node scripts/textprep-splits.mjs TRAIN.csv OUT_DIR SEED [FRACTION=0.1]
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { readLabeled, stratifiedSplit } from '../dist/data/dataset.js';

const [file, out, seedArg, fracArg] = process.argv.slice(2);
const seed = Number(seedArg);
const frac = Number(fracArg ?? 0.1);
const d = await readLabeled(file);
const [train, val] = stratifiedSplit(d.examples, 0.1, seed);
const [, subset] = stratifiedSplit(train, frac, seed + 1000);
const write = (name, ex) =>
  writeFileSync(path.join(out, name), stringify([['text', 'label'], ...ex.map((e) => [e.text, d.labels[e.label]])]));
mkdirSync(out, { recursive: true });
write('train-100.csv', train);
write(`train-${Math.round(frac * 100)}.csv`, subset);
write('validation.csv', val);
console.log(`${out}: train ${train.length}, subset ${subset.length}, validation ${val.length}`);
