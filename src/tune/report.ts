/**
 * tune_report.html: one self-contained page without scripts (inline SVG and CSS): the study's summary and best
 * trial (with a warning when it is no better than chance), optimisation history, learning curves (pruned vs
 * complete), parameter importance, parallel coordinates and the table of every trial. The charts scale to the page
 * width (a phone gets no sideways scrolling) and carry a title for screen readers.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../common/atomic.js';
import type { Direction } from './samplers.js';
import { TUNABLE } from './space.js';
import type { Trial } from './storage.js';

export interface TuneReportInput {
  study: string;
  metric: string;
  direction: Direction;
  sampler: string;
  pruner: string;
  trials: Trial[];
  best: Trial;
  seconds: number;
  /** the best model's metrics on the test split, if there was one */
  test?: Record<string, unknown> | null;
  /** the number of labels of the task (for the chance-level warning), when known */
  labels?: number;
}

/** The number of labels of a saved model (config.json's id2label), or undefined. */
export function labelCount(modelDir: string): number | undefined {
  const file = path.join(modelDir, 'config.json');
  try {
    const id2label = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).id2label : undefined;
    return id2label && typeof id2label === 'object' ? Object.keys(id2label).length || undefined : undefined;
  } catch {
    return undefined; // the warning is then left out, the report still renders
  }
}

/**
 * Chance level of a validation metric for K labels: 1/K for accuracy and F1 (a uniform guess), ln K for the loss;
 * undefined for other metrics. A best trial within 0.02 of it learned nothing.
 */
export function chanceWarning(metric: string, value: number | null, labels?: number): string | null {
  if (!labels || labels < 2 || value === null) return null;
  const accuracyLike = /^(accuracy|f1|precision|recall|subset_accuracy)/.test(metric);
  if (!accuracyLike && metric !== 'loss') return null;
  const chance = accuracyLike ? 1 / labels : Math.log(labels);
  const atChance = accuracyLike ? value <= chance + 0.02 : value >= chance - 0.02;
  if (!atChance) return null;
  return (
    `The best trial is at chance level: ${metric} ${fmt(value)} against ${fmt(chance)} for a uniform guess ` +
    `among ${labels} labels. No trial learned the task: check the data and the search space (learning rate, ` +
    'epochs) before using this model.'
  );
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (v: unknown) =>
  typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : String(v ?? '');
const flag = (k: string) => TUNABLE[k]?.flag.slice(2) ?? k;
const COLORS: Record<string, string> = {
  complete: '#1f77b4',
  pruned: '#ff7f0e',
  failed: '#d62728',
  running: '#7f7f7f',
  waiting: '#7f7f7f',
};
const W = 640;
const H = 260;
/** left margin: room for the y-axis labels and the rotated axis title */
const PAD = 64;
const BOTTOM = 40;

function scale(lo: number, hi: number, a: number, b: number): (v: number) => number {
  const span = hi - lo || 1;
  return (v) => a + ((v - lo) / span) * (b - a);
}

/** A short tick label: 3 significant digits. */
const tick = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3))));

function axes(xLabel: string, yLabel: string, yLo: number, yHi: number): string {
  const sy = scale(yLo, yHi, H - BOTTOM - 5, 15);
  const ticks = yLo === yHi ? [yLo] : [yLo, (yLo + yHi) / 2, yHi];
  return (
    `<line x1="${PAD}" y1="${H - BOTTOM}" x2="${W - 10}" y2="${H - BOTTOM}" stroke="#333"/>` +
    `<line x1="${PAD}" y1="10" x2="${PAD}" y2="${H - BOTTOM}" stroke="#333"/>` +
    `<text x="${(PAD + W) / 2}" y="${H - 8}" text-anchor="middle">${esc(xLabel)}</text>` +
    `<text x="12" y="${H / 2}" transform="rotate(-90 12 ${H / 2})" text-anchor="middle">${esc(yLabel)}</text>` +
    ticks
      .map(
        (v) =>
          `<line x1="${PAD - 3}" y1="${sy(v).toFixed(1)}" x2="${PAD}" y2="${sy(v).toFixed(1)}" stroke="#333"/>` +
          `<text x="${PAD - 5}" y="${(sy(v) + 4).toFixed(1)}" text-anchor="end">${tick(v)}</text>`,
      )
      .join('')
  );
}

