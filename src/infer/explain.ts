/**
 * Explanations by integrated gradients (Sundararajan et al. 2017, as Captum does it) over the input word embeddings:
 * attr_t = (x_t − b_t) · ∫₀¹ ∂f(b + α(x − b)) / ∂x_t dα, with f the model's calibrated log-probability
 * of a label (multi-label: its log-odds) — not the probability itself, which saturates near 1 for a confident model
 * and leaves every word with a score of ~0 — ,
 * b the baseline ([PAD] embeddings, or zeros, at every non-special position) and the integral by Gauss–Legendre
 * quadrature with `steps` nodes, the interpolated inputs batched through the engine's autograd. Word scores sum the
 * scores of a word's pieces. Completeness — Σ attr = f(x) − f(b) — is checked and reported for every
 * explanation. A model that reads documents in windows is explained over the whole note: every window of every
 * interpolated input goes through the document head (in two passes, models/document.ts, so memory stays bounded),
 * a token read by two overlapping windows gets the sum of both attributions, and words carry character offsets into
 * the whole note.
 */
import { noGrad, scope, tensor, type Tensor } from '../tensor/tensor.js';
import { exp, log, mul, scale, sub, sum } from '../tensor/ops/index.js';
import { MedtuneError } from '../common/errors.js';
import { applyPreprocessing } from '../text/clean.js';
import { encodeTexts, splitWindows, textPosition } from '../text/windows.js';
import { documentBackward, documentLogits, type DocumentWindows } from '../models/document.js';
import type { EncoderInputs } from '../models/heads.js';
import type { Predictor } from './predictor.js';

export interface ExplainOptions {
  /** label to explain (default: the predicted one; multi-label: the most probable) */
  label?: string;
  /** quadrature nodes to start with (default 32); doubled (up to 256) while completeness misses the tolerance */
  steps?: number;
  /** completeness tolerance, relative to |f(x) − f(baseline)| (default 0.05; absolute floor 1e-3) */
  tolerance?: number;
  /** 'pad' ([PAD] embeddings at non-special positions, default) or 'zero' */
  baseline?: 'pad' | 'zero';
  /** the most nodes the steps may double up to (default 256) */
  maxSteps?: number;
  /** asked between passes: true stops the explanation with E_CANCELLED (a server whose client went away) */
  cancelled?: () => boolean;
}

export interface WordAttribution {
  word: string;
  /** [start, end) in the text the model saw (after the model's preprocessing) */
  start: number;
  end: number;
  score: number;
}

export interface Explanation {
  label: string;
  probability: number;
  /** the probability of the label with the words taken away (the baseline) */
  baseline_probability: number;
  /**
   * scores in log-probability units (multi-label: log-odds): they sum to f(text) − f(baseline) with
   * f = log p(label) (multi-label: logit); positive words speak for the label, negative ones against it
   */
  words: WordAttribution[];
  /** f(text) − f(baseline), what the scores add up to */
  total: number;
  /** |Σ scores − (f(x) − f(baseline))| */
  completeness_error: number;
  /** quadrature nodes used (more than asked when the first pass missed the tolerance) */
  steps: number;
  /** the text the words refer to (the model's preprocessing applied) */
  text: string;
  truncated_tokens: number;
}

