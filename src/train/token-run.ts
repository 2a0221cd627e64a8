/**
 * `medtune train --task token-classification`: the same stages as sequence classification, over token data —
 * read (CoNLL / JSONL spans into IOB2 word tags; a held-out validation share; label sets checked between splits),
 * fit (a *ForTokenClassification head for the run's labels, the automatic recipe, the one training loop with the
 * token task), calibrate (with `recallTarget`: the entity threshold reaching that word recall on validation) and
 * record (best_model/ with its metadata, the final evaluation's metrics.json, predictions.jsonl and report.html).
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MedtuneError } from '../common/errors.js';
import { Generator } from '../tensor/random.js';
import { setThreads } from '../tensor/backend.js';
import { setPrecision } from '../tensor/precision.js';
import { shuffle } from '../data/dataset.js';
import { checkTypes, readTokenData, type TokenData, type TokenExample } from '../data/token-data.js';
import { iob2Labels, typesOfLabels } from '../data/tags.js';
import { Tokenizer } from '../text/tokenizer.js';
import { loadModel, readModelConfig, saveModel, type ModelConfig, type ModelFolder } from '../models/auto.js';
import { headKindOf } from '../models/families.js';
import { fileSha256 } from '../models/metadata.js';
import type { TokenClassifier } from '../models/token-classification.js';
import type { EntityMetrics } from '../evaluate/seqeval.js';
import { writeTokenRunFiles } from '../evaluate/token-eval.js';
import { TrainingLoop } from './loop.js';
import { loopConfigOf } from './fit.js';
import { resolveRecipe, type Recipe } from './recipe.js';
import { runInOutputDir } from './resume.js';
import { checkTrainOptions, type TrainOptions } from './options.js';
import {
  evaluateTokens,
  recallThreshold,
  TOKEN_METRICS,
  tokenClassificationTask,
  trainingWindows,
} from './token-task.js';

const usage = (msg: string) => new MedtuneError(msg, 'E_USAGE');

export interface TokenTrainResult {
  metrics: EntityMetrics & Record<string, unknown>;
  outputDir: string;
  best: { value: number; step: number; index: number } | null;
  epochsRun: number;
  stopped: boolean;
  recipe: Recipe;
  /** entity threshold saved with the model */
  threshold: number;
  /** seconds of training per epoch */
  secondsPerEpoch: number;
}

/** Options sequence classification has and token classification does not (yet): refused, not ignored. */
function checkTokenOptions(o: TrainOptions): void {
  const unsupported: [string, unknown][] = [
    ['--deid', o.deid],
    ['--clean', o.clean],
    ['--augment', o.augment],
    ['--multi-label', o.multiLabel],
    ['--replay', o.replay],
    ['--class-weights', o.classWeights],
    ['--audit-column', o.auditColumns?.length],
    ['--text-pair-column', o.textPairColumn],
  ];
  const given = unsupported.filter(([, v]) => v);
  if (given.length) throw usage(`${given.map(([k]) => k).join(', ')}: not available with --task token-classification`);
  if (o.metricForBestModel && !(TOKEN_METRICS as readonly string[]).includes(o.metricForBestModel))
    throw usage(`--metric-for-best-model for token classification: ${TOKEN_METRICS.join(', ')}`);
  if (o.recallTarget !== undefined && !(o.recallTarget > 0 && o.recallTarget < 1))
    throw usage(`--recall-target must be in (0, 1), got ${o.recallTarget}`);
  if (o.stride !== undefined && !(Number.isInteger(o.stride) && o.stride >= 0))
    throw usage(`--stride must be a whole number ≥ 0, got ${o.stride}`);
}

/** The fine-tuned token classifier's labels when continuing from one (kept in order), else null. */
function parentLabels(config: ModelConfig): string[] | null {
  if (headKindOf(config) !== 'token-classification' || !config.id2label) return null;
  const n = Object.keys(config.id2label).length;
  return Array.from({ length: n }, (_, i) => config.id2label![String(i)]!);
}

