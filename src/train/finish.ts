/**
 * The steps after training, in order: fit calibration on the validation split (never on test) — a temperature for
 * single-label models, per-label thresholds for multi-label ones, optionally the abstention threshold —, save
 * best_model/ with its metadata (training record, calibration, the drift reference), evaluate the final split with
 * the calibrated decision, fit the TF-IDF baseline beside it, and write the reports.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Example } from '../data/dataset.js';
import { saveClassifier, type LoadedClassifier } from '../models/auto.js';
import { fileSha256, modelIdentity, parseMetadata, type MedtuneMetadata } from '../models/metadata.js';
import { referenceFrom } from '../infer/drift.js';
import { decideFromProbabilities, type DecisionSettings } from '../infer/decision.js';
import { writeEvalReport } from '../evaluate/report.js';
import { tfidfLogRegBaseline } from '../evaluate/baseline.js';
import { groupPredictions, multiLabelMetrics, singleLabelMetrics } from '../evaluate/metrics.js';
import { resultFrom } from '../evaluate/evaluate.js';
import { calibrationReport, fitCalibration, trustMetrics, withTemperature, type FittedCalibration } from '../evaluate/calibration.js';
import type { EvalResult, SplitData } from '../evaluate/types.js';
import type { TrainConfig } from './config.js';
import type { Trainer } from './trainer.js';
import type { Splits, TrainOptions } from './options.js';

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

function runBaseline(s: Splits, final: Example[], threshold: number, groupColumn: string | undefined, log: (l: string) => void): Record<string, unknown> {
  const tb = performance.now();
  const text = (e: Example) => e.text + (e.pair ? ` ${e.pair}` : '');
  const { labels, multiLabel } = s.trainData;
  const probs = tfidfLogRegBaseline(s.train.map(text), s.train.map((e) => e.label), final.map(text), labels.length, multiLabel, 10, log);
  const baseline = baselineMetrics(probs, final, labels, multiLabel, threshold, groupColumn);
  const fmt = (m: Record<string, unknown>) => ['accuracy', 'f1_macro', 'f1_micro'].filter((k) => typeof m[k] === 'number').map((k) => `${k} ${(m[k] as number).toFixed(4)}`).join(', ');
  log(`baseline (TF-IDF 1-2 grams + logistic regression, C=10${multiLabel ? ', one-vs-rest, balanced' : ''}; ${((performance.now() - tb) / 1000).toFixed(0)} s): ${fmt(baseline)}${baseline.grouped ? `; grouped: ${fmt(baseline.grouped as Record<string, unknown>)}` : ''}`);
  return baseline;
}

/** What the saved model records about its training (`medtune.training`, `parent_sha256`): data hashes, recipe. */
function modelRecord(o: TrainOptions, s: Splits, cfg: TrainConfig, maxLength: number, modelDir: string): MedtuneMetadata {
  const data = [['train', o.train, s.train.length], ['validation', o.validation, s.validation.length], ['test', o.test, s.test.length]] as const;
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
      data: data.filter(([, f]) => f).map(([split, file, rows]) => ({ split, file: path.resolve(file!), sha256: fileSha256(file!), rows })),
      recipe: { ...recipe, maxLength, classWeights: classWeights ? o.classWeights : null, validationSplit: o.validation ? null : o.validationSplit, deid: o.deid ? o.deidOperator ?? 'tag' : false },
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
    log('calibration: no validation split to fit it on (pass --validation or keep --validation-split > 0); the model is left uncalibrated');
    return null;
  }
  const probs = trainer.evaluate(x.validation).probabilities;
  const fitted = fitCalibration(probs, x.validation.examples.map((e) => e.label), s.trainData.labels, s.trainData.multiLabel, { abstainBelow: o.abstainBelow, targetAccuracy: o.targetAccuracy });
  const what = fitted.temperature !== undefined ? `temperature ${fitted.temperature.toFixed(4)}` : `per-label thresholds (${Object.values(fitted.thresholds!).map((t) => t.toFixed(2)).join(', ')})`;
  const abstain = fitted.abstain ? `; abstain below ${fitted.abstain.below.toFixed(4)}${fitted.abstain.target_accuracy ? ` (target accuracy ${fitted.abstain.target_accuracy})` : ''}, keeping ${(100 * (fitted.abstain.coverage ?? 1)).toFixed(1)}% of validation` : '';
  log(`calibration (fitted on ${x.validation.examples.length} validation rows): ${what}${abstain}`);
  return fitted;
}

