/**
 * The report's charts: vega-lite specs compiled and rendered to SVG strings in Node (no browser, no script in the
 * page). vega numbers clip paths and gradients with a process-wide counter, so every chart's ids are rewritten
 * with its own prefix: the SVG is the same whatever was rendered before it, and ids never collide in one page.
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';

type Spec = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const CONFIG = {
  config: {
    font: 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif',
    view: { stroke: '#ddd' },
    title: { fontSize: 13 },
    axis: { labelFontSize: 10, titleFontSize: 11, labelLimit: 220 },
    legend: { labelFontSize: 10, titleFontSize: 11, labelLimit: 280 },
  },
};

/** Renders a vega-lite spec to an SVG string whose ids start with `id`. */
export async function renderSvg(id: string, spec: Spec): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const compiled = compile({ $schema: SCHEMA, ...CONFIG, ...spec } as any).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const ids = new Map<string, string>();
    for (const m of svg.matchAll(/\sid="([^"]+)"/g)) ids.set(m[1]!, `${id}-${ids.size + 1}`);
    let out = svg;
    for (const [from, to] of ids) {
      out = out.split(`id="${from}"`).join(`id="${to}"`).split(`url(#${from})`).join(`url(#${to})`);
    }
    // a title for screen readers and on hover: the spec's title (and its description when it has one)
    const title = [spec.title, spec.description].filter((x) => typeof x === 'string').join(': ') || id;
    const safe = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    return out
      .replace(/^<svg /, `<svg data-chart="${id}" role="img" aria-label="${safe}" `)
      .replace(/^(<svg [^>]*>)/, `$1<title>${safe}</title>`);
  } finally {
    view.finalize();
  }
}

const label = (title: string) => ({ title });
const q = (field: string, more: Spec = {}) => ({ field, type: 'quantitative', ...more });
const unit = (field: string, title: string) => q(field, { scale: { domain: [0, 1] }, title });
/** A dashed line from (0, 0) to (1, 1): chance (ROC) or perfect calibration. */
const DIAGONAL = {
  data: {
    values: [
      { x: 0, y: 0 },
      { x: 1, y: 1 },
    ],
  },
  mark: { type: 'line', color: '#999', strokeDash: [4, 3] },
  encoding: { x: q('x'), y: q('y') },
};
/** A dashed red vertical line at x = value. */
const marker = (value: number) => ({
  data: { values: [{ v: value }] },
  mark: { type: 'rule', color: '#b91c1c', strokeDash: [4, 3] },
  encoding: { x: q('v') },
});

/** Rows per class, one bar per split. */
export function classBalanceSpec(values: { split: string; label: string; count: number }[], labels: string[]): Spec {
  return {
    title: 'Class balance per split',
    data: { values },
    width: 420,
    height: { step: 8 },
    mark: 'bar',
    encoding: {
      y: { field: 'label', type: 'nominal', sort: labels, ...label('class') },
      yOffset: { field: 'split', type: 'nominal' },
      x: q('count', label('rows')),
      color: { field: 'split', type: 'nominal', scale: { scheme: 'tableau10' } },
    },
  };
}

/** Token-length distributions per split (share of the split's texts per bin), with the truncation length. */
export function tokenLengthSpec(values: { split: string; lo: number; share: number }[], maxLength: number): Spec {
  const line = {
    data: { values },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: q('lo', label('tokens')),
      y: q('share', { axis: { format: '%' }, ...label("share of the split's texts") }),
      color: { field: 'split', type: 'nominal', scale: { scheme: 'tableau10' } },
    },
  };
  return { title: 'Tokens per text', width: 420, height: 180, layer: [line, marker(maxLength)] };
}

export interface CurvePoints {
  loss: { step: number; loss: number; series: string }[];
  lr: { step: number; lr: number }[];
  metric: { step: number; value: number }[];
  metricName: string;
}

/** Training curves: loss (training and evaluation), learning rate, and the evaluation metric, by step. */
export function trainingCurvesSpec(c: CurvePoints): Spec {
  const x = q('step', label('optimizer step'));
  const size = { height: 170 };
  return {
    title: 'Training curves',
    hconcat: [
      {
        data: { values: c.loss },
        width: 260,
        ...size,
        mark: { type: 'line', point: { size: 12 } },
        encoding: { x, y: q('loss', label('loss')), color: { field: 'series', type: 'nominal', ...label('') } },
      },
      {
        data: { values: c.lr },
        width: 200,
        ...size,
        mark: 'line',
        encoding: { x, y: q('lr', { axis: { format: '.1e' }, ...label('learning rate') }) },
      },
      {
        data: { values: c.metric },
        width: 200,
        ...size,
        mark: { type: 'line', point: true },
        encoding: { x, y: q('value', { scale: { zero: false }, ...label(`${c.metricName} (evaluation)`) }) },
      },
    ],
  };
}

/**
 * The confusion matrix as a heat map: counts, or shares of each true class (row-normalised). Empty cells are left
 * blank (no colour, no number); any cell with a note starts at a clearly visible blue, so one note never looks like
 * none.
 */
