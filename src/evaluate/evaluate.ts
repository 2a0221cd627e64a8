/**
 * Running a classifier over a labelled split: probabilities, predictions and metrics. The decision (argmax,
 * thresholds, calibration, abstention) is src/infer/decision.ts, used both for a model in training
 * (`evaluateModel`, with the training loss) and for a saved model behind a Predictor (`evaluatePredictor`).
 */
import { noGrad, scope, tensor, type Tensor } from '../tensor/tensor.js';
import { makeBatches, type Example } from '../data/dataset.js';
import { batchTensors, labelTensor } from '../data/batch.js';
import { multiLabelMetrics, rocAucOvr, singleLabelMetrics } from './metrics.js';
import type { SequenceClassifier } from '../models/auto.js';
import { classificationLoss } from '../models/heads.js';
import { forwardPasses } from '../infer/forward.js';
import {
  decideFromProbabilities,
  probabilities as probabilitiesFrom,
  type DecisionSettings,
} from '../infer/decision.js';
import type { Predictor } from '../infer/predictor.js';
import type { EvalResult, SplitData } from './types.js';

export interface EvaluateOptions {
  labels: string[];
  multiLabel: boolean;
  padId: number;
  batchSize?: number;
  /** multi-label decision threshold (default 0.5) */
  threshold?: number;
  lossOptions?: { classWeights?: Tensor | null; posWeight?: Tensor | null; labelSmoothing?: number };
}

/**
 * Predictions and metrics from probabilities (in example order) under decision settings, with each example's
 * out-of-scope score when the model has a detector. `predictions` and the metrics are of the top label of every row
 * (answered or not); what abstention did is beside them (`abstained`, trustMetrics).
 */
export function resultFrom(
  probabilities: number[][],
  examples: Example[],
  s: DecisionSettings,
  loss: number,
  oodScores?: (number | null)[],
): EvalResult {
  const decisions = probabilities.map((p, i) => decideFromProbabilities(p, s, oodScores?.[i] ?? null));
  const predictions = decisions.map((d) => d.predicted);
  const abstained = decisions.map((d) => d.abstain);
  const why = {
    abstainReasons: decisions.map((d) => d.abstainReason),
    ...(oodScores ? { oodScores: decisions.map((d) => d.oodScore) } : {}),
  };
  if (s.multiLabel) {
    const metrics = {
      ...multiLabelMetrics(
        predictions as number[][],
        examples.map((e) => e.label as number[]),
        s.labels,
        { probabilities, unseen: examples.map((e) => e.unseen) },
      ),
      loss,
    };
    return { metrics, predictions, probabilities, abstained, ...why };
  }
  const gold = examples.map((e) => e.label as number);
  const metrics = {
    ...singleLabelMetrics(predictions as number[], gold, s.labels),
    roc_auc_ovr: rocAucOvr(probabilities, gold, s.labels.length),
    loss,
  };
  return { metrics, predictions, probabilities, abstained, ...why };
}

/** A model during training: the loss is the training loss (class weights, smoothing); probabilities uncalibrated. */
export function evaluateModel(model: SequenceClassifier, data: SplitData, o: EvaluateOptions): EvalResult {
  if (data.enc.window) return evaluateDocuments(model, data, o);
  const wasTraining = model.training;
  model.eval();
  const C = o.labels.length;
  const probabilities: number[][] = new Array(data.examples.length);
  let lossSum = 0;
  const batches = makeBatches(
    data.enc.ids.map((x) => x.length),
    o.batchSize ?? 64,
    { shuffle: false, seed: 0, bucket: true },
  );
  for (const idx of batches) {
    scope(() =>
      noGrad(() => {
        const out = model.forward(
          { ...batchTensors(data.enc, idx, o.padId), labels: labelTensor(data.examples, idx, o.multiLabel, C) },
          o.lossOptions ?? {},
        );
        lossSum += out.loss!.item() * idx.length;
        const lg = out.logits.toArray();
        idx.forEach((ex, b) => {
          probabilities[ex] = probabilitiesFrom(lg.slice(b * C, (b + 1) * C), { multiLabel: o.multiLabel });
        });
      }),
    );
  }
  model.train(wasTraining);
  const loss = lossSum / Math.max(1, data.examples.length);
  return resultFrom(
    probabilities,
    data.examples,
    { labels: o.labels, multiLabel: o.multiLabel, threshold: o.threshold },
    loss,
  );
}

