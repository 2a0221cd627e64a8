/**
 * report.html: one self-contained page per run, rendered from the run folder alone (a pure function of its files,
 * deterministic, no script, nothing fetched). Each section says which file it needs; a section whose file is
 * missing is listed as absent at the top and in its place, and the rest still renders.
 */
import path from 'node:path';
import { prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { computeAudit, overallIntervals, type AuditResult } from './audit.js';
import { auditSection, type TrainingGroups } from './audit-html.js';
import {
  classBalanceSpec, confusionSpec, curvesSpec, reliabilitySpec, renderSvg, riskCoverageSpec, tokenLengthSpec, trainingCurvesSpec,
} from './charts.js';
import { prCurve, reliabilityBins, rocCurve, topClasses, uncalibrated, type Curve } from './curves.js';
import { details, esc, figure, interval, kv, num, page, pct, table } from './html.js';
import { auditRows, loadRunFolder, type Json, type Prediction, type RunFolder } from './run-folder.js';

export interface ReportOptions {
  /** show the texts of misclassified cases (default: as the run recorded; --no-texts) */
  texts?: boolean;
  /** misclassified cases listed (default 50) */
  maxErrors?: number;
  /** audit: groups below this size are too small to judge */
  minGroup?: number;
  resamples?: number;
  log?: (l: string) => void;
}

interface Section {
  id: string;
  title: string;
  html?: string;
  /** why the section is absent */
  absent?: string;
}

const obj = (v: unknown): Json | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null);
const why = (f: RunFolder, file: string, extra = '') => `needs ${file} (${f.problems[file] ?? 'not usable'})${extra}`;

function summarySection(f: RunFolder): Section {
  const r = f.run;
  const m = obj(f.metrics?.model);
  if (!r && !m) return { id: 'summary', title: 'Run summary', absent: why(f, 'run.json') };
  const model = obj(r?.model) ?? {};
  const rows: [string, string][] = [
    ['model', `<code>${esc(String(model.source ?? '–'))}</code>${model.dir ? ` → <code>${esc(String(model.dir))}</code>` : ''}`],
    ['model version', `<code>${esc(String(m?.version ?? model.version ?? '–'))}</code>`],
    ['model sha256', `<code>${esc(String(m?.sha256 ?? model.sha256 ?? '–'))}</code>`],
  ];
  if (r) {
    rows.push(['command', `<code>${esc((r.command as string[] ?? []).join(' '))}</code>`], ['kind', esc(String(r.kind))],
      ['seed', esc(String(r.seed ?? '–'))], ['backend', `${esc(String(r.backend))}, ${esc(String(r.threads))} threads, Node ${esc(String(r.node))}, medtune ${esc(String(r.medtune_version))}`],
      ['started', esc(String(r.started_at ?? '–'))], ['duration', typeof r.duration_seconds === 'number' ? `${r.duration_seconds.toFixed(1)} s` : '–'],
      ['evaluated on', esc(String(r.evaluated_split || f.metrics?.split || '–'))],
      ['de-identified', r.deid ? `yes, before tokenising (operator ${esc(String(r.deid))})` : 'no']);
  }
  const data = (r?.data as { split: string; file: string; sha256: string; rows?: number }[] | undefined) ?? [];
  const files = data.length ? table(['split', 'file', 'rows', 'sha256'], data.map((d) => [esc(d.split), `<code>${esc(d.file)}</code>`, String(d.rows ?? '–'), `<code>${esc(d.sha256)}</code>`]), { numeric: false }) : '';
  const note = r ? '' : `<p class="muted">Command, data files and timing absent: ${why(f, 'run.json')}.</p>`;
  return { id: 'summary', title: 'Run summary', html: kv(rows) + files + note };
}

