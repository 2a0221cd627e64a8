/**
 * Classifying documents longer than the model's window: every window of a document goes through the encoder, and
 * the document head reads the windows together — their vectors pooled (max, mean or attention) before the output
 * layer, or, with label-wise attention, the tokens of all windows. Training keeps memory bounded with two passes
 * when a batch has more windows than one forward pass may hold: all windows are encoded once without the tape, the
 * head's loss is back-propagated to their vectors, then each micro-batch of windows runs again with the tape and
 * receives those gradients (dropout draws the same masks both times). Peak memory is that of one micro-batch.
 */
import { noGrad, scope, tensor, type Tensor } from '../tensor/tensor.js';
import { concat, embedding, reshape, slice } from '../tensor/ops/index.js';
import { batchTensors } from '../data/batch.js';
import type { Encoded } from '../data/dataset.js';
import { splitWindows } from '../text/windows.js';
import type { EncoderInputs, SequenceClassifierHead } from './heads.js';
import { poolRows } from './pooling.js';

type Classifier = SequenceClassifierHead<{ num_labels?: number }>;

/** The windows of some documents, in order, and how many each document has. */
export interface DocumentWindows {
  ids: number[][];
  types: number[][];
  /** windows per document */
  groups: number[];
}

/** The windows of documents `idx` of an encoding (one window per text when it is not read in windows). */
export function windowsOf(enc: Encoded, idx: number[]): DocumentWindows {
  const out: DocumentWindows = { ids: [], types: [], groups: [] };
  for (const i of idx) {
    if (!enc.window) {
      out.ids.push(enc.ids[i]!);
      out.types.push(enc.types[i]!);
      out.groups.push(1);
      continue;
    }
    const w = splitWindows(enc.ids[i]!, enc.types[i]!, enc.window);
    out.ids.push(...w.ids);
    out.types.push(...w.types);
    out.groups.push(w.ids.length);
  }
  return out;
}

/** Model inputs for windows `idx` (padded to the longest). */
export function windowInputs(w: DocumentWindows, idx: number[], padId: number): EncoderInputs {
  return batchTensors({ ids: w.ids, types: w.types, truncated: 0, cut: [] }, idx, padId);
}

/**
 * What the document head reads from a batch of windows: one vector per window for pooled heads; for label-wise
 * attention, the last hidden state of each window's tokens (padding left out). `lengths`: the windows' tokens.
 */
export function windowRows(
  model: Classifier,
  inputs: EncoderInputs,
  lengths: number[],
): { rows: Tensor; counts: number[]; last: Tensor } {
  const enc = model.encodeWindows(inputs);
  const last = enc.states[enc.states.length - 1]!;
  if (!model.label_attention) return { rows: enc.vectors, counts: lengths.map(() => 1), last };
  const [B, T, H] = last.shape as [number, number, number];
  const pos: number[] = [];
  for (let b = 0; b < B; b++) for (let t = 0; t < lengths[b]!; t++) pos.push(b * T + t);
  const rows = embedding(tensor(pos, [pos.length], 'int32'), reshape(last, [B * T, H]));
  return { rows, counts: lengths, last };
}

/** Rows per document from rows per window and windows per document. */
export function rowGroups(counts: number[], groups: number[]): number[] {
  let w = 0;
  return groups.map((g) => {
    let n = 0;
    for (let k = 0; k < g; k++) n += counts[w++]!;
    return n;
  });
}

/** Logits [D, C] of documents from their rows (`groups`: rows per document, in order). */
export function documentHead(model: Classifier, rows: Tensor, groups: number[]): Tensor {
  const la = model.label_attention;
  if (!la && groups.every((g) => g === 1)) return model.classify(rows);
  const H = rows.shape[1]!;
  const parts: Tensor[] = [];
  let s = 0;
  for (const g of groups) {
    const x = g === rows.shape[0] ? rows : slice(rows, 0, s, s + g);
    parts.push(la ? la.forward(reshape(x, [1, g, H])) : poolRows(x, model.document?.pooling ?? 'max', model.pooling));
    s += g;
  }
  const joined = parts.length === 1 ? parts[0]! : concat(parts, 0);
  return la ? joined : model.classify(joined);
}

/**
 * Logits of documents without the tape: their windows encoded `microBatch` at a time (`onRows` sees each batch of
 * windows, e.g. for encoder features), then the head over each document's rows.
 */
