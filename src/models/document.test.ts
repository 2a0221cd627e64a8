// Documents in windows: the head over one window equals the plain classifier, pooling (max, mean, attention) and
// label-wise attention, and the two-pass backward (bounded memory) gives the gradients of one pass with the tape —
// with dropout too, since both passes draw the same masks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, scope, tensor, type Tensor } from '../tensor/tensor.js';
import { concat } from '../tensor/ops/index.js';
import { classifierFromConfig, type ModelConfig, type SequenceClassifier } from './auto.js';
import { classificationLoss } from './heads.js';
import { documentBackward, documentHead, rowGroups, windowInputs, windowRows, windowsOf } from './document.js';
import type { DocumentSettings, Pooling } from './pooling.js';
import { windowSpec } from '../text/windows.js';
import type { Encoded } from '../data/dataset.js';

function tinyConfig(document: Partial<DocumentSettings> | null, o: { dropout?: number; labels?: number } = {}) {
  return {
    model_type: 'bert',
    vocab_size: 40,
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 32,
    hidden_act: 'gelu',
    hidden_dropout_prob: o.dropout ?? 0,
    attention_probs_dropout_prob: o.dropout ?? 0,
    max_position_embeddings: 12,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    initializer_range: 0.2,
    pad_token_id: 0,
    num_labels: o.labels ?? 3,
    ...(document
      ? { medtune: { document: { window: 8, stride: 2, pooling: 'max', max_document_tokens: 100, ...document } } }
      : {}),
  } as ModelConfig;
}

/** Three documents of 6, 20 and 31 text tokens (ids 3..39) with [CLS] = 1 and [SEP] = 2. */
function documents(): Encoded {
  const doc = (n: number, k: number) => [1, ...Array.from({ length: n }, (_, i) => 3 + ((i * k) % 37)), 2];
  const ids = [doc(6, 5), doc(20, 7), doc(31, 11)];
  return {
    ids,
    types: ids.map((x) => x.map(() => 0)),
    truncated: 0,
    cut: [0, 0, 0],
    window: windowSpec({ length: 8, stride: 2, head: 1, tail: 1 }),
  };
}

const grads = (m: SequenceClassifier) => m.parameters().map((p) => (p.grad ? Float32Array.from(p.grad.f32) : null));

function assertSameGrads(a: (Float32Array | null)[], b: (Float32Array | null)[], tol = 2e-4): void {
  assert.equal(a.length, b.length);
  a.forEach((g, i) => {
    const h = b[i];
    if (!g || !h) return assert.equal(!!g, !!h, `parameter ${i}: a gradient on one side only`);
    let d = 0;
    let n = 0;
    for (let k = 0; k < g.length; k++) {
      d = Math.max(d, Math.abs(g[k]! - h[k]!));
      n = Math.max(n, Math.abs(h[k]!));
    }
    assert.ok(d <= tol * Math.max(1, n), `parameter ${i}: max difference ${d} (scale ${n})`);
  });
}