async function datasetSection(f: RunFolder): Promise<Section> {
  const splits = obj(f.run?.splits) as Record<string, Json> | null;
  if (!splits || !Object.keys(splits).length) return { id: 'dataset', title: 'Dataset', absent: why(f, 'run.json') };
  const names = Object.keys(splits);
  const rows = names.map((s) => {
    const x = splits[s]!;
    const t = obj(x.tokens) ?? {};
    const sk = obj(x.skipped) ?? {};
    const reasons = Object.entries(obj(sk.reasons) ?? {}).map(([k, v]) => `${esc(k)}: ${v}`).join(', ');
    return [esc(s), String(x.rows), `${sk.count ?? 0}${reasons ? ` (${reasons})` : ''}`, `${x.truncated} (max ${x.max_length})`, `${t.p50} / ${t.p90} / ${t.p99} / ${t.max}`];
  });
  const balance = names.flatMap((s) => Object.entries(obj(splits[s]!.classes) ?? {}).map(([label, count]) => ({ split: s, label, count: count as number })));
  const hist = names.flatMap((s) => {
    const bins = (obj(splits[s]!.tokens)?.histogram ?? []) as { lo: number; hi: number; count: number }[];
    const n = Math.max(1, bins.reduce((a, b) => a + b.count, 0));
    // a closing point at the last bin's end draws its step
    return [...bins.map((b) => ({ split: s, lo: b.lo, share: b.count / n })), ...bins.slice(-1).map((b) => ({ split: s, lo: b.hi, share: b.count / n }))];
  });
  const maxLength = Number(splits[names[0]!]!.max_length ?? 0);
  const classTable = table(['class', ...names.map(esc)], f.labels.map((l) => [esc(l), ...names.map((s) => String((obj(splits[s]!.classes) ?? {})[l] ?? 0))]));
  return {
    id: 'dataset', title: 'Dataset',
    html: table(['split', 'rows', 'skipped rows', 'texts truncated', 'tokens p50 / p90 / p99 / max'], rows)
      + figure(await renderSvg('balance', classBalanceSpec(balance, f.labels)), 'Rows per class in each split. A class with few rows is learned and measured less reliably.')
      + figure(await renderSvg('tokens', tokenLengthSpec(hist, maxLength)), `Token lengths per text; the red line is the maximum length (${maxLength}): tokens after it are cut off and never seen by the model.`)
      + details('Class counts per split', classTable),
  };
}

async function trainingSection(f: RunFolder): Promise<Section> {
  if (!f.history?.length) {
    return { id: 'training', title: 'Training curves', absent: f.run?.kind === 'evaluate' ? 'an evaluation run has no training' : why(f, 'metrics.jsonl') };
  }
  const train = f.history.filter((h) => h.type === 'train');
  const evals = f.history.filter((h) => h.type === 'eval');
  const metricName = String(obj(f.run?.recipe)?.metricForBestModel ?? (f.multiLabel ? 'f1_micro' : 'accuracy'));
  const loss = [...train.map((h) => ({ step: h.step, loss: h.loss as number, series: 'training' })), ...evals.map((h) => ({ step: h.step, loss: h.loss as number, series: 'evaluation' }))]
    .filter((p) => typeof p.loss === 'number');
  const lr = train.filter((h) => typeof h.lr === 'number').map((h) => ({ step: h.step, lr: h.lr as number }));
  const metric = evals.filter((h) => typeof h[metricName] === 'number').map((h) => ({ step: h.step, value: h[metricName] as number }));
  const evalTable = table(['step', 'epoch', 'loss', esc(metricName)], evals.map((h) => [String(h.step), num(h.epoch, 2), num(h.loss), num(h[metricName])]));
  return {
    id: 'training', title: 'Training curves',
    html: figure(await renderSvg('curves', trainingCurvesSpec(loss, lr, metric, metricName)), `Loss on training batches and on the validation split, the learning-rate schedule, and ${esc(metricName)} at each evaluation. Validation loss rising while training loss falls is over-fitting.`)
      + details(`Every evaluation (${evals.length})`, evalTable),
  };
}

const HEADLINE = {
  single: ['accuracy', 'f1_macro', 'f1_weighted', 'precision_macro', 'recall_macro', 'roc_auc_ovr', 'loss'],
  multi: ['f1_micro', 'f1_macro', 'precision_micro', 'recall_micro', 'subset_accuracy', 'loss'],
};

