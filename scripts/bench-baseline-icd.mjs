#!/usr/bin/env node
// The TF-IDF + logistic-regression baseline at ICD scale (docs/long-documents.md): a seeded synthetic multi-label set
// (codes with a Zipf-like frequency, 1–8 a note, notes of a few hundred words whose words depend on their codes), then
// the baseline's fit + predict timed, micro-F1 (at 0.5) and P@8 on held-out notes, peak RSS. Each label count runs in
// its own process (so the peak RSS is its own); one JSON line each, then the CPU flags. Nothing is downloaded.
// usage: node scripts/bench-baseline-icd.mjs [--labels 100,1000,5000] [--train 1600] [--test 400] [--dist dist]
//        [--seed 1]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    labels: { type: 'string', default: '100,1000,5000' },
    train: { type: 'string', default: '1600' },
    test: { type: 'string', default: '400' },
    dist: { type: 'string', default: 'dist' },
    seed: { type: 'string', default: '1' },
    one: { type: 'boolean', default: false },
  },
});

/** mulberry32: a small seeded generator (the same stream on every machine). */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A sampler of 0..n-1 with P(i) ∝ 1/(i+1)^s (binary search over the cumulative weights). */
function zipf(n, s, u) {
  const cum = new Float64Array(n);
  let z = 0;
  for (let i = 0; i < n; i++) cum[i] = z += 1 / (i + 1) ** s;
  return () => {
    const x = u() * z;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const SYL = [
  'ka',
  're',
  'mi',
  'to',
  'su',
  'la',
  'ne',
  'po',
  'di',
  'ga',
  'ro',
  'vi',
  'te',
  'mo',
  'sa',
  'lu',
  'pe',
  'ni',
];
const word = (u, n) => Array.from({ length: n }, () => SYL[Math.floor(u() * SYL.length)]).join('');

/**
 * Notes: 150–400 words, 88 % filler (4,000 pseudo-words, Zipf), 12 % from the notes' codes: each code has 4 words of
 * its own (a pool of 2 × codes words, so words are shared between codes and a code is not one word). Codes: 1–8 a
 * note, Zipf over the codes (the first codes are frequent, most are rare).
 */
export function icdSet({ labels, rows, seed }) {
  const u = rng(seed);
  const filler = Array.from({ length: 4000 }, (_, i) => `${word(u, 2 + (i % 3))}`);
  const pool = Array.from({ length: 2 * labels }, (_, i) => `x${word(u, 3)}${i.toString(36)}`);
  const codeWords = Array.from({ length: labels }, () =>
    Array.from({ length: 4 }, () => Math.floor(u() * pool.length)),
  );
  const fill = zipf(filler.length, 1, u);
  const code = zipf(labels, 1, u);
  return Array.from({ length: rows }, () => {
    const codes = new Set();
    const k = 1 + Math.floor(u() * 8);
    while (codes.size < k) codes.add(code());
    const cs = [...codes];
    const len = 150 + Math.floor(u() * 250);
    const w = [];
    for (let i = 0; i < len; i++) {
      if (u() < 0.12) w.push(pool[codeWords[cs[Math.floor(u() * cs.length)]][Math.floor(u() * 4)]]);
      else w.push(filler[fill()]);
    }
    const label = new Array(labels).fill(0);
    for (const c of cs) label[c] = 1;
    return { text: w.join(' '), label };
  });
}

async function one(labels) {
  const root = path.resolve(a.dist);
  const { tfidfLogRegBaseline, TfidfVectorizer } = await import(path.join(root, 'evaluate/baseline.js'));
  const { multiLabelMetrics } = await import(path.join(root, 'evaluate/metrics.js'));
  const nTrain = Number(a.train);
  const all = icdSet({ labels, rows: nTrain + Number(a.test), seed: Number(a.seed) });
  const [tr, te] = [all.slice(0, nTrain), all.slice(nTrain)];
  // the TF-IDF part alone (the baseline repeats it): how much of the time is the regressions
  const tv = performance.now();
  new TfidfVectorizer().fit(tr.map((e) => e.text)).transform(all.map((e) => e.text));
  const tfidfSeconds = (performance.now() - tv) / 1000;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const probs = tfidfLogRegBaseline(
    tr.map((e) => e.text),
    tr.map((e) => e.label),
    te.map((e) => e.text),
    labels,
    true,
  );
  const seconds = (performance.now() - t0) / 1000;
  const c1 = process.cpuUsage(c0);
  const names = Array.from({ length: labels }, (_, c) => `c${c}`);
  const pred = probs.map((p) => p.map((v) => (v >= 0.5 ? 1 : 0)));
  const m = multiLabelMetrics(
    pred,
    te.map((e) => e.label),
    names,
    { probabilities: probs },
  );
  const seen = new Set(tr.flatMap((e) => e.label.flatMap((v, c) => (v ? [c] : []))));
  console.log(
    JSON.stringify({
      dist: a.dist,
      labels,
      labels_in_train: seen.size,
      train: tr.length,
      test: te.length,
      seconds: Number(seconds.toFixed(2)),
      tfidf_seconds: Number(tfidfSeconds.toFixed(2)),
      cpu_seconds: Number(((c1.user + c1.system) / 1e6).toFixed(2)),
      f1_micro: Number(m.f1_micro.toFixed(4)),
      precision_at_8: Number(m.precision_at_8.toFixed(4)),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
}

if (a.one) await one(Number(a.labels));
else {
  const self = new URL(import.meta.url).pathname;
  for (const n of a.labels.split(',')) {
    const args = [self, '--one', '--labels', n, '--train', a.train, '--test', a.test, '--dist', a.dist];
    const r = spawnSync(process.execPath, [...args, '--seed', a.seed], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/\b(avx2|avx512_bf16|amx_bf16)\b/g) ?? [];
  console.log(JSON.stringify({ cpu_flags: [...new Set(flags)].sort(), node: process.version }));
}