const valueOf = (t: Trial) => t.value ?? (t.intermediate.length ? Math.max(...t.intermediate.map(([, v]) => v)) : null);

function history(x: TuneReportInput): string {
  const pts = x.trials.filter((t) => valueOf(t) !== null);
  if (!pts.length) return '<p>No trial reported a value.</p>';
  const vals = pts.map((t) => valueOf(t)!);
  const [lo, hi] = [Math.min(...vals), Math.max(...vals)];
  const sx = scale(0, Math.max(1, x.trials.length - 1), PAD + 5, W - 20);
  const sy = scale(lo, hi, H - BOTTOM - 5, 15);
  let best: number | null = null;
  const line: string[] = [];
  for (const t of [...x.trials].sort((a, b) => a.number - b.number)) {
    if (t.state !== 'complete' || t.value === null) continue;
    best = best === null ? t.value : x.direction === 'maximize' ? Math.max(best, t.value) : Math.min(best, t.value);
    line.push(`${sx(t.number).toFixed(1)},${sy(best).toFixed(1)}`);
  }
  const dots = pts.map(
    (t) =>
      `<circle cx="${sx(t.number).toFixed(1)}" cy="${sy(valueOf(t)!).toFixed(1)}" r="4" ` +
      `fill="${t.state === 'complete' ? COLORS.complete : 'none'}" stroke="${COLORS[t.state]}">` +
      `<title>trial ${t.number} (${t.state}): ${fmt(valueOf(t))}</title></circle>`,
  );
  return svg(
    `Optimisation history: ${x.metric} of each trial, and the best so far`,
    axes('trial', x.metric, lo, hi) +
      `<polyline points="${line.join(' ')}" fill="none" stroke="#2ca02c" stroke-width="2"/>` +
      dots.join(''),
  );
}

function curves(x: TuneReportInput): string {
  const withCurves = x.trials.filter((t) => t.intermediate.length);
  if (!withCurves.length) return '<p>No evaluations recorded.</p>';
  const all = withCurves.flatMap((t) => t.intermediate);
  const maxStep = Math.max(...all.map(([s]) => s));
  const [lo, hi] = [Math.min(...all.map(([, v]) => v)), Math.max(...all.map(([, v]) => v))];
  const sx = scale(1, Math.max(2, maxStep), PAD + 5, W - 20);
  const sy = scale(lo, hi, H - BOTTOM - 5, 15);
  const xy = ([s, v]: [number, number]) => `${sx(s).toFixed(1)},${sy(v).toFixed(1)}`;
  // a point at every evaluation: a trial evaluated once is a dot, not an invisible one-point line
  const lines = withCurves.map(
    (t) =>
      `<g><title>trial ${t.number} (${t.state})</title>` +
      `<polyline points="${t.intermediate.map(xy).join(' ')}" fill="none" stroke="${COLORS[t.state]}" ` +
      `stroke-opacity="0.7"${t.state === 'pruned' ? ' stroke-dasharray="4 3"' : ''}/>` +
      t.intermediate
        .map(([s, v]) => `<circle cx="${sx(s).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3" fill="${COLORS[t.state]}"/>`)
        .join('') +
      '</g>',
  );
  return svg(
    `Learning curves: ${x.metric} at each evaluation of each trial`,
    axes('evaluation', x.metric, lo, hi) + lines.join(''),
  );
}

/** η² of each parameter: the share of the value's variance explained by the parameter's bins (complete trials). */
export function importance(trials: Trial[]): [string, number][] {
  const done = trials.filter((t) => t.state === 'complete' && t.value !== null);
  if (done.length < 3) return [];
  const keys = [...new Set(done.flatMap((t) => Object.keys(t.params)))];
  const ys = done.map((t) => t.value!);
  const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
  const total = ys.reduce((a, y) => a + (y - mean) ** 2, 0) || 1;
  const raw = keys.map((k): [string, number] => {
    const vals = done.map((t) => t.params[k]);
    const numeric = vals.every((v) => typeof v === 'number');
    const bins = Math.max(2, Math.min(5, Math.floor(done.length / 3)));
    const sorted = numeric ? [...(vals as number[])].sort((a, b) => a - b) : [];
    const binOf = (v: unknown) =>
      numeric
        ? String(Math.min(bins - 1, Math.floor((sorted.indexOf(v as number) / sorted.length) * bins)))
        : String(v);
    const groups = new Map<string, number[]>();
    done.forEach((t, i) => {
      const b = binOf(vals[i]);
      groups.set(b, [...(groups.get(b) ?? []), t.value!]);
    });
    const between = [...groups.values()].reduce(
      (a, g) => a + g.length * (g.reduce((s, y) => s + y, 0) / g.length - mean) ** 2,
      0,
    );
    return [k, between / total];
  });
  const sum = raw.reduce((a, [, v]) => a + v, 0) || 1;
  return raw.map(([k, v]): [string, number] => [k, v / sum]).sort((a, b) => b[1] - a[1]);
}

