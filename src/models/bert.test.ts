// BERT: HF key names, HF init, parity with PyTorch on the tiny-bert fixture (both backends), determinism,
// and flat memory over 1000 training steps.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BertForSequenceClassification, bertConfig, type BertConfig } from './bert.js';
import { AdamW, hfParamGroups } from '../train/adamw.js';
import { scope, tensor, type Tensor } from '../tensor/tensor.js';
import { memoryStats } from '../tensor/storage.js';
import { withBackend, nativeAvailable, getThreads, type BackendName } from '../tensor/backend.js';
import { readSafetensors } from '../io/safetensors.js';
import { assertClose } from '../tensor/testing.js';
import { fixturePath } from '../testing-fixtures.js';

const BACKENDS: BackendName[] = nativeAvailable() ? ['js', 'native'] : ['js'];
const small = (o: Partial<BertConfig> = {}) =>
  bertConfig({
    vocab_size: 60,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 20,
    num_labels: 3,
    ...o,
  });

function batch(B: number, T: number, V: number, seed: number) {
  const ids: number[] = [];
  const mask: number[] = [];
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      ids.push(1 + ((b * 31 + t * 7 + seed) % (V - 1)));
      mask.push(t < T - (b % 3) ? 1 : 0);
    }
  return {
    input_ids: tensor(ids, [B, T], 'int32').keep(),
    attention_mask: tensor(mask, [B, T], 'int32').keep(),
    labels: tensor(
      Array.from({ length: B }, (_, i) => i % 3),
      [B],
      'int32',
    ).keep(),
  };
}

function trainSteps(model: BertForSequenceClassification, steps: number, seed = 0): number[] {
  const opt = new AdamW(hfParamGroups(model, 0.01), { lr: 1e-3 });
  const b = batch(4, 10, model.config.vocab_size, seed);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    losses.push(
      scope(() => {
        const out = model.forward(b);
        out.loss!.backward();
        opt.step({ maxGradNorm: 1 });
        opt.zeroGrad();
        return out.loss!.item();
      }),
    );
  }
  opt.dispose();
  return losses;
}

describe('BERT model', () => {
  const fixture = fixturePath('fixtures', 'hf', 'tiny-bert');

  it(
    'parameter names and shapes equal the HF checkpoint keys',
    { skip: !fixture && 'needs ../shared/fixtures' },
    () => {
      const cfg = JSON.parse(readFileSync(path.join(fixture!, 'config.json'), 'utf8')) as BertConfig;
      const m = new BertForSequenceClassification({ ...cfg, num_labels: 3 });
      const ours = new Map(m.namedParameters().map(([n, t]) => [n, [...t.shape]]));
      const theirs = readSafetensors(path.join(fixture!, 'model.safetensors'));
      assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
      for (const [k, e] of theirs) assert.deepEqual(ours.get(k), e.shape, k);
    },
  );

  it('initialises like HF: normal(0, 0.02) weights, zero biases, LayerNorm ones, zero padding row', () => {
    const m = new BertForSequenceClassification(
      bertConfig({
        vocab_size: 500,
        hidden_size: 64,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 128,
      }),
    );
    const p = new Map(m.namedParameters());
    const w = p.get('bert.encoder.layer.0.intermediate.dense.weight')!.toArray();
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
    assert.ok(Math.abs(mean) < 0.002 && Math.abs(std - 0.02) < 0.001, `mean ${mean} std ${std}`);
    assert.ok(
      p
        .get('bert.encoder.layer.0.intermediate.dense.bias')!
        .toArray()
        .every((v) => v === 0),
    );
    assert.ok(
      p
        .get('bert.embeddings.LayerNorm.weight')!
        .toArray()
        .every((v) => v === 1),
    );
    assert.ok(
      p
        .get('bert.embeddings.word_embeddings.weight')!
        .toArray()
        .slice(0, 64)
        .every((v) => v === 0),
    );
  });

  // Parity with PyTorch on the fixtures (logits, hidden states, gradients, AdamW steps) lives in auto.test.ts.

  it('js and native training steps agree', { skip: !nativeAvailable() && 'native backend not built' }, () => {
    const run = (be: BackendName) =>
      withBackend(be, () => {
        const m = new BertForSequenceClassification(small(), 3);
        const l = trainSteps(m, 4);
        const w = m.namedParameters().map(([, t]) => t.toArray());
        m.dispose();
        return { l, w };
      });
    const a = run('js');
    const b = run('native');
    assertClose(b.l, a.l, { rtol: 1e-4, what: 'losses' });
    a.w.forEach((w, i) => assertClose(b.w[i]!, w, { rtol: 1e-3, atol: 1e-5, what: `weights ${i}` }));
  });

  for (const be of BACKENDS) {
    it(`same seed, backend and thread count give bit-identical results (${be}, with dropout)`, () =>
      withBackend(be, () => {
        const run = () => {
          const m = new BertForSequenceClassification(
            small({ hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 }),
            11,
          );
          const l = trainSteps(m, 3);
          const w = m
            .namedParameters()
            .map(([, t]) => Buffer.from(t.f32.buffer, t.f32.byteOffset, t.size * 4).toString('base64'));
          m.dispose();
          return { l, w };
        };
        const a = run();
        const b = run();
        assert.deepEqual(a.l, b.l);
        assert.deepEqual(a.w, b.w);
        assert.ok(getThreads() >= 1);
      }));
  }

  it('training lowers the loss', () => {
    const m = new BertForSequenceClassification(small({ hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 }), 5);
    const l = trainSteps(m, 60);
    assert.ok(l[59]! < l[0]! * 0.5, `loss ${l[0]} -> ${l[59]}`);
    m.dispose();
  });

  it('1000 training steps of a 2-layer model keep memory flat', () => {
    const be: BackendName = nativeAvailable() ? 'native' : 'js';
    withBackend(be, () => {
      const steps = be === 'native' ? 1000 : 200;
      const m = new BertForSequenceClassification(
        small({ hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 }),
        2,
      );
      const opt = new AdamW(hfParamGroups(m, 0.01), { lr: 1e-4 });
      const b = batch(8, 16, 60, 1);
      const step = () =>
        scope(() => {
          const out = m.forward(b);
          out.loss!.backward();
          opt.step({ maxGradNorm: 1 });
          opt.zeroGrad();
        });
      for (let i = 0; i < 20; i++) step();
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      const live0 = memoryStats().liveBuffers;
      const alloc0 = memoryStats().allocatedBytes;
      const rss0 = process.memoryUsage().rss;
      for (let i = 0; i < steps; i++) step();
      gc?.();
      const live1 = memoryStats().liveBuffers;
      const alloc1 = memoryStats().allocatedBytes;
      const rssGrowthMb = (process.memoryUsage().rss - rss0) / 1048576;
      assert.equal(live1, live0, 'live tensor buffers grew');
      assert.equal(alloc1, alloc0, 'the buffer pool had to allocate new memory after warm-up');
      assert.ok(rssGrowthMb < 30, `resident memory grew by ${rssGrowthMb.toFixed(1)} MB over ${steps} steps`);
      opt.dispose();
      m.dispose();
      for (const t of Object.values(b) as Tensor[]) t.dispose();
    });
  });
});

