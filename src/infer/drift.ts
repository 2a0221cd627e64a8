/**
 * Model monitoring without text: the distribution of predicted labels and of top-class confidence, compared with the
 * reference saved with the model at training time (its validation predictions) by the population stability index,
 * PSI = Σ (p_i − q_i) · ln(p_i / q_i). Common reading (and docs/serving.md): < 0.1 no shift, 0.1–0.2 moderate,
 * ≥ 0.2 (DRIFT_ALERT) a shift worth re-validating the model on recent, labelled data.
 */
import type { MonitoringReference } from '../models/metadata.js';
import type { Decision } from './decision.js';

export const CONFIDENCE_BINS = 10;
export const DRIFT_ALERT = 0.2;
const EPS = 1e-4;

const binOf = (c: number, bins = CONFIDENCE_BINS) => Math.min(bins - 1, Math.max(0, Math.floor(c * bins)));

/** The labels a decision counts under (single-label: its class; multi-label: each chosen label, or "(none)"). */
function labelsOf(d: Decision, labels: string[]): string[] {
  if (!Array.isArray(d.predicted)) return [labels[d.predicted]!];
  const chosen = labels.filter((_, c) => (d.predicted as number[])[c]);
  return chosen.length ? chosen : ['(none)'];
}

/** The reference of a set of decisions (e.g. the validation split at the end of training). */
export function referenceFrom(decisions: Decision[], labels: string[]): MonitoringReference {
  const counts: Record<string, number> = {};
  const conf = new Array<number>(CONFIDENCE_BINS).fill(0);
  let total = 0;
  for (const d of decisions) {
    for (const l of labelsOf(d, labels)) {
      counts[l] = (counts[l] ?? 0) + 1;
      total++;
    }
    conf[binOf(d.confidence)]!++;
  }
  return {
    labels: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / Math.max(1, total)])),
    confidence: conf.map((v) => v / Math.max(1, decisions.length)),
    n: decisions.length,
  };
}

/** PSI between two distributions over the same keys (shares; missing keys count as 0, smoothed by EPS). */
export function psi(actual: Record<string, number> | number[], expected: Record<string, number> | number[]): number {
  const keys = new Set([...Object.keys(actual), ...Object.keys(expected)]);
  const get = (x: Record<string, number> | number[], k: string) => (x as Record<string, number>)[k] ?? 0;
  let s = 0;
  for (const k of keys) {
    const p = Math.max(EPS, get(actual, k));
    const q = Math.max(EPS, get(expected, k));
    s += (p - q) * Math.log(p / q);
  }
  return s;
}

/** The last `size` decisions of a served model and their PSI against the reference. */
export class DriftWindow {
  private readonly items: { labels: string[]; bin: number }[] = [];

  constructor(
    readonly reference: MonitoringReference | null,
    readonly labels: string[],
    readonly size = 1000,
  ) {}

  add(d: Decision): void {
    this.items.push({ labels: labelsOf(d, this.labels), bin: binOf(d.confidence) });
    if (this.items.length > this.size) this.items.shift();
  }

  get count(): number {
    return this.items.length;
  }

  /** PSI of labels and confidence over the window (null without a reference or with fewer than `min` decisions). */
  scores(min = 50): { label_psi: number; confidence_psi: number; window: number; alert: boolean } | null {
    if (!this.reference || this.items.length < min) return null;
    const counts: Record<string, number> = {};
    const conf = new Array<number>(this.reference.confidence.length).fill(0);
    let total = 0;
    for (const it of this.items) {
      for (const l of it.labels) {
        counts[l] = (counts[l] ?? 0) + 1;
        total++;
      }
      conf[Math.min(conf.length - 1, it.bin)]!++;
    }
    const label_psi = psi(
      Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / total])),
      this.reference.labels,
    );
    const confidence_psi = psi(
      conf.map((v) => v / this.items.length),
      this.reference.confidence,
    );
    return {
      label_psi,
      confidence_psi,
      window: this.items.length,
      alert: Math.max(label_psi, confidence_psi) >= DRIFT_ALERT,
    };
  }
}