/** `evaluateModel` for documents read in windows: their logits (infer/forward.ts), then the loss over all of them. */
function evaluateDocuments(model: SequenceClassifier, data: SplitData, o: EvaluateOptions): EvalResult {
  const wasTraining = model.training;
  model.eval();
  const n = data.examples.length;
  const C = o.labels.length;
  let logits: number[][];
  try {
    logits = forwardPasses(model, data.enc, { padId: o.padId, batchSize: o.batchSize ?? 64 }).logits;
  } finally {
    model.train(wasTraining);
  }
  const idx = Array.from({ length: n }, (_, i) => i);
  const loss = scope(() =>
    noGrad(() => {
      const labels = labelTensor(data.examples, idx, o.multiLabel, C);
      const l = classificationLoss(tensor(logits.flat(), [n, C]), labels, model.problemType(labels), {
        ...o.lossOptions,
      });
      return l.item();
    }),
  );
  const probabilities = logits.map((row) => probabilitiesFrom(row, { multiLabel: o.multiLabel }));
  return resultFrom(
    probabilities,
    data.examples,
    { labels: o.labels, multiLabel: o.multiLabel, threshold: o.threshold },
    loss,
  );
}

/** Negative log-likelihood of the gold labels under the probabilities (mean; multi-label: mean BCE over labels). */
export function nll(probabilities: number[][], examples: Example[], multiLabel: boolean): number {
  const eps = 1e-12;
  let sum = 0;
  probabilities.forEach((p, i) => {
    const y = examples[i]!.label;
    if (multiLabel)
      sum += p.reduce((a, q, c) => a - ((y as number[])[c]! ? Math.log(q + eps) : Math.log(1 - q + eps)), 0) / p.length;
    else sum -= Math.log(p[y as number]! + eps);
  });
  return sum / Math.max(1, probabilities.length);
}

/** Calibrated probabilities of examples, and their out-of-scope scores (null without a detector). */
export interface Scores {
  probabilities: number[][];
  oodScores: (number | null)[];
}

/** Examples per call of the Predictor's logitsOf (which sorts them by length into forward passes). */
export const EVAL_CHUNK = 256;

/**
 * Calibrated probabilities and out-of-scope scores of encoded texts, EVAL_CHUNK at a time, yielding to the event
 * loop between chunks (so Ctrl-C stays prompt on large files). A queued evaluation (jobs/) runs this on whole chunks.
 */
export async function predictorProbabilities(predictor: Predictor, enc: SplitData['enc']): Promise<Scores> {
  const probabilities: number[][] = [];
  const oodScores: (number | null)[] = [];
  for (let s = 0; s < enc.ids.length; s += EVAL_CHUNK) {
    const part = {
      ids: enc.ids.slice(s, s + EVAL_CHUNK),
      types: enc.types.slice(s, s + EVAL_CHUNK),
      truncated: 0,
      cut: [],
      ...(enc.window ? { window: enc.window } : {}),
    };
    const pass = predictor.forward(part);
    for (const row of pass.logits) probabilities.push(predictor.decide(row).probabilities);
    oodScores.push(...pass.oodScores);
    await new Promise((res) => setImmediate(res));
  }
  return { probabilities, oodScores };
}

/**
 * A saved model behind a Predictor: calibrated probabilities (computed here, or given: a queued evaluation's),
 * stored thresholds, the out-of-scope detector and abstention apply.
 */
export async function evaluatePredictor(predictor: Predictor, data: SplitData, given?: Scores): Promise<EvalResult> {
  const { probabilities, oodScores } = given ?? (await predictorProbabilities(predictor, data.enc));
  const loss = nll(probabilities, data.examples, predictor.multiLabel);
  return {
    ...resultFrom(probabilities, data.examples, predictor.settings, loss, predictor.ood ? oodScores : undefined),
    cut: data.enc.cut,
  };
}