describe('BertForMaskedLM', () => {
  const bio = fixturePath('models', 'mini-biobert');
  it(
    'mini-biobert predicts masked tokens far better than chance (tied decoder, MLM head from the checkpoint)',
    { skip: !bio && 'needs ../shared' },
    async () => {
      const { readWeights } = await import('../io/hf.js');
      const { Tokenizer } = await import('../text/tokenizer.js');
      const { BertForMaskedLM } = await import('./bert.js');
      const cfg = JSON.parse(readFileSync(path.join(bio!, 'config.json'), 'utf8')) as BertConfig;
      const m = new BertForMaskedLM(cfg).eval();
      const { tensors } = readWeights(bio!);
      const params = m.namedParameters();
      for (const [n, t] of params) t.f32.set(tensors.get(n)!.data);
      assert.equal(
        params.length,
        tensors.size,
        'every checkpoint tensor is used (decoder weight tied to the word embeddings)',
      );
      const tok = Tokenizer.fromDir(bio!);
      const texts = [
        'Patients with type 2 diabetes were randomized to receive insulin or placebo for twelve weeks.',
        'The tumor cells showed increased expression of the receptor after treatment.',
      ];
      const enc = tok.encode(texts);
      const mask = tok.tokenToId('[MASK]')!;
      const ids = enc.input_ids.map((r) => [...r]);
      const labels = ids.map((r) => r.map(() => -100));
      ids.forEach((r, b) =>
        r.forEach((id, t) => {
          if (enc.attention_mask[b]![t] && t > 0 && id !== tok.tokenToId('[SEP]') && t % 4 === 1) {
            labels[b]![t] = id;
            r[t] = mask;
          }
        }),
      );
      const B = ids.length;
      const T = ids[0]!.length;
      const loss = scope(() =>
        m
          .forward({
            input_ids: tensor(ids.flat(), [B, T], 'int32'),
            attention_mask: tensor(enc.attention_mask.flat(), [B, T], 'int32'),
            labels: tensor(labels.flat(), [B * T], 'int32'),
          })
          .loss!.item(),
      );
      // chance is ln(8192) ≈ 9.0; the checkpoint's held-out MLM loss is 2.92
      assert.ok(loss < 6, `masked-LM loss ${loss}`);
      m.dispose();
    },
  );
});
