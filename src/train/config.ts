/** The training loop's settings, fine-tuning's, and the state a checkpoint stores (shared with the resume checks). */
import type { SchedulerName } from './schedule.js';

/** What the training loop (loop.ts) needs, for any task. */
export interface LoopConfig {
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
  /** evaluate also when training ends between two evaluations (--max-steps) */
  evalAtEnd?: boolean;
  /** the metric that picks the best model (none: the last weights are kept) */
  metricForBestModel?: string;
  /** record the training loss every N optimizer steps (0: 50 times over the run) */
  logEvery: number;
  bucket: boolean;
  outputDir: string;
  /** stop after this many optimizer steps (0: run all epochs) */
  maxSteps: number;
  /** stop when the metric has not improved for this many evaluations (0: off) */
  earlyStoppingPatience: number;
  /** write a checkpoint every N optimizer steps (0: at the end of every epoch) */
  saveSteps: number;
  /** keep at most this many checkpoints (0: all) */
  saveTotalLimit: number;
  /** write checkpoint-N/ folders (default true; tuning trials, which are never resumed, turn them off) */
  checkpoints?: boolean;
}

/** Fine-tuning a classifier: the loop's settings and the loss's. */
export interface TrainConfig extends LoopConfig {
  metricForBestModel: string;
  labelSmoothing: number;
  /** per-class weights (single-label) or per-label positive weights (multi-label) */
  classWeights: number[] | null;
  /** multi-label decision threshold */
  threshold: number;
  /** sha256 of the encoded training/validation data; a resume with other data is refused */
  dataFingerprint?: string;
}

/** What the Trainer tells a per-evaluation callback (e.g. a tuner's pruner) after each evaluation. */
export interface EvaluationEvent {
  /** 1, 2, … (continues across a resume) */
  index: number;
  step: number;
  epoch: number;
  /** the --metric-for-best-model value, as reported (loss: lower is better) */
  value: number;
  /** the best value so far and its evaluation index */
  best: { value: number; index: number };
}

/** Called after every evaluation; returning true stops training (the best model so far is kept). */
export type EvaluationCallback = (e: EvaluationEvent) => boolean | void | Promise<boolean | void>;

export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'outputDir'> = {
  epochs: 3,
  learningRate: 5e-5,
  batchSize: 32,
  weightDecay: 0.01,
  warmup: 0,
  scheduler: 'linear',
  seed: 42,
  gradAccum: 1,
  maxGradNorm: 1,
  evalEvery: 0,
  metricForBestModel: 'accuracy',
  logEvery: 10,
  bucket: true,
  labelSmoothing: 0,
  maxSteps: 0,
  earlyStoppingPatience: 0,
  saveSteps: 0,
  saveTotalLimit: 2,
  classWeights: null,
  threshold: 0.5,
};

/** What a checkpoint needs besides weights and optimizer moments to continue exactly where it stopped. */
export interface TrainerState {
  step: number;
  epoch: number;
  /** batches of `epoch` already consumed */
  batchInEpoch: number;
  optimizerSteps: number;
  generator: number;
  /** (absent in masked-LM checkpoints written before pretraining shared the loop) */
  best?: { value: number; step: number } | null;
  badEvals?: number;
  history: { step: number; epoch: number; metrics: Record<string, unknown> }[];
  /** the run's settings (the loop's and the task's), without outputDir */
  config: Record<string, unknown>;
}
