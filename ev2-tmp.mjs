import { evaluateDeid } from './dist/deid/evaluate.js';
import { readFileSync } from 'node:fs';
const docs = JSON.parse(readFileSync('../shared/data/pii-presidio/generated_large.json', 'utf8'));
const r = evaluateDeid(docs);
for (const m of r.misses.filter((m) => m.type === 'ADDRESS').slice(0, 40)) console.log(JSON.stringify(m.text), '::', JSON.stringify(m.context));
