/**
 * The report's sections about the model's results: headline metrics beside the baseline, per class, confusion,
 * ROC / PR, calibration, risk–coverage, misclassified cases (metrics.json, predictions.jsonl).
 */
import type { Intervals } from './audit.js';
import { confusionSpec, curvesSpec, reliabilitySpec, renderSvg, riskCoverageSpec } from './charts.js';
import { prCurve, reliabilityBins, rocCurve, topClasses, uncalibrated, type Curve } from './curves.js';
import { headlineOf } from './headline.js';
import { esc, figure, interval, num, pct, table } from './html.js';
import type { Prediction, RunFolder } from './run-folder.js';
import { obj, why, type Section } from './section.js';

function groupedLine(grouped: Record<string, unknown> | null): string {
  if (!grouped) return '';
  const values = ['accuracy', 'f1_micro', 'f1_macro']
    .filter((k) => typeof grouped[k] === 'number')
    .map((k) => `${k} ${num(grouped[k])}`);
  return (
    `<p>Grouped by <code>${esc(String(grouped.column))}</code> (${grouped.groups} groups, ` +
    `rows of one document merged): ${values.join(', ')}.</p>`
  );
}

export function metricsSection(f: RunFolder, ci: Intervals | null): Section {
  const h = headlineOf(f, ci);
  if (!h) return { id: 'metrics', title: 'Headline metrics', absent: why(f, 'metrics.json') };
  const rows = h.metrics.map((x) => [
    `${esc(x.name)} <small><code>${esc(x.key)}</code></small>`,
    num(x.value),
    interval(x.ci ?? undefined),
    num(x.baseline),
  ]);
  const baseNote = h.baseline
    ? `<p>Baseline: ${esc(h.baseline)}. A transformer that does not beat it is not worth its cost.</p>`
    : '<p class="muted">No baseline in metrics.json (the run skipped it).</p>';
  const method = h.intervals ? `<p class="muted">Intervals: ${esc(h.intervals)}.</p>` : '';
  return {
    id: 'metrics',
    title: 'Headline metrics',
    html:
      `<p>${esc(h.split)} split, ${h.n ?? '–'} rows.</p>` +
      table(['metric', 'model', '95 % interval (bootstrap)', 'baseline'], rows) +
      method +
      baseNote +
      groupedLine(obj(f.metrics!.grouped)),
  };
}

