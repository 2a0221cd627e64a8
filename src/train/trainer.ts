/**
 * The Trainer: fine-tuning a sequence classifier as a task of the training loop (loop.ts): the loss HF's
 * *ForSequenceClassification computes (class weights, label smoothing, positive weights), evaluation on the
 * validation split with the metrics of evaluate/, the best model by --metric-for-best-model.
 */
import { scope, tensor, type Tensor } from '../tensor/tensor.js';
import { checkMetricName } from '../evaluate/metrics.js';
import type { EvalResult, Metrics, SplitData } from '../evaluate/types.js';
import { batchTensors, labelTensor } from '../data/batch.js';
import { evaluateModel } from '../evaluate/evaluate.js';
import type { SequenceClassifier } from '../models/auto.js';
import { classificationLoss } from '../models/heads.js';
import { documentBackward, windowsOf } from '../models/document.js';
import { TrainingLoop, type TrainTask } from './loop.js';
import type { EvaluationCallback, TrainConfig, TrainerState } from './config.js';

export interface TrainerHooks {
  /** writes the model (HF layout) into a folder: checkpoints and best_model/ */
  saveModel: (dir: string) => void;
  /** after every evaluation; true stops training (a tuner's pruner) */
  onEvaluate?: EvaluationCallback;
}

export type { EvalResult, Metrics, SplitData, TrainConfig, TrainerState };
export { DEFAULT_TRAIN_CONFIG } from './config.js';

/** The metrics of an evaluation without its tables (per class, per label, confusion): what history and logs keep. */
function flatMetrics(m: Metrics): Record<string, number> {
  const { per_class: _p, per_label: _q, confusion: _c, ...flat } = m as unknown as Record<string, unknown>;
  return flat as Record<string, number>;
}

export class Trainer {
  private loop: TrainingLoop | null = null;

  constructor(
    readonly model: SequenceClassifier,
    readonly labels: string[],
    readonly multiLabel: boolean,
    readonly padId: number,
    readonly cfg: TrainConfig,
    readonly log: (l: string) => void = (l) => console.log(l),
    readonly hooks: TrainerHooks | null = null,
  ) {
    checkMetricName(cfg.metricForBestModel, multiLabel);
  }

  get history(): TrainerState['history'] {
    return this.loop?.history ?? [];
  }
  /** The best evaluation so far in the metric's own units, with its step and evaluation index. */
  get bestResult(): { value: number; step: number; index: number } | null {
    return this.loop?.bestResult ?? null;
  }
  /** epochs trained (fractional when stopped inside an epoch) */
  get epochsRun(): number {
    return this.loop?.epochsRun ?? 0;
  }
  get stoppedEarly(): boolean {
    return this.loop?.stoppedEarly ?? false;
  }
  /** the per-evaluation callback asked to stop */
  get stoppedByCallback(): boolean {
    return this.loop?.stoppedByCallback ?? false;
  }

  private lossOptions(): { classWeights?: Tensor | null; posWeight?: Tensor | null; labelSmoothing: number } {
    const w = this.cfg.classWeights;
    if (!w) return { labelSmoothing: this.cfg.labelSmoothing };
    return this.multiLabel
      ? { posWeight: tensor(w), labelSmoothing: 0 }
      : { classWeights: tensor(w), labelSmoothing: this.cfg.labelSmoothing };
  }

  evaluate(data: SplitData, batchSize = this.cfg.batchSize * 2): EvalResult {
    return evaluateModel(this.model, data, {
      labels: this.labels,
      multiLabel: this.multiLabel,
      padId: this.padId,
      batchSize,
      threshold: this.cfg.threshold,
      lossOptions: this.lossOptions(),
    });
  }

  /** Fine-tuning as a task of the loop: the classification loss of a batch, the validation metrics. */
  private task(train: SplitData, validation: SplitData | null): TrainTask {
    const c = this.cfg;
    const key = c.metricForBestModel;
    return {
      model: this.model,
      lengths: train.enc.ids.map((x) => x.length),
      loss: (idx) => {
        const labels = labelTensor(train.examples, idx, this.multiLabel, this.labels.length);
        return this.model.forward({ ...batchTensors(train.enc, idx, this.padId), labels }, this.lossOptions()).loss!;
      },
      ...(train.enc.window
        ? { backward: (idx: number[], _e: number, s: number) => this.documentStep(train, idx, s) }
        : {}),
      evaluate: validation ? () => flatMetrics(this.evaluate(validation).metrics) : null,
      describeEval: (m) => `loss ${m.loss!.toFixed(4)}, ${key} ${m[key]!.toFixed(4)}`,
      describe: ({ epochs, totalSteps }) =>
        `training: ${train.examples.length} examples, ${epochs} epochs, ${totalSteps} optimizer steps ` +
        `(batch ${c.batchSize}${c.gradAccum > 1 ? ` x ${c.gradAccum} accumulation` : ''}), ` +
        `lr ${c.learningRate} ${c.scheduler}${c.classWeights ? ', class weights' : ''}`,
      divergedHint: 'lower --learning-rate or check the labels',
      saveModel: this.hooks?.saveModel,
    };
  }

  /** Documents in windows: the batch's loss through all their windows, `batchSize` windows per pass with the tape. */
  private documentStep(train: SplitData, idx: number[], scale: number): number {
    return scope(() => {
      const labels = labelTensor(train.examples, idx, this.multiLabel, this.labels.length);
      const problem = this.model.problemType(labels);
      const lossOptions = this.lossOptions();
      return documentBackward(
        this.model,
        windowsOf(train.enc, idx),
        (logits) => classificationLoss(logits, labels, problem, lossOptions),
        { padId: this.padId, microBatch: this.cfg.batchSize, scale },
      );
    });
  }

  /**
   * Trains; with `resumeFrom` (a checkpoint folder) continues exactly where that run stopped; the best model (by
   * --metric-for-best-model on validation) is restored at the end.
   */
  async train(train: SplitData, validation: SplitData | null, resumeFrom?: string): Promise<void> {
    this.loop = new TrainingLoop(this.task(train, validation), this.cfg, this.log, this.hooks?.onEvaluate);
    await this.loop.run(resumeFrom);
  }
}
