/** Running a classifier over a labelled split: probabilities, predictions and metrics. */
import { noGrad, scope, type Tensor } from '../tensor/tensor.js';
import { makeBatches } from '../data/dataset.js';
import { batchTensors, labelTensor } from '../data/batch.js';
import { multiLabelMetrics, rocAucOvr, singleLabelMetrics } from './metrics.js';
import type { SequenceClassifier } from '../models/auto.js';
import { probabilitiesOf } from '../models/heads.js';
import type { EvalResult, SplitData } from '../train/trainer.js';

export interface EvaluateOptions {
  labels: string[];
  multiLabel: boolean;
  padId: number;
  batchSize?: number;
  /** multi-label decision threshold (default 0.5) */
  threshold?: number;
  lossOptions?: { classWeights?: Tensor | null; posWeight?: Tensor | null; labelSmoothing?: number };
}

export function evaluateModel(model: SequenceClassifier, data: SplitData, o: EvaluateOptions): EvalResult {
  const wasTraining = model.training;
  model.eval();
  const C = o.labels.length;
  const threshold = o.threshold ?? 0.5;
  const probabilities: number[][] = new Array(data.examples.length);
  let lossSum = 0;
  const batches = makeBatches(data.enc.ids.map((x) => x.length), o.batchSize ?? 64, { shuffle: false, seed: 0, bucket: true });
  for (const idx of batches) {
    scope(() => noGrad(() => {
      const out = model.forward({ ...batchTensors(data.enc, idx, o.padId), labels: labelTensor(data.examples, idx, o.multiLabel, C) }, o.lossOptions ?? {});
      lossSum += out.loss!.item() * idx.length;
      const lg = out.logits.toArray();
      idx.forEach((ex, b) => {
        probabilities[ex] = probabilitiesOf(lg.slice(b * C, (b + 1) * C), o.multiLabel);
      });
    }));
  }
  model.train(wasTraining);
  const loss = lossSum / Math.max(1, data.examples.length);
  if (o.multiLabel) {
    const predictions = probabilities.map((p) => p.map((x) => (x >= threshold ? 1 : 0)));
    return { metrics: { ...multiLabelMetrics(predictions, data.examples.map((e) => e.label as number[]), o.labels), loss }, predictions, probabilities };
  }
  const predictions = probabilities.map((p) => p.indexOf(Math.max(...p)));
  const gold = data.examples.map((e) => e.label as number);
  return { metrics: { ...singleLabelMetrics(predictions, gold, o.labels), roc_auc_ovr: rocAucOvr(probabilities, gold, C), loss }, predictions, probabilities };
}
