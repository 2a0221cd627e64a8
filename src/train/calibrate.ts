/**
 * Stage 4 of `medtune train`, calibrate, fitted on the validation split (never on test): the out-of-scope detector
 * (Mahalanobis distance on the encoder's features, fitted on the training split, its threshold keeping --ood-keep of
 * validation in scope; infer/ood.ts), a temperature for single-label models, per-label thresholds for multi-label
 * ones, and abstention — on by default: out-of-scope notes abstain, and so do notes below the confidence that reaches
 * --target-accuracy (default 0.95) on the in-scope validation notes (or a fixed --abstain-below; --no-abstain: never)
 * — and the decision settings the saved model will carry.
 */
import path from 'node:path';
import type { Example } from '../data/dataset.js';
import { writeFileAtomic } from '../common/atomic.js';
import type { DecisionSettings } from '../infer/decision.js';
import { forwardPasses } from '../infer/forward.js';
import { fitDetector, type FittedDetector } from '../infer/ood.js';
import type { OodFeatures } from '../models/metadata.js';
import { multiLabelMetrics } from '../evaluate/metrics.js';
import {
  calibrationReport,
  DEFAULT_TARGET_ACCURACY,
  fitCalibration,
  MIN_THRESHOLD_POSITIVES,
  withTemperature,
  type FittedCalibration,
} from '../evaluate/calibration.js';
import type { EvalResult, SplitData } from '../evaluate/types.js';
import type { Fitted } from './fit.js';
import type { Splits, TrainOptions } from './options.js';

/** The encoder features the out-of-scope detector reads (measured in docs/trust.md). */
export const OOD_FEATURES: OodFeatures = 'mean';

export interface Calibration {
  /** what was fitted (null: nothing, e.g. no validation split or --no-calibrate without abstention) */
  fitted: FittedCalibration | null;
  /** the out-of-scope detector (null: no validation split to set its threshold on) */
  ood: FittedDetector | null;
  /** the decision after calibration (the Predictor builds the same from the saved metadata) */
  settings: DecisionSettings;
  /** probabilities with the fitted temperature applied */
  apply(probs: number[][]): number[][];
  /** the out-of-scope scores of a split under the fitted detector (undefined: no detector) */
  oodScores(data: SplitData): number[] | undefined;
}

/** Encoder features of a split from the trained model (in eval mode while it runs). */
export function splitFeatures(f: Fitted, data: SplitData, kind: OodFeatures): number[][] {
  const model = f.loaded.model;
  const was = model.training;
  model.eval();
  try {
    return forwardPasses(model, data.enc, { padId: f.trainer.padId, batchSize: 64, features: kind }).features!;
  } finally {
    model.train(was);
  }
}

/** The detector fitted on the training split's features, its threshold on validation's; null without validation. */
function fitOod(o: TrainOptions, s: Splits, f: Fitted, log: (l: string) => void): FittedDetector | null {
  if (!f.validation) return null;
  const d = fitDetector({
    train: splitFeatures(f, f.train, OOD_FEATURES),
    classOf: f.train.examples.map((e) => (s.trainData.multiLabel ? 0 : (e.label as number))),
    validation: splitFeatures(f, f.validation, OOD_FEATURES),
    features: OOD_FEATURES,
    keep: o.oodKeep,
  });
  const kept = d.validationScores.filter((x) => x <= 1).length;
  log(
    `out-of-scope detector: Mahalanobis distance on the encoder's features (${d.settings.classes} class means, ` +
      `${d.settings.dim} features, fitted on ${f.train.examples.length} training rows); threshold ` +
      `${d.settings.threshold.toFixed(3)} keeps ${kept} of ${f.validation.examples.length} validation rows in scope`,
  );
  return d;
}

