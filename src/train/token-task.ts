/**
 * Token classification as a task of the training loop (loop.ts): windows of sub-words with the first sub-token of
 * each word labelled (data/token-align.ts), cross-entropy over the labelled positions, and an entity-level evaluation
 * (seqeval semantics) of the validation texts through the same inference as `predict` (infer/token-predictor.ts).
 */
import { tensor } from '../tensor/tensor.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { encodeWords, makeWindows, type TokenWindow } from '../data/token-align.js';
import { iob2Tags, type TokenEntity } from '../data/tags.js';
import type { TokenExample } from '../data/token-data.js';
import type { TokenClassifier } from '../models/token-classification.js';
import { decodeWords, windowInputs, wordProbabilities } from '../infer/token-predictor.js';
import { entityMetrics, type EntityMetrics, type EntityPair } from '../evaluate/seqeval.js';
import type { LoopConfig } from './config.js';
import type { TrainTask } from './loop.js';

/** The IOB2 label id of every word of each example. */
export function wordTags(examples: TokenExample[], labels: string[]): number[][] {
  const id = new Map(labels.map((l, i) => [l, i]));
  return examples.map((e) => iob2Tags(e.words.length, e.entities).map((t) => id.get(t) ?? 0));
}

/** Training windows of the examples with their labels. */
export function trainingWindows(
  examples: TokenExample[],
  o: { tok: Tokenizer; labels: string[]; maxLength: number; stride: number },
): TokenWindow[] {
  return makeWindows(encodeWords(o.tok, examples), { ...o, tags: wordTags(examples, o.labels) });
}

/** Gold and predicted entities of examples from word probabilities, at an entity threshold. */
export function entityPairs(
  examples: TokenExample[],
  probs: number[][][],
  labels: string[],
  threshold = 0.5,
): { pairs: EntityPair[]; predicted: { entities: TokenEntity[]; scores: number[] }[] } {
  const predicted = probs.map((p) => decodeWords(p, labels, threshold));
  const pairs = examples.map((e, i) => ({
    gold: e.entities,
    predicted: predicted[i]!.entities,
    goldTags: iob2Tags(e.words.length, e.entities),
    predictedTags: predicted[i]!.tags,
  }));
  return { pairs, predicted };
}

/** Word probabilities and entity metrics of examples with the model as it is. */
export function evaluateTokens(
  model: TokenClassifier,
  examples: TokenExample[],
  o: { tok: Tokenizer; labels: string[]; types: string[]; maxLength: number; stride: number; threshold?: number },
): { metrics: EntityMetrics; probs: number[][][]; pairs: EntityPair[]; scores: number[][] } {
  const probs = wordProbabilities(model, o.tok, examples, { maxLength: o.maxLength, stride: o.stride });
  const { pairs, predicted } = entityPairs(examples, probs, o.labels, o.threshold);
  return { metrics: entityMetrics(pairs, o.types), probs, pairs, scores: predicted.map((p) => p.scores) };
}

/**
 * The largest entity threshold at which the share of gold entity words tagged as some entity reaches `target`
 * (recall-biased tagging, as de-identification wants); 0.5 when that share is reached already.
 */
export function recallThreshold(examples: TokenExample[], probs: number[][][], oIndex: number, target: number): number {
  const p: number[] = [];
  examples.forEach((e, i) => {
    for (const x of e.entities) for (let w = x.start; w < x.end; w++) p.push(1 - probs[i]![w]![oIndex]!);
  });
  if (!p.length) return 0.5;
  p.sort((a, b) => a - b);
  const k = Math.floor((1 - target) * p.length);
  const t = p[Math.min(k, p.length - 1)]!;
  return Number(Math.max(0.01, Math.min(0.5, t - 1e-6)).toFixed(4));
}

export const TOKEN_METRICS = ['entity_f1', 'entity_precision', 'entity_recall', 'token_accuracy'] as const;

/** Token classification as a task of the loop. */
export function tokenClassificationTask(o: {
  model: TokenClassifier;
  windows: TokenWindow[];
  validation: TokenExample[];
  tok: Tokenizer;
  labels: string[];
  types: string[];
  maxLength: number;
  stride: number;
  cfg: LoopConfig;
  saveModel: (dir: string) => void;
}): TrainTask {
  const { model, windows, cfg } = o;
  return {
    model,
    lengths: windows.map((w) => w.ids.length),
    loss: (idx) => {
      const ws = idx.map((i) => windows[i]!);
      const T = Math.max(...ws.map((w) => w.ids.length));
      const labels = ws.flatMap((w) => [...w.labels!, ...new Array<number>(T - w.ids.length).fill(-100)]);
      const inputs = windowInputs(ws, o.tok.padId);
      return model.forward({ ...inputs, labels: tensor(labels, [ws.length, T], 'int32') }).loss!;
    },
    evaluate: o.validation.length
      ? () => {
          const { metrics } = evaluateTokens(model, o.validation, o);
          return Object.fromEntries(TOKEN_METRICS.map((k) => [k, metrics[k]]));
        }
      : null,
    describeEval: (m) =>
      `entity F1 ${m.entity_f1!.toFixed(4)} (P ${m.entity_precision!.toFixed(4)}, R ${m.entity_recall!.toFixed(4)}), ` +
      `token accuracy ${m.token_accuracy!.toFixed(4)}`,
    describe: ({ epochs, totalSteps }) =>
      `token classification: ${windows.length} windows, ${o.labels.length} labels (${o.types.join(', ')}), ` +
      `${epochs} epochs, ${totalSteps} steps (batch ${cfg.batchSize}), lr ${cfg.learningRate} ${cfg.scheduler}`,
    divergedHint: 'lower --learning-rate',
    saveModel: o.saveModel,
  };
}