function metricsSection(f: RunFolder, ci: ReturnType<typeof overallIntervals> | null): Section {
  const m = f.metrics;
  if (!m) return { id: 'metrics', title: 'Headline metrics', absent: why(f, 'metrics.json') };
  const b = obj(m.baseline);
  const keys = (f.multiLabel ? HEADLINE.multi : HEADLINE.single).filter((k) => typeof m[k] === 'number');
  const ciOf = (k: string) => (ci && (k === 'accuracy' || k === 'f1_macro' || (k === 'subset_accuracy' && f.multiLabel)) ? interval(k === 'f1_macro' ? ci.f1_macro : ci.accuracy) : '');
  const rows = keys.map((k) => [esc(k), num(m[k]), ciOf(k), b ? num(b[k]) : '–']);
  const grouped = obj(m.grouped);
  const groupedHtml = grouped ? `<p>Grouped by <code>${esc(String(grouped.column))}</code> (${grouped.groups} groups, rows of one document merged): `
    + `${['accuracy', 'f1_micro', 'f1_macro'].filter((k) => typeof grouped[k] === 'number').map((k) => `${k} ${num(grouped[k])}`).join(', ')}.</p>` : '';
  const baseNote = b ? `<p>Baseline: ${esc(String(b.method))} — TF-IDF word 1–2-grams + logistic regression on the same training rows, scored on the same rows. A transformer that does not beat it is not worth its cost.</p>`
    : '<p class="muted">No baseline in metrics.json (run with the baseline on to see one).</p>';
  return {
    id: 'metrics', title: 'Headline metrics',
    html: `<p>${esc(String(m.split ?? ''))} split, ${m.n ?? '–'} rows.</p>`
      + table(['metric', 'model', '95 % interval (bootstrap)', 'baseline'], rows) + baseNote + groupedHtml,
  };
}

function perClassSection(f: RunFolder, roc: Map<string, Curve>, pr: Map<string, Curve>): Section {
  const per = (f.metrics?.per_class ?? f.metrics?.per_label) as { label: string; precision: number; recall: number; f1: number; support: number }[] | undefined;
  if (!Array.isArray(per)) return { id: 'per-class', title: 'Per-class results', absent: why(f, 'metrics.json') };
  const rows = per.map((r) => [esc(r.label), num(r.precision, 3), num(r.recall, 3), num(r.f1, 3), String(r.support), num(roc.get(r.label)?.area, 3), num(pr.get(r.label)?.area, 3)]);
  return {
    id: 'per-class', title: 'Per-class results',
    html: '<p>Recall is sensitivity: the share of the notes of a class that the model finds. Precision is the share of its answers for a class that are right.</p>'
      + table(['class', 'precision', 'recall', 'F1', 'support', 'ROC-AUC', 'average precision'], rows),
  };
}

async function confusionSection(f: RunFolder): Promise<Section> {
  if (f.multiLabel) return { id: 'confusion', title: 'Confusion matrix', absent: 'single-label models only' };
  const c = f.metrics?.confusion as number[][] | undefined;
  if (!Array.isArray(c)) return { id: 'confusion', title: 'Confusion matrix', absent: why(f, 'metrics.json') };
  return {
    id: 'confusion', title: 'Confusion matrix',
    html: figure(await renderSvg('confusion-counts', confusionSpec(c, f.labels, false)), 'Rows: true class; columns: predicted class; the diagonal is right.')
      + figure(await renderSvg('confusion-share', confusionSpec(c, f.labels, true)), 'Each row divided by its total: the diagonal is the recall of each class, the rest where its notes went.'),
  };
}