/** The target accuracy of abstention: given, or the default (single-label, calibrated, abstention not turned off). */
function targetAccuracyOf(o: TrainOptions, multiLabel: boolean): { target?: number; dflt: boolean } {
  if (o.targetAccuracy !== undefined) return { target: o.targetAccuracy, dflt: false };
  const off = o.abstain === false || o.abstainBelow !== undefined || multiLabel || o.calibrate === false;
  return off ? { dflt: false } : { target: DEFAULT_TARGET_ACCURACY, dflt: true };
}

/** Calibration and the confidence rule fitted on validation probabilities (the default target may be out of reach). */
function fitOnProbabilities(
  o: TrainOptions,
  s: Splits,
  probs: number[][],
  inScope: boolean[] | undefined,
  log: (l: string) => void,
): FittedCalibration {
  const { target, dflt } = targetAccuracyOf(o, s.trainData.multiLabel);
  const unreachable = dflt ? (why: string) => log(`abstention: ${why}; no confidence threshold is set`) : undefined;
  return fitCalibration(
    probs,
    s.validation.map((e) => e.label),
    s.trainData.labels,
    s.trainData.multiLabel,
    { abstainBelow: o.abstainBelow, targetAccuracy: target, inScope, unreachable },
  );
}

/** Calibration fitted on validation, or null (no validation split, or --no-calibrate), said in one line. */
function fitOnValidation(
  o: TrainOptions,
  s: Splits,
  f: Fitted,
  inScope: boolean[] | undefined,
  log: (l: string) => void,
): FittedCalibration | null {
  if (o.calibrate === false) {
    if (o.abstainBelow === undefined) return null;
    log('--no-calibrate: the abstention threshold applies to uncalibrated probabilities');
    return { abstain: { below: o.abstainBelow, source: 'fixed' } };
  }
  if (!f.validation) {
    log(
      'calibration: no validation split to fit it on (pass --validation or keep --validation-split > 0); ' +
        'the model is left uncalibrated, without an out-of-scope detector and without abstention',
    );
    return null;
  }
  const fitted = fitOnProbabilities(o, s, f.trainer.evaluate(f.validation).probabilities, inScope, log);
  const what =
    fitted.temperature !== undefined
      ? `temperature ${fitted.temperature.toFixed(4)}`
      : thresholdSummary(o.outputDir, fitted.thresholds!, f.validation.examples);
  log(`calibration (fitted on ${f.validation.examples.length} validation rows): ${what}`);
  return fitted;
}

/**
 * Per-label thresholds in one line (the rule, how many labels have their own, the shared value); the full table —
 * label, validation positives, threshold, own or shared — goes to OUTPUT/thresholds.tsv.
 */
function thresholdSummary(outputDir: string, thresholds: Record<string, number>, validation: Example[]): string {
  const labels = Object.keys(thresholds);
  const positives = labels.map((_, c) => validation.filter((e) => (e.label as number[])[c]! > 0.5).length);
  const own = positives.map((p) => p >= MIN_THRESHOLD_POSITIVES);
  const file = path.join(outputDir, 'thresholds.tsv');
  writeFileAtomic(
    file,
    'label\tvalidation_positives\tthreshold\trule\n' +
      labels.map((l, c) => `${l}\t${positives[c]}\t${thresholds[l]}\t${own[c] ? 'own' : 'shared'}\n`).join(''),
  );
  const ownValues = labels.filter((_, c) => own[c]).map((l) => thresholds[l]!);
  const shared = labels.find((_, c) => !own[c]);
  const range = ownValues.length ? ` (${Math.min(...ownValues).toFixed(2)}–${Math.max(...ownValues).toFixed(2)})` : '';
  return (
    `thresholds: ${ownValues.length} of ${labels.length} labels have ≥ ${MIN_THRESHOLD_POSITIVES} validation ` +
    `positives and their own${range}` +
    `${shared !== undefined ? `; ${labels.length - ownValues.length} share ${thresholds[shared]!.toFixed(2)}` : ''}` +
    `; table: ${file}`
  );
}

