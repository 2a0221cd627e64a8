// AdamW against a hand-written PyTorch-formula step, param groups, and clipping.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parameter, tensor } from '../tensor/tensor.js';
import { AdamW, clipGradNorm, hfParamGroups } from './adamw.js';
import { withBackend, nativeAvailable } from '../tensor/backend.js';
import { assertClose } from '../tensor/testing.js';
import { BertForSequenceClassification, bertConfig } from '../models/bert.js';

function reference(
  p0: number[],
  grads: number[][],
  lr: number,
  wd: number,
  b1 = 0.9,
  b2 = 0.999,
  eps = 1e-8,
): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      p[i] = p[i]! * (1 - lr * wd);
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** t) + eps;
      p[i] = p[i]! - (lr / (1 - b1 ** t)) * (m[i]! / denom);
    }
  });
  return p;
}

describe('AdamW', () => {
  const p0 = [0.5, -1.25, 2, 0.001, -0.3];
  const grads = [
    [0.1, -0.2, 0.3, 0, 5],
    [0.05, 0.2, -0.3, 1e-4, -5],
    [0.2, 0.1, 0.1, -1e-3, 2],
  ];
  for (const be of ['js', 'native'] as const) {
    it(
      `matches torch.optim.AdamW's formula over 3 steps (${be})`,
      { skip: be === 'native' && !nativeAvailable() },
      () =>
        withBackend(be, () => {
          const p = parameter(tensor(p0));
          const opt = new AdamW([{ params: [p], weightDecay: 0.01 }], { lr: 1e-2 });
          for (const g of grads) {
            p.grad = tensor(g).keep();
            opt.step();
            opt.zeroGrad();
          }
          assertClose(p.toArray(), reference(p0, grads, 1e-2, 0.01), { rtol: 1e-6, atol: 1e-7 });
        }),
    );
  }
  it('clips the global gradient norm like clip_grad_norm_', () => {
    const a = parameter(tensor([3, 0]));
    const b = parameter(tensor([4]));
    a.grad = tensor([3, 0]).keep();
    b.grad = tensor([4]).keep();
    const norm = clipGradNorm([a, b], 1);
    assert.equal(norm, 5);
    assertClose([...a.grad.toArray(), ...b.grad.toArray()], [0.6, 0, 0.8], { rtol: 1e-5 });
  });
  it('fused clipping in step() equals clipping then stepping', () => {
    const run = (fused: boolean) => {
      const p = parameter(tensor(p0));
      const opt = new AdamW([{ params: [p], weightDecay: 0 }], { lr: 0.1 });
      p.grad = tensor(grads[0]!.map((x) => x * 10)).keep();
      if (fused) opt.step({ maxGradNorm: 1 });
      else {
        clipGradNorm([p], 1);
        opt.step();
      }
      return p.toArray();
    };
    assertClose(run(true), run(false), { rtol: 1e-6 });
  });
  it('HF parameter groups: no decay for biases and LayerNorm', () => {
    const m = new BertForSequenceClassification(
      bertConfig({
        vocab_size: 10,
        hidden_size: 8,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 16,
        max_position_embeddings: 8,
      }),
    );
    const names = new Map(m.namedParameters().map(([n, t]) => [t, n]));
    const [decay, noDecay] = hfParamGroups(m, 0.01);
    const dn = decay!.params.map((t) => names.get(t)!);
    const nn = noDecay!.params.map((t) => names.get(t)!);
    assert.ok(dn.includes('bert.embeddings.word_embeddings.weight'));
    assert.ok(dn.includes('bert.encoder.layer.0.attention.self.query.weight'));
    assert.ok(nn.includes('bert.encoder.layer.0.attention.output.LayerNorm.weight'));
    assert.ok(nn.includes('classifier.bias'));
    assert.ok(!dn.some((n) => n.endsWith('bias') || n.includes('LayerNorm')));
    assert.equal(dn.length + nn.length, m.namedParameters().length);
  });
});
