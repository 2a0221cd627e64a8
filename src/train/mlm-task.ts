/**
 * Masked-LM pretraining as a task of the training loop (loop.ts): whole-word-masked batches of a tokenised corpus,
 * the loss on the masked positions only (the vocabulary projection of the ~15 % predicted tokens), and masked-token
 * accuracy and perplexity on a held-out slice with fixed masks (the same before and after training).
 *
 * Masks are drawn per (seed, epoch, example) rather than from one running generator, so a resumed run masks the
 * remaining batches exactly as the uninterrupted run would have.
 */
import { noGrad, scope, tensor, type Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { crossEntropy } from '../tensor/ops/index.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { makeBatches, shuffle } from '../data/dataset.js';
import type { MaskedLM } from '../models/mlm.js';
import type { SchedulerName } from './schedule.js';
import type { LoopConfig } from './config.js';
import type { TrainTask } from './loop.js';
import { maskWholeWords, wordIds, type EncodedText } from './masking.js';

export interface PretrainConfig {
  outputDir: string;
  epochs: number;
  /** stop after this many optimizer steps (0: all epochs) */
  maxSteps: number;
  learningRate: number;
  batchSize: number;
  weightDecay: number;
  warmup: number;
  scheduler: SchedulerName;
  maxGradNorm: number;
  seed: number;
  /** share of tokens predicted (0.15) */
  maskProbability: number;
  /** checkpoint every N steps (0: every epoch) */
  saveSteps: number;
  saveTotalLimit: number;
}

export interface MlmMetrics {
  loss: number;
  perplexity: number;
  /** share of masked tokens whose original id is the top prediction */
  accuracy: number;
  /** masked tokens evaluated */
  tokens: number;
}

/** Tokenises texts once (truncated, special tokens added) with a word index per token for whole-word masking. */
export function encodeCorpus(texts: string[], tok: Tokenizer, maxLength: number): EncodedText[] {
  const out: EncodedText[] = [];
  for (let i = 0; i < texts.length; i += 256) {
    const part = texts.slice(i, i + 256);
    const enc = tok.encode(part, null, { maxLength, padding: false });
    part.forEach((t, j) => {
      const offs = enc.offsets[j]!;
      const special = offs.map(([s, e], k) => s === 0 && e === 0 && !(k > 0 && k < offs.length - 1 && t.length === 0));
      out.push({ ids: enc.input_ids[j]!, words: wordIds(t, offs, special) });
    });
  }
  return out;
}

interface MlmBatch {
  inputs: { input_ids: Tensor; attention_mask: Tensor };
  positions: Tensor;
  targets: Tensor;
  count: number;
}

/** Pads masked sequences into a batch; positions are flat b·T + t of predicted tokens. */
function makeBatch(seqs: { input: number[]; labels: number[] }[], padId: number): MlmBatch {
  const T = Math.max(...seqs.map((s) => s.input.length));
  const ids: number[] = [];
  const mask: number[] = [];
  const positions: number[] = [];
  const targets: number[] = [];
  seqs.forEach((s, b) => {
    for (let t = 0; t < T; t++) {
      ids.push(t < s.input.length ? s.input[t]! : padId);
      mask.push(t < s.input.length ? 1 : 0);
      if (t < s.labels.length && s.labels[t]! >= 0) {
        positions.push(b * T + t);
        targets.push(s.labels[t]!);
      }
    }
  });
  const B = seqs.length;
  return {
    inputs: { input_ids: tensor(ids, [B, T], 'int32'), attention_mask: tensor(mask, [B, T], 'int32') },
    positions: tensor(positions, [positions.length], 'int32'),
    targets: tensor(targets, [targets.length], 'int32'),
    count: positions.length,
  };
}

const maskSeed = (seed: number, epoch: number, i: number) =>
  (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35)) >>> 0;

