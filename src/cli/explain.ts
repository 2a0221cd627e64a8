/**
 * `medtune explain`: word-level explanations (integrated gradients, src/infer/explain.ts) for every row of a file:
 * JSONL out, one object per input row, and optionally an HTML page with the words highlighted.
 */
import type { Command } from 'commander';
import { atomicWriteStream, prepareOutputFile, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { Predictor } from '../infer/predictor.js';
import { explain, type Explanation } from '../infer/explain.js';
import { explanationsHtml } from '../infer/explain-html.js';
import { checkInputFile, formatOf, pickColumn, readRows, textCell, TEXT_COLUMNS } from '../data/readers.js';
import { choice, encodingOption, formatOption, int } from './args.js';

export interface ExplainCliOptions {
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

export async function runExplain(o: ExplainCliOptions): Promise<{ rows: number }> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  checkInputFile(o.input, '--input');
  formatOf(o.input, o.format);
  prepareOutputFile(o.output, { inputs: [o.input] });
  if (o.html) prepareOutputFile(o.html, { option: '--html', inputs: [o.input] });
  const p = await Predictor.load(o.model, { maxLength: o.maxLength, log: () => {} });
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

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('which words drove each prediction: integrated gradients per word, JSONL (and an HTML page)')
    .requiredOption('--model <dir>', 'model folder')
    .requiredOption('--input <file>', 'CSV, TSV, JSONL or Parquet with a text column')
    .requiredOption(
      '--output <file>',
      'JSONL: row, label, probability, words [{word, start, end, score}], completeness_error',
    )
    .option('--html <file>', 'also write a page with the words highlighted green/red (no scripts)')
    .option('--label <name>', 'explain this label (default: the predicted one)')
    .option(
      '--steps <n>',
      'integration steps to start with (doubled while completeness is off by more than 5%)',
      int('--steps', 2, 512),
      32,
    )
    .option('--truncate', 'explain the first --max-length tokens of longer texts (default: refuse them)')
    .addOption(choice('--baseline <kind>', 'what a word is compared with', ['pad', 'zero'], 'pad'))
    .option('--text-column <name>', 'text column (default: detected)')
    .option('--max-length <n>', 'tokens per text (default: 512 or the model maximum)', int('--max-length', 2))
    .addOption(formatOption('input'))
    .addOption(encodingOption())
    .action(async (o: ExplainCliOptions) => {
      await runExplain(o);
    });
}