/** One-vs-rest curves for every class (the chart shows the classes with most support). */
function curvesOf(f: RunFolder, kind: 'roc' | 'pr'): Map<string, Curve> {
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

async function rocPrSection(f: RunFolder, roc: Map<string, Curve>, pr: Map<string, Curve>): Promise<Section> {
  if (!f.predictions) return { id: 'roc-pr', title: 'ROC and precision–recall curves', absent: why(f, 'predictions.jsonl') };
  const top = topClasses(f.labels, f.labels.map((l) => roc.get(l)?.positives ?? pr.get(l)?.positives ?? 0), f.labels.map((l) => roc.get(l)?.area ?? 1)).map((c) => f.labels[c]!);
  const values = (m: Map<string, Curve>) => top.flatMap((l) => (m.get(l)?.points ?? []).map(([x, y], order) => ({ label: `${l} (${m.get(l)!.area.toFixed(3)})`, x, y, order })));
  return {
    id: 'roc-pr', title: 'ROC and precision–recall curves',
    html: `<p>One class against all others, for the ${top.length} classes with most rows — among equals, the lowest ROC-AUC (of ${f.labels.length}; every class's areas are in the per-class table). `
      + 'The number beside each class is the area under its curve (ROC-AUC; average precision).</p>'
      + figure(await renderSvg('roc', curvesSpec('roc', values(roc))), 'ROC: recall against the false-positive rate as the threshold falls; the diagonal is chance.')
      + figure(await renderSvg('pr', curvesSpec('pr', values(pr))), 'Precision–recall: what precision each level of recall costs; more telling than ROC when a class is rare.'),
  };
}

async function calibrationSection(f: RunFolder): Promise<Section> {
  const cal = obj(f.metrics?.calibration);
  if (f.multiLabel) {
    if (!cal?.thresholds) return { id: 'calibration', title: 'Calibration', absent: 'multi-label run without tuned thresholds' };
    const th = Object.entries(obj(cal.thresholds) ?? {}).map(([l, t]) => [esc(l), num(t, 3)]);
    return { id: 'calibration', title: 'Calibration', html: `<p>Per-label thresholds tuned on validation: micro-F1 ${num(cal.f1_micro_at_0_5)} at 0.5, ${num(cal.f1_micro_tuned)} tuned.</p>` + table(['label', 'threshold'], th) };
  }
  if (!f.predictions) return { id: 'calibration', title: 'Calibration', absent: why(f, 'predictions.jsonl') };
  const probs = f.predictions.map((p) => f.labels.map((l) => p.probabilities[l] ?? 0));
  const gold = f.predictions.map((p) => f.labels.indexOf(p.label as string));
  const T = typeof cal?.temperature === 'number' ? cal.temperature : null;
  const series = [...(T ? reliabilityBins(uncalibrated(probs, T), gold).map((b) => ({ series: 'before calibration', ...b })) : []),
    ...reliabilityBins(probs, gold).map((b) => ({ series: T ? `after (temperature ${T.toFixed(2)})` : 'as evaluated', ...b }))];
  const cm = obj(f.metrics?.calibration_metrics);
  const rows = cal?.ece_before !== undefined
    ? ['ece', 'mce', 'brier', 'nll'].map((k) => [k.toUpperCase(), num(cal[`${k}_before`]), num(cal[`${k}_after`])])
    : cm ? ['ece', 'mce', 'brier', 'nll'].map((k) => [k.toUpperCase(), '–', num(cm[k])]) : [];
  const text = T ? `<p>Temperature scaling fitted on ${esc(String(cal!.fitted_on))}, measured on ${esc(String(cal!.evaluated_on))}. Accuracy does not change; the confidences do.</p>`
    : '<p>No calibration was fitted for this model (no validation split, or <code>--no-calibrate</code>): the probabilities are as the model gives them.</p>';
  return {
    id: 'calibration', title: 'Calibration',
    html: text + (rows.length ? table(['', 'before', 'after'], rows) : '')
      + figure(await renderSvg('reliability', reliabilitySpec(series)), 'Each point is a bin of predictions with similar confidence (15 bins; larger points hold more): on the diagonal, a confidence of 0.8 is right 8 times in 10. Below it, the model is over-confident.'),
  };
}

async function selectiveSection(f: RunFolder): Promise<Section> {
  const sel = obj(f.metrics?.selective);
  if (!sel) return { id: 'selective', title: 'Risk–coverage and abstention', absent: why(f, 'metrics.json', ' with a selective block') };
  const points = ((sel.risk_coverage ?? []) as [number, number][]).map(([coverage, risk]) => ({ coverage, risk }));
  const ab = obj(f.metrics?.abstention);
  const abstain = obj(obj(f.modelConfig?.medtune)?.abstain);
  const acc = obj(sel.accuracy_at_coverage) ?? {};
  const coverage = ab ? 1 - (ab.rate as number) : undefined;
  const text = `<p>AURC ${num(sel.aurc)} (lower is better). Accuracy when answering only the most confident 80 % / 90 % / 100 %: ${num(acc['0.8'], 3)} / ${num(acc['0.9'], 3)} / ${num(acc['1.0'], 3)}.</p>`
    + (ab ? `<p>The model abstained ("refer to a clinician") on ${ab.abstained} rows (${pct(ab.rate)}); accuracy of the rest ${num(ab.accuracy_of_the_rest, 3)}${abstain ? `, threshold ${num(abstain.below, 3)}` : ''}.</p>`
      : '<p>The model did not abstain on any row of this split.</p>');
  return { id: 'selective', title: 'Risk–coverage and abstention', html: text + figure(await renderSvg('risk', riskCoverageSpec(points, coverage)), 'The error rate among the answers kept, when the model answers only its most confident share; the red line is the coverage its abstention threshold gave here.') };
}

/** How wrong a multi-label prediction is: the largest probability on the wrong side of a label. */
const wrongness = (p: Prediction, labels: string[]) => Math.max(0, ...labels.map((l) => {
  const gold = (p.label as string[]).includes(l);
  const q = p.probabilities[l] ?? 0;
  return gold === (p.predicted as string[]).includes(l) ? 0 : gold ? 1 - q : q;
}));

function errorsSection(f: RunFolder, texts: boolean, max: number): Section {
  if (!f.predictions) return { id: 'errors', title: 'Misclassified cases', absent: why(f, 'predictions.jsonl') };
  const conf = (p: Prediction) => (f.multiLabel ? wrongness(p, f.labels) : p.probabilities[p.predicted as string] ?? 0);
  const errors = f.predictions.filter((p) => !p.correct).map((p) => ({ p, c: conf(p) })).sort((a, b) => b.c - a.c || a.p.row - b.p.row);
  const name = (v: string | string[]) => esc(Array.isArray(v) ? v.join(', ') || '(none)' : v);
  const shown = errors.slice(0, max);
  const cut = (t: string) => (t.length > 1500 ? `${t.slice(0, 1500)}…` : t);
  const rows = shown.map(({ p, c }) => [String(p.row), name(p.label), name(p.predicted), num(c, 3), p.abstain ? 'yes' : '', ...(texts ? [esc(cut(p.text ?? ''))] : [])]);
  const deid = f.run?.deid ? `de-identified before training (operator ${esc(String(f.run.deid))})` : 'as they are in the data file (the run did not use <code>--deid</code>)';
  const intro = `<p>${errors.length} of ${f.predictions.length} rows are wrong; the ${shown.length} most confident errors first (confident errors are the dangerous ones). `
    + (texts ? `Texts are shown ${deid}.` : 'Texts are left out (<code>--no-texts</code>).') + '</p>';
  const tbl = table(['row', 'true', 'predicted', f.multiLabel ? 'largest wrong-side probability' : 'probability', 'abstained', ...(texts ? ['text'] : [])], rows,
    { cellClass: [undefined, undefined, undefined, undefined, undefined, 'text'] });
  return { id: 'errors', title: 'Misclassified cases', html: intro + tbl };
}

async function auditSectionOf(f: RunFolder, audit: AuditResult | null): Promise<Section> {
  if (!audit) {
    const reason = f.predictions ? 'no audit columns: run with --audit-column COL (e.g. sex, age_band, site)' : why(f, 'predictions.jsonl');
    return { id: 'audit', title: 'Bias audit', absent: reason };
  }
  const train = obj(obj(obj(f.run?.splits)?.train)?.audit) as TrainingGroups | null;
  return { id: 'audit', title: 'Bias audit', html: await auditSection(audit, { training: train ?? undefined }) };
}

/** One line under the title: the headline metric with its interval, the baseline, abstentions and audit flags. */
function atAGlance(f: RunFolder, ci: ReturnType<typeof overallIntervals> | null, audit: AuditResult | null): string {
  const m = f.metrics;
  if (!m) return '';
  const key = f.multiLabel ? 'f1_micro' : 'accuracy';
  const b = obj(m.baseline);
  const parts = [`<strong>${key} ${num(m[key], 3)}</strong>${!f.multiLabel && ci ? ` ${interval(ci.accuracy)}` : ''}${b && typeof b[key] === 'number' ? ` (baseline ${num(b[key], 3)})` : ''}`,
    `macro-F1 ${num(m.f1_macro, 3)}`, `${m.n ?? '–'} rows`];
  const ab = obj(m.abstention);
  if (ab) parts.push(`abstained on ${pct(ab.rate)}`);
  if (audit) parts.push(audit.flagged.length ? `<span class="flag">bias audit: ${audit.flagged.length} gap${audit.flagged.length === 1 ? '' : 's'} flagged</span>` : 'bias audit: no gap flagged');
  return `<p>${parts.join(' · ')}</p>`;
}

/** The audit of a run folder's predictions over its audit columns (null when it has none). */
export function auditOfFolder(f: RunFolder, o: ReportOptions = {}): AuditResult | null {
  if (!f.predictions) return null;
  const recorded = Array.isArray(f.run?.audit_columns) ? (f.run!.audit_columns as string[]) : [];
  const columns = recorded.length ? recorded : [...new Set(f.predictions.flatMap((p) => Object.keys(p.audit ?? {})))];
  if (!columns.length || !f.predictions.some((p) => p.audit)) return null;
  return computeAudit(auditRows(f.predictions, f.labels, f.multiLabel), {
    columns, labels: f.labels, multiLabel: f.multiLabel, seed: typeof f.run?.seed === 'number' ? f.run.seed : 42,
    ...(o.minGroup !== undefined ? { minGroup: o.minGroup } : typeof f.run?.audit_min_group === 'number' ? { minGroup: f.run.audit_min_group } : {}),
    ...(o.resamples !== undefined ? { resamples: o.resamples } : {}),
  });
}

/** The page, from a loaded run folder and its audit, and the sections that are absent (with the reason). */
export async function renderReport(f: RunFolder, audit: AuditResult | null, o: ReportOptions = {}): Promise<{ html: string; absent: string[] }> {
  const texts = o.texts ?? (f.run?.texts !== false);
  const rows = f.predictions ? auditRows(f.predictions, f.labels, f.multiLabel) : null;
  const ci = rows?.length ? overallIntervals(rows, { labels: f.labels, multiLabel: f.multiLabel, seed: typeof f.run?.seed === 'number' ? f.run.seed : 42 }) : null;
  const roc = curvesOf(f, 'roc');
  const pr = curvesOf(f, 'pr');
  const sections = [summarySection(f), await datasetSection(f), await trainingSection(f), metricsSection(f, ci), perClassSection(f, roc, pr),
    await confusionSection(f), await rocPrSection(f, roc, pr), await calibrationSection(f), await selectiveSection(f), errorsSection(f, texts, o.maxErrors ?? 50),
    await auditSectionOf(f, audit)];
  const absent = sections.filter((s) => s.absent);
  const shownTexts = texts && f.predictions ? Math.min(o.maxErrors ?? 50, f.predictions.filter((p) => !p.correct).length) : 0;
  const model = obj(f.metrics?.model) ?? obj(f.run?.model) ?? {};
  const glance = atAGlance(f, ci, audit);
  const head = `<h1>medtune run report</h1>
<p class="muted">${esc(path.basename(path.resolve(f.dir)))} · model version <code>${esc(String(model.version ?? '–'))}</code> · ${esc(String(f.metrics?.split ?? f.run?.evaluated_split ?? ''))} split</p>
<p class="warn"><strong>This report is as sensitive as the data it was made from.</strong> ${shownTexts ? `It quotes ${shownTexts} texts of the evaluation data${f.run?.deid ? ' (de-identified)' : ' (not de-identified)'}` : 'It quotes no texts'}
and shows per-group results; store and share it as you would the data. The model is decision support for clinicians, not a diagnosis, and it is not clinically validated.</p>
${glance}
${absent.length ? `<p class="warn">Absent sections: ${absent.map((s) => `<a href="#${s.id}">${esc(s.title)}</a> (${esc(s.absent!)})`).join('; ')}.</p>` : ''}
<nav><ol>${sections.map((s) => `<li><a href="#${s.id}">${esc(s.title)}</a>${s.absent ? ' <small>(absent)</small>' : ''}</li>`).join('')}</ol></nav>`;
  const body = sections.map((s) => `<section id="${s.id}"${s.absent ? ' class="absent"' : ''}><h2>${esc(s.title)}</h2>${s.html ?? `<p>Not available: ${esc(s.absent!)}.</p>`}</section>`).join('\n');
  return { html: page('medtune run report', `${head}\n${body}`), absent: absent.map((s) => `${s.title} (${s.absent})`) };
}

/**
 * Writes DIR/report.html (and DIR/audit.json when the predictions carry audit columns) from the run folder.
 * Returns the sections that are absent, each with the reason.
 */
export async function writeRunReport(dir: string, o: ReportOptions = {}): Promise<{ file: string; absent: string[]; audit: AuditResult | null }> {
  const file = path.join(dir, 'report.html');
  prepareOutputFile(file, { option: 'report' });
  const f = loadRunFolder(dir);
  const audit = auditOfFolder(f, o);
  if (audit) writeFileAtomic(path.join(dir, 'audit.json'), JSON.stringify(audit, null, 2) + '\n');
  const { html, absent } = await renderReport(f, audit, o);
  writeFileAtomic(file, html);
  return { file, absent, audit };
}
