/**
 * The options of a training run (checked before any model or data is loaded) and the splits the read stage hands on
 * (shared by the stages of `medtune train`: read, prepare, fit, calibrate, record).
 */
import type { Operator } from '../deid/anonymize.js';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputDir } from '../common/atomic.js';
import { groupRegexOf, type Example, type LabeledData } from '../data/dataset.js';
import { checkInputFile, formatOf } from '../data/readers.js';
import { tokenFormatOf } from '../data/token-data.js';
import { checkMetricName } from '../evaluate/metrics.js';
import { checkAuditColumns, type AuditValues } from '../evaluate/run-record.js';
import { SCHEDULERS, type SchedulerName } from './schedule.js';
import type { EvaluatedRows, LeakageOptions, TrainedRows } from '../data/leakage.js';
import type { DataRecord } from '../models/metadata.js';
import type { EvaluationCallback } from './config.js';
import { POOLINGS, type Pooling } from '../models/pooling.js';

/** Text preparation around fine-tuning (prepare.ts). */
export interface TextPrepOptions extends LeakageOptions {
  /** `--clean` (true: default steps) or a list of steps */
  clean?: string | boolean;
  /** augmented copies per training example */
  augment?: number;
  /** comma-separated operations (default: synonym,insert,swap,delete) */
  augmentOps?: string;
  /** share of words an augmentation changes (0.1) */
  augmentAlpha?: number;
  /** words augmentation must never touch */
  protect?: string[];
}

export const DEID_OPERATORS = ['tag', 'surrogate', 'redact', 'mask', 'hash'] as const;
const usage = (msg: string) => new MedtuneError(msg, 'E_USAGE');

export interface TrainOptions extends TextPrepOptions {
  model: string;
  /** what is learnt: one label per text (default) or per token (train/token-run.ts) */
  task?: 'sequence-classification' | 'token-classification';
  /** token classification: choose the entity threshold on validation so that this share of entity words is found */
  recallTarget?: number;
  /** fp32 (default) or bf16 matrix products (AVX512-BF16 CPUs; the CLI sets it while parsing --precision) */
  precision?: 'fp32' | 'bf16';
  /** continual learning: old training data replayed beside the new rows (a share of it, --replay-fraction) */
  replay?: string;
  /** share of the --replay rows added to the training split (default 0.3) */
  replayFraction?: number;
  /** share of the training rows held out for expert review (review_predictions.jsonl; default 0: none) */
  reviewSplit?: number;
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
  /**
   * how texts longer than the window are read: cut (none) or in windows pooled by max, mean or attention (default: the
   * recipe turns windows on when training texts are longer than the model's window)
   */
  pooling?: Pooling | 'none';
  /** tokens neighbouring windows share, for long documents and token classification (default: a quarter window) */
  stride?: number;
  /** label-attention: label-wise attention over the tokens of every window instead of pooled windows (multi-label) */
  head?: 'pooled' | 'label-attention';
  /** documents are read up to this many tokens (default 16,384); the cut is reported */
  maxDocumentTokens?: number;
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
  /**
   * choose the abstention threshold reaching this accuracy of answered validation notes (saved with the model;
   * default 0.95 for single-label models)
   */
  targetAccuracy?: number;
  /** false (--no-abstain): the saved model never abstains (the out-of-scope detector still reports in_scope) */
  abstain?: boolean;
  /** share of validation notes the out-of-scope threshold keeps in scope (default 0.95) */
  oodKeep?: number;
  /** de-identify texts before tokenising */
  deid?: boolean;
  deidOperator?: Operator;
  /** with deid: a de-identification model (`medtune deid train`) beside the rules */
  deidModel?: string;
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
  /** rows held out of the training file for expert review (--review-split): neither trained nor validated on */
  review: Example[];
  /** the files and rows of every split, recorded in the model's medtune.training.data */
  data: DataRecord[];
  /** the evaluation splits' rows by file, checked against `trainedOn` (never evaluate on trained rows) */
  evaluated: EvaluatedRows[];
  /** every row this run (and the model it continues from) trains on */
  trainedOn: TrainedRows[];
  /** the parent model's labels when continuing from a fine-tuned classifier (its map is kept) */
  parentLabels: string[] | null;
  /** rows added from --replay */
  replayed: number;
  train: Example[];
  validation: Example[];
  test: Example[];
  /** rows skipped while reading the validation and test files */
  skipped?: Record<string, { row: number; reason: string }[]>;
  /** the audit columns of each split's rows, by row number (a held-out validation split has the training file's) */
  audit: Record<'train' | 'validation' | 'test', Map<number, AuditValues> | null>;
}