interface ClassRow {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export function perClassSection(f: RunFolder, roc: Map<string, Curve>, pr: Map<string, Curve>): Section {
  const per = (f.metrics?.per_class ?? f.metrics?.per_label) as ClassRow[] | undefined;
  if (!Array.isArray(per)) return { id: 'per-class', title: 'Per-class results', absent: why(f, 'metrics.json') };
  const rows = per.map((r) => [
    esc(r.label),
    num(r.precision, 3),
    num(r.recall, 3),
    num(r.f1, 3),
    String(r.support),
    num(roc.get(r.label)?.area, 3),
    num(pr.get(r.label)?.area, 3),
  ]);
  return {
    id: 'per-class',
    title: 'Per-class results',
    html:
      '<p>Recall is sensitivity: the share of the notes of a class that the model finds. ' +
      'Precision is the share of its answers for a class that are right.</p>' +
      table(['class', 'precision', 'recall', 'F1', 'support', 'ROC-AUC', 'average precision'], rows),
  };
}

export async function confusionSection(f: RunFolder): Promise<Section> {
  if (f.multiLabel) return { id: 'confusion', title: 'Confusion matrix', absent: 'single-label models only' };
  const c = f.metrics?.confusion as number[][] | undefined;
  if (!Array.isArray(c)) return { id: 'confusion', title: 'Confusion matrix', absent: why(f, 'metrics.json') };
  const counts = await renderSvg('confusion-counts', confusionSpec(c, f.labels, false));
  const shares = await renderSvg('confusion-share', confusionSpec(c, f.labels, true));
  return {
    id: 'confusion',
    title: 'Confusion matrix',
    html:
      figure(counts, 'Rows: true class; columns: predicted class; the diagonal is right.') +
      figure(
        shares,
        'Each row divided by its total: the diagonal is the recall of each class, ' + 'the rest where its notes went.',
      ),
  };
}

/** One-vs-rest curves of every class. */
export function curvesOf(f: RunFolder, kind: 'roc' | 'pr'): Map<string, Curve> {
  const out = new Map<string, Curve>();
  if (!f.predictions) return out;
  const gold = (p: Prediction, l: string) => (Array.isArray(p.label) ? p.label.includes(l) : p.label === l);
  for (const l of f.labels) {
    const scores = f.predictions.map((p) => p.probabilities[l] ?? 0);
    const pos = f.predictions.map((p) => gold(p, l));
    const c = kind === 'roc' ? rocCurve(l, scores, pos) : prCurve(l, scores, pos);
    if (c) out.set(l, c);
  }
  return out;
}

export async function rocPrSection(f: RunFolder, roc: Map<string, Curve>, pr: Map<string, Curve>): Promise<Section> {
  const title = 'ROC and precision–recall curves';
  if (!f.predictions) return { id: 'roc-pr', title, absent: why(f, 'predictions.jsonl') };
  const support = f.labels.map((l) => roc.get(l)?.positives ?? pr.get(l)?.positives ?? 0);
  const top = topClasses(
    f.labels,
    support,
    f.labels.map((l) => roc.get(l)?.area ?? 1),
  ).map((c) => f.labels[c]!);
  const values = (m: Map<string, Curve>) =>
    top.flatMap((l) =>
      (m.get(l)?.points ?? []).map(([x, y], order) => ({ label: `${l} (${m.get(l)!.area.toFixed(3)})`, x, y, order })),
    );
  return {
    id: 'roc-pr',
    title,
    html:
      `<p>One class against all others, for the ${top.length} classes with most rows — among equals, ` +
      `the lowest ROC-AUC (of ${f.labels.length}; every class's areas are in the per-class table). ` +
      'The number beside each class is the area under its curve (ROC-AUC; average precision).</p>' +
      figure(
        await renderSvg('roc', curvesSpec('roc', values(roc))),
        'ROC: recall against the false-positive rate as the threshold falls; the diagonal is chance.',
      ) +
      figure(
        await renderSvg('pr', curvesSpec('pr', values(pr))),
        'Precision–recall: what precision each level of recall costs; more telling than ROC when a class is rare.',
      ),
  };
}

function thresholdsSection(cal: Record<string, unknown> | null): Section {
  const title = 'Calibration';
  if (!cal?.thresholds) return { id: 'calibration', title, absent: 'multi-label run without tuned thresholds' };
  const th = Object.entries(obj(cal.thresholds) ?? {}).map(([l, t]) => [esc(l), num(t, 3)]);
  const text =
    `<p>Per-label thresholds tuned on validation: micro-F1 ${num(cal.f1_micro_at_0_5)} at 0.5, ` +
    `${num(cal.f1_micro_tuned)} tuned.</p>`;
  return { id: 'calibration', title, html: text + table(['label', 'threshold'], th) };
}

/** ECE, MCE, Brier and NLL before and after (from metrics.json). */
function calibrationTable(f: RunFolder, cal: Record<string, unknown> | null): string {
  const keys = ['ece', 'mce', 'brier', 'nll'];
  const cm = obj(f.metrics?.calibration_metrics);
  const head = ['', 'before', 'after'];
  if (cal?.ece_before !== undefined) {
    return table(
      head,
      keys.map((k) => [k.toUpperCase(), num(cal[`${k}_before`]), num(cal[`${k}_after`])]),
    );
  }
  return cm
    ? table(
        head,
        keys.map((k) => [k.toUpperCase(), '–', num(cm[k])]),
      )
    : '';
}

export async function calibrationSection(f: RunFolder): Promise<Section> {
  const cal = obj(f.metrics?.calibration);
  if (f.multiLabel) return thresholdsSection(cal);
  if (!f.predictions) return { id: 'calibration', title: 'Calibration', absent: why(f, 'predictions.jsonl') };
  const probs = f.predictions.map((p) => f.labels.map((l) => p.probabilities[l] ?? 0));
  const gold = f.predictions.map((p) => f.labels.indexOf(p.label as string));
  const T = typeof cal?.temperature === 'number' ? cal.temperature : null;
  const series = (name: string, p: number[][]) => reliabilityBins(p, gold).map((b) => ({ series: name, ...b }));
  const before = T ? series('before calibration', uncalibrated(probs, T)) : [];
  const after = series(T ? `after (temperature ${T.toFixed(2)})` : 'as evaluated', probs);
  const text = T
    ? `<p>Temperature scaling fitted on ${esc(String(cal!.fitted_on))}, ` +
      `measured on ${esc(String(cal!.evaluated_on))}. Accuracy does not change; the confidences do.</p>`
    : '<p>No calibration was fitted for this model (no validation split, or <code>--no-calibrate</code>): ' +
      'the probabilities are as the model gives them.</p>';
  const svg = await renderSvg('reliability', reliabilitySpec([...before, ...after]));
  return {
    id: 'calibration',
    title: 'Calibration',
    html:
      text +
      calibrationTable(f, cal) +
      figure(
        svg,
        'Each point is a bin of predictions with similar confidence ' +
          '(15 bins; larger points hold more): on the diagonal, a confidence of 0.8 is right 8 times in 10. ' +
          'Below it, the model is over-confident.',
      ),
  };
}

export async function selectiveSection(f: RunFolder): Promise<Section> {
  const title = 'Risk–coverage and abstention';
  const sel = obj(f.metrics?.selective);
  if (!sel) return { id: 'selective', title, absent: why(f, 'metrics.json', ' with a selective block') };
  const points = ((sel.risk_coverage ?? []) as [number, number][]).map(([coverage, risk]) => ({ coverage, risk }));
  const ab = obj(f.metrics?.abstention);
  const abstain = obj(obj(f.modelConfig?.medtune)?.abstain);
  const acc = obj(sel.accuracy_at_coverage) ?? {};
  const threshold = abstain ? `, threshold ${num(abstain.below, 3)}` : '';
  const text =
    `<p>AURC ${num(sel.aurc)} (lower is better). Accuracy when answering only the most confident ` +
    `80 % / 90 % / 100 %: ${num(acc['0.8'], 3)} / ${num(acc['0.9'], 3)} / ${num(acc['1.0'], 3)}.</p>` +
    (ab
      ? `<p>The model abstained ("refer to a clinician") on ${ab.abstained} rows (${pct(ab.rate)}); ` +
        `accuracy of the rest ${num(ab.accuracy_of_the_rest, 3)}${threshold}.</p>`
      : '<p>The model did not abstain on any row of this split.</p>');
  const coverage = ab ? 1 - (ab.rate as number) : undefined;
  const svg = await renderSvg('risk', riskCoverageSpec(points, coverage));
  const line =
    coverage === undefined
      ? ' The model abstained on no row here, so no abstention line is drawn.'
      : ` The dashed red line is the coverage its abstention threshold gave here (${pct(coverage)}).`;
  return {
    id: 'selective',
    title,
    html:
      text +
      figure(
        svg,
        'The error rate among the answers kept, when the model answers only its most confident share.' + line,
      ),
  };
}

/** How wrong a multi-label prediction is: the largest probability on the wrong side of a label. */
const wrongness = (p: Prediction, labels: string[]) =>
  Math.max(
    0,
    ...labels.map((l) => {
      const gold = (p.label as string[]).includes(l);
      const q = p.probabilities[l] ?? 0;
      return gold === (p.predicted as string[]).includes(l) ? 0 : gold ? 1 - q : q;
    }),
  );

const names = (v: string | string[]) => esc(Array.isArray(v) ? v.join(', ') || '(none)' : v);
const cut = (t: string) => (t.length > 1500 ? `${t.slice(0, 1500)}…` : t);

export function errorsSection(f: RunFolder, texts: boolean, max: number): Section {
  if (!f.predictions) return { id: 'errors', title: 'Misclassified cases', absent: why(f, 'predictions.jsonl') };
  const conf = (p: Prediction) =>
    f.multiLabel ? wrongness(p, f.labels) : (p.probabilities[p.predicted as string] ?? 0);
  const errors = f.predictions
    .filter((p) => !p.correct)
    .map((p) => ({ p, c: conf(p) }))
    .sort((a, b) => b.c - a.c || a.p.row - b.p.row);
  const shown = errors.slice(0, max);
  const grouped = f.predictions.some((p) => p.audit);
  const groups = (p: Prediction) =>
    esc(
      Object.entries(p.audit ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    );
  const rows = shown.map(({ p, c }) => [
    String(p.row),
    names(p.label),
    names(p.predicted),
    num(c, 3),
    p.abstain ? 'yes' : '',
    ...(grouped ? [groups(p)] : []),
    ...(texts ? [esc(cut(p.text ?? ''))] : []),
  ]);
  const deid = f.run?.deid
    ? `de-identified before training (operator ${esc(String(f.run.deid))})`
    : 'as they are in the data file (the run did not use <code>--deid</code>)';
  const textNote = texts ? `Texts are shown ${deid}.` : 'Texts are left out (<code>--no-texts</code>).';
  const intro =
    `<p>${errors.length} of ${f.predictions.length} rows are wrong; the ${shown.length} most confident ` +
    `errors first (confident errors are the dangerous ones). ${textNote}</p>`;
  const prob = f.multiLabel ? 'largest wrong-side probability' : 'probability';
  const head = [
    'row',
    'true',
    'predicted',
    prob,
    'abstained',
    ...(grouped ? ['groups'] : []),
    ...(texts ? ['text'] : []),
  ];
  const cellClass = head.map((h) => (h === 'text' ? 'text' : undefined));
  const tbl = table(head, rows, { cellClass });
  return { id: 'errors', title: 'Misclassified cases', html: intro + tbl };
}
