#!/usr/bin/env node
// The TF-IDF + logistic-regression baseline on symptom2disease, HoC (multi-label, abstract-level micro-F1) and
// medical-abstracts (its test file split 80/20, stratified, seed 42): time and accuracy, one JSON line per dataset.
// Wall and CPU seconds (the machine is shared: CPU time is the fairer comparison). Writes the exact splits to OUT/ so
// scripts/bench-baseline.py fits scikit-learn on the same rows (never in CI).
// usage: node scripts/bench-baseline.mjs OUT [DIST=dist] [datasets=s2d,hoc,ma]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

const [out = '/tmp/bench-baseline', dist = 'dist', which = 's2d,hoc,ma'] = process.argv.slice(2);
const root = path.resolve(dist);
const { readLabeled, stratifiedSplit } = await import(path.join(root, 'data/dataset.js'));
const { tfidfLogRegBaseline } = await import(path.join(root, 'evaluate/baseline.js'));
const { singleLabelMetrics, multiLabelMetrics, groupPredictions } = await import(
  path.join(root, 'evaluate/metrics.js')
);
const shared = process.env.MEDTUNE_SHARED ?? path.resolve('..', 'shared');
mkdirSync(out, { recursive: true });

const sets = {
  s2d: async () => ({
    train: await readLabeled(`${shared}/data/symptom2disease/train.csv`),
    test: await readLabeled(`${shared}/data/symptom2disease/test.csv`),
  }),
  hoc: async () => {
    const o = {
      textColumn: 'sentence',
      labelColumn: 'labels',
      multiLabel: true,
      groupColumn: 'index',
      groupRegex: '^(\\d+)_s',
    };
    const train = await readLabeled(`${shared}/data/hoc-blurb/train.tsv`, o);
    return {
      train,
      test: await readLabeled(`${shared}/data/hoc-blurb/test.tsv`, { ...o, labels: train.labels }),
      grouped: true,
    };
  },
  ma: async () => {
    const all = await readLabeled(`${shared}/data/medical-abstracts/medical_tc_test.csv`, {
      textColumn: 'medical_abstract',
      labelColumn: 'condition_label',
    });
    const [tr, te] = stratifiedSplit(all.examples, 0.2, 42);
    return { train: { ...all, examples: tr }, test: { ...all, examples: te } };
  },
};

for (const name of which.split(',')) {
  const d = await sets[name]();
  const labels = d.train.labels;
  const multi = d.train.multiLabel;
  const dump = (ex) => ex.map((e) => ({ text: e.text, label: e.label, group: e.group ?? null }));
  writeFileSync(
    path.join(out, `${name}.json`),
    JSON.stringify({ labels, multi, grouped: !!d.grouped, train: dump(d.train.examples), test: dump(d.test.examples) }),
  );
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const probs = tfidfLogRegBaseline(
    d.train.examples.map((e) => e.text),
    d.train.examples.map((e) => e.label),
    d.test.examples.map((e) => e.text),
    labels.length,
    multi,
  );
  const seconds = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const cpu = (c1.user + c1.system) / 1e6;
  const gold = d.test.examples.map((e) => e.label);
  let metric;
  if (!multi)
    metric = {
      accuracy: singleLabelMetrics(
        probs.map((p) => p.indexOf(Math.max(...p))),
        gold,
        labels,
      ).accuracy,
    };
  else {
    const g = groupPredictions(
      d.test.examples.map((e) => e.group ?? ''),
      gold,
      probs,
      { multi: true, threshold: 0.5 },
    );
    metric = {
      f1_micro_grouped: multiLabelMetrics(g.pred, g.gold, labels).f1_micro,
      f1_micro: multiLabelMetrics(
        probs.map((p) => p.map((v) => (v >= 0.5 ? 1 : 0))),
        gold,
        labels,
      ).f1_micro,
    };
  }
  console.log(
    JSON.stringify({
      impl: 'medtune',
      dist,
      dataset: name,
      train: d.train.examples.length,
      test: d.test.examples.length,
      classes: labels.length,
      seconds: Number(seconds.toFixed(1)),
      cpu_seconds: Number(cpu.toFixed(1)),
      ...metric,
    }),
  );
}