/** Everything that can be checked without reading data or weights: ranges, names, files, the output folder. */
export function checkTrainOptions(o: TrainOptions): void {
  if (!(o.validationSplit >= 0 && o.validationSplit < 1))
    throw usage(`--validation-split must be in [0, 1) (0: no split), got ${o.validationSplit}`);
  if (o.epochs !== undefined && !(o.epochs > 0) && !o.maxSteps)
    throw usage(`--epochs must be > 0 (or give --max-steps), got ${o.epochs}`);
  if (o.learningRate !== undefined && !(o.learningRate >= 0))
    throw usage(`--learning-rate must be ≥ 0, got ${o.learningRate}`);
  if (o.dropout !== undefined && !(o.dropout >= 0 && o.dropout < 1))
    throw usage(`--dropout must be in [0, 1), got ${o.dropout}`);
  if (o.recipe !== undefined && !['auto', 'hf'].includes(o.recipe))
    throw usage(`--recipe must be auto or hf, got "${o.recipe}"`);
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing < 1))
    throw usage(`--label-smoothing must be in [0, 1), got ${o.labelSmoothing}`);
  if (!(SCHEDULERS as readonly string[]).includes(o.scheduler))
    throw usage(`--scheduler must be ${SCHEDULERS.join(', ')}, got "${o.scheduler}"`);
  if (o.deidModel && !o.deid) throw usage('--deid-model needs --deid');
  if (o.deidOperator && !(DEID_OPERATORS as readonly string[]).includes(o.deidOperator))
    throw usage(`--deid-operator must be ${DEID_OPERATORS.join(', ')}`);
  if (o.task !== undefined && !['sequence-classification', 'token-classification'].includes(o.task))
    throw usage(`--task must be sequence-classification or token-classification, got "${o.task}"`);
  if (o.metricForBestModel) checkMetricName(o.metricForBestModel, !!o.multiLabel);
  groupRegexOf(o.groupColumn, o.groupRegex);
  if (o.replay) checkInputFile(o.replay, '--replay');
  if (o.oldTest) checkInputFile(o.oldTest, '--old-test');
  if (o.replayFraction !== undefined && !(o.replayFraction > 0 && o.replayFraction <= 1))
    throw usage(`--replay-fraction must be in (0, 1], got ${o.replayFraction}`);
  if (o.replayFraction !== undefined && !o.replay) throw usage('--replay-fraction needs --replay OLD_TRAIN_FILE');
  if (o.reviewSplit !== undefined && !(o.reviewSplit >= 0 && o.reviewSplit < 1))
    throw usage(`--review-split must be in [0, 1) (0: none), got ${o.reviewSplit}`);
  checkAuditColumns(o.auditColumns);
  if (o.abstainBelow !== undefined && o.targetAccuracy !== undefined)
    throw usage('give --abstain-below or --target-accuracy, not both');
  if (o.failOnLeakage && o.leakageCheck === false)
    throw usage('--fail-on-leakage stops on leakage the check finds, and --no-leakage-check skips it: give one');
  if (o.targetAccuracy !== undefined && o.calibrate === false)
    throw usage('--target-accuracy is chosen on calibrated validation probabilities; drop --no-calibrate');
  if (o.abstain === false && (o.abstainBelow !== undefined || o.targetAccuracy !== undefined))
    throw usage('--no-abstain turns abstention off; drop --abstain-below / --target-accuracy, or --no-abstain');
  if (o.oodKeep !== undefined && !(o.oodKeep > 0 && o.oodKeep <= 1))
    throw usage(`--ood-keep must be in (0, 1], got ${o.oodKeep}`);
  if (o.classWeights && o.classWeights !== 'balanced') checkInputFile(o.classWeights, '--class-weights');
  checkDocumentOptions(o);
  checkDataFiles(o);
  prepareOutputDir(o.outputDir);
}

/** --train, --validation and --test: there, readable, of a known format. */
export function checkDataFiles(o: {
  train: string;
  validation?: string;
  test?: string;
  format?: string;
  task?: string;
}): void {
  for (const [opt, file] of [
    ['--train', o.train],
    ['--validation', o.validation],
    ['--test', o.test],
  ] as const) {
    if (file === undefined) continue;
    checkInputFile(file, opt);
    if (o.task === 'token-classification') tokenFormatOf(file, o.format);
    else formatOf(file, o.format);
  }
}

/** --pooling, --stride, --head and --max-document-tokens: known values, in range, a head that fits the data. */
function checkDocumentOptions(o: TrainOptions): void {
  if (o.pooling !== undefined && o.pooling !== 'none' && !POOLINGS.includes(o.pooling))
    throw usage(`--pooling must be none, ${POOLINGS.join(', ')}, got "${o.pooling}"`);
  if (o.head !== undefined && o.head !== 'pooled' && o.head !== 'label-attention')
    throw usage(`--head must be pooled or label-attention, got "${o.head}"`);
  if (o.head === 'label-attention' && !o.multiLabel)
    throw usage(
      '--head label-attention gives each label its own attention: it is for multi-label data (--multi-label)',
    );
  if (o.stride !== undefined && !(Number.isInteger(o.stride) && o.stride >= 0))
    throw usage(`--stride must be an integer ≥ 0, got ${o.stride}`);
  if (o.maxDocumentTokens !== undefined && !(Number.isInteger(o.maxDocumentTokens) && o.maxDocumentTokens > 0))
    throw usage(`--max-document-tokens must be a positive integer, got ${o.maxDocumentTokens}`);
}
