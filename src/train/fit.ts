/**
 * Stage 3 of `medtune train`, fit: the classifier loaded with a head for the run's labels (config.json as the run read
 * it), the recipe (recipe.ts), the splits tokenised, and the Trainer (trainer.ts, over the shared loop) fine-tuning
 * it with checkpoints, resume and the best model by the validation metric.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { MedtuneError } from '../common/errors.js';
import { Dropout } from '../nn/module.js';
import { encodeExamples, summarize, type Encoded, type Example } from '../data/dataset.js';
import { Tokenizer } from '../text/tokenizer.js';
import type { PreprocessingOptions } from '../text/clean.js';
import { loadClassifier, saveClassifier, type LoadedClassifier, type ModelFolder } from '../models/auto.js';
import type { SplitData } from '../evaluate/types.js';
import { withDocument } from '../infer/model-info.js';
import { DEFAULT_TRAIN_CONFIG, type LoopConfig, type TrainConfig } from './config.js';
import { resolveRecipe, type Recipe } from './recipe.js';
import { Trainer } from './trainer.js';
import type { Splits, TrainOptions } from './options.js';

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

/** sha256 of what training sees (token ids, labels): a resume with other data, columns or max length is refused. */
function fingerprint(parts: { examples: Example[]; enc: Encoded }[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(`${p.examples.length};`);
    if (p.enc.window) h.update(`${JSON.stringify(p.enc.window)};`); // documents: the windows they are read in
    p.examples.forEach((e, i) =>
      h.update(`${JSON.stringify(e.label)}:${p.enc.ids[i]!.join(',')}|${p.enc.types[i]!.join(',')};`),
    );
  }
  return h.digest('hex');
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

/** The training loop's settings from the options and the recipe (every task); `metric`: the task's default. */
export function loopConfigOf(o: TrainOptions, recipe: Recipe, metric: string): LoopConfig {
  return {
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
    metricForBestModel: o.metricForBestModel ?? metric,
    outputDir: o.outputDir,
    maxSteps: o.maxSteps ?? 0,
    earlyStoppingPatience: o.earlyStopping ?? 0,
    saveSteps: o.saveSteps ?? 0,
    saveTotalLimit: o.saveTotalLimit ?? 2,
    ...(o.checkpoints === false ? { checkpoints: false } : {}),
  };
}

/** The Trainer's settings (sequence classification): the loop's, and label smoothing, class weights, threshold. */
function trainConfig(
  o: TrainOptions,
  recipe: Recipe,
  x: Pick<TrainConfig, 'classWeights' | 'dataFingerprint'>,
  multiLabel: boolean,
): TrainConfig {
  const metric = multiLabel ? 'f1_micro' : 'accuracy';
  return {
    ...DEFAULT_TRAIN_CONFIG,
    ...loopConfigOf(o, recipe, metric),
    metricForBestModel: o.metricForBestModel ?? metric, // (required here, optional in the loop's settings)
    labelSmoothing: o.labelSmoothing,
    classWeights: x.classWeights,
    threshold: o.threshold ?? 0.5,
    dataFingerprint: x.dataFingerprint,
  };
}

/** The cleaning the texts got, recorded in the model's metadata (refused when the tokenizer keeps case). */
function recordPreprocessing(loaded: LoadedClassifier, tok: Tokenizer, preprocessing: PreprocessingOptions): void {
  if (preprocessing.clean?.lowercase && !tok.lowercase)
    throw usage(
      '--clean lowercase: this tokenizer keeps case, so lower-casing would change what the model sees; ' +
        'leave lowercase out',
    );
  loaded.config.medtune = { ...(loaded.config.medtune as object | undefined), preprocessing };
}

export interface FitInput {
  o: TrainOptions;
  s: Splits;
  /** the model folder and its config.json, read once by the run */
  model: ModelFolder;
  preprocessing: PreprocessingOptions | null;
  resumeFrom?: string;
  log: (l: string) => void;
}

export interface Fitted {
  trainer: Trainer;
  loaded: LoadedClassifier;
  cfg: TrainConfig;
  recipe: Recipe;
  maxLength: number;
  /** the tokenised splits (validation and test: null when empty) */
  train: SplitData;
  validation: SplitData | null;
  test: SplitData | null;
  /** the review split (--review-split; null when empty) */
  review: SplitData | null;
}

/** Loads the classifier, tokenises the splits and trains (resuming when asked); the best model is in memory. */
export async function fit(x: FitInput): Promise<Fitted> {
  const { o, s, log } = x;
  const { labels, multiLabel } = s.trainData;
  const classWeights = o.classWeights ? classWeightsFor(o.classWeights, s.train, labels, multiLabel) : null;
  const problemType = multiLabel ? 'multi_label_classification' : 'single_label_classification';
  const tok = Tokenizer.fromDir(x.model.dir);
  const recipe = resolveRecipe(o, { train: s.train, tok, config: x.model.config, resuming: !!x.resumeFrom }, log);
  const { document } = recipe;
  const folder = { dir: x.model.dir, config: withDocument(x.model.config, document) };
  const loaded = await loadClassifier(folder, { labels, problemType, seed: o.seed, log });
  if (o.dropout !== undefined) applyDropout(loaded, o.dropout);
  const maxLength = recipe.values.maxLength;
  if (x.preprocessing) recordPreprocessing(loaded, tok, x.preprocessing);
  const reading = document ? { stride: document.stride, maxDocumentTokens: document.max_document_tokens } : null;
  const split = (name: string, examples: Example[]) => {
    if (!examples.length) return null;
    const enc = encodeExamples(examples, tok, maxLength, reading);
    log(summarize(name, s.trainData, examples, enc, maxLength));
    return { examples, enc };
  };
  const train = split('train', s.train)!;
  const validation = split('validation', s.validation);
  const test = split('test', s.test);
  const review = split('review', s.review);
  const dataFingerprint = fingerprint(validation ? [train, validation] : [train]);
  const cfg = trainConfig(o, recipe, { classWeights, dataFingerprint }, multiLabel);
  if (classWeights)
    log(
      `class weights (${o.classWeights}): ${labels
        .slice(0, 6)
        .map((l, i) => `${l} ${classWeights[i]!.toFixed(3)}`)
        .join(', ')}${labels.length > 6 ? ', ...' : ''}`,
    );
  const hooks = {
    saveModel: (dir: string) => saveClassifier(dir, loaded.model, loaded.config, loaded.dir),
    onEvaluate: o.onEvaluate,
  };
  const trainer = new Trainer(loaded.model, labels, multiLabel, tok.padId, cfg, log, hooks);
  await trainer.train(train, validation, x.resumeFrom);
  return { trainer, loaded, cfg, recipe, maxLength, train, validation, test, review };
}
