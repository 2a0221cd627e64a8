/** The options of a training run and its data splits (shared by run.ts and finish.ts). */
import type { Operator } from '../deid/anonymize.js';
import type { Example, LabeledData } from '../data/dataset.js';
import type { SchedulerName } from './schedule.js';
import type { TextPrepOptions } from './prepare.js';
import type { EvaluationCallback } from './config.js';

export interface TrainOptions extends TextPrepOptions {
  model: string;
  train: string;
  validation?: string;
  test?: string;
  outputDir: string;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  multiLabel?: boolean;
  labelDelimiter?: string;
  format?: string;
  encoding?: string;
  /** recipe options left out are chosen by `recipe` (train/recipe.ts) */
  epochs?: number;
  learningRate?: number;
  batchSize: number;
  /** default: from the recipe, at most the model's limit; an explicit value above the limit is refused */
  maxLength?: number;
  weightDecay: number;
  warmup?: number;
  /** how recipe options the user left out are chosen: 'auto' (default: from the model and data) or 'hf' */
  recipe?: 'auto' | 'hf';
  /** dropout of every dropout layer (hidden and attention; default: the model's config) */
  dropout?: number;
  /** called after every evaluation; true stops training (tuning trials: the pruner) */
  onEvaluate?: EvaluationCallback;
  /** write checkpoint-N/ folders (default true) */
  checkpoints?: boolean;
  /** options the user typed (a CLI detail some callers need: e.g. --auto-tune leaves a typed --batch-size alone) */
  fromCli?: string[];
  scheduler: SchedulerName;
  seed: number;
  evalEvery: number;
  gradAccum: number;
  maxGradNorm: number;
  labelSmoothing: number;
  metricForBestModel?: string;
  validationSplit: number;
  threads?: number;
  groupColumn?: string;
  groupRegex?: string;
  maxSteps?: number;
  earlyStopping?: number;
  saveSteps?: number;
  saveTotalLimit?: number;
  classWeights?: string;
  threshold?: number;
  /** a checkpoint folder, or true for the latest in --output-dir */
  resume?: string | boolean;
  /** replace a previous run in --output-dir (its checkpoints, best model and reports) */
  overwrite?: boolean;
  /** fit and report the TF-IDF + logistic-regression baseline beside the model (default on) */
  baseline?: boolean;
  /** fit calibration on the validation split after training (default true; --no-calibrate) */
  calibrate?: boolean;
  /** abstain below this calibrated confidence (saved with the model) */
  abstainBelow?: number;
  /** choose the abstention threshold reaching this accuracy on validation (saved with the model) */
  targetAccuracy?: number;
  /** de-identify texts before tokenising */
  deid?: boolean;
  deidOperator?: Operator;
}

export interface Splits {
  trainData: LabeledData;
  train: Example[];
  validation: Example[];
  test: Example[];
}