function importanceBars(trials: Trial[]): string {
  const imp = importance(trials);
  if (!imp.length) return '<p>Fewer than 3 complete trials.</p>';
  const rows = imp.map(
    ([k, v], i) =>
      `<text x="150" y="${22 + i * 24}" text-anchor="end">${esc(flag(k))}</text>` +
      `<rect x="155" y="${10 + i * 24}" width="${(v * 400).toFixed(1)}" height="16" fill="${COLORS.complete}"/>` +
      `<text x="${160 + v * 400}" y="${22 + i * 24}">${(v * 100).toFixed(0)}%</text>`,
  );
  const h = 20 + imp.length * 24;
  return (
    `<svg viewBox="0 0 ${W} ${h}" width="${W}" height="${h}" font-size="11" role="img" ` +
    `aria-label="Parameter importance"><title>Parameter importance</title>${rows.join('')}</svg>`
  );
}

function parallel(x: TuneReportInput): string {
  const ts = x.trials.filter((t) => valueOf(t) !== null);
  const keys = [...new Set(ts.flatMap((t) => Object.keys(t.params)))];
  if (!ts.length || !keys.length) return '<p>No trials.</p>';
  const axesKeys = [...keys, '__value'];
  const sx = scale(0, axesKeys.length - 1, 60, W - 40);
  const pos = (k: string, t: Trial): number => {
    const vals = ts.map((u) => (k === '__value' ? valueOf(u)! : u.params[k]));
    const v = k === '__value' ? valueOf(t)! : t.params[k];
    if (typeof v !== 'number') {
      const cats = [...new Set(vals.map(String))];
      return scale(0, Math.max(1, cats.length - 1), H - BOTTOM, 15)(cats.indexOf(String(v)));
    }
    const log =
      k !== '__value' &&
      vals.every((u) => typeof u === 'number' && u > 0) &&
      Math.max(...(vals as number[])) / Math.min(...(vals as number[])) > 20;
    const f = (u: number) => (log ? Math.log(u) : u);
    return scale(Math.min(...(vals as number[]).map(f)), Math.max(...(vals as number[]).map(f)), H - BOTTOM, 15)(f(v));
  };
  const lines = ts.map(
    (t) =>
      `<polyline points="${axesKeys.map((k, i) => `${sx(i).toFixed(1)},${pos(k, t).toFixed(1)}`).join(' ')}" ` +
      `fill="none" stroke="${COLORS[t.state]}" stroke-opacity="0.6"` +
      `${t.number === x.best.number ? ' stroke-width="3"' : ''}/>`,
  );
  const ax = axesKeys.map(
    (k, i) =>
      `<line x1="${sx(i)}" y1="15" x2="${sx(i)}" y2="${H - BOTTOM}" stroke="#333"/>` +
      `<text x="${sx(i)}" y="${H - BOTTOM + 16}" text-anchor="middle">` +
      `${esc(k === '__value' ? x.metric : flag(k))}</text>`,
  );
  return svg('Parallel coordinates: one line per trial, the best one thick', ax.join('') + lines.join(''));
}

/** A chart: scales down to the page width (viewBox), titled for screen readers. */
const svg = (title: string, body: string) =>
  `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-size="11" font-family="sans-serif" role="img" ` +
  `aria-label="${esc(title)}"><title>${esc(title)}</title>${body}</svg>`;

