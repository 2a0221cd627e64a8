/** The report's sections about the run itself: summary, dataset, training curves (run.json, metrics.jsonl). */
import { classBalanceSpec, renderSvg, tokenLengthSpec, trainingCurvesSpec } from './charts.js';
import { details, esc, figure, kv, num, table } from './html.js';
import type { Json, RunFolder } from './run-folder.js';
import { obj, why, type Section } from './section.js';

const code = (v: unknown) => `<code>${esc(String(v ?? '–'))}</code>`;

function runRows(f: RunFolder, r: Json): [string, string][] {
  const duration = typeof r.duration_seconds === 'number' ? `${r.duration_seconds.toFixed(1)} s` : '–';
  return [
    ['command', code(((r.command as string[]) ?? []).join(' '))],
    ['kind', esc(String(r.kind))],
    ['seed', esc(String(r.seed ?? '–'))],
    ['backend', esc(`${r.backend}, ${r.threads} threads, Node ${r.node}, medtune ${r.medtune_version}`)],
    ['started', esc(String(r.started_at ?? '–'))],
    ['duration', duration],
    ['evaluated on', esc(String(r.evaluated_split || f.metrics?.split || '–'))],
    ['de-identified', r.deid ? `yes, before tokenising (operator ${esc(String(r.deid))})` : 'no'],
  ];
}

export function summarySection(f: RunFolder): Section {
  const r = f.run;
  const m = obj(f.metrics?.model);
  if (!r && !m) return { id: 'summary', title: 'Run summary', absent: why(f, 'run.json') };
  const model = obj(r?.model) ?? {};
  const rows: [string, string][] = [
    ['model', `${code(model.source)}${model.dir ? ` → ${code(model.dir)}` : ''}`],
    ['model version', code(m?.version ?? model.version)],
    ['model sha256', code(m?.sha256 ?? model.sha256)],
    ...(r ? runRows(f, r) : []),
  ];
  const data = (r?.data as { split: string; file: string; sha256: string; rows?: number }[] | undefined) ?? [];
  const fileRows = data.map((d) => [esc(d.split), code(d.file), String(d.rows ?? '–'), code(d.sha256)]);
  const files = data.length ? table(['split', 'file', 'rows', 'sha256'], fileRows, { numeric: false }) : '';
  const note = r ? '' : `<p class="muted">Command, data files and timing absent: ${why(f, 'run.json')}.</p>`;
  return { id: 'summary', title: 'Run summary', html: kv(rows) + files + note };
}

function splitRow(name: string, x: Json): string[] {
  const t = obj(x.tokens) ?? {};
  const sk = obj(x.skipped) ?? {};
  const reasons = Object.entries(obj(sk.reasons) ?? {})
    .map(([k, v]) => `${esc(k)}: ${v}`)
    .join(', ');
  const skipped = `${sk.count ?? 0}${reasons ? ` (${reasons})` : ''}`;
  const tokens = `${t.p50} / ${t.p90} / ${t.p99} / ${t.max}`;
  return [esc(name), String(x.rows), skipped, `${x.truncated} (max ${x.max_length})`, tokens];
}

/** Token-length shares per bin and split; a closing point at the last bin's end draws its step. */
function lengthShares(splits: Record<string, Json>): { split: string; lo: number; share: number }[] {
  return Object.keys(splits).flatMap((s) => {
    const bins = (obj(splits[s]!.tokens)?.histogram ?? []) as { lo: number; hi: number; count: number }[];
    const n = Math.max(
      1,
      bins.reduce((a, b) => a + b.count, 0),
    );
    const last = bins.slice(-1).map((b) => ({ split: s, lo: b.hi, share: b.count / n }));
    return [...bins.map((b) => ({ split: s, lo: b.lo, share: b.count / n })), ...last];
  });
}

export async function datasetSection(f: RunFolder): Promise<Section> {
  const splits = obj(f.run?.splits) as Record<string, Json> | null;
  if (!splits || !Object.keys(splits).length) return { id: 'dataset', title: 'Dataset', absent: why(f, 'run.json') };
  const names = Object.keys(splits);
  const classes = (s: string) => obj(splits[s]!.classes) ?? {};
  const balance = names.flatMap((s) =>
    Object.entries(classes(s)).map(([label, count]) => ({ split: s, label, count: count as number })),
  );
  const maxLength = Number(splits[names[0]!]!.max_length ?? 0);
  const classRows = f.labels.map((l) => [esc(l), ...names.map((s) => String(classes(s)[l] ?? 0))]);
  const classTable = table(['class', ...names.map(esc)], classRows);
  const head = ['split', 'rows', 'skipped rows', 'texts truncated', 'tokens p50 / p90 / p99 / max'];
  const balanceSvg = await renderSvg('balance', classBalanceSpec(balance, f.labels));
  const tokensSvg = await renderSvg('tokens', tokenLengthSpec(lengthShares(splits), maxLength));
  return {
    id: 'dataset',
    title: 'Dataset',
    html:
      table(
        head,
        names.map((s) => splitRow(s, splits[s]!)),
      ) +
      figure(balanceSvg, 'Rows per class in each split. A class with few rows is learned and measured less reliably.') +
      figure(
        tokensSvg,
        `Token lengths per text; the red line is the maximum length (${maxLength}): ` +
          'tokens after it are cut off and never seen by the model.',
      ) +
      details('Class counts per split', classTable),
  };
}

export async function trainingSection(f: RunFolder): Promise<Section> {
  if (!f.history?.length) {
    const absent = f.run?.kind === 'evaluate' ? 'an evaluation run has no training' : why(f, 'metrics.jsonl');
    return { id: 'training', title: 'Training curves', absent };
  }
  const train = f.history.filter((h) => h.type === 'train');
  const evals = f.history.filter((h) => h.type === 'eval');
  const metricName = String(obj(f.run?.recipe)?.metricForBestModel ?? (f.multiLabel ? 'f1_micro' : 'accuracy'));
  const lossOf = (series: string) => (h: Json) => ({ step: h.step as number, loss: h.loss as number, series });
  const loss = [...train.map(lossOf('training')), ...evals.map(lossOf('evaluation'))].filter(
    (p) => typeof p.loss === 'number',
  );
  const lr = train.filter((h) => typeof h.lr === 'number').map((h) => ({ step: h.step, lr: h.lr as number }));
  const metric = evals
    .filter((h) => typeof h[metricName] === 'number')
    .map((h) => ({ step: h.step, value: h[metricName] as number }));
  const evalRows = evals.map((h) => [String(h.step), num(h.epoch, 2), num(h.loss), num(h[metricName])]);
  const svg = await renderSvg('curves', trainingCurvesSpec({ loss, lr, metric, metricName }));
  return {
    id: 'training',
    title: 'Training curves',
    html:
      figure(
        svg,
        'Loss on training batches and on the validation split, the learning-rate schedule, and ' +
          `${esc(metricName)} at each evaluation. Validation loss rising while training loss falls is over-fitting.`,
      ) + details(`Every evaluation (${evals.length})`, table(['step', 'epoch', 'loss', esc(metricName)], evalRows)),
  };
}
