/**
 * The baseline every `medtune train` run reports beside the model: TF-IDF (word 1-2 grams, sublinear) + logistic
 * regression (C = 10; one-vs-rest, balanced, for multi-label) fitted on the training split and measured on the final
 * split like the model (and per group with --group-column). On small clinical datasets it is often hard to beat.
 */
import { performance } from 'node:perf_hooks';
import type { Example } from '../data/dataset.js';
import { tfidfLogRegBaseline } from '../evaluate/baseline.js';
import { groupPredictions, multiLabelMetrics, singleLabelMetrics } from '../evaluate/metrics.js';
import type { Splits } from './options.js';

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

/** The TF-IDF + logistic-regression baseline fitted on the training split, its metrics on the final split. */
export function runBaseline(
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
