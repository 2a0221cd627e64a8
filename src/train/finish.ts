/**
 * The steps after training, in order: fit calibration on the validation split (never on test) — a temperature for
 * single-label models, per-label thresholds for multi-label ones, optionally the abstention threshold —, save
 * best_model/ with its metadata (training record, calibration, the drift reference), evaluate the final split with
 * the calibrated decision, fit the TF-IDF baseline beside it, and write the reports.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { readLabeled, type Example } from '../data/dataset.js';
import { Predictor } from '../infer/predictor.js';
import { saveClassifier, type LoadedClassifier } from '../models/auto.js';
import { fileSha256, modelIdentity, parseMetadata, type MedtuneMetadata } from '../models/metadata.js';
import { referenceFrom } from '../infer/drift.js';
import { decideFromProbabilities, type DecisionSettings } from '../infer/decision.js';
import { writeEvalReport } from '../evaluate/report.js';
import { tfidfLogRegBaseline } from '../evaluate/baseline.js';
import { groupPredictions, multiLabelMetrics, singleLabelMetrics } from '../evaluate/metrics.js';
import { resultFrom } from '../evaluate/evaluate.js';
import {
  calibrationReport,
  fitCalibration,
  trustMetrics,
  withTemperature,
  type FittedCalibration,
} from '../evaluate/calibration.js';
import type { EvalResult, SplitData } from '../evaluate/types.js';
import { auditOf, writeRunRecord, type AuditValues, type RunRecord } from '../evaluate/run-record.js';
import type { TrainConfig } from './config.js';
import type { Trainer } from './trainer.js';
import type { Splits, TrainOptions } from './options.js';

/** Metrics of baseline probabilities on a split (and per group when asked), without the per-class tables. */
function baselineMetrics(
  probs: number[][],
  examples: Example[],
  labels: string[],
  multi: boolean,
  threshold: number,
  groupColumn?: string,
): Record<string, unknown> {
  const strip = (m: object) =>
    Object.fromEntries(Object.entries(m).filter(([k]) => !['per_class', 'per_label', 'confusion'].includes(k)));
  const metricsOf = (pred: (number | number[])[], gold: (number | number[])[]) =>
    multi
      ? multiLabelMetrics(pred as number[][], gold as number[][], labels)
      : singleLabelMetrics(pred as number[], gold as number[], labels);
  const pred = probs.map((p) => (multi ? p.map((v) => (v >= threshold ? 1 : 0)) : p.indexOf(Math.max(...p))));
  const out: Record<string, unknown> = {
    method: 'tfidf-1-2gram-sublinear+logreg-C10',
    ...strip(
      metricsOf(
        pred,
        examples.map((e) => e.label),
      ),
    ),
  };
  if (groupColumn) {
    const g = groupPredictions(
      examples.map((e) => e.group ?? ''),
      examples.map((e) => e.label),
      probs,
      { multi, predictions: pred },
    );
    out.grouped = strip(metricsOf(g.pred, g.gold));
  }
  return out;
}

function runBaseline(
  s: Splits,
  final: Example[],
  threshold: number,
  groupColumn: string | undefined,
  log: (l: string) => void,
): Record<string, unknown> {
  const tb = performance.now();
  const text = (e: Example) => e.text + (e.pair ? ` ${e.pair}` : '');
  const { labels, multiLabel } = s.trainData;
  const probs = tfidfLogRegBaseline(
    s.train.map(text),
    s.train.map((e) => e.label),
    final.map(text),
    labels.length,
    multiLabel,
    10,
    log,
  );
  const baseline = baselineMetrics(probs, final, labels, multiLabel, threshold, groupColumn);
  const fmt = (m: Record<string, unknown>) =>
    ['accuracy', 'f1_macro', 'f1_micro']
      .filter((k) => typeof m[k] === 'number')
      .map((k) => `${k} ${(m[k] as number).toFixed(4)}`)
      .join(', ');
  log(
    `baseline (TF-IDF 1-2 grams + logistic regression, C=10${multiLabel ? ', one-vs-rest, balanced' : ''}; ` +
      `${((performance.now() - tb) / 1000).toFixed(0)} s): ${fmt(baseline)}` +
      `${baseline.grouped ? `; grouped: ${fmt(baseline.grouped as Record<string, unknown>)}` : ''}`,
  );
  return baseline;
}

