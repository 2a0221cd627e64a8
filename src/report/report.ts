/**
 * report.html: one self-contained page per run, rendered from the run folder alone (a pure function of its files,
 * deterministic, no script, nothing fetched). Each section says which file it needs; a section whose file is
 * missing is listed as absent at the top and in its place, and the rest still renders.
 */
import path from 'node:path';
import { prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { computeAudit, type AuditResult, type Intervals } from './audit.js';
import { auditSection, type TrainingGroups } from './audit-html.js';
import { runIntervals } from './headline.js';
import { esc, interval, num, page, pct } from './html.js';
import { auditRows, loadRunFolder, type RunFolder } from './run-folder.js';
import { obj, why, type Section } from './section.js';
import { datasetSection, summarySection, trainingSection } from './sections-run.js';
import {
  calibrationSection,
  confusionSection,
  curvesOf,
  errorsSection,
  metricsSection,
  perClassSection,
  rocPrSection,
  selectiveSection,
} from './sections-model.js';

export interface ReportOptions {
  /** show the texts of misclassified cases (default: as the run recorded; --no-texts) */
  texts?: boolean;
  /** misclassified cases listed (default 50) */
  maxErrors?: number;
  /** audit: groups below this size are too small to judge (default: as the run recorded, else 30) */
  minGroup?: number;
  resamples?: number;
}

async function auditSectionOf(f: RunFolder, audit: AuditResult | null): Promise<Section> {
  if (!audit) {
    const reason = f.predictions
      ? 'no audit columns: run with --audit-column COL (e.g. sex, age_band, site)'
      : why(f, 'predictions.jsonl');
    return { id: 'audit', title: 'Bias audit', absent: reason };
  }
  const train = obj(obj(obj(f.run?.splits)?.train)?.audit) as TrainingGroups | null;
  return { id: 'audit', title: 'Bias audit', html: await auditSection(audit, { training: train ?? undefined }) };
}

/** One line under the title: the headline metric with its interval, the baseline, abstentions and audit flags. */
function atAGlance(f: RunFolder, ci: Intervals | null, audit: AuditResult | null): string {
  const m = f.metrics;
  if (!m) return '';
  const key = f.multiLabel ? 'f1_micro' : 'accuracy';
  const b = obj(m.baseline);
  const base = b && typeof b[key] === 'number' ? ` (baseline ${num(b[key], 3)})` : '';
  const spread = !f.multiLabel && ci ? ` ${interval(ci.accuracy)}` : '';
  const parts = [
    `<strong>${key} ${num(m[key], 3)}</strong>${spread}${base}`,
    `macro-F1 ${num(m.f1_macro, 3)}`,
    `${m.n ?? '–'} rows`,
  ];
  const ab = obj(m.abstention);
  if (ab) parts.push(`abstained on ${pct(ab.rate)}`);
  const k = audit?.flagged.length ?? 0;
  if (audit) {
    const flags = `<span class="flag">bias audit: ${k} gap${k === 1 ? '' : 's'} flagged</span>`;
    parts.push(k ? flags : 'bias audit: no gap flagged');
  }
  return `<p>${parts.join(' · ')}</p>`;
}

/** The audit of a run folder's predictions over its audit columns (null when it has none). */
export function auditOfFolder(f: RunFolder, o: ReportOptions = {}): AuditResult | null {
  if (!f.predictions) return null;
  const recorded = Array.isArray(f.run?.audit_columns) ? (f.run!.audit_columns as string[]) : [];
  const columns = recorded.length ? recorded : [...new Set(f.predictions.flatMap((p) => Object.keys(p.audit ?? {})))];
  if (!columns.length || !f.predictions.some((p) => p.audit)) return null;
  const minGroup = o.minGroup ?? (typeof f.run?.audit_min_group === 'number' ? f.run.audit_min_group : undefined);
  return computeAudit(auditRows(f.predictions, f.labels, f.multiLabel), {
    columns,
    labels: f.labels,
    multiLabel: f.multiLabel,
    ...(minGroup !== undefined ? { minGroup } : {}),
    ...(o.resamples !== undefined ? { resamples: o.resamples } : {}),
  });
}

async function sectionsOf(
  f: RunFolder,
  audit: AuditResult | null,
  ci: Intervals | null,
  o: ReportOptions,
): Promise<Section[]> {
  const texts = o.texts ?? f.run?.texts !== false;
  const roc = curvesOf(f, 'roc');
  const pr = curvesOf(f, 'pr');
  return [
    summarySection(f),
    await datasetSection(f),
    await trainingSection(f),
    metricsSection(f, ci),
    perClassSection(f, roc, pr),
    await confusionSection(f),
    await rocPrSection(f, roc, pr),
    await calibrationSection(f),
    await selectiveSection(f),
    errorsSection(f, texts, o.maxErrors ?? 50),
    await auditSectionOf(f, audit),
  ];
}

/** The title, the sensitivity note, the line at a glance, the absent sections and the contents. */
function header(f: RunFolder, sections: Section[], glance: string, o: ReportOptions): string {
  const texts = o.texts ?? f.run?.texts !== false;
  const errors = f.predictions?.filter((p) => !p.correct).length ?? 0;
  const shown = texts ? Math.min(o.maxErrors ?? 50, errors) : 0;
  const deid = f.run?.deid ? 'de-identified' : 'not de-identified';
  const quotes = shown ? `It quotes ${shown} texts of the evaluation data (${deid})` : 'It quotes no texts';
  const model = obj(f.metrics?.model) ?? obj(f.run?.model) ?? {};
  const split = esc(String(f.metrics?.split ?? f.run?.evaluated_split ?? ''));
  const absent = sections.filter((s) => s.absent);
  const link = (s: Section) => `<a href="#${s.id}">${esc(s.title)}</a>`;
  const absentLine = absent.length
    ? `<p class="warn">Absent sections: ${absent.map((s) => `${link(s)} (${esc(s.absent!)})`).join('; ')}.</p>`
    : '';
  const toc = sections.map((s) => `<li>${link(s)}${s.absent ? ' <small>(absent)</small>' : ''}</li>`);
  const version = `<code>${esc(String(model.version ?? '–'))}</code>`;
  return `<h1>medtune run report</h1>
<p class="muted">${esc(path.basename(path.resolve(f.dir)))} · model version ${version} · ${split} split</p>
<p class="warn"><strong>This report is as sensitive as the data it was made from.</strong> ${quotes} and shows per-group
results; store and share it as you would the data. The model is decision support for clinicians, not a diagnosis, and it
is not clinically validated.</p>
${glance}
${absentLine}
<nav><ol>${toc.join('')}</ol></nav>`;
}

/** The page, from a loaded run folder and its audit, and the sections that are absent (with the reason). */
export async function renderReport(
  f: RunFolder,
  audit: AuditResult | null,
  o: ReportOptions = {},
): Promise<{ html: string; absent: string[] }> {
  const ci = runIntervals(f);
  const sections = await sectionsOf(f, audit, ci, o);
  const body = sections
    .map(
      (s) =>
        `<section id="${s.id}"${s.absent ? ' class="absent"' : ''}><h2>${esc(s.title)}</h2>` +
        `${s.html ?? `<p>Not available: ${esc(s.absent!)}.</p>`}</section>`,
    )
    .join('\n');
  const html = page('medtune run report', `${header(f, sections, atAGlance(f, ci, audit), o)}\n${body}`);
  return { html, absent: sections.filter((s) => s.absent).map((s) => `${s.title} (${s.absent})`) };
}

export interface WrittenReport {
  file: string;
  /** absent sections, each with its reason */
  absent: string[];
  audit: AuditResult | null;
}

/** Writes DIR/report.html (and DIR/audit.json when the predictions carry audit columns) from the run folder. */
export async function writeRunReport(dir: string, o: ReportOptions = {}): Promise<WrittenReport> {
  const file = path.join(dir, 'report.html');
  prepareOutputFile(file, { option: 'report' });
  const f = loadRunFolder(dir);
  const audit = auditOfFolder(f, o);
  if (audit) writeFileAtomic(path.join(dir, 'audit.json'), JSON.stringify(audit, null, 2) + '\n');
  const { html, absent } = await renderReport(f, audit, o);
  writeFileAtomic(file, html);
  return { file, absent, audit };
}