interface TokenSplits {
  train: TokenData;
  trainExamples: TokenExample[];
  validation: TokenExample[];
  test: TokenExample[];
  labels: string[];
}

/** Stage 1, read: the files into splits and the IOB2 label list (a parent's kept, growing only by new types). */
function readTokenSplits(o: TrainOptions, parent: string[] | null, log: (l: string) => void): TokenSplits {
  const train = readTokenData(o.train, o.format);
  log(
    `token data: ${train.examples.length} texts, ${train.types.length} entity types (${train.types.join(', ')})` +
      `${train.scheme ? `, ${train.scheme} tags` : ', character spans'}`,
  );
  if (!train.types.length) throw new MedtuneError(`${o.train} has no entities; nothing to learn`, 'E_INPUT_LABEL');
  let trainExamples = train.examples;
  let validation: TokenExample[] = [];
  if (o.validation) {
    const v = readTokenData(o.validation, o.format);
    checkTypes(train, v, '--validation');
    validation = v.examples;
  } else if (o.validationSplit > 0) {
    const order = shuffle(
      train.examples.map((_, i) => i),
      new Generator(o.seed),
    );
    const n = Math.max(1, Math.round(train.examples.length * o.validationSplit));
    validation = order.slice(0, n).map((i) => train.examples[i]!);
    trainExamples = order.slice(n).map((i) => train.examples[i]!);
    log(`no --validation file: holding out ${n} texts (${(o.validationSplit * 100).toFixed(0)}%, seed ${o.seed})`);
  }
  let test: TokenExample[] = [];
  if (o.test) {
    const t = readTokenData(o.test, o.format);
    checkTypes(train, t, '--test');
    test = t.examples;
  }
  if (!validation.length && !test.length)
    throw new MedtuneError('no validation or test data to evaluate on', 'E_NO_EVAL_DATA');
  const own = iob2Labels(train.types);
  let labels = own;
  if (parent) {
    const added = own.filter((l) => !parent.includes(l));
    if (added.length && !o.addLabels)
      throw new MedtuneError(
        `${o.train} has labels the model ${o.model} does not have: ${added.slice(0, 6).join(', ')}; ` +
          'pass --add-labels to grow its head',
        'E_MODEL_LABELS',
      );
    labels = [...parent, ...added];
    log(`continuing from a fine-tuned token classifier: its ${parent.length} labels are kept in their order`);
  }
  return { train, trainExamples, validation, test, labels };
}

