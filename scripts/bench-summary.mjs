#!/usr/bin/env node
// Summarises the JSON lines of scripts/bench-compare.sh: per workload and precision, medtune's ex/s and the best
// PyTorch setting's, per round, and the median of the per-round ratios (ratios only mean something within a round).
//   node scripts/bench-summary.mjs runs.jsonl
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2] ?? '/dev/stdin', 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{'));
const rows = lines.map((l) => JSON.parse(l));
const header = rows.find((r) => r.cpu_flags);
if (header) console.log(`CPU flags: ${header.cpu_flags.trim()}; ${header.nproc} vCPUs`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const groups = new Map();
for (const r of rows.filter((x) => x.task)) {
  const key = `${r.task} ${r.shape} ${r.precision ?? 'fp32'}`;
  if (!groups.has(key)) groups.set(key, new Map());
  const rounds = groups.get(key);
  if (!rounds.has(r.round)) rounds.set(r.round, { medtune: null, torch: [] });
  const slot = rounds.get(r.round);
  if (String(r.backend).startsWith('pytorch')) slot.torch.push({ eps: r.ex_per_s, threads: r.threads });
  else slot.medtune = r.ex_per_s;
}
for (const [key, rounds] of groups) {
  const ratios = [];
  const parts = [];
  for (const [round, s] of [...rounds].sort((a, b) => a[0] - b[0])) {
    if (s.medtune == null || s.torch.length === 0) continue;
    const best = s.torch.reduce((a, b) => (b.eps > a.eps ? b : a));
    ratios.push(s.medtune / best.eps);
    const ratio = (s.medtune / best.eps).toFixed(2);
    parts.push(`r${round}: ${s.medtune} vs ${best.eps} (torch ${best.threads}t) = ${ratio}x`);
  }
  if (ratios.length) console.log(`${key.padEnd(18)} median ratio ${median(ratios).toFixed(2)}x  [${parts.join('; ')}]`);
}