/** The abstention the model will carry: the confidence rule fitted, and out-of-scope notes (unless --no-abstain). */
function withOutOfScope(
  o: TrainOptions,
  fitted: FittedCalibration | null,
  ood: FittedDetector | null,
): FittedCalibration | null {
  if (o.abstain === false) {
    const { abstain: _a, ...rest } = fitted ?? {};
    return Object.keys(rest).length ? rest : null;
  }
  if (!ood) return fitted;
  const abstain = fitted?.abstain ?? { below: 0, source: 'fixed' as const };
  return { ...(fitted ?? {}), abstain: { ...abstain, out_of_scope: true } };
}

/** One line: what abstention will do, and the share of validation it answers. */
function logAbstention(o: TrainOptions, fitted: FittedCalibration | null, f: Fitted, log: (l: string) => void): void {
  const a = fitted?.abstain;
  if (o.abstain === false) return log('abstention: off (--no-abstain); every note gets an answer');
  if (!a) return;
  const rules = [
    ...(a.out_of_scope ? ['on out-of-scope notes'] : []),
    ...(a.below > 0
      ? [
          `below confidence ${a.below.toFixed(4)}` +
            `${a.target_accuracy ? ` (target accuracy ${a.target_accuracy} of answered validation notes)` : ''}`,
        ]
      : []),
  ];
  const coverage =
    a.coverage !== undefined && f.validation
      ? `; answers ${(100 * a.coverage).toFixed(1)}% of ${f.validation.examples.length} validation rows`
      : '';
  log(`abstention ("refer to a clinician"): ${rules.join(' and ') || 'never'}${coverage} (--no-abstain turns it off)`);
}

/**
 * Stage 4: the out-of-scope detector and calibration fitted on validation, abstention, and the decision settings
 * that follow (the Predictor builds the same from the saved metadata).
 */
export function calibrate(o: TrainOptions, s: Splits, f: Fitted, log: (l: string) => void): Calibration {
  const ood = fitOod(o, s, f, log);
  const inScope = ood?.validationScores.map((x) => x <= 1);
  const fitted = withOutOfScope(o, fitOnValidation(o, s, f, inScope, log), ood);
  logAbstention(o, fitted, f, log);
  const { labels, multiLabel } = s.trainData;
  const settings: DecisionSettings = {
    labels,
    multiLabel,
    temperature: fitted?.temperature ?? 1,
    threshold: f.cfg.threshold,
    thresholds: fitted?.thresholds ? labels.map((l) => fitted.thresholds![l]!) : undefined,
    abstainBelow: fitted?.abstain?.below ?? null,
    abstainOutOfScope: !!fitted?.abstain?.out_of_scope,
  };
  const apply = (probs: number[][]) => (fitted?.temperature ? withTemperature(probs, fitted.temperature) : probs);
  const oodScores = (data: SplitData) =>
    ood ? splitFeatures(f, data, OOD_FEATURES).map((x) => ood.detector.score(x)) : undefined;
  return { fitted, ood, settings, apply, oodScores };
}
/** metrics.json's calibration block: before/after on the final split (single-label), 0.5 vs tuned (multi-label). */
export function calibrationBlock(
  c: Calibration,
  raw: EvalResult,
  final: { examples: Example[]; split: string },
  threshold: number,
): Record<string, unknown> | null {
  const { fitted, settings } = c;
  if (!fitted || (!fitted.temperature && !fitted.thresholds)) return null;
  const gold = final.examples.map((e) => e.label);
  const fittedOn = { fitted_on: 'validation', evaluated_on: final.split };
  if (fitted.temperature !== undefined)
    return { ...calibrationReport(raw.probabilities, gold as number[], fitted.temperature), ...fittedOn };
  const labels = settings.labels;
  const at = (th: (c: number) => number) =>
    multiLabelMetrics(
      raw.probabilities.map((p) => p.map((v, c) => (v >= th(c) ? 1 : 0))),
      gold as number[][],
      labels,
    );
  const half = at(() => threshold);
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
