/** The options of a training run and its data splits (shared by run.ts and finish.ts). */
import type { Operator } from '../deid/anonymize.js';
import type { Example, LabeledData } from '../data/dataset.js';
import type { SchedulerName } from './schedule.js';
import type { TextPrepOptions } from './prepare.js';
import type { EvaluationCallback } from './config.js';

export interface TrainOptions extends TextPrepOptions {
  model: string;
  /** fp32 (default) or bf16 matrix products (AVX512-BF16 CPUs; the CLI sets it while parsing --precision) */
  precision?: 'fp32' | 'bf16';
  /** continual learning: old training data replayed beside the new rows (a share of it, --replay-fraction) */
  replay?: string;
  /** share of the --replay rows added to the training split (default 0.3) */
  replayFraction?: number;
  /** allow labels the parent model does not have (its head grows); otherwise they are refused */
  addLabels?: boolean;
  /** the old test set, to measure forgetting (default: the parent's recorded test file, if it is still there) */
  oldTest?: string;
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
  /** demographic columns of the data for the bias audit (--audit-column; not --group-column) */
  auditColumns?: string[];
  /** bias audit: groups with fewer rows are too small to judge (recorded in run.json) */
  auditMinGroup?: number;
  /** a line about the data for the report and model card (e.g. the demo's: synthetic, not real patients) */
  dataNote?: string;
  /** the command line, recorded in run.json for the report */
  commandLine?: string[];
  /** the report may show texts (default true; --no-texts) */
  texts?: boolean;
}

export interface Splits {
  trainData: LabeledData;
  /** the parent model's labels when continuing from a fine-tuned classifier (its map is kept) */
  parentLabels: string[] | null;
  /** rows added from --replay */
  replayed: number;
  train: Example[];
  validation: Example[];
  test: Example[];
  /** rows skipped while reading the validation and test files */
  skipped?: Record<string, { row: number; reason: string }[]>;
}
