/**
 * Forward passes of a classifier over tokenised texts, for inference: texts sorted by length and cut into passes of
 * at most `batchSize` texts and `maxBatchTokens` padded tokens (padding and memory stay small), results in input
 * order. Besides the logits, a pass can return each text's encoder features — the last layer's hidden state of the
 * first token ("cls") or its mean over the text's tokens ("mean") — for the out-of-scope detector (ood.ts).
 * Documents read in windows (an encoding with `window`) go through models/document.ts: their windows in passes under
 * the same budget, the document head over each document's windows; their features pool the windows the same way
 * (the mean of the windows' first tokens, the mean over the tokens of every window).
 */
import { noGrad, scope } from '../tensor/tensor.js';
import { batchTensors } from '../data/batch.js';
import type { Encoded } from '../data/dataset.js';
import type { SequenceClassifier } from '../models/auto.js';
import { windowCount } from '../text/windows.js';
import { documentLogits, windowsOf } from '../models/document.js';

/** Which encoder features describe a text: the first token's last hidden state, or the mean over its tokens. */
export type FeatureKind = 'cls' | 'mean';
export const FEATURE_KINDS: readonly FeatureKind[] = ['cls', 'mean'];

export interface PassOptions {
  padId: number;
  /** texts per forward pass (default 32) */
  batchSize?: number;
  /** padded tokens per forward pass (default 4096) */
  maxBatchTokens?: number;
  /** also return these features (default: none) */
  features?: FeatureKind | null;
}

export interface PassResult {
  logits: number[][];
  /** per text (null when not asked for) */
  features: number[][] | null;
}

/** Features of each text of a pass from the last hidden state [B, T, H] (lengths: each text's real tokens). */
function featuresOf(last: Float32Array, lengths: number[], T: number, H: number, kind: FeatureKind): number[][] {
  return lengths.map((len, b) => {
    const row = new Array<number>(H).fill(0);
    const n = kind === 'cls' ? 1 : len;
    for (let t = 0; t < n; t++) {
      const off = (b * T + t) * H;
      for (let h = 0; h < H; h++) row[h]! += last[off + h]!;
    }
    return n === 1 ? row : row.map((x) => x / n);
  });
}

/** Logits (and features) of every text, in input order; the model must be in eval mode. */
export function forwardPasses(model: SequenceClassifier, enc: Encoded, o: PassOptions): PassResult {
  if (enc.window) return documentPasses(model, enc, o);
  const n = enc.ids.length;
  const batchSize = o.batchSize ?? 32;
  const maxTokens = o.maxBatchTokens ?? 4096;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => enc.ids[a]!.length - enc.ids[b]!.length);
  const logits: number[][] = new Array(n);
  const features: number[][] | null = o.features ? new Array(n) : null;
  for (let s = 0; s < n;) {
    let e = s + 1;
    // sorted ascending: the text at e is the longest of the pass
    while (e < n && e - s < batchSize && (e - s + 1) * enc.ids[order[e]!]!.length <= maxTokens) e++;
    const idx = order.slice(s, e);
    scope(() =>
      noGrad(() => {
        const out = model.forward(batchTensors(enc, idx, o.padId), { outputHiddenStates: !!o.features });
        const flat = out.logits.toArray();
        const C = flat.length / idx.length;
        idx.forEach((ex, b) => (logits[ex] = flat.slice(b * C, (b + 1) * C)));
        if (features && out.hidden_states) {
          const last = out.hidden_states[out.hidden_states.length - 1]!;
          const [, T, H] = last.shape as [number, number, number];
          const lengths = idx.map((i) => enc.ids[i]!.length);
          featuresOf(last.f32, lengths, T, H, o.features!).forEach((f, b) => (features[idx[b]!] = f));
        }
      }),
    );
    s = e;
  }
  return { logits, features };
}

/** Documents in input order, sorted by length into passes of at most `maxBatchTokens` window tokens. */
function documentPasses(model: SequenceClassifier, enc: Encoded, o: PassOptions): PassResult {
  const n = enc.ids.length;
  const maxTokens = o.maxBatchTokens ?? 4096;
  const perPass = Math.max(1, Math.min(o.batchSize ?? 32, Math.floor(maxTokens / enc.window!.length)));
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => enc.ids[a]!.length - enc.ids[b]!.length);
  const logits: number[][] = new Array(n);
  const features: number[][] | null = o.features ? new Array(n) : null;
  for (let s = 0; s < n;) {
    // documents until their windows fill the pass (at least one document)
    let e = s + 1;
    const count = (i: number) => windowCount(enc.ids[order[i]!]!.length, enc.window!);
    let windows = count(s);
    while (e < n && e - s < (o.batchSize ?? 32)) {
      const more = count(e);
      if (windows + more > perPass) break;
      windows += more;
      e++;
    }
    const idx = order.slice(s, e);
    const r = documentPass(model, windowsOf(enc, idx), { ...o, perPass });
    idx.forEach((ex, b) => {
      logits[ex] = r.logits[b]!;
      if (features) features[ex] = r.features![b]!;
    });
    s = e;
  }
  return { logits, features };
}

/** The logits (and features) of some documents: their windows encoded `perPass` at a time, then the head. */
function documentPass(
  model: SequenceClassifier,
  w: ReturnType<typeof windowsOf>,
  o: PassOptions & { perPass: number },
): { logits: number[][]; features: number[][] | null } {
  const perWindow: { sum: number[]; n: number }[] = [];
  const logits = documentLogits(model, w, {
    padId: o.padId,
    microBatch: o.perPass,
    onRows: (idx, r) => {
      if (!o.features) return;
      const [, T, H] = r.last.shape as [number, number, number];
      const lens = idx.map((i) => w.ids[i]!.length);
      featuresOf(r.last.f32, lens, T, H, o.features).forEach((f, b) => {
        const n = o.features === 'cls' ? 1 : lens[b]!;
        perWindow.push({ sum: f.map((x) => x * n), n });
      });
    },
  });
  return { logits, features: o.features ? poolFeatures(perWindow, w.groups) : null };
}

/** Document features from per-window sums: the sum over a document's windows over their count of tokens. */
function poolFeatures(perWindow: { sum: number[]; n: number }[], groups: number[]): number[][] {
  let k = 0;
  return groups.map((g) => {
    const acc = new Array<number>(perWindow[k]!.sum.length).fill(0);
    let n = 0;
    for (let j = 0; j < g; j++, k++) {
      perWindow[k]!.sum.forEach((x, h) => (acc[h]! += x));
      n += perWindow[k]!.n;
    }
    return acc.map((x) => x / n);
  });
}
