#!/usr/bin/env node
// The throughput figures of docs/data.md: synthetic NOTEEVENTS-shaped files of the given sizes (MB; MIMIC-III schema,
// discharge summaries of ~8 KB with addenda among ten other notes per admission, not sorted by admission; about 15
// codes per admission, as MIMIC-III) converted
// by `medtune data mimic` (with DIAGNOSES_ICD and PROCEDURES_ICD): wall time, MB/s and the peak resident memory of
// the medtune process (VmHWM, polled), for the default categories (Discharge summary) and for --categories all
// (every note goes through the temporary partitions); with WITH_GZIP=1 also from NOTEEVENTS.csv.gz (gzip -1).
// Run outside `npm test` (minutes; disk: about 2.5x the largest size); needs `npm run build` first.
// usage: node scripts/measure-data.mjs [OUT=/tmp/medtune-data-measure] [SIZES_MB=256,1024]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.resolve(process.argv[2] ?? '/tmp/medtune-data-measure');
const sizes = (process.argv[3] ?? '256,1024').split(',').map(Number);
const { writeSyntheticMimic3 } = await import(path.join(root, 'dist', 'data', 'sources', 'synthetic.js'));
const shape = { summaryWords: 1300, otherNotes: 10, otherWords: 200, extraCodes: 12 };

/** The tables of one size (kept between runs). */
function tablesOf(sizeMb) {
  const dir = path.join(out, `${sizeMb}mb`);
  const notes = path.join(dir, 'NOTEEVENTS.csv');
  if (!existsSync(notes)) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const probe = writeSyntheticMimic3({ dir, admissions: 200, ...shape });
    const admissions = Math.round((200 * sizeMb * 2 ** 20) / probe.bytes);
    writeSyntheticMimic3({ dir, admissions, ...shape });
  }
  if (process.env.WITH_GZIP === '1' && !existsSync(`${notes}.gz`)) execFileSync('gzip', ['-k', '-1', notes]);
  return { dir, notes };
}

/** Runs one conversion; polls the child's VmHWM (peak resident set) every 50 ms. */
function measure(args) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [path.join(root, 'bin', 'medtune.js'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, CI: '1' },
    });
    let stderr = '';
    let peak = 0;
    child.stderr.on('data', (d) => (stderr += d));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      } catch {
        /* exited */
      }
    }, 50);
    child.on('exit', (code) => {
      clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`exit ${code}\n${stderr}`));
      resolve({ seconds, peakRssMb: peak / 2 ** 20, log: stderr.trim().split('\n').at(-2) });
    });
  });
}

const flags = (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '')
  .split(' ')
  .filter((f) => /^(avx2|avx512f|avx512_bf16|fma|sse4_2)$/.test(f));
console.log(
  `${os.cpus()[0]?.model} x${os.cpus().length} (flags ${flags.join(' ')}), node ${process.version}, ` +
    `load average ${os.loadavg()[0].toFixed(1)}\n`,
);
console.log('| NOTEEVENTS.csv | notes selected | seconds | MB/s | peak RSS (MB) |\n|---|---|---|---|---|');
for (const size of sizes) {
  const { dir, notes } = tablesOf(size);
  const mb = statSync(notes).size / 2 ** 20;
  const input = (f) => ['data', 'mimic', '--notes', f, '--diagnoses', path.join(dir, 'DIAGNOSES_ICD.csv')];
  const cases = [
    ['discharge summaries', [...input(notes), '--procedures', path.join(dir, 'PROCEDURES_ICD.csv')]],
    ['all categories', [...input(notes), '--categories', 'all']],
    ...(process.env.WITH_GZIP === '1' ? [['discharge summaries, from .csv.gz', input(`${notes}.gz`)]] : []),
  ];
  for (const [name, args] of cases) {
    const output = path.join(dir, 'out.csv');
    const r = await measure([...args, '--output', output]);
    rmSync(output, { force: true });
    rmSync(`${output}.summary.json`, { force: true });
    console.log(
      `| ${mb.toFixed(0)} MB | ${name} | ${r.seconds.toFixed(1)} | ${(mb / r.seconds).toFixed(1)} | ` +
        `${r.peakRssMb.toFixed(0)} |`,
    );
    console.error(`  ${r.log}`);
  }
}
