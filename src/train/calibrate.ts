/**
 * Stage 4 of `medtune train`, calibrate: fitted on the validation split (never on test) — a temperature for
 * single-label models, per-label thresholds for multi-label ones, optionally the abstention threshold (a fixed
 * --abstain-below, or the one reaching --target-accuracy) — and the decision settings the saved model will carry.
 */
import type { Example } from '../data/dataset.js';
import type { DecisionSettings } from '../infer/decision.js';
import { multiLabelMetrics } from '../evaluate/metrics.js';
import { calibrationReport, fitCalibration, withTemperature, type FittedCalibration } from '../evaluate/calibration.js';
import type { EvalResult } from '../evaluate/types.js';
import type { Fitted } from './fit.js';
import type { Splits, TrainOptions } from './options.js';

export interface Calibration {
  /** what was fitted (null: nothing, e.g. no validation split or --no-calibrate without abstention) */
  fitted: FittedCalibration | null;
  /** the decision after calibration (the Predictor builds the same from the saved metadata) */
  settings: DecisionSettings;
  /** probabilities with the fitted temperature applied */
  apply(probs: number[][]): number[][];
}

/** Calibration fitted on validation, or null (no validation split, or --no-calibrate), said in one line. */
function fitOnValidation(o: TrainOptions, s: Splits, f: Fitted, log: (l: string) => void): FittedCalibration | null {
  if (o.calibrate === false) {
    if (o.abstainBelow === undefined) return null;
    log('--no-calibrate: the abstention threshold applies to uncalibrated probabilities');
    return { abstain: { below: o.abstainBelow, source: 'fixed' } };
  }
  if (!f.validation) {
    log(
      'calibration: no validation split to fit it on (pass --validation or keep --validation-split > 0); ' +
        'the model is left uncalibrated',
    );
    return null;
  }
  const probs = f.trainer.evaluate(f.validation).probabilities;
  const fitted = fitCalibration(
    probs,
    f.validation.examples.map((e) => e.label),
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
  log(`calibration (fitted on ${f.validation.examples.length} validation rows): ${what}${abstain}`);
  return fitted;
}

/**
 * Stage 4: calibration fitted on validation, and the decision settings that follow (the Predictor builds the same
 * from the saved metadata).
 */
export function calibrate(o: TrainOptions, s: Splits, f: Fitted, log: (l: string) => void): Calibration {
  const fitted = fitOnValidation(o, s, f, log);
  const { labels, multiLabel } = s.trainData;
  const settings: DecisionSettings = {
    labels,
    multiLabel,
    temperature: fitted?.temperature ?? 1,
    threshold: f.cfg.threshold,
    thresholds: fitted?.thresholds ? labels.map((l) => fitted.thresholds![l]!) : undefined,
    abstainBelow: fitted?.abstain?.below ?? null,
  };
  const apply = (probs: number[][]) => (fitted?.temperature ? withTemperature(probs, fitted.temperature) : probs);
  return { fitted, settings, apply };
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
