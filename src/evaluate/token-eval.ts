/**
 * Evaluating a token classifier (`medtune evaluate` on a token-classification model, and the last stage of `train
 * --task token-classification`): entity-level metrics (seqeval.ts) and the files of a run — metrics.json
 * (`entity_precision`, `entity_recall`, `entity_f1`, `token_accuracy`, `per_type`), predictions.jsonl (gold and
 * predicted character spans with scores per text) and report.html (the figures, per type, and the misses).
 */
import path from 'node:path';
import { makeDirs, prepareOutputDir, writeFileAtomic } from '../common/atomic.js';
import { charSpans, checkTypes, readTokenData, type TokenData, type TokenExample } from '../data/token-data.js';
import { typesOfLabels } from '../data/tags.js';
import { spansOf, TokenPredictor } from '../infer/token-predictor.js';
import { setThreads } from '../tensor/backend.js';
import { MedtuneError } from '../common/errors.js';
import { entityMetrics, entityMisses, type EntityMetrics, type EntityPair } from './seqeval.js';
import { iob2Tags } from '../data/tags.js';

export interface TokenRunFiles {
  examples: TokenExample[];
  pairs: EntityPair[];
  /** score of each predicted entity */
  scores: number[][];
  metrics: EntityMetrics;
  /** more keys of metrics.json (threshold, timings, split, …) */
  extra?: Record<string, unknown>;
  /** write texts into predictions.jsonl and the report (default true) */
  texts?: boolean;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (x: number) => (x * 100).toFixed(1);

/** metrics.json, predictions.jsonl and report.html of a token-classification evaluation. */
export function writeTokenRunFiles(dir: string, r: TokenRunFiles): void {
  makeDirs(dir);
  const metrics = { task: 'token-classification', ...r.metrics, ...r.extra };
  writeFileAtomic(path.join(dir, 'metrics.json'), JSON.stringify(metrics, null, 2) + '\n');
  const lines = r.examples.map((e, i) => {
    const words = e.words;
    const predicted = spansOf(words, {
      tags: [],
      entities: r.pairs[i]!.predicted,
      scores: r.scores[i] ?? [],
    });
    return JSON.stringify({
      line: e.line,
      ...(r.texts === false ? {} : { text: e.text }),
      entities: predicted,
      gold: charSpans(e),
    });
  });
  writeFileAtomic(path.join(dir, 'predictions.jsonl'), lines.join('\n') + (lines.length ? '\n' : ''));
  writeFileAtomic(path.join(dir, 'report.html'), tokenReportHtml(r));
}

/** A self-contained page: headline figures, per type, and the misses with their context. */
export function tokenReportHtml(r: TokenRunFiles): string {
  const m = r.metrics;
  const rows = m.per_type
    .map(
      (t) =>
        `<tr><td>${esc(t.type)}</td><td>${pct(t.precision)}</td><td>${pct(t.recall)}</td>` +
        `<td>${pct(t.f1)}</td><td>${t.support}</td></tr>`,
    )
    .join('');
  const misses = entityMisses(r.pairs, 100)
    .map((x) => {
      const e = r.examples[x.example]!;
      const [s, end] = [e.words[x.entity.start]![0], e.words[x.entity.end - 1]![1]];
      const what =
        r.texts === false
          ? `characters ${s}–${end}`
          : `${esc(e.text.slice(Math.max(0, s - 40), s))}<mark>${esc(e.text.slice(s, end))}</mark>` +
            esc(e.text.slice(end, end + 40));
      return `<tr><td>${e.line}</td><td>${x.kind}</td><td>${esc(x.entity.type)}</td><td>${what}</td></tr>`;
    })
    .join('');
  const extra = r.extra ?? {};
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>medtune token classification</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ccc;padding:.2rem .6rem;text-align:left}
mark{background:#ffe08a}</style></head><body>
<h1>Token classification</h1>
<p>Entity-level scores (exact span and type, seqeval semantics) on ${r.examples.length} texts
${extra.split ? `(${esc(String(extra.split))})` : ''}: <strong>F1 ${pct(m.entity_f1)}</strong>,
precision ${pct(m.entity_precision)}, recall ${pct(m.entity_recall)}; token accuracy ${pct(m.token_accuracy)}.
${m.support} gold entities, ${m.predicted} predicted.</p>
<h2>Per type</h2><table><thead><tr><th>type</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>
</thead><tbody>${rows}</tbody></table>
<h2>Misses</h2><p>Gold entities not found exactly (missed) and predicted ones that are not gold (spurious); the
first 100.</p><table><thead><tr><th>line</th><th>kind</th><th>type</th><th>where</th></tr></thead>
<tbody>${misses}</tbody></table></body></html>
`;
}

export interface TokenEvaluateOptions {
  model: string;
  test: string;
  outputDir: string;
  format?: string;
  maxLength?: number;
  stride?: number;
  threshold?: number;
  threads?: number;
  texts?: boolean;
  log?: (l: string) => void;
}

/** The entity types of a file must be ones the model knows. */
export function checkModelTypes(data: TokenData, labels: string[], dir: string): void {
  const known = typesOfLabels(labels);
  const unknown = data.types.filter((t) => !known.includes(t));
  if (unknown.length)
    throw new MedtuneError(
      `${data.file} has entity types the model ${dir} does not know: ${unknown.slice(0, 6).join(', ')} ` +
        `(the model's: ${known.join(', ')})`,
      'E_INPUT_TAGS',
    );
}

/** Evaluates a token-classification model on a CoNLL / JSONL-spans file and writes the run files. */
export async function runTokenEvaluate(o: TokenEvaluateOptions): Promise<EntityMetrics> {
  const log = o.log ?? ((l: string) => console.log(l));
  prepareOutputDir(o.outputDir);
  if (o.threads) setThreads(o.threads);
  const p = await TokenPredictor.load(o.model, { maxLength: o.maxLength, stride: o.stride, threshold: o.threshold });
  const data = readTokenData(o.test, o.format);
  checkModelTypes(data, p.labels, p.dir);
  const preds = p.predictWords(data.examples);
  const pairs = data.examples.map((e, i) => ({
    gold: e.entities,
    predicted: preds[i]!.entities,
    goldTags: iob2Tags(e.words.length, e.entities),
    predictedTags: preds[i]!.tags,
  }));
  const metrics = entityMetrics(pairs, typesOfLabels(p.labels));
  writeTokenRunFiles(o.outputDir, {
    examples: data.examples,
    pairs,
    scores: preds.map((x) => x.scores),
    metrics,
    extra: { split: 'test', file: path.resolve(o.test), threshold: p.threshold },
    texts: o.texts,
  });
  log(
    `entity F1 ${metrics.entity_f1.toFixed(4)} (P ${metrics.entity_precision.toFixed(4)}, ` +
      `R ${metrics.entity_recall.toFixed(4)}), token accuracy ${metrics.token_accuracy.toFixed(4)} ` +
      `on ${data.examples.length} texts; ${o.outputDir}/metrics.json`,
  );
  return metrics;
}

export { checkTypes };
