#!/usr/bin/env node
// node scripts/soak-serve.mjs [--model DIR] [--texts FILE] [--minutes 10] [--clients 200] [--audit] [--out FILE]
//                             [--server-log FILE]
//
// The soak test of `medtune serve` (outside `npm test`: it takes the minutes it is given and every core): the
// server in its own process, `--clients` concurrent clients on loopback for `--minutes` (autocannon), one text per
// request. Resident memory of the server is sampled every second; the test passes when the mean of the last quarter
// is at most 1.1× the mean of the first quarter, the server is alive at the end and no request failed other than
// with a 429. --audit adds an audit log (in a temporary folder). Prints one JSON summary (also written to --out).
// Default model: the benchmark's (.bench/s2d-mini-biobert/best_model, made by `npm run bench:serve`).
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const minutes = Number(arg('minutes', 10));
const clients = Number(arg('clients', 200));
const model = arg('model', path.join(root, '.bench', 's2d-mini-biobert', 'best_model'));
const textsFile = arg('texts', path.join(shared, 'data', 'symptom2disease', 'test.csv'));
const out = arg('out', path.join(root, '.bench', 'soak-serve.json'));
if (!existsSync(model)) {
  console.error(`no model at ${model}: run \`npm run bench:serve\` once (it trains one) or pass --model DIR`);
  process.exit(2);
}
const { readRows } = await import(path.join(root, 'dist', 'data', 'readers.js'));
const texts = [];
for await (const row of readRows(textsFile)) texts.push(String(row.text));

const cpu = readFileSync('/proc/cpuinfo', 'utf8');
const flags = (/^flags\s*:(.*)$/m.exec(cpu)?.[1] ?? '')
  .split(' ')
  .filter((f) => /^(avx2|fma|avx512f|avx512_bf16|amx_bf16)$/.test(f));
const load = () => os.loadavg().map((l) => Number(l.toFixed(2)));
console.log(
  `machine: ${os.cpus().length} cores, ${os.cpus()[0]?.model}; flags: ${flags.join(' ')}; node ${process.version}`,
);
console.log(`load average at start: ${load().join(' ')}; ${clients} clients for ${minutes} min; model ${model}`);

const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-soak-'));
const keys = path.join(dir, 'keys.json');
const key = spawnSync(process.execPath, [bin, 'serve', 'keys', 'add', 'soak', '--keys', keys], {
  encoding: 'utf8',
}).stdout.trim();
const port = 19000 + Math.floor(Math.random() * 1000);
const audit = process.argv.includes('--audit') ? ['--audit-log', path.join(dir, 'audit.jsonl')] : [];
const server = spawn(
  process.execPath,
  [bin, 'serve', '--model', `soak=${model}`, '--keys', keys, '--port', String(port), '--log-level', 'warn', ...audit],
  { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MEDTUNE_AUDIT_SECRET: 'soak-secret-of-16-chars' } },
);
await new Promise((res, rej) => {
  let err = '';
  const serverLog = arg('server-log');
  server.stderr.on('data', (d) => {
    if (serverLog) appendFileSync(serverLog, d);
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
const startRss = rss();
const samples = [];
const loads = [];
let ticks = 0;
const series = [];
const timer = setInterval(() => {
  if (server.exitCode === null) samples.push(rss());
  if (ticks++ % 30 === 0) {
    loads.push(os.loadavg()[0]);
    series.push(Math.round(samples.at(-1) ?? 0));
  }
}, 1000);
const r = await autocannon({
  url: `http://127.0.0.1:${port}`,
  connections: clients,
  duration: Math.round(minutes * 60),
  requests,
});
clearInterval(timer);
const alive = server.exitCode === null;
server.kill('SIGTERM');
await new Promise((res) => (server.exitCode === null ? server.on('exit', res) : res()));
rmSync(dir, { recursive: true, force: true });

const q = Math.max(1, Math.floor(samples.length / 4));
const mean = (xs) => xs.reduce((s, v) => s + v, 0) / xs.length;
const first = mean(samples.slice(0, q));
const last = mean(samples.slice(-q));
const statuses = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
const failed = Object.entries(statuses)
  .filter(([s]) => s !== '200' && s !== '429')
  .reduce((a, [, n]) => a + n, 0);
const result = {
  flags,
  clients,
  minutes,
  audit: audit.length > 0,
  texts_per_s: r.requests.average,
  p50_ms: r.latency.p50,
  p99_ms: r.latency.p99,
  statuses,
  errors: r.errors,
  timeouts: r.timeouts,
  rss_start_mb: startRss,
  rss_first_quarter_mb: first,
  rss_last_quarter_mb: last,
  rss_max_mb: Math.max(...samples),
  growth: last / first,
  rss_every_30s_mb: series,
  load_average_1m: { mean: mean(loads), max: Math.max(...loads) },
  alive,
  pass: alive && last <= 1.1 * first && failed === 0 && r.errors === 0,
};
console.log(
  `${r.requests.total} requests, ${r.requests.average.toFixed(1)} texts/s, p50 ${r.latency.p50} ms, ` +
    `p99 ${r.latency.p99} ms; statuses ${JSON.stringify(statuses)}; errors ${r.errors}; ` +
    `RSS ${startRss.toFixed(0)} MB at start → ${first.toFixed(0)} MB (first quarter) → ${last.toFixed(0)} MB ` +
    `(last quarter) = ${(last / first).toFixed(3)}×, max ${Math.max(...samples).toFixed(0)} MB; ` +
    `load average ${mean(loads).toFixed(1)} (max ${Math.max(...loads).toFixed(1)}); ` +
    `${result.pass ? 'PASS' : 'FAIL'}`,
);
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(result));
process.exit(result.pass ? 0 : 1);
