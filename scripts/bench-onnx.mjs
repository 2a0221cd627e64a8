#!/usr/bin/env node
// Inference speed of medtune fp32, medtune int8 and onnxruntime-node fp32 (medtune's own ONNX export of the same
// random BERT), interleaved in one process, on one thread, in process CPU time (robust on a shared machine).
//   node scripts/bench-onnx.mjs [mini|base] [rounds]      (after `npm run build`; onnxruntime-node: a devDependency)
// Prints one JSON line per measurement and the medians with their ratios.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BertForSequenceClassification, bertConfig } from '../dist/models/bert.js';
import { SHAPES } from '../dist/bench/bench.js';
import { onnxModel } from '../dist/models/onnx-export.js';
import { quantizeModel } from '../dist/models/quantize.js';
import { gemmInfo, setThreads } from '../dist/tensor/backend.js';
import { noGrad, scope, tensor } from '../dist/tensor/tensor.js';
import { Generator } from '../dist/tensor/random.js';

const ort = createRequire(import.meta.url)('onnxruntime-node');
const shapeName = process.argv[2] ?? 'base';
const rounds = Number(process.argv[3] ?? 3);
const s = SHAPES[shapeName];
const steps = shapeName === 'mini' ? 3 : 2;
setThreads(1);
const cfg = bertConfig({
  vocab_size: s.vocab,
  hidden_size: s.hidden,
  num_hidden_layers: s.layers,
  num_attention_heads: s.heads,
  intermediate_size: s.ffn,
  num_labels: 2,
});
const fp32 = new BertForSequenceClassification(cfg, 0).eval();
const int8 = new BertForSequenceClassification(cfg, 0).eval();
quantizeModel(int8);
const gen = new Generator(1);
const n = s.batch * s.seq;
const ids = Array.from({ length: n }, () => 1 + Math.floor(gen.uniform() * (s.vocab - 1)));
const ones = new Array(n).fill(1);
const zeros = new Array(n).fill(0);
const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-onnx-bench-'));
const file = path.join(dir, 'model.onnx');
writeFileSync(file, onnxModel(fp32));
const session = await ort.InferenceSession.create(file, {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
const big = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [s.batch, s.seq]);
const feeds = { input_ids: big(ids), attention_mask: big(ones), token_type_ids: big(zeros) };
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const medtune = (model) => () =>
  scope(() =>
    noGrad(() =>
      model
        .forward({
          input_ids: tensor(ids, [s.batch, s.seq], 'int32'),
          attention_mask: tensor(ones, [s.batch, s.seq], 'int32'),
        })
        .logits.toArray(),
    ),
  );
const runners = {
  'medtune fp32': medtune(fp32),
  'medtune int8': medtune(int8),
  'onnxruntime-node fp32': () => session.run(feeds),
};
const results = Object.fromEntries(Object.keys(runners).map((k) => [k, []]));
for (const run of Object.values(runners)) await run(); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(runners)) {
    const t0 = cpu();
    for (let i = 0; i < steps; i++) await run();
    const exps = (s.batch * steps) / (cpu() - t0);
    results[name].push(exps);
    console.log(JSON.stringify({ shape: shapeName, round: r + 1, impl: name, ex_per_cpu_s: +exps.toFixed(2) }));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
const perRound = (a, b) => results[a].map((x, i) => (x / results[b][i]).toFixed(2)).join(', ');
console.log(`${shapeName}, seq ${s.seq}, batch ${s.batch}, 1 thread, CPU time; ${gemmInfo().cpu}`);
for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(22)} ${v.toFixed(2)} ex/s (median of ${rounds})`);
console.log(`  int8 / fp32 per round: ${perRound('medtune int8', 'medtune fp32')}`);
console.log(`  int8 / onnxruntime fp32 per round: ${perRound('medtune int8', 'onnxruntime-node fp32')}`);
console.log(`  medtune fp32 / onnxruntime fp32 per round: ${perRound('medtune fp32', 'onnxruntime-node fp32')}`);
rmSync(dir, { recursive: true, force: true });