describe('documents in windows', () => {
  it('reads a document that fits as the plain classifier does', () => {
    const model = classifierFromConfig(tinyConfig({ pooling: 'attention' }), 3).eval();
    const enc = documents();
    const w = windowsOf(enc, [0]);
    assert.equal(w.ids.length, 1);
    const [a, b] = scope(() =>
      noGrad(() => {
        const inputs = windowInputs(w, [0], 0);
        const r = windowRows(model, inputs, [w.ids[0]!.length]);
        return [documentHead(model, r.rows, r.counts).toArray(), model.forward(inputs).logits.toArray()];
      }),
    );
    assert.deepEqual(a, b);
  });

  for (const pooling of ['max', 'mean', 'attention'] as Pooling[]) {
    it(`two passes give one pass's gradients (${pooling} pooling)`, () => {
      const model = classifierFromConfig(tinyConfig({ pooling }), 7).train();
      const enc = documents();
      const w = windowsOf(enc, [0, 1, 2]);
      assert.deepEqual(w.groups, [1, 5, 8]);
      const labels = tensor([0, 2, 1], [3], 'int32').keep();
      const loss = (logits: Tensor) => classificationLoss(logits, labels, 'single_label_classification');
      const one = documentBackward(model, w, loss, { padId: 0, microBatch: 100 });
      const g1 = grads(model);
      model.zeroGrad();
      const two = documentBackward(model, w, loss, { padId: 0, microBatch: 3 });
      assert.ok(Math.abs(one - two) < 1e-5, `${one} vs ${two}`);
      assertSameGrads(grads(model), g1);
      model.zeroGrad();
    });
  }

  it('two passes with dropout: the gradients of the same micro-batches with the tape', () => {
    const model = classifierFromConfig(tinyConfig({ pooling: 'attention' }, { dropout: 0.2 }), 9).train();
    const w = windowsOf(documents(), [1, 2]);
    const labels = tensor([2, 1], [2], 'int32').keep();
    const loss = (logits: Tensor) => classificationLoss(logits, labels, 'single_label_classification');
    const g0 = model.generator.getState();
    const micro = [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9, 10, 11],
      [12, 13, 14, 15],
    ].map((idx) => idx.filter((i) => i < w.ids.length));
    // reference: the same micro-batches, in the same order, in one graph with the tape
    const ref = scope(() => {
      const rows = micro
        .filter((m) => m.length)
        .map(
          (idx) =>
            windowRows(
              model,
              windowInputs(w, idx, 0),
              idx.map((i) => w.ids[i]!.length),
            ).rows,
        );
      const l = loss(documentHead(model, concat(rows, 0), w.groups));
      l.backward();
      return l.item();
    });
    const gRef = grads(model);
    const after = model.generator.getState();
    model.zeroGrad();
    model.generator.setState(g0);
    const two = documentBackward(model, w, loss, { padId: 0, microBatch: 4, scale: 0.5 });
    assert.ok(Math.abs(ref - two) < 1e-5);
    assertSameGrads(
      grads(model),
      gRef.map((g) => g && g.map((x) => x * 0.5)),
    );
    assert.equal(model.generator.getState(), after, 'the generator ends where one pass leaves it');
    model.zeroGrad();
  });

  it('label-wise attention over the tokens of every window: two passes match one', () => {
    const model = classifierFromConfig(tinyConfig({ head: 'label-attention' }, { labels: 5 }), 5).train();
    assert.ok(model.label_attention && !model.pooling);
    const names = model.namedParameters().map(([k]) => k);
    assert.ok(names.includes('label_attention.second.weight') && names.includes('label_attention.third.bias'));
    const w = windowsOf(documents(), [0, 1, 2]);
    const lengths = w.ids.map((x) => x.length);
    const labels = tensor([1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0], [3, 5]).keep();
    const loss = (logits: Tensor) => classificationLoss(logits, labels, 'multi_label_classification');
    const one = documentBackward(model, w, loss, { padId: 0, microBatch: 100 });
    const g1 = grads(model);
    model.zeroGrad();
    const two = documentBackward(model, w, loss, { padId: 0, microBatch: 2 });
    assert.ok(Math.abs(one - two) < 1e-5);
    assertSameGrads(grads(model), g1);
    model.zeroGrad();
    // one window: the token rows give the masked batch's logits
    scope(() =>
      noGrad(() => {
        model.eval();
        const idx = [0, 1];
        const inputs = windowInputs(w, idx, 0);
        const r = windowRows(model, inputs, [lengths[0]!, lengths[1]!]);
        const rows = documentHead(model, r.rows, rowGroups(r.counts, [1, 1])).toArray();
        const plain = model.forward(inputs).logits.toArray();
        rows.forEach((v, i) => assert.ok(Math.abs(v - plain[i]!) < 1e-5, `${v} vs ${plain[i]}`));
      }),
    );
  });
});
