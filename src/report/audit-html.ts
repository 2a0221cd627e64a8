/** The bias audit as HTML: in the run report and on its own (medtune audit's audit.html). */
import type { AuditResult, ColumnAudit, GapMetric, GroupResult, Side } from './audit.js';
import { gapSpec, groupLabelsSpec, renderSvg } from './charts.js';
import { details, esc, figure, interval, num, page, table } from './html.js';

const METRIC_NAMES: Record<GapMetric, string> = {
  accuracy: 'accuracy',
  f1_macro: 'macro-F1',
  abstention_rate: 'abstention rate',
  ece: 'ECE',
};

/** Training rows per group and column (run.json's data view of the training split), when known. */
export type TrainingGroups = Record<string, Record<string, { n: number }>>;

const signed = (v: number, digits = 3) => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

/** A flagged gap, marked by its side: worse than the rest in red with ⚑, better than the rest in blue with ▲. */
const mark = (side: Side | undefined, txt: string) =>
  side === 'worse'
    ? `<span class="flag">${txt} ⚑ worse</span>`
    : side === 'better'
      ? `<span class="better">${txt} ▲ better</span>`
      : txt;

function gapCell(g: GroupResult, m: GapMetric): string {
  const gap = g.gaps?.[m];
  if (!gap) return '–';
  return mark(gap.flagged ? gap.side : undefined, `${signed(gap.gap)} ${interval(gap.ci)}`);
}

