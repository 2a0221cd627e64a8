/**
 * The parts of a classifier that read a document in windows: how its windows are pooled (max, mean, or attention —
 * a learned weighting of the window vectors, Yang et al. 2016's attention pooling), and label-wise attention over the
 * tokens of all windows (CAML / LAAT / PLM-ICD: each label attends to the tokens that speak for it). Their weights are
 * head parameters (`pooling.attention.*`, `label_attention.*`), saved and loaded with the model; the settings are
 * config.json's `medtune.document`.
 */
import { MedtuneError } from '../common/errors.js';
import { empty, record, tensor, zeros, type Tensor } from '../tensor/tensor.js';
import type { Generator } from '../tensor/random.js';
import { add, matmul, mean, mul, reshape, softmax, sum, transpose } from '../tensor/ops/index.js';
import { Linear, Module } from '../nn/module.js';

export type Pooling = 'max' | 'mean' | 'attention';
export const POOLINGS: readonly Pooling[] = ['max', 'mean', 'attention'];

/** How a model reads documents longer than its window (config.json's `medtune.document`). */
export interface DocumentSettings {
  /** tokens per window, special tokens included */
  window: number;
  /** tokens neighbouring windows share */
  stride: number;
  pooling: Pooling;
  /** documents are read up to this many tokens; the rest is cut and reported */
  max_document_tokens: number;
  /** label-wise attention over the tokens of every window instead of pooled windows (multi-label) */
  head?: 'label-attention';
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const posInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;

/** What is wrong with a `medtune.document` object (null: nothing). */
export function documentProblem(d: unknown): string | null {
  if (
    !isObj(d) ||
    !posInt(d.window) ||
    !(Number.isInteger(d.stride) && (d.stride as number) >= 0) ||
    !POOLINGS.includes(d.pooling as Pooling) ||
    !posInt(d.max_document_tokens) ||
    (d.head !== undefined && d.head !== 'label-attention')
  )
    return `document must be { window > 0, stride ≥ 0, pooling: ${POOLINGS.join('|')}, max_document_tokens > 0 }`;
  return null;
}

/** The document settings of a config (its `medtune.document`), or null for a model that truncates. */
export function documentSettingsOf(config: object): DocumentSettings | null {
  const m = (config as { medtune?: unknown }).medtune;
  if (!isObj(m) || m.document === undefined || m.document === null) return null;
  const problem = documentProblem(m.document);
  if (problem) throw new MedtuneError(`config.json: "medtune.${problem}"`, 'E_MODEL_WEIGHTS');
  return m.document as unknown as DocumentSettings;
}

/** max over the rows of x [W, F] -> [1, F]; the gradient goes to the row that held each maximum. */
export function maxRows(x: Tensor): Tensor {
  const [W, F] = x.shape as [number, number];
  const out = empty([1, F]);
  const arg = new Int32Array(F);
  const v = x.f32;
  for (let f = 0; f < F; f++) {
    let best = v[f]!;
    for (let w = 1; w < W; w++)
      if (v[w * F + f]! > best) {
        best = v[w * F + f]!;
        arg[f] = w;
      }
    out.f32[f] = best;
  }
  return record(out, 'max_rows', [x], (g) => {
    const dx = zeros([W, F]);
    for (let f = 0; f < F; f++) dx.f32[arg[f]! * F + f] = g.f32[f]!;
    return [dx];
  });
}

/** Attention pooling: softmax over windows of a learned score of each window vector, then the weighted sum. */
export class AttentionPooling extends Module {
  attention: Linear;
  constructor(features: number, gen: Generator, std: number) {
    super();
    this.attention = new Linear(features, 1, gen, std);
  }
  /** x [W, F] -> [1, F] */
  forward(x: Tensor): Tensor {
    const W = x.shape[0]!;
    const a = softmax(reshape(this.attention.forward(x), [1, W]));
    return matmul(a, x);
  }
}

/** The rows of x [W, F] (the window vectors of one document) pooled into one [1, F]. */
export function poolRows(x: Tensor, pooling: Pooling, attention?: AttentionPooling | null): Tensor {
  if (x.shape[0] === 1) return x;
  if (pooling === 'max') return maxRows(x);
  if (pooling === 'mean') return mean(x, 0, true);
  if (!attention)
    throw new MedtuneError('attention pooling needs its weights (pooling.attention.*) in the model', 'E_INTERNAL');
  return attention.forward(x);
}

/**
 * Label-wise attention (LAAT, Vu et al. 2020; PLM-ICD): Z = tanh(H·W₁ᵀ), A = softmax over tokens of Z·W₂ᵀ (one
 * distribution per label), V = Aᵀ·H, logit_l = V_l · w₃_l + b₃_l. Keys: label_attention.{first,second,third}.
 */
export class LabelAttention extends Module {
  first: Linear;
  second: Linear;
  third: Linear;
  constructor(hidden: number, labels: number, gen: Generator, std: number) {
    super();
    this.first = new Linear(hidden, hidden, gen, std, false);
    this.second = new Linear(hidden, labels, gen, std, false);
    this.third = new Linear(hidden, labels, gen, std);
  }
  /** h [B, T, H] (mask [B, T]: 1 for tokens, 0 for padding; null: all tokens) -> logits [B, L] */
  forward(h: Tensor, mask: Tensor | null = null): Tensor {
    const [B, T] = h.shape as [number, number, number];
    let s = this.second.forward(this.first.forward(h, 'tanh')); // [B, T, L]
    if (mask) {
      const m = mask.data;
      s = add(
        s,
        tensor(
          Array.from({ length: B * T }, (_, i) => (m[i] ? 0 : -1e4)),
          [B, T, 1],
        ),
      );
    }
    const a = softmax(transpose(s, 1, 2)); // [B, L, T]
    return add(sum(mul(matmul(a, h), this.third.weight), 2), this.third.bias!);
  }
}
