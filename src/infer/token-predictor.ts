/**
 * Token classification at inference: every text split into words (or the words a CoNLL file gives), its sub-words
 * cut into overlapping windows, one forward per batch of windows, each word's label probabilities read from its
 * first sub-token in the window where that token sits furthest from an edge; then words -> IOB2 tags -> entities
 * with character offsets and a score. A word is tagged as an entity when its entity probability (1 − P(O)) reaches
 * the threshold: 0.5 by default (about the argmax), lower for recall (the de-identification model's `medtune.
 * entity_threshold`, chosen on validation).
 */
import path from 'node:path';
import { noGrad, scope, tensor } from '../tensor/tensor.js';
import { Tokenizer } from '../text/tokenizer.js';
import { encodeWords, makeWindows, type TokenWindow } from '../data/token-align.js';
import { splitWords, type CharSpan } from '../data/token-data.js';
import { decodeIob2, splitTag, type TokenEntity } from '../data/tags.js';
import { makeBatches } from '../data/dataset.js';
import { loadModel, resolveMaxLength, type LoadedModel, type ModelSource } from '../models/auto.js';
import type { TokenClassifier } from '../models/token-classification.js';
import { MedtuneError } from '../common/errors.js';

export interface EntitySpan extends CharSpan {
  /** mean entity probability of its words */
  score: number;
}

export interface WordPrediction {
  /** IOB2 tag per word */
  tags: string[];
  entities: TokenEntity[];
  /** mean entity probability per entity */
  scores: number[];
}

export interface TokenPredictOptions {
  maxLength?: number;
  /** tokens shared by consecutive windows of a long text (default: a quarter of the window) */
  stride?: number;
  /** windows per forward pass (default 32) */
  batchSize?: number;
  /** entity probability (1 − P(O)) from which a word is tagged (default: the model's, else 0.5) */
  threshold?: number;
  log?: (line: string) => void;
}

/** Label probabilities per word of each text (softmax of its first sub-token in its most central window). */
export function wordProbabilities(
  model: TokenClassifier,
  tok: Tokenizer,
  items: { text: string; words: [number, number][] }[],
  o: { maxLength: number; stride?: number; batchSize?: number },
): number[][][] {
  const encs = encodeWords(tok, items);
  const stride = o.stride ?? Math.floor(o.maxLength / 4);
  const windows = makeWindows(encs, { tok, maxLength: o.maxLength, stride });
  const C = model.numLabels;
  const out = items.map((it) => it.words.map(() => null as number[] | null));
  const centrality = items.map((it) => it.words.map(() => -1));
  const batches = makeBatches(
    windows.map((w) => w.ids.length),
    o.batchSize ?? 32,
    { shuffle: false, seed: 0, bucket: true },
  );
  const training = model.training;
  model.eval();
  for (const idx of batches) {
    const ws = idx.map((i) => windows[i]!);
    const logits = scope(() => noGrad(() => model.forward(windowInputs(ws, tok.padId)).logits.toArray()));
    const T = Math.max(...ws.map((w) => w.ids.length));
    ws.forEach((w, b) => {
      const enc = encs[w.example]!;
      const first = w.wordIds.findIndex((x) => x >= 0);
      let last = w.wordIds.length - 1;
      while (last > first && w.wordIds[last]! < 0) last--;
      w.wordIds.forEach((word, k) => {
        const pos = w.offset + k - first;
        if (word < 0 || (pos > 0 && enc.wordIds[pos - 1] === word)) return;
        const c = Math.min(k - first, last - k);
        if (c <= centrality[w.example]![word]!) return;
        centrality[w.example]![word] = c;
        out[w.example]![word] = softmax(logits.slice((b * T + k) * C, (b * T + k + 1) * C));
      });
    });
  }
  model.train(training);
  // a word with no sub-token of its own (e.g. a zero-width character) is O
  return out.map((ws) => ws.map((p) => p ?? Array.from({ length: C }, (_, c) => (c === 0 ? 1 : 0))));
}

function softmax(row: number[]): number[] {
  const mx = Math.max(...row);
  const e = row.map((x) => Math.exp(x - mx));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((x) => x / s);
}

