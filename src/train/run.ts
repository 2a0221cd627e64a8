/**
 * Fine-tuning a checkpoint on labelled files, end to end (what `medtune train` runs). Every option, input file and the
 * output folder are checked before any model or data is loaded; then the data (read, split, de-identified, checked
 * for leakage, cleaned, augmented), a summary, training with progress lines and checkpoints, the best model by the
 * validation metric, and the steps after training (finish.ts): calibration, the saved model with its metadata, the
 * final evaluation, the baseline and the reports.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  labelsOf,
  loadClassifier,
  modelMaxLength,
  readModelConfig,
  resolveMaxLength,
  saveClassifier,
  type LoadedClassifier,
  type ModelConfig,
} from '../models/auto.js';
import { Dropout } from '../nn/module.js';
import { loadCheckpointWeights } from '../models/state-dict.js';
import { chooseRecipe, type Recipe, type RecipeValues } from './recipe.js';
import { Tokenizer } from '../text/tokenizer.js';
import {
  encodeExamples,
  groupRegexOf,
  readLabeled,
  stratifiedSplit,
  summarize,
  type Encoded,
  type Example,
  type LabeledData,
} from '../data/dataset.js';
import { checkInputFile, formatOf } from '../data/readers.js';
import {
  DEFAULT_TRAIN_CONFIG,
  listCheckpoints,
  Trainer,
  type EvalResult,
  type TrainConfig,
  type TrainerHooks,
} from './trainer.js';
import { readCheckpointState } from './resume.js';
import { deidentify, type Operator } from '../deid/anonymize.js';
import { MedtuneError } from '../common/errors.js';
import { makeDirs, prepareOutputDir, writeFileAtomic } from '../common/atomic.js';
import { checkMetricName } from '../evaluate/metrics.js';
import { setThreads } from '../tensor/backend.js';
import { setPrecision } from '../tensor/precision.js';
import { prepareTexts } from './prepare.js';
import { finishTraining } from './finish.js';
import {
  checkAuditColumns,
  readAuditValues,
  splitStats,
  startRecord,
  type AuditValues,
  type RunRecord,
} from '../evaluate/run-record.js';
import type { Splits, TrainOptions } from './options.js';

export type { Splits, TrainOptions };

export const DEID_OPERATORS = ['tag', 'surrogate', 'redact', 'mask', 'hash'] as const;
export const SCHEDULERS = ['linear', 'cosine', 'constant'] as const;
const usage = (msg: string) => new MedtuneError(msg, 'E_USAGE');

/** --class-weights balanced (n / (C·n_c); multi-label: negatives / positives per label) or a JSON file {label: w}. */
export function classWeightsFor(spec: string, examples: Example[], labels: string[], multi: boolean): number[] {
  if (spec === 'balanced') {
    const n = examples.length;
    if (multi)
      return labels.map((_, c) => {
        const pos = examples.filter((e) => (e.label as number[])[c]).length;
        return pos === 0 ? 1 : (n - pos) / pos;
      });
    return labels.map((_, c) => {
      const k = examples.filter((e) => e.label === c).length;
      return k === 0 ? 1 : n / (labels.length * k);
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(spec, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : 'it is not valid JSON';
    throw usage(
      '--class-weights must be "balanced" or a JSON file ({"label": weight, ...} or [w0, w1, ...]); ' +
        `cannot read ${spec}: ${why}`,
    );
  }
  if (Array.isArray(raw)) {
    if (raw.length !== labels.length || raw.some((x) => typeof x !== 'number' || !(x >= 0)))
      throw usage(`${spec}: expected ${labels.length} non-negative numbers (labels: ${labels.join(', ')})`);
    return raw as number[];
  }
  if (!raw || typeof raw !== 'object') throw usage(`${spec}: expected {"label": weight, ...} or [w0, w1, ...]`);
  const obj = raw as Record<string, unknown>;
  const unknown = Object.keys(obj).filter((k) => !labels.includes(k));
  if (unknown.length) throw usage(`${spec} names labels the data does not have: ${unknown.join(', ')}`);
  const badW = Object.entries(obj).filter(([, w]) => typeof w !== 'number' || !(w >= 0));
  if (badW.length) throw usage(`${spec}: the weight of ${badW[0]![0]} must be a non-negative number`);
  return labels.map((l) => (typeof obj[l] === 'number' ? (obj[l] as number) : 1));
}

/** Everything that can be checked without reading data or weights: ranges, names, files, the output folder. */
function checkTrainOptions(o: TrainOptions): void {
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
  if (o.deidOperator && !(DEID_OPERATORS as readonly string[]).includes(o.deidOperator))
    throw usage(`--deid-operator must be ${DEID_OPERATORS.join(', ')}`);
  if (o.metricForBestModel) checkMetricName(o.metricForBestModel, !!o.multiLabel);
  groupRegexOf(o.groupColumn, o.groupRegex);
  if (o.replay) checkInputFile(o.replay, '--replay');
  if (o.oldTest) checkInputFile(o.oldTest, '--old-test');
  if (o.replayFraction !== undefined && !(o.replayFraction > 0 && o.replayFraction <= 1))
    throw usage(`--replay-fraction must be in (0, 1], got ${o.replayFraction}`);
  if (o.replayFraction !== undefined && !o.replay) throw usage('--replay-fraction needs --replay OLD_TRAIN_FILE');
  checkAuditColumns(o.auditColumns);
  if (o.abstainBelow !== undefined && o.targetAccuracy !== undefined)
    throw usage('give --abstain-below or --target-accuracy, not both');
  if (o.targetAccuracy !== undefined && o.calibrate === false)
    throw usage('--target-accuracy is chosen on calibrated validation probabilities; drop --no-calibrate');
  if (o.classWeights && o.classWeights !== 'balanced') checkInputFile(o.classWeights, '--class-weights');
  for (const [opt, file] of [
    ['--train', o.train],
    ['--validation', o.validation],
    ['--test', o.test],
  ] as const) {
    if (file === undefined) continue;
    checkInputFile(file, opt);
    formatOf(file, o.format);
  }
  prepareOutputDir(o.outputDir);
}

/** What a previous run left in an output folder (checkpoints, best model, reports). */
const RUN_FILES = /^(checkpoint-\d+|best_model|metrics\.jsonl?|predictions\.jsonl|confusion_matrix\.svg|recipe\.json)$/;
/** ... and the report files (report.html, run.json, audit.json / audit.html). */
const REPORT_FILES = /^(report\.html|run\.json|audit\.(json|html))$/;

/**
 * The checkpoint to resume from (checked), or undefined for a fresh run (an old run in the folder needs
 * --overwrite).
 */
function resumeCheckpoint(o: TrainOptions, log: (l: string) => void): string | undefined {
  if (!o.resume) {
    const old = readdirSync(o.outputDir).filter((n) => RUN_FILES.test(n) || REPORT_FILES.test(n));
    if (old.length && !o.overwrite) {
      throw new MedtuneError(
        `--output-dir ${o.outputDir} already holds a training run ` +
          `(${old.slice(0, 3).join(', ')}${old.length > 3 ? ', …' : ''}); ` +
          'pass --resume to continue it, --overwrite to replace it, or choose another folder',
        'E_OUTPUT_PATH',
      );
    }
    if (old.length) {
      log(`--overwrite: removing the previous run in ${o.outputDir} (${old.length} entries)`);
      for (const n of old) rmSync(path.join(o.outputDir, n), { recursive: true, force: true });
    }
    return undefined;
  }
  if (typeof o.resume === 'string') {
    const dir = o.resume;
    if (!existsSync(dir)) {
      const have = listCheckpoints(o.outputDir).map((c) => path.basename(c.dir));
      throw new MedtuneError(
        `--resume: checkpoint folder ${dir} does not exist` +
          `${have.length ? ` (checkpoints in ${o.outputDir}: ${have.join(', ')})` : ''}`,
        'E_CHECKPOINT',
      );
    }
    if (path.resolve(path.dirname(path.resolve(dir))) !== path.resolve(o.outputDir)) {
      throw new MedtuneError(
        `--resume: ${dir} belongs to the run in ${path.dirname(path.resolve(dir))}, ` +
          `not to --output-dir ${o.outputDir}; ` +
          'pass that folder as --output-dir to continue its run',
        'E_CHECKPOINT',
      );
    }
    readCheckpointState(dir);
    return dir;
  }
  const all = listCheckpoints(o.outputDir);
  if (!all.length)
    throw new MedtuneError(
      `--resume: no checkpoint-N folder with trainer_state.json in ${o.outputDir}; train without --resume to start`,
      'E_CHECKPOINT',
    );
  readCheckpointState(all[all.length - 1]!.dir);
  return all[all.length - 1]!.dir;
}

/** The labels of a fine-tuned classifier's config (not the LABEL_i transformers makes up), else null. */
export function fineTunedLabels(config: ModelConfig): string[] | null {
  const labels = config.id2label && Object.keys(config.id2label).length ? labelsOf(config) : null;
  const head = (config.architectures ?? []).some((a) => a.endsWith('ForSequenceClassification'));
  return labels && head && !labels.every((l, i) => l === `LABEL_${i}`) ? labels : null;
}

/**
 * The label list of a run: the data's, or — continuing from a fine-tuned classifier — the parent's map as it is,
 * grown by the data's new labels only with --add-labels (appended, so the parent's ids keep their meaning).
 */
function runLabels(o: TrainOptions, data: LabeledData, parent: string[] | null, log: (l: string) => void): string[] {
  if (!parent) return data.labels;
  const present = new Set(
    data.examples.flatMap((e) =>
      Array.isArray(e.label) ? data.labels.filter((_, c) => (e.label as number[])[c]) : [data.labels[e.label]!],
    ),
  );
  const added = [...present]
    .filter((l) => !parent.includes(l))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (added.length && !o.addLabels) {
    throw new MedtuneError(
      `${o.train} has labels the model ${o.model} does not have: ` +
        `${added.slice(0, 8).join(', ')}${added.length > 8 ? ', …' : ''}; ` +
        'pass --add-labels to grow its head (the new labels start untrained), or fix the labels',
      'E_MODEL_LABELS',
    );
  }
  log(
    `continuing from a fine-tuned classifier: its ${parent.length} labels are kept in their order` +
      `${added.length ? `; --add-labels: the head grows by ${added.length} (${added.slice(0, 6).join(', ')})` : ''}`,
  );
  return [...parent, ...added];
}

/** Examples with label ids of one list re-expressed in another (by name). */
function relabel(examples: Example[], from: string[], to: string[]): Example[] {
  if (from.length === to.length && from.every((l, i) => l === to[i])) return examples;
  const index = from.map((l) => to.indexOf(l));
  return examples.map((e) => ({
    ...e,
    label: Array.isArray(e.label) ? to.map((l) => (e.label as number[])[from.indexOf(l)] ?? 0) : index[e.label]!,
  }));
}

async function readSplits(o: TrainOptions, parentLabels: string[] | null, log: (l: string) => void): Promise<Splits> {
  const readOpts = {
    textColumn: o.textColumn,
    textPairColumn: o.textPairColumn,
    labelColumn: o.labelColumn,
    multiLabel: o.multiLabel,
    labelDelimiter: o.labelDelimiter,
    groupColumn: o.groupColumn,
    groupRegex: o.groupRegex,
    format: o.format as never,
    encoding: o.encoding,
  };
  const read = await readLabeled(o.train, readOpts);
  log(
    `columns: text "${read.textColumn}", label "${read.labelColumn}"` +
      `${read.pairColumn ? `, pair "${read.pairColumn}"` : ''}`,
  );
  if (!read.examples.length)
    throw new MedtuneError(
      `${o.train} has no usable rows (${read.skipped.length} skipped: ${read.skipped
        .slice(0, 3)
        .map((s) => `row ${s.row}: ${s.reason}`)
        .join(', ')})`,
      'E_INPUT_EMPTY',
    );
  const labels = runLabels(o, read, parentLabels, log);
  const trainData: LabeledData = { ...read, labels, examples: relabel(read.examples, read.labels, labels) };
  let train = trainData.examples;
  let validation: Example[] = [];
  const skipped: Record<string, { row: number; reason: string }[]> = {};
  if (o.validation) {
    const v = await readLabeled(o.validation, { ...readOpts, labels });
    validation = v.examples;
    skipped.validation = v.skipped;
  } else if (o.validationSplit > 0) {
    [train, validation] = stratifiedSplit(trainData.examples, o.validationSplit, o.seed);
    log(
      `no --validation file: holding out ${validation.length} rows ` +
        `(${(o.validationSplit * 100).toFixed(0)}%, stratified, seed ${o.seed})`,
    );
    if (!train.length)
      throw usage(`--validation-split ${o.validationSplit} leaves no training rows; use a smaller fraction`);
  }
  const t = o.test ? await readLabeled(o.test, { ...readOpts, labels }) : null;
  if (t) skipped.test = t.skipped;
  const test = t?.examples ?? [];
  let replayed = 0;
  if (o.replay) {
    const old = (await readLabeled(o.replay, { ...readOpts, labels, groupColumn: undefined, groupRegex: undefined }))
      .examples;
    const [, sample] = stratifiedSplit(old, o.replayFraction ?? 0.3, o.seed);
    replayed = sample.length;
    train = [...train, ...sample.map((e, i) => ({ ...e, row: -(i + 1) }))];
    log(
      `--replay: ${sample.length} of ${old.length} rows of ${o.replay} ` +
        `(${((o.replayFraction ?? 0.3) * 100).toFixed(0)}%, stratified) added to the training split`,
    );
  }
  checkClasses({ ...trainData, examples: train });
  return { trainData, train, validation, test, parentLabels, replayed, skipped };
}

/** A classifier needs at least two classes (single-label) or one label that is sometimes set (multi-label). */
function checkClasses(d: LabeledData): void {
  if (d.multiLabel) {
    if (!d.examples.some((e) => (e.label as number[]).some((x) => x)))
      throw new MedtuneError(`${d.file}: no row has any label set; nothing to learn`, 'E_INPUT_LABEL');
    return;
  }
  const present = new Set(d.examples.map((e) => e.label as number));
  if (present.size < 2) {
    throw new MedtuneError(
      `${d.file} has only one class (${d.labels[[...present][0]!]}) in ${d.examples.length} rows; ` +
        'a classifier needs at least two' +
        `${d.labels.length > 1 ? '' : ' (is --label-column the right column?)'}`,
      'E_INPUT_LABEL',
    );
  }
}

function deidSplits(s: Splits, operator: Operator, log: (l: string) => void): void {
  let n = 0;
  const secret = process.env.MEDTUNE_DEID_SECRET;
  for (const ex of [...s.train, ...s.validation, ...s.test]) {
    const r = deidentify(ex.text, { operator, secret });
    n += r.entities.length;
    ex.text = r.text;
    if (ex.pair !== undefined) {
      const p = deidentify(ex.pair, { operator, secret });
      n += p.entities.length;
      ex.pair = p.text;
    }
  }
  log(
    `de-identified before tokenising (--deid, operator ${operator}): ${n} PHI entities replaced in ` +
      `${s.train.length + s.validation.length + s.test.length} texts`,
  );
}

/** sha256 of what training sees (token ids, labels): a resume with other data, columns or max length is refused. */
function fingerprint(parts: { examples: Example[]; enc: Encoded }[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(`${p.examples.length};`);
    p.examples.forEach((e, i) =>
      h.update(`${JSON.stringify(e.label)}:${p.enc.ids[i]!.join(',')}|${p.enc.types[i]!.join(',')};`),
    );
  }
  return h.digest('hex');
}

/** The audit columns of each split's rows (a held-out validation split has the training file's rows). */
type SplitAudit = Record<'train' | 'validation' | 'test', Map<number, AuditValues> | null>;

async function readAudit(o: TrainOptions): Promise<SplitAudit> {
  const cols = checkAuditColumns(o.auditColumns);
  if (!cols.length) return { train: null, validation: null, test: null };
  const read = (file: string) => readAuditValues(file, cols, { format: o.format, encoding: o.encoding });
  const train = await read(o.train);
  const validation = o.validation ? await read(o.validation) : train;
  return { train, validation, test: o.test ? await read(o.test) : null };
}

/** Sets the rate of every dropout layer (hidden, attention, classifier) and records it in the config. */
function applyDropout(loaded: LoadedClassifier, p: number): void {
  const seen = new Set<object>();
  const walk = (x: unknown) => {
    if (!x || typeof x !== 'object' || seen.has(x) || ArrayBuffer.isView(x)) return;
    seen.add(x);
    if (x instanceof Dropout) (x as { p: number }).p = p;
    const o = x as Record<string, unknown>;
    for (const k of [
      'hidden_dropout_prob',
      'attention_probs_dropout_prob',
      'dropout',
      'attention_dropout',
      'classifier_dropout',
    ]) {
      if (typeof o[k] === 'number') o[k] = p;
    }
    for (const v of Object.values(o)) walk(v);
  };
  walk(loaded.model);
  walk(loaded.config);
}

/**
 * The recipe for the options the user left out (train/recipe.ts), written to recipe.json. A resumed run continues
 * with the recorded recipe (and says so when the data would now give another one).
 */
function resolveRecipe(
  o: TrainOptions,
  train: Example[],
  tok: Tokenizer,
  config: ModelConfig,
  resuming: boolean,
  log: (l: string) => void,
): Recipe {
  const limit = modelMaxLength(config);
  const enc = encodeExamples(train, tok, limit);
  const lengths = enc.ids.map((ids, i) => ids.length + (enc.cut[i] ?? 0));
  const c = config as { hidden_size?: number; dim?: number; num_hidden_layers?: number; n_layers?: number };
  const given: Partial<RecipeValues> = {
    learningRate: o.learningRate,
    epochs: o.epochs,
    maxLength: o.maxLength,
    warmup: o.warmup,
  };
  const input = {
    hidden: c.hidden_size ?? c.dim ?? 768,
    layers: c.num_hidden_layers ?? c.n_layers ?? 12,
    modelLimit: limit,
    lengths,
    multiLabel: !!o.multiLabel,
    source: o.recipe ?? 'auto',
  };
  let recipe = chooseRecipe({ ...input, given });
  const file = path.join(o.outputDir, 'recipe.json');
  if (resuming && existsSync(file)) {
    const old = JSON.parse(readFileSync(file, 'utf8')) as Recipe;
    const recorded = Object.fromEntries(
      Object.entries(old.values).filter(([k]) => given[k as keyof RecipeValues] === undefined),
    );
    const differs = Object.entries(recorded).filter(([k, v]) => recipe.values[k as keyof RecipeValues] !== v);
    if (differs.length)
      log(
        `resume: continuing with the recipe in ${file} (${differs.map(([k, v]) => `${k} ${v}`).join(', ')}); ` +
          'the data would now give ' +
          differs.map(([k]) => `${k} ${recipe.values[k as keyof RecipeValues]}`).join(', '),
      );
    recipe = chooseRecipe({
      ...input,
      source: old.source,
      given: { ...recorded, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) },
    });
  }
  log(recipe.reason);
  makeDirs(o.outputDir);
  writeFileAtomic(file, JSON.stringify(recipe, null, 2) + '\n');
  return recipe;
}

export interface TrainRunResult {
  metrics: EvalResult['metrics'];
  outputDir: string;
  baseline: Record<string, unknown> | null;
  /** the best validation evaluation (metric units) and its evaluation index; null without validation */
  best: { value: number; step: number; index: number } | null;
  epochsRun: number;
  /** the per-evaluation callback stopped training */
  stopped: boolean;
  recipe: Recipe;
}

export async function runTrain(
  o: TrainOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<TrainRunResult> {
  const t0 = performance.now();
  checkTrainOptions(o);
  const record: RunRecord = startRecord({
    kind: 'train',
    command: o.commandLine,
    model: o.model,
    seed: o.seed,
    deid: o.deid ? (o.deidOperator ?? 'tag') : false,
    texts: o.texts,
    auditColumns: checkAuditColumns(o.auditColumns),
  });
  if (o.auditMinGroup !== undefined) record.audit_min_group = o.auditMinGroup;
  if (o.dataNote) record.data_note = o.dataNote;
  if (o.threads) setThreads(o.threads);
  if (o.precision) setPrecision(o.precision, '--precision');
  const { dir: modelDir, config: modelConfig } = await readModelConfig(o.model);
  if (o.maxLength !== undefined) resolveMaxLength(o.maxLength, modelConfig, 128);
  const resumeFrom = resumeCheckpoint(o, log);
  const s = await readSplits(o, fineTunedLabels(modelConfig), log);
  const { trainData } = s;
  const audit = await readAudit(o);
  if (o.deid) deidSplits(s, o.deidOperator ?? 'tag', log);
  // leakage check, cleaning, augmentation of the training split only (train/prepare.ts)
  const prep = await prepareTexts({
    train: s.train,
    evaluation: [
      { name: 'validation', examples: s.validation },
      { name: 'test', examples: s.test },
    ],
    labels: trainData.labels,
    model: modelDir,
    seed: o.seed,
    o,
    log,
  });
  s.train = prep.train;
  const classWeights = o.classWeights
    ? classWeightsFor(o.classWeights, s.train, trainData.labels, trainData.multiLabel)
    : null;
  const loaded = await loadClassifier(modelDir, {
    labels: trainData.labels,
    problemType: trainData.multiLabel ? 'multi_label_classification' : 'single_label_classification',
    seed: o.seed,
    log,
  });
  const tok = Tokenizer.fromDir(loaded.dir);
  if (o.dropout !== undefined) applyDropout(loaded, o.dropout);
  const recipe = resolveRecipe(o, s.train, tok, modelConfig, !!resumeFrom, log);
  const maxLength = recipe.values.maxLength;
  if (prep.preprocessing) {
    if (prep.preprocessing.clean?.lowercase && !tok.lowercase)
      throw new MedtuneError(
        '--clean lowercase: this tokenizer keeps case, so lower-casing would change what the model sees; ' +
          'leave lowercase out',
        'E_USAGE',
      );
    loaded.config.medtune = { ...(loaded.config.medtune as object | undefined), preprocessing: prep.preprocessing };
  }
  const split = (ex: Example[]) => ({ examples: ex, enc: encodeExamples(ex, tok, maxLength) });
  const tr = split(s.train);
  const va = s.validation.length ? split(s.validation) : null;
  const te = s.test.length ? split(s.test) : null;
  log(summarize('train', trainData, s.train, tr.enc, maxLength));
  if (va) log(summarize('validation', trainData, s.validation, va.enc, maxLength));
  if (te) log(summarize('test', trainData, s.test, te.enc, maxLength));
  type Skipped = { row: number; reason: string }[] | undefined;
  const stats = (examples: Example[], enc: Encoded, skipped: Skipped, a: Map<number, AuditValues> | null) =>
    splitStats({ examples, enc, labels: trainData.labels, maxLength, skipped, ...(a ? { audit: a } : {}) });
  record.splits.train = stats(s.train, tr.enc, trainData.skipped, audit.train);
  if (va) record.splits.validation = stats(s.validation, va.enc, s.skipped?.validation, audit.validation);
  if (te) record.splits.test = stats(s.test, te.enc, s.skipped?.test, audit.test);
  const final = te ?? va;
  if (!final)
    throw new MedtuneError(
      'no validation or test data to evaluate on (pass --validation, --test, or keep --validation-split > 0)',
      'E_NO_EVAL_DATA',
    );
  const cfg: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    epochs: recipe.values.epochs,
    learningRate: recipe.values.learningRate,
    batchSize: o.batchSize,
    weightDecay: o.weightDecay,
    warmup: recipe.values.warmup,
    scheduler: o.scheduler,
    seed: o.seed,
    gradAccum: o.gradAccum,
    maxGradNorm: o.maxGradNorm,
    evalEvery: o.evalEvery,
    labelSmoothing: o.labelSmoothing,
    metricForBestModel: o.metricForBestModel ?? (trainData.multiLabel ? 'f1_micro' : 'accuracy'),
    outputDir: o.outputDir,
    maxSteps: o.maxSteps ?? 0,
    earlyStoppingPatience: o.earlyStopping ?? 0,
    saveSteps: o.saveSteps ?? 0,
    saveTotalLimit: o.saveTotalLimit ?? 2,
    classWeights,
    threshold: o.threshold ?? 0.5,
    dataFingerprint: fingerprint(va ? [tr, va] : [tr]),
    ...(o.checkpoints === false ? { checkpoints: false } : {}),
  };
  if (cfg.classWeights)
    log(
      `class weights (${o.classWeights}): ${trainData.labels
        .slice(0, 6)
        .map((l, i) => `${l} ${cfg.classWeights![i]!.toFixed(3)}`)
        .join(', ')}${trainData.labels.length > 6 ? ', ...' : ''}`,
    );
  const hooks: TrainerHooks = {
    saveModel: (dir) => saveClassifier(dir, loaded.model, loaded.config, loaded.dir),
    loadWeights: (dir) => loadCheckpointWeights(loaded.model, dir),
    onEvaluate: o.onEvaluate,
  };
  const trainer = new Trainer(loaded.model, trainData.labels, trainData.multiLabel, tok.padId, cfg, log, hooks);
  await trainer.train(tr, va, resumeFrom);
  const finalAudit = te ? audit.test : audit.validation;
  const { result: r, baseline } = await finishTraining({
    o,
    s,
    trainer,
    loaded,
    cfg,
    maxLength,
    modelDir,
    validation: va,
    final,
    finalSplit: te ? 'test' : 'validation',
    t0,
    log,
    record,
    audit: finalAudit,
  });
  return {
    metrics: r.metrics,
    outputDir: o.outputDir,
    baseline,
    best: trainer.bestResult,
    epochsRun: trainer.epochsRun,
    stopped: trainer.stoppedByCallback,
    recipe,
  };
}
