/**
 * Continued masked-LM pretraining (domain-adaptive DAPT on a domain corpus, task-adaptive TAPT on the task's own
 * texts; Gururangan et al. 2020). The loop is the Trainer's recipe — AdamW with HF's no-decay groups, a schedule
 * with warm-up, clipping, checkpoints with optimizer moments and exact resume — over whole-word-masked sequences,
 * with masked-token accuracy and perplexity on a held-out slice before and after.
 *
 * Masks are drawn per (seed, epoch, example) rather than from one running generator, so a resumed run masks the
 * remaining batches exactly as the uninterrupted run would have.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeDirs } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { noGrad, scope, tensor, type Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { crossEntropy } from '../tensor/ops/index.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { makeBatches, shuffle } from '../data/dataset.js';
import type { MaskedLM } from '../models/mlm.js';
import { AdamW, hfParamGroups } from './adamw.js';
import { lrLambda, type SchedulerName } from './schedule.js';
import { listCheckpoints, readMoments, writeCheckpoint } from './trainer.js';
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

export interface PretrainState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  optimizerSteps: number;
  generator: number;
  history: Record<string, unknown>[];
  config: Omit<PretrainConfig, 'outputDir'>;
}

export interface PretrainHooks {
  /** writes the model (HF layout) into a folder */
  saveModel: (dir: string) => void;
  /** loads weights of a checkpoint folder back into the model */
  loadWeights: (dir: string) => void;
}

/** The masked-LM training loop; `train` returns the held-out metrics after training. */
export class Pretrainer {
  readonly opt: AdamW;
  history: Record<string, unknown>[] = [];

  constructor(
    readonly model: MaskedLM,
    readonly tok: { maskId: number; padId: number },
    readonly cfg: PretrainConfig,
    readonly hooks: PretrainHooks,
    readonly log: (l: string) => void = (l) => console.log(l),
  ) {
    this.opt = new AdamW(hfParamGroups(model, cfg.weightDecay), { lr: cfg.learningRate });
    makeDirs(cfg.outputDir);
  }

  private record(obj: Record<string, unknown>): void {
    appendFileSync(path.join(this.cfg.outputDir, 'metrics.jsonl'), JSON.stringify(obj) + '\n');
  }

  private saveCheckpoint(state: PretrainState): void {
    const dir = path.join(this.cfg.outputDir, `checkpoint-${state.step}`);
    this.hooks.saveModel(dir);
    writeCheckpoint({ dir, model: this.model, opt: this.opt, state, saveTotalLimit: this.cfg.saveTotalLimit });
  }