export function confusionSpec(confusion: number[][], labels: string[], normalised: boolean): Spec {
  const values = confusion.flatMap((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row
      .map((count, j) => ({
        actual: labels[i],
        predicted: labels[j],
        count,
        value: normalised ? (total ? count / total : 0) : count,
      }))
      .filter((v) => v.count > 0);
  });
  const size = Math.max(220, Math.min(560, labels.length * 24));
  const enc = {
    x: { field: 'predicted', type: 'nominal', sort: labels, scale: { domain: labels }, ...label('predicted') },
    y: { field: 'actual', type: 'nominal', sort: labels, scale: { domain: labels }, ...label('true label') },
  };
  const max = Math.max(1, ...values.map((v) => v.value));
  const domain = normalised ? [0, 1] : [1, Math.max(2, max)];
  const scale = { domain, range: ['#c6dbef', '#08306b'], ...(normalised ? {} : { type: 'log' }) };
  const dark = normalised ? 0.5 : Math.sqrt(max);
  const text = { field: 'value', type: 'quantitative', format: normalised ? '.0%' : 'd' };
  return {
    title: normalised ? 'Confusion matrix (share of each true class)' : 'Confusion matrix (counts)',
    description: 'rows: true class; columns: predicted class; empty cells had no notes',
    data: { values },
    width: size,
    height: size,
    layer: [
      { mark: 'rect', encoding: { ...enc, color: q('value', { scale, ...label(normalised ? 'share' : 'count') }) } },
      {
        mark: { type: 'text', fontSize: labels.length > 12 ? 7 : 9 },
        encoding: {
          ...enc,
          text,
          color: { condition: { test: `datum.value > ${dark}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

/** One-vs-rest curves (ROC or precision–recall) of a few classes. */
export function curvesSpec(kind: 'roc' | 'pr', values: { label: string; x: number; y: number; order: number }[]): Spec {
  const roc = kind === 'roc';
  const line = {
    data: { values },
    mark: { type: 'line', interpolate: roc ? 'linear' : 'step-after' },
    encoding: {
      x: unit('x', roc ? 'false positive rate' : 'recall'),
      y: unit('y', roc ? 'true positive rate (recall)' : 'precision'),
      color: { field: 'label', type: 'nominal', scale: { scheme: 'tableau10' }, ...label('class') },
      order: { field: 'order' },
    },
  };
  const title = roc ? 'ROC (one vs rest)' : 'Precision–recall (one vs rest)';
  return { title, width: 300, height: 260, layer: roc ? [DIAGONAL, line] : [line] };
}

/** Reliability diagram: accuracy against mean confidence per bin, before and after calibration. */
export function reliabilitySpec(
  values: { series: string; confidence: number; accuracy: number; count: number }[],
): Spec {
  const enc = {
    x: unit('confidence', 'mean confidence in bin'),
    y: unit('accuracy', 'accuracy in bin'),
    color: { field: 'series', type: 'nominal', ...label('') },
  };
  const size = q('count', { scale: { range: [15, 300] }, ...label('rows in bin') });
  return {
    title: 'Reliability diagram',
    width: 300,
    height: 260,
    layer: [
      DIAGONAL,
      { data: { values }, mark: 'line', encoding: enc },
      { data: { values }, mark: { type: 'circle', opacity: 0.8 }, encoding: { ...enc, size } },
    ],
  };
}

/** Risk–coverage: the error rate among the most confident answers, by the share answered. */
export function riskCoverageSpec(values: { coverage: number; risk: number }[], abstainAt?: number): Spec {
  const line = {
    data: { values },
    mark: 'line',
    encoding: {
      x: unit('coverage', 'coverage (share answered)'),
      y: q('risk', label('risk (error rate of the answered)')),
    },
  };
  const layer = abstainAt === undefined ? [line] : [line, marker(abstainAt)];
  return { title: 'Risk–coverage', width: 300, height: 220, layer };
}

export interface GapPoint {
  group: string;
  gap: number;
  lo: number;
  hi: number;
  flagged: string;
}

/** Gap of each group to the rest with its interval (a forest plot), zero marked. */
export function gapSpec(column: string, metric: string, values: GapPoint[]): Spec {
  const y = { field: 'group', type: 'nominal', sort: values.map((v) => v.group), ...label(column) };
  const color = {
    field: 'flagged',
    type: 'nominal',
    ...label(''),
    scale: {
      domain: ['worse than the rest', 'better than the rest', 'not flagged'],
      range: ['#b91c1c', '#1d4ed8', '#64748b'],
    },
  };
  const ends = values.flatMap((v) => [v.lo, v.hi]).filter(Number.isFinite);
  const pad = 0.05 * Math.max(0.01, Math.max(0, ...ends) - Math.min(0, ...ends));
  const domain = [Math.min(0, ...ends) - pad, Math.max(0, ...ends) + pad];
  const x = q('lo', { scale: { domain }, ...label(`gap in ${metric} (group − rest)`) });
  return {
    title: `${metric}: gap to the rest (${column})`,
    width: 300,
    height: { step: 22 },
    data: { values },
    layer: [
      { data: { values: [{ z: 0 }] }, mark: { type: 'rule', color: '#999' }, encoding: { x: q('z') } },
      { mark: { type: 'rule', strokeWidth: 2 }, encoding: { y, x, x2: { field: 'hi' }, color } },
      { mark: { type: 'point', filled: true, size: 50 }, encoding: { y, x: q('gap'), color } },
    ],
  };
}

/** The data view: share of each class within each group. */
export function groupLabelsSpec(
  column: string,
  values: { group: string; label: string; count: number }[],
  groups: string[],
): Spec {
  return {
    title: `Classes within each group (${column})`,
    width: 420,
    height: { step: 20 },
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'group', type: 'nominal', sort: groups, ...label(column) },
      x: q('count', { stack: 'normalize', axis: { format: '%' }, ...label("share of the group's rows") }),
      color: { field: 'label', type: 'nominal', scale: { scheme: 'category20' }, ...label('class') },
      order: { field: 'label' },
    },
  };
}