/** Padded inputs of a batch of windows. */
export function windowInputs(ws: TokenWindow[], padId: number) {
  const T = Math.max(...ws.map((w) => w.ids.length));
  const ids: number[] = [];
  const mask: number[] = [];
  for (const w of ws)
    for (let t = 0; t < T; t++) {
      ids.push(t < w.ids.length ? w.ids[t]! : padId);
      mask.push(t < w.ids.length ? 1 : 0);
    }
  return {
    input_ids: tensor(ids, [ws.length, T], 'int32'),
    attention_mask: tensor(mask, [ws.length, T], 'int32'),
  };
}

/**
 * Tags and entities from word probabilities: a word is an entity word when 1 − P(O) ≥ threshold, of its most
 * probable entity label; the tags are decoded as seqeval does (an I-X after O begins an entity).
 */
export function decodeWords(probs: number[][], labels: string[], threshold = 0.5): WordPrediction {
  const o = labels.indexOf('O');
  const tags = probs.map((p) => {
    if (o >= 0 && 1 - p[o]! < threshold) return 'O';
    let best = -1;
    p.forEach((v, c) => {
      if (c !== o && (best < 0 || v > p[best]!)) best = c;
    });
    return labels[best] ?? 'O';
  });
  const entities = decodeIob2(tags);
  const scores = entities.map((e) => {
    let s = 0;
    for (let w = e.start; w < e.end; w++)
      probs[w]!.forEach((v, c) => {
        if (c !== o && splitTag(labels[c]!)[1] === e.type) s += v;
      });
    return s / (e.end - e.start);
  });
  return { tags, entities, scores };
}

/** Loads a token-classification model folder once and finds entities in texts. */
export class TokenPredictor {
  readonly labels: string[];
  readonly maxLength: number;
  readonly threshold: number;
  private constructor(
    readonly loaded: LoadedModel<TokenClassifier>,
    readonly tokenizer: Tokenizer,
    readonly o: TokenPredictOptions,
  ) {
    this.labels = loaded.labels;
    this.maxLength = resolveMaxLength(o.maxLength, loaded.config, 512);
    const stored = (loaded.config.medtune as { entity_threshold?: number } | undefined)?.entity_threshold;
    this.threshold = o.threshold ?? stored ?? 0.5;
    if (!(this.threshold > 0 && this.threshold < 1))
      throw new MedtuneError(`the entity threshold must be in (0, 1), got ${this.threshold}`, 'E_USAGE');
  }

  static async load(from: ModelSource, o: TokenPredictOptions = {}): Promise<TokenPredictor> {
    const loaded = await loadModel(from, { head: 'token-classification', log: o.log, inference: true });
    if (!loaded.labels.includes('O'))
      throw new MedtuneError(`${loaded.dir}: a token classifier's labels must include "O"`, 'E_MODEL_LABELS');
    return new TokenPredictor(loaded, Tokenizer.fromDir(loaded.dir), o);
  }

  get dir(): string {
    return this.loaded.dir;
  }

  get name(): string {
    return path.basename(path.resolve(this.loaded.dir));
  }

  /** Word-level predictions for texts with their words (CoNLL sentences, or splitWords of raw text). */
  predictWords(items: { text: string; words: [number, number][] }[], threshold = this.threshold): WordPrediction[] {
    const probs = this.probabilities(items);
    return probs.map((p) => decodeWords(p, this.labels, threshold));
  }

  probabilities(items: { text: string; words: [number, number][] }[]): number[][][] {
    return wordProbabilities(this.loaded.model, this.tokenizer, items, {
      maxLength: this.maxLength,
      stride: this.o.stride,
      batchSize: this.o.batchSize,
    });
  }

  /** Entities of raw texts as character spans with scores. */
  entities(texts: string[], threshold = this.threshold): EntitySpan[][] {
    const items = texts.map((text) => ({ text, words: splitWords(text) }));
    return this.predictWords(items, threshold).map((p, i) => spansOf(items[i]!.words, p));
  }
}

/** Character spans of word-level entities. */
export function spansOf(words: [number, number][], p: WordPrediction): EntitySpan[] {
  return p.entities.map((e, k) => ({
    start: words[e.start]![0],
    end: words[e.end - 1]![1],
    label: e.type,
    score: Number(p.scores[k]!.toFixed(4)),
  }));
}