  private restore(dir: string): PretrainState {
    let state: PretrainState;
    try {
      state = JSON.parse(readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as PretrainState;
    } catch (e) {
      throw new MedtuneError(`cannot resume from ${dir}: ${(e as Error).message}`, 'E_CHECKPOINT');
    }
    this.hooks.loadWeights(dir);
    readMoments(dir, this.model, this.opt);
    this.opt.stepCount = state.optimizerSteps;
    this.model.generator.setState(state.generator);
    this.history = state.history;
    return state;
  }

  /** One optimizer step on a batch; returns the loss. */
  private step(data: EncodedText[], idx: number[], epoch: number, rate: number): number {
    const V = this.model.config.vocab_size;
    const seqs = idx.map((i) =>
      maskWholeWords(data[i]!, new Generator(maskSeed(this.cfg.seed, epoch, i)), {
        maskId: this.tok.maskId,
        vocabSize: V,
        probability: this.cfg.maskProbability,
      }),
    );
    const loss = scope(() => {
      const b = makeBatch(seqs, this.tok.padId);
      const l = crossEntropy(this.model.maskedLogits(b.inputs, b.positions), b.targets);
      l.backward();
      return l.item();
    });
    if (!Number.isFinite(loss)) throw new MedtuneError(`the loss became ${loss}; lower --learning-rate`, 'E_DIVERGED');
    this.opt.step({ maxGradNorm: this.cfg.maxGradNorm, lr: rate });
    this.opt.zeroGrad();
    return loss;
  }

  /**
   * Trains; with `resumeFrom` (a checkpoint folder) continues exactly where that run stopped. Async only to give
   * the event loop a turn after every step, so Ctrl-C / SIGTERM are handled (a synchronous loop never sees them).
   */
  async train(data: EncodedText[], validation: EncodedText[], resumeFrom?: string): Promise<MlmMetrics | null> {
    const c = this.cfg;
    const perEpoch = Math.ceil(data.length / c.batchSize);
    const total = c.maxSteps > 0 ? c.maxSteps : perEpoch * c.epochs;
    const epochs = Math.ceil(total / perEpoch);
    const lr = lrLambda({ name: c.scheduler, totalSteps: total, warmup: c.warmup });
    let step = 0;
    let startEpoch = 0;
    let skip = 0;
    if (resumeFrom) {
      const st = this.restore(resumeFrom);
      [step, startEpoch, skip] = [st.step, st.epoch, st.batchInEpoch];
      this.log(`resumed from ${resumeFrom} at step ${step} (epoch ${startEpoch}, batch ${skip})`);
    }
    const evalOpts = { ...this.tok, probability: c.maskProbability, batchSize: c.batchSize * 2 };
    const stateAt = (epoch: number, batchInEpoch: number): PretrainState => ({
      step,
      epoch,
      batchInEpoch,
      optimizerSteps: this.opt.stepCount,
      generator: this.model.generator.getState(),
      history: this.history,
      config: (({ outputDir: _o, ...rest }) => rest)(c),
    });
    this.log(
      `pretraining: ${data.length} sequences, ${epochs} epochs, ${total} steps (batch ${c.batchSize}), ` +
        `lr ${c.learningRate} ${c.scheduler}, whole-word masking ${(c.maskProbability * 100).toFixed(0)}% (80/10/10)`,
    );
    this.model.train();
    const t0 = performance.now();
    let lossAcc = 0;
    let lossN = 0;
    let seen = 0;
    let last: MlmMetrics | null = null;
    outer: for (let epoch = startEpoch; epoch < epochs; epoch++) {
      const batches = makeBatches(
        data.map((d) => d.ids.length),
        c.batchSize,
        { shuffle: true, seed: c.seed + epoch, bucket: true },
      );
      for (let b = epoch === startEpoch ? skip : 0; b < batches.length; b++) {
        lossAcc += this.step(data, batches[b]!, epoch, c.learningRate * lr(step));
        await new Promise((resolve) => setImmediate(resolve));
        lossN++;
        seen += batches[b]!.length;
        step++;
        const endOfEpoch = b === batches.length - 1;
        const done = step >= total;
        if (step % Math.max(1, Math.floor(total / 50)) === 0 || done) {
          const exs = seen / ((performance.now() - t0) / 1000);
          this.log(
            `  step ${step}/${total}  epoch ${(epoch + (b + 1) / batches.length).toFixed(2)} ` +
              `loss ${(lossAcc / lossN).toFixed(4)} ${exs.toFixed(1)} seq/s`,
          );
          this.record({
            type: 'train',
            step,
            epoch: epoch + (b + 1) / batches.length,
            loss: lossAcc / lossN,
            ex_per_s: exs,
          });
          lossAcc = 0;
          lossN = 0;
        }
        if ((endOfEpoch || done) && validation.length) {
          last = evaluateMlm(this.model, validation, evalOpts);
          this.history.push({ step, epoch: epoch + 1, ...last });
          this.record({ type: 'eval', step, epoch: epoch + 1, ...last });
          this.log(
            `  eval @ step ${step}: masked-token accuracy ${last.accuracy.toFixed(4)}, ` +
              `perplexity ${last.perplexity.toFixed(2)}`,
          );
        }
        if ((c.saveSteps > 0 && step % c.saveSteps === 0) || (c.saveSteps === 0 && endOfEpoch) || done) {
          this.saveCheckpoint(endOfEpoch ? stateAt(epoch + 1, 0) : stateAt(epoch, b + 1));
        }
        if (done) break outer;
      }
    }
    this.model.eval();
    return last;
  }
}

/** A seeded random held-out share of the items (at least 1 when the share is > 0, at most 5,000). */
export function splitHeldOut<T>(items: T[], fraction: number, seed: number): { train: T[]; validation: T[] } {
  const order = shuffle(items.map((_, i) => i), new Generator(seed)); // prettier-ignore
  const n = fraction > 0 && items.length > 1 ? Math.max(1, Math.min(5000, Math.round(items.length * fraction))) : 0;
  return { train: order.slice(n).map((i) => items[i]!), validation: order.slice(0, n).map((i) => items[i]!) };
}

/** Where to resume: a checkpoint folder, or the latest in the output folder for `true`. */
export function resumePoint(outputDir: string, resume: string | boolean | undefined): string | undefined {
  if (!resume) return undefined;
  if (typeof resume === 'string') return resume;
  const all = listCheckpoints(outputDir);
  if (!all.length)
    throw new MedtuneError(`--resume: no checkpoint-N folder with trainer_state.json in ${outputDir}`, 'E_CHECKPOINT');
  return all[all.length - 1]!.dir;
}