/** Decision settings after calibration (the Predictor builds the same from the saved metadata). */
function settingsOf(x: FinishInput, fitted: FittedCalibration | null): DecisionSettings {
  const { labels, multiLabel } = x.s.trainData;
  return {
    labels, multiLabel, temperature: fitted?.temperature ?? 1, threshold: x.cfg.threshold,
    thresholds: fitted?.thresholds ? labels.map((l) => fitted.thresholds![l]!) : undefined, abstainBelow: fitted?.abstain?.below ?? null,
  };
}

/** metrics.json's calibration block: before/after on the final split (single-label), 0.5 vs tuned (multi-label). */
function calibrationBlock(x: FinishInput, raw: EvalResult, fitted: FittedCalibration | null, settings: DecisionSettings): Record<string, unknown> | null {
  if (!fitted || (!fitted.temperature && !fitted.thresholds)) return null;
  const gold = x.final.examples.map((e) => e.label);
  const fittedOn = { fitted_on: 'validation', evaluated_on: x.finalSplit };
  if (fitted.temperature !== undefined) return { ...calibrationReport(raw.probabilities, gold as number[], fitted.temperature), ...fittedOn };
  const labels = x.s.trainData.labels;
  const at = (th: (c: number) => number) => multiLabelMetrics(raw.probabilities.map((p) => p.map((v, c) => (v >= th(c) ? 1 : 0))), gold as number[][], labels);
  const half = at(() => x.cfg.threshold);
  const tuned = at((c) => settings.thresholds![c]!);
  return { thresholds: fitted.thresholds, f1_micro_at_0_5: half.f1_micro, f1_macro_at_0_5: half.f1_macro, f1_micro_tuned: tuned.f1_micro, f1_macro_tuned: tuned.f1_macro, ...fittedOn };
}

export async function finishTraining(x: FinishInput): Promise<{ result: EvalResult; baseline: Record<string, unknown> | null }> {
  const { o, s, trainer, loaded, log } = x;
  const { labels, multiLabel } = s.trainData;
  const fitted = calibrate(x);
  const settings = settingsOf(x, fitted);
  const calibrated = (probs: number[][]) => (fitted?.temperature ? withTemperature(probs, fitted.temperature) : probs);
  const medtune: MedtuneMetadata = { ...parseMetadata((loaded.config as { medtune?: unknown }).medtune), ...modelRecord(o, s, x.cfg, x.maxLength, x.modelDir), ...(fitted ?? {}) };
  if (x.validation) medtune.reference = referenceFrom(calibrated(trainer.evaluate(x.validation).probabilities).map((p) => decideFromProbabilities(p, settings)), labels);
  const bestDir = path.join(o.outputDir, 'best_model');
  saveClassifier(bestDir, loaded.model, { ...loaded.config, medtune }, loaded.dir);
  // the final split, as the saved model (through a Predictor) will classify it
  const raw = trainer.evaluate(x.final);
  const result = { ...resultFrom(calibrated(raw.probabilities), x.final.examples, settings, raw.metrics.loss), cut: x.final.enc.cut };
  const baseline = o.baseline !== false ? runBaseline(s, x.final.examples, x.cfg.threshold, o.groupColumn, log) : null;
  const calibration = calibrationBlock(x, raw, fitted, settings);
  const trust = trustMetrics(result.probabilities, result.predictions, x.final.examples.map((e) => e.label), result.abstained, multiLabel);
  const identity = modelIdentity(bestDir, medtune);
  const extra = {
    train_seconds: (performance.now() - x.t0) / 1000, model: { version: identity.version, sha256: identity.sha256 },
    ...(calibration ? { calibration } : {}), ...trust, ...(baseline ? { baseline } : {}),
  };
  await writeEvalReport({ outputDir: o.outputDir, split: x.finalSplit, examples: x.final.examples, result, labels, multiLabel, groupColumn: o.groupColumn, groupRegex: o.groupRegex, threshold: x.cfg.threshold, extra, log });
  if (calibration?.ece_before !== undefined) log(`calibration on ${x.finalSplit}: ECE ${(calibration.ece_before as number).toFixed(4)} → ${(calibration.ece_after as number).toFixed(4)}, NLL ${(calibration.nll_before as number).toFixed(4)} → ${(calibration.nll_after as number).toFixed(4)}`);
  if (calibration?.f1_micro_tuned !== undefined) log(`thresholds on ${x.finalSplit}: micro-F1 ${(calibration.f1_micro_at_0_5 as number).toFixed(4)} at 0.5, ${(calibration.f1_micro_tuned as number).toFixed(4)} tuned`);
  log(`best model:  ${bestDir} (version ${identity.version})`);
  log(`metrics:     ${path.join(o.outputDir, 'metrics.json')} (${x.finalSplit}), predictions: ${path.join(o.outputDir, 'predictions.jsonl')}${multiLabel ? '' : `, ${path.join(o.outputDir, 'confusion_matrix.svg')}`}`);
  return { result, baseline };
}
