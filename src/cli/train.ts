/**
 * `medtune train`: fine-tune a checkpoint on a labelled file. Prints a data summary, trains with progress lines,
 * keeps the best model by the validation metric, and writes best_model/ (HF layout), metrics.json,
 * predictions.jsonl and metrics.jsonl into --output-dir.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { precisionOption } from '../tensor/precision.js';
import { loadClassifier, loadStateDict, modelMaxLength, saveClassifier } from '../models/auto.js';
import { Tokenizer } from '../text/tokenizer.js';
import { encodeExamples, readLabeled, stratifiedSplit, summarize, type Example } from '../data/dataset.js';
import { DEFAULT_TRAIN_CONFIG, listCheckpoints, Trainer, type EvalResult, type TrainConfig, type TrainerHooks } from '../train/trainer.js';
import { readSafetensors } from '../io/safetensors.js';
import { deidentify, type Operator } from '../deid/anonymize.js';
import { MedtuneError } from '../common/errors.js';
import { writeEvalReport } from '../evaluate/report.js';
import { tfidfLogRegBaseline } from '../evaluate/baseline.js';
import { groupPredictions, multiLabelMetrics, singleLabelMetrics } from '../evaluate/metrics.js';
import type { SchedulerName } from '../train/schedule.js';
import { setThreads } from '../tensor/backend.js';
import { int, num } from './args.js';

export interface TrainCliOptions {
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
  epochs: number;
  learningRate: number;
  batchSize: number;
  maxLength: number;
  weightDecay: number;
  warmup: number;
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
  /** fit and report the TF-IDF + logistic-regression baseline beside the model (default on) */
  baseline?: boolean;
  /** de-identify texts before tokenising */
  deid?: boolean;
  deidOperator?: Operator;
}

