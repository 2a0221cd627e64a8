/**
 * The decision, in one place for every consumer (predict, evaluate, the Trainer's evaluation, the server, the UI):
 * logits → probabilities (softmax with temperature scaling for single-label, per-label sigmoid for multi-label)
 * → the predicted label(s) (argmax, or per-label thresholds) → abstention when the model is not sure.
 */
import { probabilitiesOf } from '../models/heads.js';

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
}

export interface Decision {
  /** calibrated probabilities in label order */
  probabilities: number[];
  /** class id (single-label) or multi-hot vector (multi-label) */
  predicted: number | number[];
  /** top-class probability (single-label); multi-label: the certainty of the least certain label, min max(p, 1-p) */
  confidence: number;
  abstain: boolean;
}

/** The settings with another abstention threshold (a request's; null: never abstain), or as they are (undefined). */
export function withAbstention(s: DecisionSettings, abstainBelow: number | null | undefined): DecisionSettings {
  return abstainBelow === undefined ? s : { ...s, abstainBelow };
}

/** Probabilities of one row of logits, calibrated with the settings' temperature (single-label). */
export function probabilities(logits: number[], s: Pick<DecisionSettings, 'multiLabel' | 'temperature'>): number[] {
  const T = s.temperature ?? 1;
  return probabilitiesOf(!s.multiLabel && T !== 1 ? logits.map((x) => x / T) : logits, s.multiLabel);
}

/** The decision for probabilities already computed (e.g. by `probabilities`, or stored in predictions.jsonl). */
export function decideFromProbabilities(p: number[], s: DecisionSettings): Decision {
  if (s.multiLabel) {
    const th = (c: number) => s.thresholds?.[c] ?? s.threshold ?? 0.5;
    const predicted = p.map((x, c) => (x >= th(c) ? 1 : 0));
    const confidence = Math.min(...p.map((x) => Math.max(x, 1 - x)));
    return { probabilities: p, predicted, confidence, abstain: s.abstainBelow != null && confidence < s.abstainBelow };
  }
  let best = 0;
  for (let c = 1; c < p.length; c++) if (p[c]! > p[best]!) best = c;
  const confidence = p[best]!;
  return {
    probabilities: p,
    predicted: best,
    confidence,
    abstain: s.abstainBelow != null && confidence < s.abstainBelow,
  };
}

export function decide(logits: number[], s: DecisionSettings): Decision {
  return decideFromProbabilities(probabilities(logits, s), s);
}

/** Label names of a decision: the class name, or the chosen names of a multi-label model. */
export function labelNames(predicted: number | number[], labels: string[]): string | string[] {
  return Array.isArray(predicted) ? labels.filter((_, c) => predicted[c]) : labels[predicted]!;
}
