// The native addon inside worker_threads: two Workers load it and run inference at the same time as each other
// (and as the main thread), sharing one thread pool (a caller that finds it busy runs its kernel alone), and every
// result equals a run on the main thread with nothing else going on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { BertForSequenceClassification, bertConfig } from '../models/bert.js';
import { noGrad, scope, tensor } from './tensor.js';
import { gemmInfo, nativeAvailable, withBackend } from './backend.js';

const CONFIG = {
  vocab_size: 300,
  hidden_size: 96,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 192,
  max_position_embeddings: 64,
  num_labels: 5,
};
const B = 6;
const T = 48;
const ids = Array.from({ length: B * T }, (_, i) => 1 + ((i * 7919) % 299));

/** Logits of REPS forward passes (eval mode) of a seeded random BERT. */
function infer(reps: number): number[][] {
  const m = new BertForSequenceClassification(bertConfig(CONFIG), 21);
  m.eval();
  const out: number[][] = [];
  for (let r = 0; r < reps; r++) {
    out.push(scope(() => noGrad(() => m.forward({ input_ids: tensor(ids, [B, T], 'int32') }).logits.toArray())));
  }
  m.dispose();
  return out;
}

// The worker runs the same function from the compiled modules (dist/...), with the native backend.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { BertForSequenceClassification, bertConfig } = await import(workerData.bert);
  const { noGrad, scope, tensor } = await import(workerData.tensor);
  const { backendName } = await import(workerData.backend);
  const m = new BertForSequenceClassification(bertConfig(workerData.config), 21);
  m.eval();
  const out = [];
  for (let r = 0; r < workerData.reps; r++) {
    const input_ids = tensor(workerData.ids, [workerData.B, workerData.T], 'int32');
    out.push(scope(() => noGrad(() => m.forward({ input_ids }).logits.toArray())));
  }
  parentPort.postMessage({ backend: backendName(), out });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

function runWorker(reps: number): Promise<{ backend: string; out: number[][] }> {
  const url = (p: string) => new URL(p, import.meta.url).href;
  const workerData = {
    bert: url('../models/bert.js'),
    tensor: url('./tensor.js'),
    backend: url('./backend.js'),
    config: CONFIG,
    ids,
    B,
    T,
    reps,
  };
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData, env: { ...process.env, MEDTUNE_BACKEND: 'native' } });
    w.once('message', (m: { error?: string; backend: string; out: number[][] }) => {
      void w.terminate();
      if (m.error) reject(new Error(m.error));
      else resolve(m);
    });
    w.once('error', reject);
  });
}

describe('native backend in worker_threads', () => {
  it(
    'two Workers and the main thread infer at once; every result equals a lone main-thread run',
    {
      skip: !nativeAvailable() && 'native backend not built',
    },
    async () => {
      const reference = withBackend('native', () => infer(1)[0]!);
      const workers = [runWorker(25), runWorker(25)];
      const main = withBackend('native', () => infer(10)); // runs while the workers do
      const results = await Promise.all(workers);
      for (const r of results) assert.equal(r.backend, 'native');
      const all = [...main, ...results.flatMap((r) => r.out)];
      assert.equal(all.length, 60);
      // bit-identical with our own GEMM; BLAS may sum a block differently when it runs unsplit
      const exact = gemmInfo()?.mode === 'own';
      for (const logits of all) {
        if (exact) assert.deepEqual(logits, reference);
        else logits.forEach((x, i) => assert.ok(Math.abs(x - reference[i]!) <= 1e-5 * (1 + Math.abs(reference[i]!))));
      }
    },
  );
});
