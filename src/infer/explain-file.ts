/**
 * Word-level explanations (integrated gradients, explain.ts) for every row of a file (what `medtune explain` runs):
 * JSONL out, one object per input row, and optionally an HTML page with the words highlighted.
 */
import { atomicWriteStream, prepareOutputFile, refuseSameOutputs, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { checkInputFile, formatOf, pickColumn, readRows, textCell, TEXT_COLUMNS } from '../data/readers.js';
import { Predictor } from './predictor.js';
import { documentOverrides, type DocumentOverrides } from './model-info.js';
import { explain, type Explanation } from './explain.js';
import { explanationsHtml } from './explain-html.js';

export interface ExplainFileOptions extends DocumentOverrides {
  model: string;
  input: string;
  output: string;
  html?: string;
  label?: string;
  steps: number;
  baseline: 'pad' | 'zero';
  textColumn?: string;
  format?: string;
  encoding?: string;
  maxLength?: number;
  /** explain the first max-length tokens of longer texts (otherwise they are refused) */
  truncate?: boolean;
  log?: (l: string) => void;
}

export async function runExplain(o: ExplainFileOptions): Promise<{ rows: number }> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  checkInputFile(o.input, '--input');
  formatOf(o.input, o.format);
  prepareOutputFile(o.output, { inputs: [o.input] });
  if (o.html) prepareOutputFile(o.html, { option: '--html', inputs: [o.input] });
  refuseSameOutputs([
    ['--output', o.output],
    ['--html', o.html],
  ]);
  const p = await Predictor.load(o.model, { maxLength: o.maxLength, log: () => {}, ...documentOverrides(o) });
  if (o.label !== undefined && !p.labels.includes(o.label)) {
    throw new MedtuneError(
      `--label ${o.label} is not a label of this model ` +
        `(labels: ${p.labels.slice(0, 10).join(', ')}${p.labels.length > 10 ? ', …' : ''})`,
      'E_USAGE',
    );
  }
  const out = atomicWriteStream(o.output);
  const items: { row: number; explanation: Explanation }[] = [];
  let rows = 0;
  let textCol: string | undefined;
  let worst = 0;
  const t0 = performance.now();
  try {
    for await (const r of readRows(o.input, { format: o.format, encoding: o.encoding })) {
      rows++;
      textCol ??= pickColumn(Object.keys(r), o.textColumn, TEXT_COLUMNS, 'text', o.input);
      const text = textCell(r[textCol], { file: o.input, row: rows, column: textCol });
      if (!text.trim()) {
        await out.write(JSON.stringify({ row: rows, label: null, skipped: 'empty text' }) + '\n');
        continue;
      }
      const e = explain(p, text, { label: o.label, steps: o.steps, baseline: o.baseline });
      if (e.truncated_tokens && !o.truncate) {
        throw new MedtuneError(
          `${o.input} row ${rows} is ${e.truncated_tokens} tokens longer than the model reads (${p.maxLength}); ` +
            'an explanation would cover only its beginning: shorten the text, ' +
            'or pass --truncate to explain the part the model sees',
          'E_USAGE',
        );
      }
      worst = Math.max(worst, e.completeness_error);
      const { text: _t, ...rest } = e;
      await out.write(JSON.stringify({ row: rows, ...rest }) + '\n');
      if (o.html) items.push({ row: rows, explanation: e });
      if (rows % 20 === 0)
        log(`  ${rows} rows explained, ${(rows / ((performance.now() - t0) / 1000)).toFixed(1)} rows/s`);
    }
    if (!rows) throw new MedtuneError(`${o.input} has no rows`, 'E_INPUT_EMPTY');
    await out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  if (o.html) writeFileAtomic(o.html, explanationsHtml(items, { model: p.name, version: p.identity.version }));
  log(
    `explained ${rows} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
      `(largest completeness error ${worst.toExponential(1)}) -> ${o.output}${o.html ? `, ${o.html}` : ''}`,
  );
  return { rows };
}
