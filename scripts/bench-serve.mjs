#!/usr/bin/env node
// npm run bench:serve -- [--model DIR] [--texts FILE] [--duration 30] [--long 60] [--connections 64] [--many 200]
//
// Throughput and latency of `medtune serve` on loopback, against the offline Predictor on the same texts in the same
// run: (a) 64 concurrent clients for 30 s — texts/s through the server vs offline, p50/p99 latency, errors;
// (b) 200 clients for 60 s — no crash, no errors other than 429, resident memory of the server over time.
// Default model: mini-biobert fine-tuned on symptom2disease (trained once into .bench/ if --model is not given);
// texts: symptom2disease's test split, one text per request.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.MEDTUNE_SHARED ?? path.resolve(root, '..', 'shared');
const bin = path.join(root, 'bin', 'medtune.js');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const duration = Number(arg('duration', 30));
const long = Number(arg('long', 60));
const connections = Number(arg('connections', 64));
const many = Number(arg('many', 200));
const benchDir = path.join(root, '.bench');
mkdirSync(benchDir, { recursive: true });

let model = arg('model');
if (!model) {
  model = path.join(benchDir, 's2d-mini-biobert', 'best_model');
  if (!existsSync(model)) {
    console.log('training mini-biobert on symptom2disease once for the benchmark (3 epochs) …');
    const r = spawnSync(
      process.execPath,
      [
        bin,
        'train',
        '--model',
        path.join(shared, 'models', 'mini-biobert'),
        '--train',
        path.join(shared, 'data', 'symptom2disease', 'train.csv'),
        '--output-dir',
        path.dirname(model),
        '--epochs',
        '3',
        '--learning-rate',
        '2e-4',
        '--max-length',
        '128',
        '--no-baseline',
        '--overwrite',
      ],
      { stdio: 'inherit' },
    );
    if (r.status !== 0) process.exit(1);
  }
}
const textsFile = arg('texts', path.join(shared, 'data', 'symptom2disease', 'test.csv'));
const { readRows } = await import(path.join(root, 'dist', 'data', 'readers.js'));
const texts = [];
for await (const row of readRows(textsFile)) texts.push(String(row.text));

const cpu = readFileSync('/proc/cpuinfo', 'utf8');
const flags = (/^flags\s*:(.*)$/m.exec(cpu)?.[1] ?? '')
  .split(' ')
  .filter((f) => /^(avx2|fma|avx512f|avx512_bf16|amx_bf16)$/.test(f));
console.log(
  `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; flags: ${flags.join(' ')}; node ${process.version}`,
);
console.log(`model: ${model}; ${texts.length} texts (${textsFile})`);

// --- offline: the Predictor in this process, same texts, batches of 32 sorted by length (its default)
const { Predictor } = await import(path.join(root, 'dist', 'infer', 'predictor.js'));
const p = await Predictor.load(model, { log: () => {} });
p.classify(texts.slice(0, 64));
/** Offline texts/s over `seconds` (measured before and after the server runs: the machine may be shared). */
const offlineRun = (seconds) => {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    p.classify(texts);
    n += texts.length;
  }
  return n / ((performance.now() - t0) / 1000);
};
const offlineBefore = offlineRun(15);
console.log(`offline Predictor: ${offlineBefore.toFixed(1)} texts/s (before the server)`);

// --- the server, in its own process
const keys = path.join(benchDir, 'bench-keys.json');
const key = spawnSync(process.execPath, [bin, 'serve', 'keys', 'add', `bench-${Date.now()}`, '--keys', keys], {
  encoding: 'utf8',
}).stdout.trim();
const port = 18000 + Math.floor(Math.random() * 1000);
const server = spawn(
  process.execPath,
  [bin, 'serve', '--model', `s2d=${model}`, '--keys', keys, '--port', String(port), '--log-level', 'warn'],
  { stdio: ['ignore', 'ignore', 'pipe'] },
);
await new Promise((res, rej) => {
  let err = '';
  server.stderr.on('data', (d) => {
    err += d;
    if (/medtune: ready/.test(err)) res();
  });
  server.on('exit', (c) => rej(new Error(`server exited ${c}: ${err}`)));
});
const rss = () => Number(readFileSync(`/proc/${server.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;
const requests = texts.map((t) => ({
  method: 'POST',
  path: '/v1/diagnose',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ text: t }),
}));
const load = (conns, seconds) =>
  autocannon({ url: `http://127.0.0.1:${port}`, connections: conns, duration: seconds, requests });

const warm = await load(8, 3);
void warm;
const a = await load(connections, duration);
const served = a.requests.average;
// the server's workers hold the cores while it runs: stop it for the second offline measurement, then restart
server.kill('SIGSTOP');
const offlineAfter = offlineRun(15);
server.kill('SIGCONT');
const offline = (offlineBefore + offlineAfter) / 2;
console.log(`offline Predictor: ${offlineAfter.toFixed(1)} texts/s (after (a)); mean ${offline.toFixed(1)}`);
console.log(
  `(a) ${connections} clients, ${duration} s: ` +
    `${served.toFixed(1)} texts/s = ${(served / offline).toFixed(2)}× offline; ` +
    `latency p50 ${a.latency.p50} ms, p99 ${a.latency.p99} ms; ` +
    `errors ${a.errors}, non-2xx ${a.non2xx}, timeouts ${a.timeouts}`,
);

const samples = [];
const timer = setInterval(() => samples.push(rss()), 1000);
const b = await load(many, long);
clearInterval(timer);
const q = Math.max(1, Math.floor(samples.length / 4));
const mean = (xs) => xs.reduce((s, v) => s + v, 0) / xs.length;
const first = mean(samples.slice(0, q));
const last = mean(samples.slice(-q));
const statuses = Object.fromEntries(Object.entries(b.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
console.log(
  `(b) ${many} clients, ${long} s: ${b.requests.average.toFixed(1)} texts/s; ` +
    `latency p50 ${b.latency.p50} ms, p99 ${b.latency.p99} ms; statuses ${JSON.stringify(statuses)}; ` +
    `errors ${b.errors}, timeouts ${b.timeouts}; ` +
    `server RSS ${first.toFixed(0)} MB (first quarter) → ${last.toFixed(0)} MB (last quarter), ` +
    `max ${Math.max(...samples).toFixed(0)} MB`,
);
const alive = server.exitCode === null;
server.kill('SIGTERM');
const result = {
  flags,
  offline_texts_per_s: offline,
  offline_before: offlineBefore,
  offline_after: offlineAfter,
  a: {
    connections,
    seconds: duration,
    texts_per_s: served,
    ratio: served / offline,
    p50_ms: a.latency.p50,
    p99_ms: a.latency.p99,
    errors: a.errors,
    non2xx: a.non2xx,
  },
  b: {
    connections: many,
    seconds: long,
    texts_per_s: b.requests.average,
    p50_ms: b.latency.p50,
    p99_ms: b.latency.p99,
    statuses,
    errors: b.errors,
    rss_first_mb: first,
    rss_last_mb: last,
    alive,
  },
};
writeFileSync(path.join(benchDir, 'bench-serve.json'), JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result));