/** What the saved model records about its training (`medtune.training`, `parent_sha256`): data hashes, recipe. */
function modelRecord(
  o: TrainOptions,
  s: Splits,
  cfg: TrainConfig,
  maxLength: number,
  modelDir: string,
): MedtuneMetadata {
  const data = [
    ['train', o.train, s.train.length],
    ['validation', o.validation, s.validation.length],
    ['test', o.test, s.test.length],
  ] as const;
  const { outputDir: _o, dataFingerprint: _f, classWeights, ...recipe } = cfg;
  let parent: string | undefined;
  try {
    parent = modelIdentity(modelDir).sha256;
  } catch {
    parent = undefined; // a folder without weight files of its own (e.g. a hub snapshot of links): no lineage
  }
  return {
    ...(parent ? { parent_sha256: parent } : {}),
    training: {
      base_model: o.model,
      data: data
        .filter(([, f]) => f)
        .map(([split, file, rows]) => ({ split, file: path.resolve(file!), sha256: fileSha256(file!), rows })),
      recipe: {
        ...recipe,
        maxLength,
        classWeights: classWeights ? o.classWeights : null,
        validationSplit: o.validation ? null : o.validationSplit,
        deid: o.deid ? (o.deidOperator ?? 'tag') : false,
      },
      seed: o.seed,
      finished_at: new Date().toISOString(),
    },
  };
}

export interface FinishInput {
  o: TrainOptions;
  s: Splits;
  trainer: Trainer;
  loaded: LoadedClassifier;
  cfg: TrainConfig;
  maxLength: number;
  modelDir: string;
  validation: SplitData | null;
  final: SplitData;
  finalSplit: 'test' | 'validation';
  t0: number;
  log: (l: string) => void;
  /** run.json so far (command, data statistics); completed and written here */
  record?: RunRecord;
  /** audit columns of the final split's rows, by row number */
  audit?: Map<number, AuditValues> | null;
}

/** Calibration fitted on validation, or null (no validation split, or --no-calibrate), said in one line. */
function calibrate(x: FinishInput): FittedCalibration | null {
  const { o, s, trainer, log } = x;
  if (o.calibrate === false) {
    if (o.abstainBelow === undefined) return null;
    log('--no-calibrate: the abstention threshold applies to uncalibrated probabilities');
    return { abstain: { below: o.abstainBelow, source: 'fixed' } };
  }
  if (!x.validation) {
    log(
      'calibration: no validation split to fit it on (pass --validation or keep --validation-split > 0); ' +
        'the model is left uncalibrated',
    );
    return null;
  }
  const probs = trainer.evaluate(x.validation).probabilities;
  const fitted = fitCalibration(
    probs,
    x.validation.examples.map((e) => e.label),
    s.trainData.labels,
    s.trainData.multiLabel,
    { abstainBelow: o.abstainBelow, targetAccuracy: o.targetAccuracy },
  );
  const what =
    fitted.temperature !== undefined
      ? `temperature ${fitted.temperature.toFixed(4)}`
      : `per-label thresholds (${Object.values(fitted.thresholds!)
          .map((t) => t.toFixed(2))
          .join(', ')})`;
  const abstain = fitted.abstain
    ? `; abstain below ${fitted.abstain.below.toFixed(4)}` +
      `${fitted.abstain.target_accuracy ? ` (target accuracy ${fitted.abstain.target_accuracy})` : ''}, ` +
      `keeping ${(100 * (fitted.abstain.coverage ?? 1)).toFixed(1)}% of validation`
    : '';
  log(`calibration (fitted on ${x.validation.examples.length} validation rows): ${what}${abstain}`);
  return fitted;
}

/** Decision settings after calibration (the Predictor builds the same from the saved metadata). */
function settingsOf(x: FinishInput, fitted: FittedCalibration | null): DecisionSettings {
  const { labels, multiLabel } = x.s.trainData;
  return {
    labels,
    multiLabel,
    temperature: fitted?.temperature ?? 1,
    threshold: x.cfg.threshold,
    thresholds: fitted?.thresholds ? labels.map((l) => fitted.thresholds![l]!) : undefined,
    abstainBelow: fitted?.abstain?.below ?? null,
  };
}