/** Runs `train --task token-classification` end to end. */
export async function runTokenTrain(
  o: TrainOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<TokenTrainResult> {
  const t0 = performance.now();
  checkTokenOptions(o);
  checkTrainOptions({ ...o, metricForBestModel: undefined });
  if (o.threads) setThreads(o.threads);
  if (o.precision) setPrecision(o.precision, '--precision');
  const folder = await readModelConfig(o.model);
  return runInOutputDir(o, log, (resumeFrom) => tokenStages({ o, folder, resumeFrom, t0, log }));
}

async function tokenStages(x: {
  o: TrainOptions;
  folder: ModelFolder;
  resumeFrom: string | undefined;
  t0: number;
  log: (l: string) => void;
}): Promise<TokenTrainResult> {
  const { o, folder, resumeFrom, t0, log } = x;
  const s = readTokenSplits(o, parentLabels(folder.config), log);
  // fit
  const loaded = await loadModel(folder, { head: 'token-classification', labels: s.labels, seed: o.seed, log });
  const model = loaded.model as TokenClassifier;
  const tok = Tokenizer.fromDir(loaded.dir);
  const asRows = s.trainExamples.map((e, i) => ({ text: e.text, label: 0, row: i + 1 }));
  const recipe = resolveRecipe(o, { train: asRows, tok, config: folder.config, resuming: !!resumeFrom }, log);
  const maxLength = recipe.values.maxLength;
  const stride = o.stride ?? Math.floor(maxLength / 4);
  const types = typesOfLabels(s.labels);
  const windows = trainingWindows(s.trainExamples, { tok, labels: s.labels, maxLength, stride });
  const cfg = loopConfigOf(o, recipe, 'entity_f1');
  const evalOpts = { tok, labels: s.labels, types, maxLength, stride };
  const save = (dir: string, medtune?: Record<string, unknown>) =>
    saveModel(dir, model, loaded.config, { tokenizerFrom: loaded.dir, medtune });
  const task = tokenClassificationTask({ model, windows, validation: s.validation, ...evalOpts, cfg, saveModel: save });
  const loop = new TrainingLoop(task, cfg, log, o.onEvaluate);
  const tFit = performance.now();
  await loop.run(resumeFrom);
  const secondsPerEpoch = (performance.now() - tFit) / 1000 / Math.max(loop.epochsRun, 1e-9);
  // calibrate: the entity threshold for the recall asked for
  let threshold = 0.5;
  if (o.recallTarget !== undefined && s.validation.length) {
    const { probs } = evaluateTokens(model, s.validation, evalOpts);
    threshold = recallThreshold(s.validation, probs, s.labels.indexOf('O'), o.recallTarget);
    log(`entity threshold ${threshold} (entity words found on validation ≥ ${o.recallTarget})`);
  }
  // record
  const split = s.test.length ? 'test' : 'validation';
  const final = s.test.length ? s.test : s.validation;
  const ev = evaluateTokens(model, final, { ...evalOpts, threshold });
  const medtune = modelMetadata(o, s, { recipe, maxLength, stride, threshold });
  save(path.join(o.outputDir, 'best_model'), medtune);
  const extra = {
    split,
    threshold,
    train_seconds_per_epoch: Number(secondsPerEpoch.toPrecision(3)), // (a tiny epoch is not 0.0 s)
    epochs: Number(loop.epochsRun.toFixed(2)),
    train_texts: s.trainExamples.length,
    train_windows: windows.length,
    seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
  };
  writeTokenRunFiles(o.outputDir, { examples: final, ...ev, extra, texts: o.texts });
  const m = ev.metrics;
  log(
    `${split}: entity F1 ${m.entity_f1.toFixed(4)} (P ${m.entity_precision.toFixed(4)}, ` +
      `R ${m.entity_recall.toFixed(4)}), token accuracy ${m.token_accuracy.toFixed(4)}; ` +
      `${secondsPerEpoch.toFixed(0)} s per epoch; ${o.outputDir}/best_model, metrics.json, report.html`,
  );
  return {
    metrics: { ...m, ...extra },
    outputDir: o.outputDir,
    best: loop.bestResult,
    epochsRun: loop.epochsRun,
    stopped: loop.stoppedByCallback,
    recipe,
    threshold,
    secondsPerEpoch,
  };
}

/** What best_model/config.json records about the run (`medtune.training`, `entity_threshold`). */
function modelMetadata(
  o: TrainOptions,
  s: TokenSplits,
  x: { recipe: Recipe; maxLength: number; stride: number; threshold: number },
): Record<string, unknown> {
  const files = [
    ['train', o.train, s.trainExamples.length],
    ['validation', o.validation, s.validation.length],
    ['test', o.test, s.test.length],
  ] as const;
  return {
    task: 'token-classification',
    entity_threshold: x.threshold,
    training: {
      base_model: o.model,
      data: files
        .filter(([, f]) => f)
        .map(([split, file, rows]) => ({ split, file: path.resolve(file!), sha256: fileSha256(file!), rows })),
      recipe: { ...x.recipe.values, maxLength: x.maxLength, stride: x.stride, batchSize: o.batchSize },
      seed: o.seed,
      finished_at: new Date().toISOString(),
    },
  };
}
