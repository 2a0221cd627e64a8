/**
 * The headline metrics of a run, each with a plain name, its bootstrap interval (accuracy and macro-F1, from
 * predictions.jsonl) and the TF-IDF baseline's value on the same rows: one list for the run report, the model card
 * and the UI's Models page (GET /v1/models/NAME/card), so they all print the same numbers.
 */
import { overallIntervals, type Intervals } from './audit.js';
import { BOOTSTRAP_METHOD } from './bootstrap.js';
import { auditRows, loadRunFolder, type RunFolder } from './run-folder.js';

export const HEADLINE_KEYS = {
  single: ['accuracy', 'f1_macro', 'f1_weighted', 'precision_macro', 'recall_macro', 'roc_auc_ovr', 'loss'],
  multi: [
    'f1_micro',
    'f1_macro',
    'precision_micro',
    'recall_micro',
    'subset_accuracy',
    'roc_auc_micro',
    'roc_auc_macro',
    'precision_at_5',
    'precision_at_8',
    'precision_at_15',
    'loss',
  ],
};

/** What each metric is called for people who do not read metrics.json. */
export const METRIC_NAMES: Record<string, string> = {
  accuracy: 'Accuracy (share of notes given the right condition)',
  f1_macro: 'Macro-F1 (F1 averaged over the conditions)',
  f1_micro: 'Micro-F1 (F1 over every label decision)',
  f1_weighted: 'Weighted F1 (F1 averaged over the conditions, by their rows)',
  precision_macro: 'Precision (averaged over the conditions)',
  recall_macro: 'Sensitivity (recall, averaged over the conditions)',
  precision_micro: 'Precision (over every label decision)',
  recall_micro: 'Sensitivity (recall, over every label decision)',
  subset_accuracy: 'Exact match (share of notes with every label right)',
  roc_auc_ovr: 'ROC-AUC (each condition against the rest, averaged)',
  roc_auc_micro: 'Micro ROC-AUC (every label score of every note ranked together)',
  roc_auc_macro: 'Macro ROC-AUC (per label, averaged)',
  precision_at_5: 'P@5 (share of each note’s 5 highest-scored labels that are right)',
  precision_at_8: 'P@8 (share of each note’s 8 highest-scored labels that are right)',
  precision_at_15: 'P@15 (share of each note’s 15 highest-scored labels that are right)',
  loss: 'Loss (cross-entropy; lower is better)',
};

export interface HeadlineMetric {
  key: string;
  name: string;
  value: number;
  /** 95 % bootstrap interval (accuracy or exact match, and macro-F1), null for the others */
  ci: [number, number] | null;
  /** the TF-IDF + logistic-regression baseline on the same rows, null when the run has none */
  baseline: number | null;
}

export interface Headline {
  split: string;
  n: number | null;
  metrics: HeadlineMetric[];
  /** how the baseline was made (null: the run skipped it) */
  baseline: string | null;
  intervals: string | null;
}

/** Bootstrap intervals of accuracy and macro-F1 over the run's predictions (null without predictions.jsonl). */
export function runIntervals(f: RunFolder): Intervals | null {
  const rows = f.predictions ? auditRows(f.predictions, f.labels, f.multiLabel) : [];
  return rows.length ? overallIntervals(rows, { labels: f.labels, multiLabel: f.multiLabel }) : null;
}

/** The headline metrics of a loaded run folder (null without metrics.json). */
export function headlineOf(f: RunFolder, ci: Intervals | null = runIntervals(f)): Headline | null {
  const m = f.metrics;
  if (!m) return null;
  const b = m.baseline && typeof m.baseline === 'object' ? (m.baseline as Record<string, unknown>) : null;
  const ciOf = (k: string) =>
    !ci
      ? null
      : k === 'f1_macro'
        ? ci.f1_macro
        : k === (f.multiLabel ? 'subset_accuracy' : 'accuracy')
          ? ci.accuracy
          : null;
  const metrics = (f.multiLabel ? HEADLINE_KEYS.multi : HEADLINE_KEYS.single)
    .filter((k) => typeof m[k] === 'number')
    .map((key) => ({
      key,
      name: METRIC_NAMES[key] ?? key,
      value: m[key] as number,
      ci: ciOf(key),
      baseline: b && typeof b[key] === 'number' ? (b[key] as number) : null,
    }));
  return {
    split: String(m.split ?? ''),
    n: typeof m.n === 'number' ? m.n : null,
    metrics,
    baseline: b ? 'TF-IDF word 1–2-grams + logistic regression, trained and scored on the same rows' : null,
    intervals: ci ? `95 %, ${BOOTSTRAP_METHOD}` : null,
  };
}

/** The headline of a run folder on disk; null when it holds no readable run, or the run of another model. */
export function headlineOfRun(dir: string, sha256?: string): Headline | null {
  try {
    const f = loadRunFolder(dir);
    const model = f.metrics?.model as { sha256?: unknown } | undefined;
    if (sha256 && typeof model?.sha256 === 'string' && model.sha256 !== sha256) return null;
    return headlineOf(f);
  } catch {
    return null; // a model folder without its run: nothing to show
  }
}
