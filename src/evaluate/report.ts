/**
 * Evaluation reports written into an output folder: metrics.json (with grouped metrics when asked),
 * predictions.jsonl (every row with gold, prediction, `correct`, abstention, scope and probabilities) and, for
 * single-label models,
 * confusion_matrix.svg (rendered headless with vega-lite + vega).
 */
import path from 'node:path';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { writeFileAtomic } from '../common/atomic.js';
import type { Example } from '../data/dataset.js';
import type { EvalResult } from './types.js';
import { groupPredictions, multiLabelMetrics, singleLabelMetrics } from './metrics.js';

/** The metrics the log line of an evaluation shows (those a result has). */
const LOGGED_METRICS = [
  'accuracy',
  'f1_macro',
  'f1_weighted',
  'roc_auc_ovr',
  'f1_micro',
  'subset_accuracy',
  'roc_auc_micro',
  'roc_auc_macro',
  'precision_at_8',
  'loss',
];

export interface ReportOptions {
  outputDir: string;
  split: string;
  examples: Example[];
  result: EvalResult;
  labels: string[];
  multiLabel: boolean;
  groupColumn?: string;
  groupRegex?: string;
  extra?: Record<string, unknown>;
  /** per example: its groups in the --audit-column columns (written into predictions.jsonl for the bias audit) */
  audit?: (Record<string, string> | undefined)[];
  log?: (l: string) => void;
}

/** The confusion matrix as an SVG heat map with counts (rows: true label, columns: predicted). */
export async function confusionSvg(confusion: number[][], labels: string[]): Promise<string> {
  const values = confusion.flatMap((row, i) =>
    row.map((count, j) => ({ actual: labels[i], predicted: labels[j], count })),
  );
  const size = Math.max(240, Math.min(900, labels.length * 28));
  const enc = {
    x: { field: 'predicted', type: 'nominal', sort: labels, title: 'predicted' },
    y: { field: 'actual', type: 'nominal', sort: labels, title: 'true label' },
  };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Confusion matrix',
    data: { values },
    width: size,
    height: size,
    layer: [
      {
        mark: 'rect',
        encoding: { ...enc, color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' } } },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          ...enc,
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: 'datum.count > 0', value: 'black' }, value: '#bbb' },
        },
      },
    ],
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const view = new vega.View(vega.parse(compile(spec as any).spec), { renderer: 'none' });
  return view.toSVG();
}

/**
 * One JSON line per example: row, text, gold label, the top label (`predicted`) and `correct` whatever the
 * abstention, abstention and its reason, whether the note is in scope, truncation, audit groups, probabilities.
 */
export function predictionLines(
  o: Pick<ReportOptions, 'examples' | 'result' | 'labels' | 'multiLabel' | 'audit'>,
): string[] {
  const r = o.result;
  const name = (x: number | number[]) => (Array.isArray(x) ? o.labels.filter((_, k) => x[k]) : o.labels[x]);
  return o.examples.map((e, i) => {
    const pred = r.predictions[i]!;
    const correct = o.multiLabel ? JSON.stringify(pred) === JSON.stringify(e.label) : pred === e.label;
    const ood = r.oodScores?.[i];
    const extra = {
      ...(r.abstained?.[i] ? { abstain: true, abstain_reason: r.abstainReasons?.[i] ?? null } : {}),
      ...(ood !== undefined && ood !== null ? { in_scope: ood <= 1, ood_score: Number(ood.toFixed(4)) } : {}),
      ...(r.cut?.[i] ? { truncated_tokens: r.cut[i] } : {}),
      ...(o.audit?.[i] ? { audit: o.audit[i] } : {}),
    };
    const probabilities = Object.fromEntries(o.labels.map((l, k) => [l, Number(r.probabilities[i]![k]!.toFixed(6))]));
    return JSON.stringify({
      row: e.row,
      ...(e.group !== undefined ? { group: e.group } : {}),
      text: e.text,
      label: name(e.label),
      predicted: name(pred),
      correct,
      ...extra,
      probabilities,
    });
  });
}

export async function writeEvalReport(o: ReportOptions): Promise<Record<string, unknown>> {
  const log = o.log ?? (() => {});
  const r = o.result;
  let grouped: Record<string, unknown> | null = null;
  if (o.groupColumn) {
    const g = groupPredictions(
      o.examples.map((e) => e.group ?? ''),
      o.examples.map((e) => e.label),
      r.probabilities,
      { multi: o.multiLabel, predictions: r.predictions },
    );
    const gm = o.multiLabel
      ? multiLabelMetrics(g.pred as number[][], g.gold as number[][], o.labels)
      : singleLabelMetrics(g.pred as number[], g.gold as number[], o.labels);
    grouped = { column: o.groupColumn, regex: o.groupRegex ?? null, groups: g.keys.length, ...gm };
    const gmr = gm as unknown as Record<string, number>;
    log(
      `grouped by ${o.groupColumn} (${g.keys.length} groups): ${['accuracy', 'f1_micro', 'f1_macro', 'subset_accuracy']
        .filter((k) => typeof gmr[k] === 'number')
        .map((k) => `${k} ${gmr[k]!.toFixed(4)}`)
        .join(', ')}`,
    );
  }
  const metrics = { split: o.split, ...r.metrics, ...(grouped ? { grouped } : {}), ...(o.extra ?? {}) };
  writeFileAtomic(path.join(o.outputDir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  const lines = predictionLines(o);
  writeFileAtomic(path.join(o.outputDir, 'predictions.jsonl'), lines.join('\n') + '\n');
  if (!o.multiLabel && 'confusion' in r.metrics)
    writeFileAtomic(path.join(o.outputDir, 'confusion_matrix.svg'), await confusionSvg(r.metrics.confusion, o.labels));
  const m = r.metrics as unknown as Record<string, number>;
  log(
    `${o.split} metrics: ${LOGGED_METRICS.filter((k) => typeof m[k] === 'number')
      .map((k) => `${k} ${m[k]!.toFixed(4)}`)
      .join(', ')}`,
  );
  return metrics;
}
