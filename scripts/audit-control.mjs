#!/usr/bin/env node
// How often the bias audit flags the injected disparity of `demo --demographics`, and how often it flags a gap on
// control data generated without one: the TF-IDF classifier on the demo's sizes (1260 training, 630 test rows),
// one dataset per seed. Usage: npm run build && node scripts/audit-control.mjs [SEEDS=40]
import { syntheticSymptoms, DEMO_DIAGNOSES } from '../dist/demo/synthetic.js';
import { tfidfLogRegBaseline } from '../dist/evaluate/baseline.js';
import { computeAudit } from '../dist/report/audit.js';

const labels = [...DEMO_DIAGNOSES].sort((a, b) => a.localeCompare(b));

function audit(seed, disparity) {
  const train = syntheticSymptoms(60, seed, { demographics: true, disparity });
  const test = syntheticSymptoms(30, seed + 1000, { demographics: true, disparity });
  const probs = tfidfLogRegBaseline(
    train.map((r) => r.text),
    train.map((r) => labels.indexOf(r.label)),
    test.map((r) => r.text),
    labels.length,
    false,
  );
  const rows = test.map((r, i) => ({
    gold: labels.indexOf(r.label),
    pred: probs[i].indexOf(Math.max(...probs[i])),
    probs: probs[i],
    abstain: false,
    groups: { sex: r.sex, age_band: r.age_band },
  }));
  return computeAudit(rows, { columns: ['sex', 'age_band'], labels, multiLabel: false, seed: 7 });
}

const n = Number(process.argv[2] ?? 40);
let found = 0;
let falseFlags = 0;
for (let seed = 2; seed < 2 + n; seed++) {
  const d = audit(seed, true);
  if (d.flagged.some((f) => f.column === 'age_band' && f.group === '80+' && f.metric === 'accuracy')) found++;
  const c = audit(seed, false);
  if (c.flagged.length) {
    falseFlags++;
    const flags = c.flagged.map((f) => `${f.column}=${f.group} ${f.metric} ${f.gap.toFixed(3)}`);
    console.log(`control seed ${seed}: ${flags.join('; ')}`);
  }
}
console.log(`${n} seeds: disparity found ${found}/${n}; a gap flagged on the control ${falseFlags}/${n}`);