function table(x: TuneReportInput): string {
  const keys = [...new Set(x.trials.flatMap((t) => Object.keys(t.params)))];
  const head = [
    'trial',
    'state',
    x.metric,
    'best eval',
    'epochs run / planned',
    'seconds',
    'worker',
    ...keys.map(flag),
    'note',
  ];
  const rows = x.trials.map((t) => [
    t.number,
    t.state,
    t.value ?? '',
    t.bestStep ?? '',
    `${fmt(t.epochsRun)} / ${fmt(t.epochsPlanned)}`,
    t.seconds?.toFixed(0) ?? '',
    t.worker ?? '',
    ...keys.map((k) => t.params[k] ?? ''),
    t.error ?? (t.retryOf !== null ? `retry of ${t.retryOf}` : ''),
  ]);
  const tr = (r: unknown[], i: number) =>
    `<tr class="${x.trials[i]!.state}">${r.map((c) => `<td>${esc(fmt(c))}</td>`).join('')}</tr>`;
  return (
    `<div class="scroll"><table><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr>` +
    `${rows.map(tr).join('')}</table></div>`
  );
}

/** Epochs the pruned trials did not run (planned − run), and the epochs every trial ran. */
export function epochsSaved(trials: Trial[]): { run: number; saved: number } {
  const run = trials.reduce((a, t) => a + (t.epochsRun ?? 0), 0);
  const saved = trials
    .filter((t) => t.state === 'pruned')
    .reduce((a, t) => a + Math.max(0, (t.epochsPlanned ?? 0) - (t.epochsRun ?? 0)), 0);
  return { run, saved };
}

export function tuneReportHtml(x: TuneReportInput): string {
  const count = (s: string) => x.trials.filter((t) => t.state === s).length;
  const { run, saved } = epochsSaved(x.trials);
  const test = x.test
    ? Object.entries(x.test)
        .filter(([, v]) => typeof v === 'number')
        .slice(0, 8)
        .map(([k, v]) => `${esc(k)} ${fmt(v)}`)
        .join(', ')
    : 'no test split given';
  const chance = chanceWarning(x.metric, x.best.value, x.labels);
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>medtune tune: ${esc(x.study)}</title><style>\n` +
    'body{font-family:sans-serif;margin:2em auto;padding:0 1em;max-width:1100px;overflow-wrap:break-word}' +
    'table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}\n' +
    'svg{display:block;max-width:100%;height:auto}.scroll{overflow-x:auto;max-width:100%}' +
    '.warn{background:#fff7e6;border:1px solid #f0c36d;padding:.6rem .9rem;border-radius:6px}' +
    'tr.pruned{color:#a0522d}tr.failed{color:#b22222}.k{color:#555}h2{margin-top:1.6em}' +
    '@media (max-width:40rem){body{margin:1em auto;padding:0 .6em}}</style></head><body>\n' +
    `<h1>Study ${esc(x.study)}</h1>\n` +
    `<p class="k">${esc(x.sampler)} sampler, ${esc(x.pruner)} pruner; ` +
    `${x.direction} ${esc(x.metric)} on the validation split; ` +
    `${x.trials.length} trials: ${count('complete')} complete, ${count('pruned')} pruned, ${count('failed')} failed; ` +
    `${x.seconds.toFixed(0)} s; ${run.toFixed(1)} epochs trained, ${saved.toFixed(1)} saved by pruning.</p>\n` +
    `<h2>Best trial: ${x.best.number}</h2>\n` +
    (chance ? `<p class="warn" role="alert"><strong>Warning.</strong> ${esc(chance)}</p>\n` : '') +
    `<p>${esc(x.metric)} ${fmt(x.best.value)} on validation (evaluation ${x.best.bestStep ?? '?'}); ` +
    `${Object.entries(x.best.params)
      .map(([k, v]) => `${esc(flag(k))} ${esc(fmt(v))}`)
      .join(', ')}</p>\n` +
    `<p>Test (evaluated once, after the study): ${test}</p>\n` +
    '<h2>Optimisation history</h2><p class="k">' +
    `Filled: complete; hollow orange: pruned (best value before it stopped); green: best so far.</p>${history(x)}\n` +
    `<h2>Learning curves</h2><p class="k">Blue: complete; dashed orange: pruned.</p>${curves(x)}\n` +
    '<h2>Parameter importance</h2><p class="k">' +
    `Share of the variance of ${esc(x.metric)} over complete trials explained by each parameter (binned, η²).</p>` +
    `${importanceBars(x.trials)}\n` +
    `<h2>Parallel coordinates</h2><p class="k">One line per trial; the thick one is the best.</p>${parallel(x)}\n` +
    `<h2>Trials</h2>${table(x)}\n` +
    '</body></html>\n'
  );
}

export function writeTuneReport(file: string, x: TuneReportInput): void {
  writeFileAtomic(file, tuneReportHtml(x));
}