/** Gauss–Legendre nodes and weights on [0, 1] (weights sum to 1). */
export function gaussLegendre(n: number): { nodes: number[]; weights: number[] } {
  const nodes: number[] = [];
  const weights: number[] = [];
  for (let i = 1; i <= n; i++) {
    let x = Math.cos((Math.PI * (i - 0.25)) / (n + 0.5));
    let dp = 0;
    for (let it = 0; it < 100; it++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= n; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      dp = (n * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    nodes.push((1 - x) / 2);
    weights.push(1 / ((1 - x * x) * dp * dp));
  }
  return { nodes, weights };
}

const isPunct = (c: string | undefined) => c !== undefined && /[\p{P}\p{S}]/u.test(c);

/**
 * Groups token scores into words: a token continues the word before it when it touches it and neither side is
 * punctuation.
 */
export function wordsOf(
  text: string,
  offsets: [number, number][],
  scores: number[],
  special: boolean[],
): WordAttribution[] {
  const words: WordAttribution[] = [];
  let prevEnd = -1;
  offsets.forEach(([start, end], t) => {
    if (special[t] || end <= start) return;
    const last = words[words.length - 1];
    const joins = last && start === prevEnd && !isPunct(text[start]) && !isPunct(text[prevEnd - 1]);
    if (joins) {
      last.end = end;
      last.score += scores[t]!;
    } else words.push({ word: '', start, end, score: scores[t]! });
    prevEnd = end;
  });
  for (const w of words) w.word = text.slice(w.start, w.end);
  return words;
}

/** f per row of logits: the label's log-probability under softmax(z / T) (multi-label: its logit). */
export function targetValue(row: number[], target: number, multiLabel: boolean, temperature: number): number {
  if (multiLabel) return row[target]!;
  const z = row.map((v) => v / temperature);
  const mx = Math.max(...z);
  return z[target]! - mx - Math.log(z.reduce((a, v) => a + Math.exp(v - mx), 0));
}

/** The scalar whose gradient is taken: Σ_k w_k · f(row k), computed stably (the row maxima are constants). */
function weightedTarget(
  logits: Tensor,
  target: number,
  weights: number[],
  multiLabel: boolean,
  temperature: number,
): Tensor {
  const [m, C] = logits.shape as [number, number];
  const w = new Float32Array(m * C);
  weights.forEach((wk, k) => {
    w[k * C + target] = wk;
  });
  const W = tensor(w, [m, C]);
  if (multiLabel) return sum(mul(logits, W));
  const z = temperature === 1 ? logits : scale(logits, 1 / temperature);
  const values = z.toArray();
  const rowMax = Array.from({ length: m }, (_, k) => Math.max(...values.slice(k * C, (k + 1) * C)));
  const shifted = sub(z, tensor(rowMax, [m, 1]));
  const logp = sub(shifted, log(sum(exp(shifted), 1, true)));
  return sum(mul(logp, W));
}

/** The word embedding table of a model (what integrated gradients attribute over). */
function embeddingTable(p: Predictor): Tensor {
  const table = p.loaded.model.namedParameters().find(([k]) => k.endsWith('embeddings.word_embeddings.weight'))?.[1];
  if (!table) throw new MedtuneError('this model has no word embedding table to attribute over', 'E_MODEL_UNSUPPORTED');
  return table;
}

/** The label index to explain: the one asked for, else the most probable. */
function targetOf(p: Predictor, px: number[], label?: string): number {
  const target = label !== undefined ? p.labels.indexOf(label) : px.indexOf(Math.max(...px));
  if (target < 0)
    throw new MedtuneError(
      `--label ${label} is not a label of this model ` +
        `(labels: ${p.labels.slice(0, 10).join(', ')}${p.labels.length > 10 ? ', …' : ''})`,
      'E_USAGE',
    );
  return target;
}

/** Runs fn with gradients for the inputs only (none for the weights). */
function inputGradientsOnly<T>(p: Predictor, fn: () => T): T {
  const params = p.loaded.model.parameters();
  const saved = params.map((q) => q.requiresGrad);
  params.forEach((q) => {
    q.requiresGrad = false;
  });
  try {
    return fn();
  } finally {
    params.forEach((q, i) => {
      q.requiresGrad = saved[i]!;
    });
  }
}

/**
 * Integrated gradients over a document read in windows: per window, the text's embeddings x and the baseline b (its
 * special tokens kept); every quadrature node is one copy of the document whose windows read b + α(x − b); the
 * weighted sum of the copies' targets is back-propagated through all windows (two passes when they do not fit one).
 */
function explainDocument(p: Predictor, text: string, o: ExplainOptions & { steps: number }): Explanation {
  const d = p.document!;
  const enc = encodeTexts(p.tokenizer, [text], null, {
    maxLength: p.maxLength,
    document: { stride: d.stride, maxDocumentTokens: d.max_document_tokens },
  });
  const [ids, offsets] = [enc.ids[0]!, enc.offsets[0]!];
  const spec = enc.window!;
  const win = splitWindows(ids, enc.types[0]!, spec);
  const W = win.ids.length;
  const table = embeddingTable(p);
  const H = table.shape[1]!;
  const specialIds = new Set(p.tokenizer.specialIds());
  const padId = p.tokenizer.padId;
  const row = (id: number) => table.f32.subarray(id * H, (id + 1) * H);
  const xs = win.ids.map((wi) => {
    const x = new Float32Array(wi.length * H);
    wi.forEach((id, t) => x.set(row(id), t * H));
    return x;
  });
  const bs = win.ids.map((wi, w) => {
    const b = new Float32Array(wi.length * H);
    wi.forEach((id, t) => {
      if (textPosition(win.ranges, spec, w, t) < 0 && specialIds.has(id)) b.set(row(id), t * H);
      else if ((o.baseline ?? 'pad') === 'pad') b.set(row(padId), t * H);
    });
    return b;
  });
  // documents: one copy per α; windows: copy k's window j is k·W + j
  const copies = (alphas: number[]): DocumentWindows => ({
    ids: alphas.flatMap(() => win.ids),
    types: alphas.flatMap(() => win.types),
    groups: alphas.map(() => W),
  });
  const inputsFor =
    (alphas: number[]) =>
    (idx: number[]): EncoderInputs => {
      const T = Math.max(...idx.map((g) => win.ids[g % W]!.length));
      const [ids2, mask, types, e] = [
        [] as number[],
        [] as number[],
        [] as number[],
        new Float32Array(idx.length * T * H),
      ];
      idx.forEach((g, k) => {
        const [j, a] = [g % W, alphas[Math.floor(g / W)]!];
        const [wi, x, b] = [win.ids[j]!, xs[j]!, bs[j]!];
        for (let t = 0; t < T; t++) {
          ids2.push(t < wi.length ? wi[t]! : padId);
          mask.push(t < wi.length ? 1 : 0);
          types.push(t < wi.length ? win.types[j]![t]! : 0);
        }
        for (let i = 0; i < wi.length * H; i++) e[k * T * H + i] = b[i]! + a * (x[i]! - b[i]!);
      });
      const embeds = tensor(e, [idx.length, T, H]);
      embeds.requiresGrad = true;
      return {
        input_ids: tensor(ids2, [idx.length, T], 'int32'),
        attention_mask: tensor(mask, [idx.length, T], 'int32'),
        token_type_ids: tensor(types, [idx.length, T], 'int32'),
        inputs_embeds: embeds,
      };
    };
  const microBatch = Math.max(1, Math.floor(2048 / spec.length));
  const ends = documentLogits(p.loaded.model, copies([1, 0]), { padId, microBatch, inputs: inputsFor([1, 0]) });
  const prob = (r: number[]) => p.decide(r).probabilities;
  const [px, pb] = [prob(ends[0]!), prob(ends[1]!)];
  const target = targetOf(p, px, o.label);
  const temperature = p.settings.temperature ?? 1;
  const { nodes, weights } = gaussLegendre(o.steps);
  const grads = win.ids.map((wi) => new Float64Array(wi.length * H));
  inputGradientsOnly(p, () =>
    documentBackward(
      p.loaded.model,
      copies(nodes),
      (logits) => weightedTarget(logits, target, weights, p.multiLabel, temperature),
      {
        padId,
        microBatch,
        inputs: inputsFor(nodes),
        afterBackward: (idx, inputs) => {
          const g = inputs.inputs_embeds!.grad!.f32;
          const T = inputs.input_ids.shape[1]!;
          idx.forEach((gi, k) => {
            const j = gi % W;
            const acc = grads[j]!;
            for (let i = 0; i < acc.length; i++) acc[i] += g[k * T * H + i]!;
          });
          inputs.inputs_embeds!.grad!.dispose();
        },
      },
    ),
  );
  // token scores in the whole note: a token read by two windows gets both
  const scores = new Array<number>(ids.length).fill(0);
  win.ids.forEach((wi, w) => {
    for (let t = 0; t < wi.length; t++) {
      const pos = textPosition(win.ranges, spec, w, t);
      if (pos < 0) continue;
      let s = 0;
      for (let h = 0; h < H; h++) s += grads[w]![t * H + h]! * (xs[w]![t * H + h]! - bs[w]![t * H + h]!);
      scores[pos]! += s;
    }
  });
  const special = ids.map((id, t) => specialIds.has(id) && offsets[t]![1] <= offsets[t]![0]);
  const f = (r: number[]) => targetValue(r, target, p.multiLabel, temperature);
  const delta = f(ends[0]!) - f(ends[1]!);
  const total = scores.reduce((a, v) => a + v, 0);
  return {
    label: p.labels[target]!,
    probability: px[target]!,
    baseline_probability: pb[target]!,
    words: wordsOf(text, offsets, scores, special),
    total: delta,
    completeness_error: Math.abs(total - delta),
    steps: o.steps,
    text,
    truncated_tokens: enc.cut[0]!,
  };
}

function explainOnce(p: Predictor, rawText: string, o: ExplainOptions & { steps: number }): Explanation {
  if (p.problemType === 'regression')
    throw new MedtuneError('explanations are for classifiers; this is a regression model', 'E_MODEL_UNSUPPORTED');
  const steps = o.steps;
  const [text] = applyPreprocessing([rawText], p.preprocessing);
  if (p.document) return explainDocument(p, text!, o);
  const enc = p.tokenizer.encode([text!], null, { maxLength: p.maxLength, padding: false });
  const ids = enc.input_ids[0]!;
  const types = enc.token_type_ids[0]!;
  const offsets = enc.offsets[0]!;
  const T = ids.length;
  const model = p.loaded.model;
  const table = embeddingTable(p);
  const H = table.shape[1]!;
  const specialIds = new Set([...p.tokenizer.specialIds()]);
  const special = ids.map((id, t) => specialIds.has(id) && offsets[t]![1] <= offsets[t]![0]);
  const padId = p.tokenizer.padId;
  // x: the text's embeddings; b: the baseline (special tokens kept as they are)
  const x = new Float32Array(T * H);
  const b = new Float32Array(T * H);
  ids.forEach((id, t) => {
    x.set(table.f32.subarray(id * H, (id + 1) * H), t * H);
    if (special[t]) b.set(table.f32.subarray(id * H, (id + 1) * H), t * H);
    else if ((o.baseline ?? 'pad') === 'pad') b.set(table.f32.subarray(padId * H, (padId + 1) * H), t * H);
  });
  const settings = p.settings;
  const temperature = settings.temperature ?? 1;
  const forward = (embeds: Tensor, m: number) =>
    model.forward({
      input_ids: tensor(Array.from({ length: m }, () => ids).flat(), [m, T], 'int32'),
      token_type_ids: tensor(Array.from({ length: m }, () => types).flat(), [m, T], 'int32'),
      inputs_embeds: embeds,
    }).logits;
  // f(x) and f(b), and the label to explain
  const ends = scope(() =>
    noGrad(() => {
      const both = new Float32Array(2 * T * H);
      both.set(x, 0);
      both.set(b, T * H);
      return forward(tensor(both, [2, T, H]), 2).toArray();
    }),
  );
  const C = ends.length / 2;
  const prob = (row: number[]) => p.decide(row).probabilities;
  const px = prob(ends.slice(0, C));
  const pb = prob(ends.slice(C));
  const target = targetOf(p, px, o.label);
  // ∫ ∂f/∂x along the path, Gauss–Legendre, in passes of at most ~2048 tokens
  const { nodes, weights } = gaussLegendre(steps);
  const grad = new Float64Array(T * H);
  const perPass = Math.max(1, Math.floor(2048 / T));
  inputGradientsOnly(p, () => {
    for (let s = 0; s < steps; s += perPass) {
      if (o.cancelled?.()) throw new MedtuneError('the explanation was cancelled', 'E_CANCELLED');
      const ks = nodes.slice(s, s + perPass);
      const m = ks.length;
      scope(() => {
        const e = new Float32Array(m * T * H);
        ks.forEach((a, k) => {
          for (let i = 0; i < T * H; i++) e[k * T * H + i] = b[i]! + a * (x[i]! - b[i]!);
        });
        const embeds = tensor(e, [m, T, H]);
        embeds.requiresGrad = true;
        weightedTarget(forward(embeds, m), target, weights.slice(s, s + m), p.multiLabel, temperature).backward();
        const g = embeds.grad!.f32;
        for (let k = 0; k < m; k++) for (let i = 0; i < T * H; i++) grad[i] += g[k * T * H + i]!;
        embeds.grad!.dispose(); // a leaf's .grad is kept past scopes: release it here
      });
    }
  });
  const scores = Array.from({ length: T }, (_, t) => {
    let s = 0;
    for (let h = 0; h < H; h++) s += grad[t * H + h]! * (x[t * H + h]! - b[t * H + h]!);
    return s;
  });
  const total = scores.reduce((a, v) => a + v, 0);
  const f = (row: number[]) => targetValue(row, target, p.multiLabel, temperature);
  const delta = f(ends.slice(0, C)) - f(ends.slice(C));
  return {
    label: p.labels[target]!,
    probability: px[target]!,
    baseline_probability: pb[target]!,
    words: wordsOf(text!, offsets, scores, special),
    total: delta,
    completeness_error: Math.abs(total - delta),
    steps,
    text: text!,
    truncated_tokens: enc.cut_tokens[0]!,
  };
}

/**
 * Explains one text; the steps double (up to 256, or `maxSteps`) until Σ scores is within the tolerance of
 * f(x) − f(baseline).
 */
export function explain(p: Predictor, text: string, o: ExplainOptions = {}): Explanation {
  const max = o.maxSteps ?? 256;
  let steps = o.steps ?? Math.min(32, max);
  if (!Number.isInteger(steps) || steps < 2 || steps > 512)
    throw new MedtuneError(`--steps must be an integer from 2 to 512, got ${steps}`, 'E_USAGE');
  const tol = o.tolerance ?? 0.05;
  for (;;) {
    const e = explainOnce(p, text, { ...o, steps });
    if (e.completeness_error <= Math.max(1e-3, tol * Math.abs(e.total)) || steps >= max) return e;
    steps = Math.min(max, steps * 2);
  }
}