/** metrics.json's calibration block: before/after on the final split (single-label), 0.5 vs tuned (multi-label). */
function calibrationBlock(
  x: FinishInput,
  raw: EvalResult,
  fitted: FittedCalibration | null,
  settings: DecisionSettings,
): Record<string, unknown> | null {
  if (!fitted || (!fitted.temperature && !fitted.thresholds)) return null;
  const gold = x.final.examples.map((e) => e.label);
  const fittedOn = { fitted_on: 'validation', evaluated_on: x.finalSplit };
  if (fitted.temperature !== undefined)
    return { ...calibrationReport(raw.probabilities, gold as number[], fitted.temperature), ...fittedOn };
  const labels = x.s.trainData.labels;
  const at = (th: (c: number) => number) =>
    multiLabelMetrics(
      raw.probabilities.map((p) => p.map((v, c) => (v >= th(c) ? 1 : 0))),
      gold as number[][],
      labels,
    );
  const half = at(() => x.cfg.threshold);
  const tuned = at((c) => settings.thresholds![c]!);
  return {
    thresholds: fitted.thresholds,
    f1_micro_at_0_5: half.f1_micro,
    f1_macro_at_0_5: half.f1_macro,
    f1_micro_tuned: tuned.f1_micro,
    f1_macro_tuned: tuned.f1_macro,
    ...fittedOn,
  };
}

/** Accuracy of a model on labelled rows, comparing label names (the parent may lack labels the run added). */
async function accuracyOn(model: string, examples: Example[], labels: string[]): Promise<number> {
  const p = await Predictor.load(model, { log: () => {} });
  const results = p.classify(
    examples.map((e) => e.text),
    { pairs: examples.some((e) => e.pair !== undefined) ? examples.map((e) => e.pair ?? '') : null },
  );
  const name = (l: number | number[]) =>
    Array.isArray(l) ? JSON.stringify(labels.filter((_, c) => l[c])) : labels[l]!;
  const got = (r: { label: unknown }) =>
    Array.isArray(r.label) ? JSON.stringify([...r.label].sort()) : String(r.label);
  const right = examples.filter(
    (e, i) =>
      got(results[i]!) === (Array.isArray(e.label) ? JSON.stringify(JSON.parse(name(e.label)).sort()) : name(e.label)),
  ).length;
  return right / Math.max(1, examples.length);
}

/**
 * Continual learning (training from a fine-tuned model): accuracy of the parent and of the new model on the old
 * test set (forgetting) and on the new rows (what the corrections taught).
 */
async function continualReport(x: FinishInput, bestDir: string): Promise<Record<string, unknown> | null> {
  const { o, s, log } = x;
  if (!s.parentLabels) return null;
  const parentMeta = parseMetadata((x.loaded.config as { medtune?: unknown }).medtune);
  const recordedTest = parentMeta.training?.data?.find((d) => d.split === 'test' && existsSync(d.file))?.file;
  const oldTest = o.oldTest ?? recordedTest;
  const labels = s.trainData.labels;
  const readOpts = {
    textColumn: o.textColumn,
    labelColumn: o.labelColumn,
    multiLabel: s.trainData.multiLabel,
    labelDelimiter: o.labelDelimiter,
    labels,
  };
  const out: Record<string, unknown> = {
    parent: x.modelDir,
    replay: o.replay ? { file: path.resolve(o.replay), rows: s.replayed } : null,
  };
  const newRows = (await readLabeled(o.train, readOpts)).examples;
  out.new_data = {
    file: path.resolve(o.train),
    rows: newRows.length,
    accuracy_before: await accuracyOn(x.modelDir, newRows, labels),
    accuracy_after: await accuracyOn(bestDir, newRows, labels),
  };
  if (oldTest) {
    const rows = (await readLabeled(oldTest, readOpts)).examples;
    const before = await accuracyOn(x.modelDir, rows, labels);
    const after = await accuracyOn(bestDir, rows, labels);
    out.old_test = {
      file: path.resolve(oldTest),
      rows: rows.length,
      accuracy_before: before,
      accuracy_after: after,
      forgetting: before - after,
    };
  }
  const nd = out.new_data as { accuracy_before: number; accuracy_after: number };
  const ot = out.old_test as { accuracy_before: number; accuracy_after: number } | undefined;
  log(
    `continual: new rows accuracy ${nd.accuracy_before.toFixed(4)} → ${nd.accuracy_after.toFixed(4)}` +
      (ot
        ? `; old test set ${ot.accuracy_before.toFixed(4)} → ${ot.accuracy_after.toFixed(4)} ` +
          `(forgetting ${(ot.accuracy_before - ot.accuracy_after).toFixed(4)})`
        : '; no old test set (--old-test FILE, or a parent that records its test file)'),
  );
  return out;
}

