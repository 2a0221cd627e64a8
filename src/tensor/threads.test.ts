// With our own GEMM no kernel's result depends on how its range is split over threads (fixed reduction blocks,
// GEMM tiles computed the same wherever they fall): a training step is bit-identical on 1, 2 and 3 threads. This
// is also what makes a caller that finds the pool busy (and runs alone) compute the same as one that does not.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BertForSequenceClassification, bertConfig } from '../models/bert.js';
import { AdamW, hfParamGroups } from '../train/adamw.js';
import { Generator } from './random.js';
import { scope, tensor } from './tensor.js';
import { configureGemm, gemmInfo, getThreads, nativeAvailable, setThreads, withBackend } from './backend.js';

function trainRun(threads: number): { losses: number[]; weights: string[] } {
  setThreads(threads);
  const cfg = bertConfig({
    vocab_size: 80,
    hidden_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 3,
    intermediate_size: 96,
    max_position_embeddings: 40,
    num_labels: 4,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
  });
  const m = new BertForSequenceClassification(cfg, 8);
  const opt = new AdamW(hfParamGroups(m, 0.01), { lr: 1e-3 });
  const g = new Generator(2);
  const ids = tensor(
    Array.from({ length: 5 * 33 }, () => 1 + Math.floor(g.uniform() * 79)),
    [5, 33],
    'int32',
  );
  const labels = tensor([0, 1, 2, 3, 1], [5], 'int32');
  const losses = [0, 1, 2].map(() =>
    scope(() => {
      const out = m.forward({ input_ids: ids, labels });
      out.loss!.backward();
      opt.step({ maxGradNorm: 1 });
      opt.zeroGrad();
      return out.loss!.item();
    }),
  );
  const bytes = (t: { f32: Float32Array; size: number }) => Buffer.from(t.f32.buffer, t.f32.byteOffset, t.size * 4);
  const weights = m.namedParameters().map(([, t]) => bytes(t).toString('hex'));
  opt.dispose();
  m.dispose();
  ids.dispose();
  labels.dispose();
  return { losses, weights };
}

describe('thread count', () => {
  const skip = !nativeAvailable() && 'native backend not built';
  it('training steps are bit-identical on 1, 2 and 3 threads (own GEMM)', { skip }, () =>
    withBackend('native', () => {
      const threads = getThreads();
      const mode = gemmInfo()!.mode;
      configureGemm({ mode: 'own' });
      try {
        const one = trainRun(1);
        for (const t of [2, 3]) {
          const r = trainRun(t);
          assert.deepEqual(r.losses, one.losses, `losses on ${t} threads`);
          assert.deepEqual(r.weights, one.weights, `weights on ${t} threads`);
        }
      } finally {
        setThreads(threads);
        configureGemm({ mode });
      }
    }),
  );
});