/** Masked-token accuracy and perplexity with fixed masks (the same before and after training). */
export function evaluateMlm(
  model: MaskedLM,
  data: EncodedText[],
  o: { maskId: number; padId: number; batchSize?: number; probability?: number },
): MlmMetrics {
  const V = model.config.vocab_size;
  const training = model.training;
  model.eval();
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  const bs = o.batchSize ?? 64;
  const batches = makeBatches(
    data.map((d) => d.ids.length),
    bs,
    { shuffle: false, seed: 0, bucket: true },
  );
  for (const idx of batches) {
    const seqs = idx.map((i) =>
      maskWholeWords(data[i]!, new Generator(maskSeed(12345, 0, i)), {
        maskId: o.maskId,
        vocabSize: V,
        probability: o.probability,
      }),
    );
    scope(() =>
      noGrad(() => {
        const b = makeBatch(seqs, o.padId);
        if (!b.count) return;
        const logits = model.maskedLogits(b.inputs, b.positions);
        lossSum += crossEntropy(logits, b.targets).item() * b.count;
        const l = logits.f32;
        for (let m = 0; m < b.count; m++) {
          let best = 0;
          for (let v = 1; v < V; v++) if (l[m * V + v]! > l[m * V + best]!) best = v;
          if (best === b.targets.i32[m]) correct++;
        }
        n += b.count;
      }),
    );
  }
  model.train(training);
  const loss = n ? lossSum / n : NaN;
  return { loss, perplexity: Math.exp(loss), accuracy: n ? correct / n : NaN, tokens: n };
}

/** The loop's settings for pretraining: every epoch evaluated (and the end), no best-model metric, no accumulation. */
export function pretrainLoopConfig(c: PretrainConfig): LoopConfig {
  return { ...c, gradAccum: 1, bucket: true, evalEvery: 0, evalAtEnd: true, logEvery: 0, earlyStoppingPatience: 0 };
}

/** Pretraining as a task of the loop; `last()` is the latest held-out evaluation of this run (null: none yet). */
export function maskedLmTask(o: {
  model: MaskedLM;
  data: EncodedText[];
  validation: EncodedText[];
  tok: { maskId: number; padId: number };
  cfg: PretrainConfig;
  saveModel: (dir: string) => void;
}): TrainTask & { last(): MlmMetrics | null } {
  const { model, data, cfg } = o;
  const V = model.config.vocab_size;
  const evalOpts = { ...o.tok, probability: cfg.maskProbability, batchSize: cfg.batchSize * 2 };
  let last: MlmMetrics | null = null;
  return {
    model,
    lengths: data.map((d) => d.ids.length),
    loss: (idx, epoch) => {
      const seqs = idx.map((i) =>
        maskWholeWords(data[i]!, new Generator(maskSeed(cfg.seed, epoch, i)), {
          maskId: o.tok.maskId,
          vocabSize: V,
          probability: cfg.maskProbability,
        }),
      );
      const b = makeBatch(seqs, o.tok.padId);
      return crossEntropy(model.maskedLogits(b.inputs, b.positions), b.targets);
    },
    evaluate: o.validation.length ? () => ({ ...(last = evaluateMlm(model, o.validation, evalOpts)) }) : null,
    describeEval: (m) => `masked-token accuracy ${m.accuracy!.toFixed(4)}, perplexity ${m.perplexity!.toFixed(2)}`,
    describe: ({ epochs, totalSteps }) =>
      `pretraining: ${data.length} sequences, ${epochs} epochs, ${totalSteps} steps (batch ${cfg.batchSize}), ` +
      `lr ${cfg.learningRate} ${cfg.scheduler}, ` +
      `whole-word masking ${(cfg.maskProbability * 100).toFixed(0)}% (80/10/10)`,
    divergedHint: 'lower --learning-rate',
    saveModel: o.saveModel,
    last: () => last,
  };
}

/** A seeded random held-out share of the items (at least 1 when the share is > 0, at most 5,000). */
export function splitHeldOut<T>(items: T[], fraction: number, seed: number): { train: T[]; validation: T[] } {
  const order = shuffle(items.map((_, i) => i), new Generator(seed)); // prettier-ignore
  const n = fraction > 0 && items.length > 1 ? Math.max(1, Math.min(5000, Math.round(items.length * fraction))) : 0;
  return { train: order.slice(n).map((i) => items[i]!), validation: order.slice(0, n).map((i) => items[i]!) };
}