/** run.json at the end of training: data files with sha256, the model written, the recipe, the duration. */
function completeRecord(
  x: FinishInput,
  medtune: MedtuneMetadata,
  identity: { version: string; sha256: string },
): RunRecord {
  const { outputDir: _o, dataFingerprint: _f, classWeights: _w, ...recipe } = x.cfg;
  const data = (medtune.training?.data ?? []).map((d) => ({
    split: d.split ?? '',
    file: d.file,
    sha256: d.sha256,
    ...(d.rows !== undefined ? { rows: d.rows } : {}),
  }));
  return {
    ...x.record!,
    finished_at: new Date().toISOString(),
    duration_seconds: (performance.now() - x.t0) / 1000,
    data,
    model: { source: x.o.model, dir: path.resolve(x.o.outputDir, 'best_model'), ...identity },
    evaluated_split: x.finalSplit,
    recipe: { ...recipe, maxLength: x.maxLength, classWeights: x.o.classWeights ?? null },
  };
}

export async function finishTraining(
  x: FinishInput,
): Promise<{ result: EvalResult; baseline: Record<string, unknown> | null }> {
  const { o, s, trainer, loaded, log } = x;
  const { labels, multiLabel } = s.trainData;
  const fitted = calibrate(x);
  const settings = settingsOf(x, fitted);
  const calibrated = (probs: number[][]) => (fitted?.temperature ? withTemperature(probs, fitted.temperature) : probs);
  const medtune: MedtuneMetadata = {
    ...parseMetadata((loaded.config as { medtune?: unknown }).medtune),
    ...modelRecord(o, s, x.cfg, x.maxLength, x.modelDir),
    ...(fitted ?? {}),
  };
  if (x.validation)
    medtune.reference = referenceFrom(
      calibrated(trainer.evaluate(x.validation).probabilities).map((p) => decideFromProbabilities(p, settings)),
      labels,
    );
  const bestDir = path.join(o.outputDir, 'best_model');
  saveClassifier(bestDir, loaded.model, { ...loaded.config, medtune }, loaded.dir);
  // the final split, as the saved model (through a Predictor) will classify it
  const raw = trainer.evaluate(x.final);
  const result = {
    ...resultFrom(calibrated(raw.probabilities), x.final.examples, settings, raw.metrics.loss),
    cut: x.final.enc.cut,
  };
  const baseline = o.baseline !== false ? runBaseline(s, x.final.examples, x.cfg.threshold, o.groupColumn, log) : null;
  const calibration = calibrationBlock(x, raw, fitted, settings);
  const trust = trustMetrics(
    result.probabilities,
    result.predictions,
    x.final.examples.map((e) => e.label),
    result.abstained,
    multiLabel,
  );
  const identity = modelIdentity(bestDir, medtune);
  const continual = await continualReport(x, bestDir);
  const extra = {
    ...(continual ? { continual } : {}),
    train_seconds: (performance.now() - x.t0) / 1000,
    model: { version: identity.version, sha256: identity.sha256 },
    ...(calibration ? { calibration } : {}),
    ...trust,
    ...(baseline ? { baseline } : {}),
  };
  await writeEvalReport({
    outputDir: o.outputDir,
    split: x.finalSplit,
    examples: x.final.examples,
    result,
    labels,
    multiLabel,
    groupColumn: o.groupColumn,
    groupRegex: o.groupRegex,
    extra,
    log,
    audit: auditOf(x.final.examples, x.audit ?? null),
  });
  if (x.record) writeRunRecord(o.outputDir, completeRecord(x, medtune, identity));
  if (calibration?.ece_before !== undefined)
    log(
      `calibration on ${x.finalSplit}: ` +
        `ECE ${(calibration.ece_before as number).toFixed(4)} → ${(calibration.ece_after as number).toFixed(4)}, ` +
        `NLL ${(calibration.nll_before as number).toFixed(4)} → ${(calibration.nll_after as number).toFixed(4)}`,
    );
  if (calibration?.f1_micro_tuned !== undefined)
    log(
      `thresholds on ${x.finalSplit}: micro-F1 ${(calibration.f1_micro_at_0_5 as number).toFixed(4)} at 0.5, ` +
        `${(calibration.f1_micro_tuned as number).toFixed(4)} tuned`,
    );
  log(`best model:  ${bestDir} (version ${identity.version})`);
  log(
    `metrics:     ${path.join(o.outputDir, 'metrics.json')} (${x.finalSplit}), ` +
      `predictions: ${path.join(o.outputDir, 'predictions.jsonl')}` +
      `${multiLabel ? '' : `, ${path.join(o.outputDir, 'confusion_matrix.svg')}`}`,
  );
  return { result, baseline };
}
