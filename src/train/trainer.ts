/**
 * The Trainer: an explicit fine-tuning loop (HF Trainer's recipe): AdamW with no-decay groups, a learning-rate
 * schedule with warm-up, gradient accumulation, clipping, evaluation every epoch (or N steps), the best model
 * by a metric kept in memory and restored at the end, and metrics.jsonl with every logged step.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { noGrad, scope, tensor, type Tensor } from '../tensor/tensor.js';
import { AdamW, hfParamGroups } from './adamw.js';
import { lrLambda, type SchedulerName } from './schedule.js';
import { makeBatches, type Encoded, type Example } from '../data/dataset.js';
import { multiLabelMetrics, singleLabelMetrics, type MultiLabelMetrics, type SingleLabelMetrics } from '../evaluate/metrics.js';
import type { SequenceClassifier } from '../models/auto.js';
import { MedtuneError } from '../tensor/errors.js';

export interface TrainConfig {
  epochs: number;
  learningRate: number;
  batchSize: number;
  weightDecay: number;
  /** warm-up steps, or a ratio of all steps when < 1 */
  warmup: number;
  scheduler: SchedulerName;
  seed: number;
  gradAccum: number;
  maxGradNorm: number;
  /** 0: evaluate at the end of every epoch; N: every N optimizer steps */
  evalEvery: number;
  metricForBestModel: string;
  logEvery: number;
  bucket: boolean;
  labelSmoothing: number;
  outputDir: string;
}

export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'outputDir'> = {
  epochs: 3, learningRate: 5e-5, batchSize: 32, weightDecay: 0.01, warmup: 0, scheduler: 'linear', seed: 42,
  gradAccum: 1, maxGradNorm: 1, evalEvery: 0, metricForBestModel: 'accuracy', logEvery: 10, bucket: true, labelSmoothing: 0,
};

export interface SplitData {
  examples: Example[];
  enc: Encoded;
}

export type Metrics = (SingleLabelMetrics | MultiLabelMetrics) & { loss: number };

export interface EvalResult {
  metrics: Metrics;
  /** predicted class id or multi-hot vector per example */
  predictions: (number | number[])[];
  probabilities: number[][];
}

function batchTensors(enc: Encoded, idx: number[], padId: number) {
  const T = Math.max(...idx.map((i) => enc.ids[i]!.length));
  const ids: number[] = [];
  const mask: number[] = [];
  const types: number[] = [];
  for (const i of idx) {
    const row = enc.ids[i]!;
    for (let t = 0; t < T; t++) {
      ids.push(t < row.length ? row[t]! : padId);
      mask.push(t < row.length ? 1 : 0);
      types.push(t < row.length ? enc.types[i]![t]! : 0);
    }
  }
  const B = idx.length;
  return { input_ids: tensor(ids, [B, T], 'int32'), attention_mask: tensor(mask, [B, T], 'int32'), token_type_ids: tensor(types, [B, T], 'int32') };
}

function labelTensor(examples: Example[], idx: number[], multi: boolean, C: number): Tensor {
  return multi ? tensor(idx.flatMap((i) => examples[i]!.label as number[]), [idx.length, C]) : tensor(idx.map((i) => examples[i]!.label as number), [idx.length], 'int32');
}

export class Trainer {
  readonly opt: AdamW;
  history: { step: number; epoch: number; metrics: Metrics }[] = [];
  private best: { value: number; step: number; weights: Float32Array[] } | null = null;

  constructor(readonly model: SequenceClassifier, readonly labels: string[], readonly multiLabel: boolean, readonly padId: number, readonly cfg: TrainConfig, readonly log: (l: string) => void = (l) => console.log(l)) {
    this.opt = new AdamW(hfParamGroups(model, cfg.weightDecay), { lr: cfg.learningRate });
    mkdirSync(cfg.outputDir, { recursive: true });
  }

  private record(obj: Record<string, unknown>): void {
    appendFileSync(path.join(this.cfg.outputDir, 'metrics.jsonl'), JSON.stringify(obj) + '\n');
  }

  /** Metric value where larger is better. */
  private score(m: Metrics): number {
    const key = this.cfg.metricForBestModel;
    const v = (m as unknown as Record<string, number>)[key];
    if (typeof v !== 'number') throw new MedtuneError(`--metric-for-best-model ${key} is not a metric here (${Object.keys(m).filter((k) => typeof (m as unknown as Record<string, unknown>)[k] === 'number').join(', ')})`, 'BAD_ARG');
    return key === 'loss' ? -v : v;
  }

