/**
 * The decision, in one place for every consumer (predict, evaluate, the Trainer's evaluation, the server, the UI):
 * logits → probabilities (softmax with temperature scaling for single-label, per-label sigmoid for multi-label)
 * → the predicted label(s) (argmax, or per-label thresholds) → whether the note is in scope (its out-of-scope score,
 * infer/ood.ts) → abstention when the note is out of scope or the model is not sure.
 */
import { probabilitiesOf } from '../models/heads.js';

/** Why a decision abstains: the note is unlike the training data, or the model is not confident enough. */
export type AbstainReason = 'out_of_scope' | 'low_confidence';

export interface DecisionSettings {
  labels: string[];
  multiLabel: boolean;
  /** temperature T of softmax(logits / T) (single-label; default 1: uncalibrated) */
  temperature?: number;
  /** per-label thresholds of a multi-label model, in label order (default: `threshold` for every label) */
  thresholds?: number[];
  /** multi-label threshold for labels without their own (default 0.5) */
  threshold?: number;
  /** abstain when the confidence is below this (default: never) */
  abstainBelow?: number | null;
  /** abstain on out-of-scope notes (default false; a model's stored abstention turns it on) */
  abstainOutOfScope?: boolean;
}

export interface Decision {
  /** calibrated probabilities in label order */
  probabilities: number[];
  /** class id (single-label) or multi-hot vector (multi-label) */
  predicted: number | number[];
  /** top-class probability (single-label); multi-label: the certainty of the least certain label, min max(p, 1-p) */
  confidence: number;
  abstain: boolean;
  /** why it abstains (null when it answers) */
  abstainReason: AbstainReason | null;
  /** the note is like the training data (true when the model has no out-of-scope detector) */
  inScope: boolean;
  /**
   * distance of the note's encoder features to the nearest training class, over the in-scope limit: above 1 is out
   * of scope (higher = further from the training data); null when the model has no detector
   */
  oodScore: number | null;
}

/**
 * The settings with a request's or command's abstention: undefined keeps them; null never abstains (neither rule);
 * a number abstains below that confidence and on out-of-scope notes.
 */
export function withAbstention(s: DecisionSettings, abstainBelow: number | null | undefined): DecisionSettings {
  if (abstainBelow === undefined) return s;
  return { ...s, abstainBelow, abstainOutOfScope: abstainBelow !== null };
}

/** Probabilities of one row of logits, calibrated with the settings' temperature (single-label). */
export function probabilities(logits: number[], s: Pick<DecisionSettings, 'multiLabel' | 'temperature'>): number[] {
  const T = s.temperature ?? 1;
  return probabilitiesOf(!s.multiLabel && T !== 1 ? logits.map((x) => x / T) : logits, s.multiLabel);
}

/** The predicted label(s) and the confidence of probabilities under the settings. */
function pick(p: number[], s: DecisionSettings): { predicted: number | number[]; confidence: number } {
  if (s.multiLabel) {
    const th = (c: number) => s.thresholds?.[c] ?? s.threshold ?? 0.5;
    return {
      predicted: p.map((x, c) => (x >= th(c) ? 1 : 0)),
      confidence: Math.min(...p.map((x) => Math.max(x, 1 - x))),
    };
  }
  let best = 0;
  for (let c = 1; c < p.length; c++) if (p[c]! > p[best]!) best = c;
  return { predicted: best, confidence: p[best]! };
}

/**
 * The decision for probabilities already computed (e.g. by `probabilities`, or stored in predictions.jsonl), with the
 * note's out-of-scope score (null: no detector). An out-of-scope note abstains before a low confidence does.
 */
export function decideFromProbabilities(p: number[], s: DecisionSettings, oodScore: number | null = null): Decision {
  const { predicted, confidence } = pick(p, s);
  const inScope = oodScore === null || oodScore <= 1;
  const abstainReason: AbstainReason | null =
    !inScope && s.abstainOutOfScope
      ? 'out_of_scope'
      : s.abstainBelow != null && confidence < s.abstainBelow
        ? 'low_confidence'
        : null;
  return { probabilities: p, predicted, confidence, abstain: abstainReason !== null, abstainReason, inScope, oodScore };
}

export function decide(logits: number[], s: DecisionSettings, oodScore: number | null = null): Decision {
  return decideFromProbabilities(probabilities(logits, s), s, oodScore);
}

/** Label names of a decision: the class name, or the chosen names of a multi-label model. */
export function labelNames(predicted: number | number[], labels: string[]): string | string[] {
  return Array.isArray(predicted) ? labels.filter((_, c) => predicted[c]) : labels[predicted]!;
}