/** --class-weights balanced (n / (C·n_c); multi-label: negatives / positives per label) or a JSON file {label: w}. */
export function classWeightsFor(spec: string, examples: Example[], labels: string[], multi: boolean): number[] {
  if (spec === 'balanced') {
    const n = examples.length;
    if (multi) return labels.map((_, c) => {
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
    throw new MedtuneError(`--class-weights must be "balanced" or a JSON file ({"label": weight, ...} or [w0, w1, ...]); cannot read ${spec}: ${(e as Error).message}`, 'E_USAGE');
  }
  if (Array.isArray(raw)) {
    if (raw.length !== labels.length || raw.some((x) => typeof x !== 'number' || !(x >= 0))) throw new MedtuneError(`${spec}: expected ${labels.length} non-negative numbers (labels: ${labels.join(', ')})`, 'E_USAGE');
    return raw as number[];
  }
  const obj = raw as Record<string, number>;
  const unknown = Object.keys(obj).filter((k) => !labels.includes(k));
  if (unknown.length) throw new MedtuneError(`${spec} names labels the data does not have: ${unknown.join(', ')}`, 'E_USAGE');
  return labels.map((l) => (typeof obj[l] === 'number' ? obj[l]! : 1));
}

/** Metrics of baseline probabilities on a split (and per group when asked), without the per-class tables. */
function baselineMetrics(probs: number[][], examples: Example[], labels: string[], multi: boolean, threshold: number, groupColumn?: string): Record<string, unknown> {
  const strip = (m: object) => Object.fromEntries(Object.entries(m).filter(([k]) => !['per_class', 'per_label', 'confusion'].includes(k)));
  const metricsOf = (pred: (number | number[])[], gold: (number | number[])[]) => (multi
    ? multiLabelMetrics(pred as number[][], gold as number[][], labels)
    : singleLabelMetrics(pred as number[], gold as number[], labels));
  const pred = probs.map((p) => (multi ? p.map((v) => (v >= threshold ? 1 : 0)) : p.indexOf(Math.max(...p))));
  const out: Record<string, unknown> = { method: 'tfidf-1-2gram-sublinear+logreg-C10', ...strip(metricsOf(pred, examples.map((e) => e.label))) };
  if (groupColumn) {
    const g = groupPredictions(examples.map((e) => e.group ?? ''), examples.map((e) => e.label), probs, multi, threshold);
    out.grouped = strip(metricsOf(g.pred, g.gold));
  }
  return out;
}

export async function runTrain(o: TrainCliOptions, log: (l: string) => void = (l) => console.log(l)): Promise<{ metrics: EvalResult['metrics']; outputDir: string; baseline: Record<string, unknown> | null }> {
  const t0 = performance.now();
  if (o.threads) setThreads(o.threads);
  const readOpts = { textColumn: o.textColumn, textPairColumn: o.textPairColumn, labelColumn: o.labelColumn, multiLabel: o.multiLabel, labelDelimiter: o.labelDelimiter, groupColumn: o.groupColumn, groupRegex: o.groupRegex };
  const trainData = await readLabeled(o.train, readOpts);
  log(`columns: text "${trainData.textColumn}", label "${trainData.labelColumn}"${trainData.pairColumn ? `, pair "${trainData.pairColumn}"` : ''}`);
  let trainEx = trainData.examples;
  let valEx: Example[] = [];
  if (o.validation) valEx = (await readLabeled(o.validation, { ...readOpts, labels: trainData.labels })).examples;
  else if (o.validationSplit > 0) {
    [trainEx, valEx] = stratifiedSplit(trainData.examples, o.validationSplit, o.seed);
    log(`no --validation file: holding out ${valEx.length} rows (${(o.validationSplit * 100).toFixed(0)}%, stratified, seed ${o.seed})`);
  }
  const testEx = o.test ? (await readLabeled(o.test, { ...readOpts, labels: trainData.labels })).examples : [];
  if (o.deid) {
    const operator = o.deidOperator ?? 'tag';
    let n = 0;
    for (const ex of [...trainEx, ...valEx, ...testEx]) {
      const r = deidentify(ex.text, { operator, secret: process.env.MEDTUNE_DEID_SECRET });
      n += r.entities.length;
      ex.text = r.text;
      if (ex.pair !== undefined) {
        const p = deidentify(ex.pair, { operator, secret: process.env.MEDTUNE_DEID_SECRET });
        n += p.entities.length;
        ex.pair = p.text;
      }
    }
    log(`de-identified before tokenising (--deid, operator ${operator}): ${n} PHI entities replaced in ${trainEx.length + valEx.length + testEx.length} texts`);
  }
  const loaded = await loadClassifier(o.model, { labels: trainData.labels, problemType: trainData.multiLabel ? 'multi_label_classification' : 'single_label_classification', seed: o.seed, log });
  const tok = Tokenizer.fromDir(loaded.dir);
  const maxLength = Math.min(o.maxLength, modelMaxLength(loaded));
  const split = (ex: Example[]) => ({ examples: ex, enc: encodeExamples(ex, tok, maxLength) });
  const tr = split(trainEx);
  const va = valEx.length ? split(valEx) : null;
  const te = testEx.length ? split(testEx) : null;
  log(summarize('train', trainData, trainEx, tr.enc, maxLength));
  if (va) log(summarize('validation', trainData, valEx, va.enc, maxLength));
  if (te) log(summarize('test', trainData, testEx, te.enc, maxLength));
  const cfg: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    epochs: o.epochs, learningRate: o.learningRate, batchSize: o.batchSize, weightDecay: o.weightDecay, warmup: o.warmup,
    scheduler: o.scheduler, seed: o.seed, gradAccum: o.gradAccum, maxGradNorm: o.maxGradNorm, evalEvery: o.evalEvery,
    labelSmoothing: o.labelSmoothing, metricForBestModel: o.metricForBestModel ?? (trainData.multiLabel ? 'f1_micro' : 'accuracy'), outputDir: o.outputDir,
    maxSteps: o.maxSteps ?? 0, earlyStoppingPatience: o.earlyStopping ?? 0, saveSteps: o.saveSteps ?? 0, saveTotalLimit: o.saveTotalLimit ?? 2,
    classWeights: o.classWeights ? classWeightsFor(o.classWeights, trainEx, trainData.labels, trainData.multiLabel) : null, threshold: o.threshold ?? 0.5,
  };
  if (cfg.classWeights) log(`class weights (${o.classWeights}): ${trainData.labels.slice(0, 6).map((l, i) => `${l} ${cfg.classWeights![i]!.toFixed(3)}`).join(', ')}${trainData.labels.length > 6 ? ', ...' : ''}`);
  const hooks: TrainerHooks = {
    saveModel: (dir) => saveClassifier(dir, loaded.model, loaded.config, loaded.dir),
    loadWeights: (dir) => {
      const file = path.join(dir, 'model.safetensors');
      const r = loadStateDict(loaded.model, readSafetensors(file), file, false);
      if (r.missing.length) throw new MedtuneError(`${dir} lacks ${r.missing[0]}; is it a checkpoint of this run?`, 'E_CHECKPOINT');
    },
  };
  let resumeFrom: string | undefined;
  if (o.resume) {
    if (typeof o.resume === 'string') resumeFrom = o.resume;
    else {
      const all = listCheckpoints(o.outputDir);
      if (!all.length) throw new MedtuneError(`--resume: no checkpoint-N folder with trainer_state.json in ${o.outputDir}`, 'E_CHECKPOINT');
      resumeFrom = all[all.length - 1]!.dir;
    }
  }
  const trainer = new Trainer(loaded.model, trainData.labels, trainData.multiLabel, tok.padId, cfg, log, hooks);
  trainer.train(tr, va, resumeFrom);
  const bestDir = path.join(o.outputDir, 'best_model');
  saveClassifier(bestDir, loaded.model, loaded.config, loaded.dir);
  const final = te ?? va;
  let metrics: EvalResult['metrics'] | null = null;
  let baseline: Record<string, unknown> | null = null;
  if (final) {
    const r = trainer.evaluate(final);
    metrics = r.metrics;
    if (o.baseline !== false) {
      const tb = performance.now();
      const probs = tfidfLogRegBaseline(trainEx.map((e) => e.text + (e.pair ? ` ${e.pair}` : '')), trainEx.map((e) => e.label), final.examples.map((e) => e.text + (e.pair ? ` ${e.pair}` : '')), trainData.labels.length, trainData.multiLabel);
      baseline = baselineMetrics(probs, final.examples, trainData.labels, trainData.multiLabel, cfg.threshold, o.groupColumn);
      const fmt = (m: Record<string, unknown>) => ['accuracy', 'f1_macro', 'f1_micro'].filter((k) => typeof m[k] === 'number').map((k) => `${k} ${(m[k] as number).toFixed(4)}`).join(', ');
      log(`baseline (TF-IDF 1-2 grams + logistic regression, C=10${trainData.multiLabel ? ', one-vs-rest, balanced' : ''}; ${((performance.now() - tb) / 1000).toFixed(0)} s): ${fmt(baseline)}${baseline.grouped ? `; grouped: ${fmt(baseline.grouped as Record<string, unknown>)}` : ''}`);
    }
    await writeEvalReport({ outputDir: o.outputDir, split: te ? 'test' : 'validation', examples: final.examples, result: r, labels: trainData.labels, multiLabel: trainData.multiLabel,
      groupColumn: o.groupColumn, groupRegex: o.groupRegex, threshold: cfg.threshold, extra: { train_seconds: (performance.now() - t0) / 1000, ...(baseline ? { baseline } : {}) }, log });
  }
  log(`best model:  ${bestDir}`);
  if (final) log(`metrics:     ${path.join(o.outputDir, 'metrics.json')} (${te ? 'test' : 'validation'}), predictions: ${path.join(o.outputDir, 'predictions.jsonl')}${trainData.multiLabel ? '' : `, ${path.join(o.outputDir, 'confusion_matrix.svg')}`}`);
  log(`logs:        ${path.join(o.outputDir, 'metrics.jsonl')}; total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (!metrics) throw new MedtuneError('no validation or test data to evaluate on (pass --validation, --test, or keep --validation-split > 0)', 'E_NO_EVAL_DATA');
  return { metrics, outputDir: o.outputDir, baseline };
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('fine-tune a model on a labelled CSV/TSV/JSONL/Parquet file')
    .requiredOption('--model <dir-or-name>', 'pretrained model folder or hub name')
    .requiredOption('--train <file>', 'training data')
    .option('--validation <file>', 'validation data (default: a stratified split of --train)')
    .option('--test <file>', 'test data, evaluated once with the best model')
    .requiredOption('--output-dir <dir>', 'where best_model/, metrics.json and logs go')
    .option('--text-column <name>', 'text column (default: detected)')
    .option('--text-pair-column <name>', 'second text column')
    .option('--label-column <name>', 'label column (default: detected)')
    .option('--multi-label', 'labels are lists or delimited strings')
    .option('--label-delimiter <s>', 'separator of multi-label strings', ',')
    .option('--epochs <n>', 'epochs', num('--epochs', 0), 3)
    .option('--learning-rate <lr>', 'peak learning rate', num('--learning-rate'), 5e-5)
    .option('--batch-size <n>', 'batch size', int('--batch-size'), 32)
    .option('--max-length <n>', 'max tokens per text', int('--max-length'), 128)
    .option('--weight-decay <w>', 'AdamW weight decay (not on biases/LayerNorm)', num('--weight-decay'), 0.01)
    .option('--warmup <n>', 'warm-up steps, or a ratio of all steps if < 1', num('--warmup'), 0)
    .option('--scheduler <name>', 'linear, cosine or constant', 'linear')
    .option('--seed <n>', 'random seed', int('--seed', 0), 42)
    .option('--eval-every <n>', 'evaluate every N steps (0: every epoch)', int('--eval-every', 0), 0)
    .option('--grad-accum <n>', 'gradient accumulation steps', int('--grad-accum'), 1)
    .option('--max-grad-norm <x>', 'clip the global gradient norm (0: off)', num('--max-grad-norm'), 1)
    .option('--label-smoothing <e>', 'label smoothing for cross-entropy', num('--label-smoothing'), 0)
    .option('--metric-for-best-model <name>', 'accuracy, f1_macro, f1_micro, loss, ... (default: accuracy / f1_micro)')
    .option('--validation-split <f>', 'fraction held out when there is no --validation file', num('--validation-split'), 0.1)
    .option('--max-steps <n>', 'stop after N optimizer steps (overrides --epochs)', int('--max-steps'))
    .option('--early-stopping <patience>', 'stop after N evaluations without improvement', int('--early-stopping'))
    .option('--save-steps <n>', 'checkpoint every N steps (default: every epoch)', int('--save-steps'))
    .option('--save-total-limit <n>', 'keep the N newest checkpoints (0: all)', int('--save-total-limit', 0), 2)
    .option('--resume [checkpoint]', 'continue from a checkpoint folder (default: the latest in --output-dir)')
    .option('--class-weights <spec>', '"balanced" or a JSON file {label: weight}')
    .option('--threshold <p>', 'multi-label decision threshold', num('--threshold'), 0.5)
    .option('--no-baseline', 'skip the TF-IDF + logistic-regression baseline reported beside the model')
    .option('--deid', 'de-identify every text (PHI -> [TAG]) before tokenising')
    .option('--deid-operator <op>', 'with --deid: tag | surrogate | redact | mask | hash', 'tag')
    .option('--group-column <name>', 'aggregate predictions per group for the final metrics (multi-label: union)')
    .option('--group-regex <re>', 'regular expression whose first capture group is the group key')
    .option('--threads <n>', 'threads', int('--threads'))
    .option('--precision <p>', 'fp32, or bf16: bf16 matrix products, fp32 weights (AVX512-BF16 CPUs)', precisionOption)
    .action(async (o: TrainCliOptions) => {
      if (!['linear', 'cosine', 'constant'].includes(o.scheduler)) throw new MedtuneError(`--scheduler must be linear, cosine or constant, got "${o.scheduler}"`, 'E_USAGE');
      await runTrain(o);
    });
}