export function documentLogits(
  model: Classifier,
  w: DocumentWindows,
  o: {
    padId: number;
    microBatch: number;
    inputs?: (idx: number[]) => EncoderInputs;
    onRows?: (idx: number[], r: ReturnType<typeof windowRows>) => void;
  },
): number[][] {
  const lengths = w.ids.map((x) => x.length);
  const inputsOf = o.inputs ?? ((idx: number[]) => windowInputs(w, idx, o.padId));
  const parts: Float32Array[] = [];
  const counts: number[] = [];
  let width = 0;
  return noGrad(() => {
    for (const idx of chunks(w.ids.length, Math.max(1, o.microBatch)))
      scope(() => {
        const r = windowRows(
          model,
          inputsOf(idx),
          idx.map((i) => lengths[i]!),
        );
        parts.push(Float32Array.from(r.rows.f32));
        counts.push(...r.counts);
        width = r.rows.shape[1]!;
        o.onRows?.(idx, r);
      });
    const rows = joinRows(parts, width);
    try {
      return scope(() => {
        const out = documentHead(model, rows, rowGroups(counts, w.groups));
        const C = out.shape[1]!;
        const v = out.toArray();
        return w.groups.map((_, d) => v.slice(d * C, (d + 1) * C));
      });
    } finally {
      rows.dispose();
    }
  });
}

/** Rows computed in parts, as one [R, width] tensor. */
function joinRows(parts: Float32Array[], width: number): Tensor {
  const total = parts.reduce((a, p) => a + p.length, 0);
  const flat = new Float32Array(total);
  parts.reduce((off, p) => (flat.set(p, off), off + p.length), 0);
  return tensor(flat, [total / Math.max(1, width), width]);
}

export interface DocumentStepOptions {
  padId: number;
  /** windows per forward pass with the tape */
  microBatch: number;
  /** the gradient's scale (1 / accumulation steps; default 1) */
  scale?: number;
  /** the inputs of windows `idx` (default: their token ids); explanations pass word embeddings */
  inputs?: (idx: number[]) => EncoderInputs;
  /** after the backward pass through windows `idx` (their inputs' gradients are there) */
  afterBackward?: (idx: number[], inputs: EncoderInputs) => void;
}

const chunks = (n: number, k: number) =>
  Array.from({ length: Math.ceil(n / k) }, (_, c) =>
    Array.from({ length: Math.min(k, n - c * k) }, (_, i) => c * k + i),
  );

/**
 * Forward and backward of a scalar objective of the documents' logits (the loss of a batch; an explanation's target)
 * through all their windows: the gradients land in the parameters (and the inputs), the objective's value is
 * returned. One pass with the tape when the windows fit in a micro-batch; otherwise two passes (see the top).
 */
export function documentBackward(
  model: Classifier,
  w: DocumentWindows,
  objective: (logits: Tensor) => Tensor,
  o: DocumentStepOptions,
): number {
  const n = w.ids.length;
  const lengths = w.ids.map((x) => x.length);
  const inputsOf = o.inputs ?? ((idx: number[]) => windowInputs(w, idx, o.padId));
  const seed = () => (o.scale !== undefined && o.scale !== 1 ? tensor([o.scale], []) : undefined);
  const micro = chunks(n, Math.max(1, o.microBatch));
  if (micro.length === 1)
    return scope(() => {
      const inputs = inputsOf(micro[0]!);
      const r = windowRows(model, inputs, lengths);
      const obj = objective(documentHead(model, r.rows, rowGroups(r.counts, w.groups)));
      obj.backward(seed());
      o.afterBackward?.(micro[0]!, inputs);
      return obj.item();
    });
  const g0 = model.generator.getState();
  const parts: Float32Array[] = [];
  const counts: number[] = [];
  let width = 0;
  noGrad(() => {
    for (const idx of micro)
      scope(() => {
        const r = windowRows(
          model,
          inputsOf(idx),
          idx.map((i) => lengths[i]!),
        );
        parts.push(Float32Array.from(r.rows.f32));
        counts.push(...r.counts);
        width = r.rows.shape[1]!;
      });
  });
  const leaf = joinRows(parts, width);
  leaf.requiresGrad = true;
  try {
    const value = scope(() => {
      const obj = objective(documentHead(model, leaf, rowGroups(counts, w.groups)));
      obj.backward(seed());
      return obj.item();
    });
    const g1 = model.generator.getState();
    model.generator.setState(g0);
    const grad = leaf.grad?.f32 ?? new Float32Array(leaf.size);
    let off = 0;
    for (const idx of micro)
      scope(() => {
        const inputs = inputsOf(idx);
        const r = windowRows(
          model,
          inputs,
          idx.map((i) => lengths[i]!),
        );
        r.rows.backward(tensor(grad.subarray(off, off + r.rows.size), r.rows.shape));
        off += r.rows.size;
        o.afterBackward?.(idx, inputs);
      });
    model.generator.setState(g1);
    return value;
  } finally {
    leaf.dispose();
  }
}