  evaluate(data: SplitData, batchSize = this.cfg.batchSize * 2): EvalResult {
    const wasTraining = this.model.training;
    this.model.eval();
    const C = this.labels.length;
    const probabilities: number[][] = new Array(data.examples.length);
    let lossSum = 0;
    const batches = makeBatches(data.enc.ids.map((x) => x.length), batchSize, { shuffle: false, seed: 0, bucket: true });
    for (const idx of batches) {
      scope(() => noGrad(() => {
        const out = this.model.forward({ ...batchTensors(data.enc, idx, this.padId), labels: labelTensor(data.examples, idx, this.multiLabel, C) });
        lossSum += out.loss!.item() * idx.length;
        const lg = out.logits.toArray();
        idx.forEach((ex, b) => {
          const row = lg.slice(b * C, (b + 1) * C);
          if (this.multiLabel) probabilities[ex] = row.map((x) => 1 / (1 + Math.exp(-x)));
          else {
            const mx = Math.max(...row);
            const e = row.map((x) => Math.exp(x - mx));
            const s = e.reduce((a, v) => a + v, 0);
            probabilities[ex] = e.map((x) => x / s);
          }
        });
      }));
    }
    this.model.train(wasTraining);
    const loss = lossSum / Math.max(1, data.examples.length);
    if (this.multiLabel) {
      const predictions = probabilities.map((p) => p.map((x) => (x >= 0.5 ? 1 : 0)));
      return { metrics: { ...multiLabelMetrics(predictions, data.examples.map((e) => e.label as number[]), this.labels), loss }, predictions, probabilities };
    }
    const predictions = probabilities.map((p) => p.indexOf(Math.max(...p)));
    return { metrics: { ...singleLabelMetrics(predictions, data.examples.map((e) => e.label as number), this.labels), loss }, predictions, probabilities };
  }

  train(train: SplitData, validation: SplitData | null): void {
    const c = this.cfg;
    const stepsPerEpoch = Math.ceil(Math.ceil(train.examples.length / c.batchSize) / c.gradAccum);
    const totalSteps = stepsPerEpoch * c.epochs;
    const lr = lrLambda({ name: c.scheduler, totalSteps, warmup: c.warmup });
    const C = this.labels.length;
    this.model.train();
    let step = 0;
    let seen = 0;
    const t0 = performance.now();
    let lossAcc = 0;
    let lossN = 0;
    this.log(`training: ${train.examples.length} examples, ${c.epochs} epochs, ${totalSteps} optimizer steps (batch ${c.batchSize}${c.gradAccum > 1 ? ` x ${c.gradAccum} accumulation` : ''}), lr ${c.learningRate} ${c.scheduler}`);
    const evaluateNow = (epoch: number) => {
      if (!validation) return;
      const r = this.evaluate(validation);
      this.history.push({ step, epoch, metrics: r.metrics });
      const { per_class: _p, per_label: _q, confusion: _c, ...flat } = r.metrics as unknown as Record<string, unknown>;
      this.record({ type: 'eval', step, epoch, ...flat });
      const s = this.score(r.metrics);
      const improved = !this.best || s > this.best.value;
      if (improved) this.best = { value: s, step, weights: this.model.parameters().map((p) => Float32Array.from(p.f32)) };
      this.log(`  eval @ step ${step} (epoch ${epoch.toFixed(2)}): loss ${r.metrics.loss.toFixed(4)}, ${c.metricForBestModel} ${(flat[c.metricForBestModel] as number).toFixed(4)}${improved ? ' (best)' : ''}`);
    };
    for (let epoch = 0; epoch < c.epochs; epoch++) {
      const batches = makeBatches(train.enc.ids.map((x) => x.length), c.batchSize, { shuffle: true, seed: c.seed + epoch, bucket: c.bucket });
      for (let b = 0; b < batches.length; b++) {
        const idx = batches[b]!;
        const loss = scope(() => {
          const out = this.model.forward({ ...batchTensors(train.enc, idx, this.padId), labels: labelTensor(train.examples, idx, this.multiLabel, C) }, { labelSmoothing: c.labelSmoothing });
          const l = out.loss!;
          if (c.gradAccum > 1) {
            const scaled = tensor([1 / c.gradAccum], []);
            l.backward(scaled);
          } else l.backward();
          return l.item();
        });
        lossAcc += loss;
        lossN++;
        seen += idx.length;
        const last = b === batches.length - 1;
        if ((b + 1) % c.gradAccum !== 0 && !last) continue;
        const rate = c.learningRate * lr(step);
        this.opt.step({ maxGradNorm: c.maxGradNorm, lr: rate });
        this.opt.zeroGrad();
        step++;
        if (step % c.logEvery === 0 || step === totalSteps) {
          const secs = (performance.now() - t0) / 1000;
          const exs = seen / secs;
          const eta = ((totalSteps - step) * c.batchSize * c.gradAccum) / exs;
          this.log(`  step ${step}/${totalSteps}  epoch ${(epoch + (b + 1) / batches.length).toFixed(2)}  loss ${(lossAcc / lossN).toFixed(4)}  lr ${rate.toExponential(2)}  ${exs.toFixed(1)} ex/s  ETA ${eta.toFixed(0)} s`);
          this.record({ type: 'train', step, epoch: epoch + (b + 1) / batches.length, loss: lossAcc / lossN, lr: rate, ex_per_s: exs });
          lossAcc = 0;
          lossN = 0;
        }
        if (c.evalEvery > 0 && step % c.evalEvery === 0) evaluateNow(epoch + (b + 1) / batches.length);
      }
      if (c.evalEvery === 0) evaluateNow(epoch + 1);
    }
    if (this.best) {
      this.model.parameters().forEach((p, i) => p.f32.set(this.best!.weights[i]!));
      this.log(`restored the best model (step ${this.best.step}, ${c.metricForBestModel} ${(c.metricForBestModel === 'loss' ? -this.best.value : this.best.value).toFixed(4)})`);
    }
    this.model.eval();
  }
}