function statusOf(g: GroupResult, minGroup: number): string {
  if (!g.judged) {
    return g.n < minGroup ? `too small to judge (n &lt; ${minGroup})` : 'too small to judge (too few rows in the rest)';
  }
  const flagged = Object.entries(g.gaps ?? {}).filter(([, v]) => v.flagged);
  const of = (side: Side) => flagged.filter(([, v]) => v.side === side).map(([m]) => METRIC_NAMES[m as GapMetric]);
  const parts = [
    of('worse').length ? `<span class="flag">worse than the rest: ${of('worse').join(', ')}</span>` : '',
    of('better').length ? `<span class="better">better than the rest: ${of('better').join(', ')}</span>` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'no gap flagged';
}

function groupTable(c: ColumnAudit, a: AuditResult, training?: Record<string, { n: number }>): string {
  const multi = a.multi_label;
  const metrics = (['accuracy', 'f1_macro', 'abstention_rate', 'ece'] as GapMetric[]).filter((m) =>
    c.groups.some((g) => g.gaps?.[m]),
  );
  const head = [
    'group',
    'n',
    ...(training ? ['training rows'] : []),
    multi ? 'subset accuracy' : 'accuracy',
    'macro-F1',
    ...(multi ? [] : ['ECE']),
    'abstention rate',
    ...metrics.map((m) => `gap in ${METRIC_NAMES[m]} [interval]`),
    'status',
  ];
  const rows = c.groups.map((g) => [
    esc(g.group),
    String(g.n),
    ...(training ? [String(training[g.group]?.n ?? 0)] : []),
    num(g.accuracy, 3),
    num(g.f1_macro, 3),
    ...(multi ? [] : [num(g.ece, 3)]),
    num(g.abstention_rate, 3),
    ...metrics.map((m) => gapCell(g, m)),
    statusOf(g, a.method.min_group),
  ]);
  return table(head, rows);
}

function recallTable(c: ColumnAudit, labels: string[]): string {
  const shown = labels.filter((l) => c.groups.some((g) => g.recall[l] !== undefined));
  const rows = shown.map((l) => [esc(l), ...c.groups.map((g) => num(g.recall[l], 2))]);
  return table(['class', ...c.groups.map((g) => esc(g.group))], rows);
}

function maxMinLines(c: ColumnAudit): string {
  const items = Object.entries(c.max_min).map(
    ([m, v]) =>
      `<li>${METRIC_NAMES[m as GapMetric]}: ` +
      `${esc(v.max_group)} − ${esc(v.min_group)} = ${v.gap.toFixed(3)} ${interval(v.ci)}</li>`,
  );
  if (!items.length) return '';
  return (
    '<p>Max–min gap (highest minus lowest group, 95 % interval; a summary, not a test):</p>' +
    `<ul>${items.join('')}</ul>`
  );
}

function flaggedLine(c: ColumnAudit): string {
  if (!c.flagged.length) {
    const n = `${c.compared} comparison${c.compared === 1 ? '' : 's'}`;
    return `<p class="ok">No gap flagged in ${esc(c.column)} (${n}).</p>`;
  }
  const items = c.flagged.map(
    (f) =>
      `${esc(f.group)} does ${f.side} than the rest (${METRIC_NAMES[f.metric]} ${signed(f.gap)} ${interval(f.ci)})`,
  );
  const worse = c.flagged.some((f) => f.side === 'worse');
  return `<p class="${worse ? 'bad' : 'warn'}">Flagged in ${esc(c.column)}: ${items.join('; ')}.</p>`;
}

/** The forest plot of accuracy gaps of the judged groups (empty when none is judged). */
async function gapChart(c: ColumnAudit, a: AuditResult, id: string): Promise<string> {
  const judged = c.groups.filter((g) => g.gaps?.accuracy);
  if (!judged.length) return '';
  const points = judged.map((g) => {
    const x = g.gaps!.accuracy!;
    const flagged = x.flagged ? `${x.side} than the rest` : 'not flagged';
    return { group: g.group, gap: x.gap, lo: x.ci[0], hi: x.ci[1], flagged };
  });
  const svg = await renderSvg(id, gapSpec(c.column, a.multi_label ? 'subset accuracy' : 'accuracy', points));
  const level = (100 * c.level).toFixed(2);
  return figure(
    svg,
    `Accuracy of each group minus that of all other rows, with its interval (${level} % each, ` +
      '95 % together). When the interval excludes zero the gap is flagged: red, the group does worse than the ' +
      'rest; blue, it does better.',
  );
}

async function columnHtml(
  c: ColumnAudit,
  a: AuditResult,
  idPrefix: string,
  training?: Record<string, { n: number }>,
): Promise<string> {
  const values = c.groups.flatMap((g) =>
    Object.entries(g.labels).map(([label, count]) => ({ group: g.group, label, count })),
  );
  const spec = groupLabelsSpec(
    c.column,
    values,
    c.groups.map((g) => g.group),
  );
  const dataChart = figure(
    await renderSvg(`${idPrefix}-labels`, spec),
    "The data view: which classes each group's " +
      'evaluation rows hold. A group whose class mix differs is harder to compare.',
  );
  const recall = details('Recall (sensitivity) per class and group', recallTable(c, a.labels));
  return (
    `<h3>${esc(c.column)}</h3>${flaggedLine(c)}${groupTable(c, a, training)}${maxMinLines(c)}` +
    `${await gapChart(c, a, `${idPrefix}-gap`)}${dataChart}\n${recall}`
  );
}

function methodText(a: AuditResult): string {
  const m = a.method;
  const acc = a.multi_label ? 'subset accuracy' : 'accuracy';
  const flagged = m.flagged_metrics.map((x) => METRIC_NAMES[x as GapMetric]).join(' or ');
  return `<p>${a.n} evaluated rows. Per group: n, ${acc}, macro-F1 (over the classes present in the group),
recall per class, ${a.multi_label ? '' : 'ECE, '}abstention rate. Each group is compared with all other rows;
intervals are seeded bootstrap percentile intervals (${m.resamples} resamples, seed ${m.seed}, groups resampled
separately, each group's pool with one right and one wrong pseudo-row), at 95 % for all comparisons of a column
together (${m.adjustment}). A gap in ${flagged} is flagged when its interval excludes zero (⚑ worse than the
rest, ▲ better than the rest); gaps in macro-F1
and ECE are shown, not flagged (both are biased in small groups). Groups under ${m.min_group} rows are too small
to judge.</p>`;
}

const CAVEAT = `<p class="muted">A flag says that this model does measurably worse (or better) for a group on this
data, not why: the group's notes may differ, its classes may be harder, or it may be under-represented in training.
No flag is not proof of fairness: small groups and gaps below the resolution of the data go unseen.</p>`;

/** The audit section body (no heading). */
export async function auditSection(
  a: AuditResult,
  o: { idPrefix?: string; training?: TrainingGroups } = {},
): Promise<string> {
  const cols: string[] = [];
  for (const [i, c] of a.columns.entries()) {
    cols.push(await columnHtml(c, a, `${o.idPrefix ?? 'audit'}-${i}`, o.training?.[c.column]));
  }
  const notes = a.notes.length ? `<p class="warn">${a.notes.map(esc).join('<br>')}</p>` : '';
  const k = a.flagged.length;
  const items = a.flagged.map(
    (f) => `${esc(f.column)} = ${esc(f.group)} ${mark(f.side, `(${METRIC_NAMES[f.metric]} ${signed(f.gap)})`)}`,
  );
  const worse = a.flagged.some((f) => f.side === 'worse');
  const headline = k
    ? `<p class="${worse ? 'bad' : 'warn'}"><strong>${k} gap${k === 1 ? '' : 's'} flagged:</strong> ` +
      `${items.join('; ')}.</p>`
    : '<p class="ok">No gap flagged.</p>';
  return `${headline}${methodText(a)}${notes}${cols.join('\n')}\n${CAVEAT}`;
}

/** audit.html of `medtune audit`. */
export async function auditPage(a: AuditResult, o: { model: string; version: string; data: string }): Promise<string> {
  const body = `<h1>Bias audit</h1>
<p class="warn">Decision support for clinicians, not a diagnosis; not clinically validated. This page holds group
names and counts from the data, no texts.</p>
<p>Model <code>${esc(o.model)}</code> (version <code>${esc(o.version)}</code>) on <code>${esc(o.data)}</code>.</p>
${await auditSection(a)}`;
  return page('medtune bias audit', body);
}
