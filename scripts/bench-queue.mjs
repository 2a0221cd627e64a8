#!/usr/bin/env node
// Throughput of `predict` and `deid` on the Redis queue with 1, 2 and 4 local `medtune worker` processes (one thread
// each), against one process with one thread: what docs/scaling.md reports. Wall-clock rows/s depend on what else
// the machine runs; the CPU seconds per 1,000 rows (the coordinator's and the workers', with their chunk processes;
// not redis-server's) show the queue's own cost whatever the load. Needs redis-server and a build (dist/); Linux.
//   node scripts/bench-queue.mjs [--predict-rows 2048] [--deid-rows 16384] [--workers 1,2,4] [--chunk-rows 256]
//     [--only predict,deid]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'medtune.js');
const dist = (p) => import(path.join(root, 'dist', p));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const predictRows = Number(arg('predict-rows', 2048));
const deidRows = Number(arg('deid-rows', 16384));
const counts = arg('workers', '1,2,4').split(',').map(Number);
const chunkRows = arg('chunk-rows', '256');

const { syntheticSymptoms, DEMO_DIAGNOSES } = await dist('demo/synthetic.js');
const { createScratchModel } = await dist('demo/scratch.js');
const { startTestRedis } = await dist('testing-fixtures.js');

const work = mkdtempSync(path.join(os.tmpdir(), 'medtune-bench-queue-'));
const names = ['Ann Lee', 'John Smith', 'Maria Garcia', 'Wei Chen'];
function notes(n, file) {
  const rows = [];
  for (let seed = 1; rows.length < n; seed++) rows.push(...syntheticSymptoms(20, seed));
  const line = (r, i) =>
    `"Seen by Dr. ${names[i % 4]} on 0${(i % 9) + 1}/1${i % 3}/2021 at 12 Oak St, Boston. ` +
    `MRN ${100000 + i}. ${r.text}",${r.label}`;
  writeFileSync(file, 'text,label\n' + rows.slice(0, n).map(line).join('\n') + '\n');
  return rows;
}
const predictCsv = path.join(work, 'predict.csv');
const texts = notes(predictRows, predictCsv).map((r) => r.text);
const deidCsv = path.join(work, 'deid.csv');
notes(deidRows, deidCsv);
// a BERT of mini-biobert's shape (4 layers, hidden 256), saved as a classifier: the same weights in every process
const model = path.join(work, 'model');
createScratchModel(model, texts, [...DEMO_DIAGNOSES].sort(), 1, { hidden: 256, layers: 4 });

const env = { ...process.env, MEDTUNE_THREADS: '1', MEDTUNE_DEID_SECRET: 'bench-key' };

/** CPU seconds (user + system) of a live process and its descendants; or, for `self`, of its waited-for children. */
function cpu(pid, waited = false) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (waited) return (Number(f[13]) + Number(f[14])) / 100;
    // its own time, that of its children it has waited for (finished chunk processes), then the live descendants'
    let t = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean);
      for (const k of kids) t += cpu(Number(k));
    }
    return t;
  } catch {
    return 0; // gone meanwhile
  }
}

/** Runs the CLI: wall-clock seconds and its CPU seconds. */
function run(args) {
  return new Promise((resolve, reject) => {
    const [t0, c0] = [performance.now(), cpu('self', true)];
    const p = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) =>
      code === 0
        ? resolve({ wall: (performance.now() - t0) / 1000, cpu: cpu('self', true) - c0 })
        : reject(new Error(err)),
    );
  });
}

function startWorkers(n, url) {
  return Promise.all(
    Array.from({ length: n }, () => {
      const p = spawn(process.execPath, [bin, 'worker', '--queue', url, '--threads', '1'], {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      return new Promise((resolve) => {
        p.stdout.on('data', (d) => {
          if (/^worker /m.test(String(d))) resolve(p);
        });
      });
    }),
  );
}

const load = () => os.loadavg()[0].toFixed(1);
const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
const flags = ['avx512f', 'avx512_bf16', 'avx2', 'fma'].filter((f) => new RegExp(`\\b${f}\\b`).test(cpuinfo));
console.log(
  `${os.cpus()[0]?.model} × ${os.availableParallelism()} cores (${flags.join(', ')}); ` +
    `load average ${load()} at the start; predict ${predictRows} rows, deid ${deidRows} rows, chunks of ${chunkRows}`,
);
const redis = await startTestRedis();
if (!redis) throw new Error('redis-server is not installed');
const jobs = {
  predict: (out, q) => ['predict', '--model', model, '--input', predictCsv, '--output', out, ...q],
  deid: (out, q) => ['deid', '--input', deidCsv, '--output', out, '--secret', 'bench-key', ...q],
};
const rows = { predict: predictRows, deid: deidRows };
const table = [];
try {
  const only = arg('only', 'predict,deid').split(',');
  for (const [kind, args] of Object.entries(jobs).filter(([k]) => only.includes(k))) {
    const single = await run(args(path.join(work, `${kind}-single.csv`), []));
    table.push([kind, 'one process', single.wall, single.cpu, rows[kind], load()]);
    for (const n of counts) {
      const ws = await startWorkers(n, redis.url);
      const out = path.join(work, `${kind}-${n}.csv`);
      const before = ws.reduce((t, w) => t + cpu(w.pid), 0);
      const s = await run(args(out, ['--queue', redis.url, '--chunk-rows', chunkRows]));
      const workers = ws.reduce((t, w) => t + cpu(w.pid), 0) - before;
      table.push([kind, `${n} worker${n > 1 ? 's' : ''}`, s.wall, s.cpu + workers, rows[kind], load()]);
      // wait for them to be reaped: a worker reaped later would add its CPU to the next run's figure
      await Promise.all(ws.map((w) => new Promise((r) => (w.once('exit', r), w.kill('SIGTERM')))));
      const same = readFileSync(out, 'utf8') === readFileSync(path.join(work, `${kind}-single.csv`), 'utf8');
      if (!same) throw new Error(`${kind} with ${n} workers differs from one process`);
    }
  }
} finally {
  redis.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log('| command | run by | seconds (wall) | rows/s (wall) | CPU seconds per 1,000 rows | load average after |');
console.log('|---|---|---:|---:|---:|---:|');
for (const [k, by, wall, c, n, l] of table)
  console.log(
    `| ${k} | ${by} | ${wall.toFixed(1)} | ${(n / wall).toFixed(1)} | ${((1000 * c) / n).toFixed(2)} | ${l} |`,
  );
