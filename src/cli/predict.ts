/** `medtune predict`: run a classifier over a CSV/TSV/JSONL file and write one JSON object per row. */
import { atomicWriteStream } from '../common/atomic.js';
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { precisionOption } from '../tensor/precision.js';
import { loadClassifier, modelMaxLength } from '../models/auto.js';
import { probabilitiesOf } from '../models/heads.js';
import { Tokenizer } from '../text/tokenizer.js';
import { DataError, pickColumn, readRows, TEXT_COLUMNS, type Row, type RowFormat } from '../data/readers.js';
import { noGrad, scope, tensor } from '../tensor/tensor.js';
import { int, num } from './args.js';

export interface PredictOptions {
  model: string;
  input: string;
  output: string;
  textColumn?: string;
  textPairColumn?: string;
  maxLength?: number;
  batchSize?: number;
  logits?: boolean;
  format?: RowFormat;
  threshold?: number;
  log?: (line: string) => void;
}

export interface Prediction {
  label: string | string[] | number;
  score: number;
  probabilities?: Record<string, number>;
  logits?: number[];
}

/** Turns one row of logits into the output record, by problem type. */
export function toPrediction(row: number[], labels: string[], problemType: string, withLogits: boolean, threshold = 0.5): Prediction {
  if (problemType === 'regression') return { label: row[0]!, score: row[0]!, ...(withLogits ? { logits: row } : {}) };
  if (problemType === 'multi_label_classification') {
    const p = probabilitiesOf(row, true);
    const chosen = labels.filter((_, i) => p[i]! >= threshold);
    return { label: chosen, score: Math.max(...p), probabilities: Object.fromEntries(labels.map((l, i) => [l, p[i]!])), ...(withLogits ? { logits: row } : {}) };
  }
  const p = probabilitiesOf(row, false);
  const best = p.indexOf(Math.max(...p));
  return { label: labels[best]!, score: p[best]!, probabilities: Object.fromEntries(labels.map((l, i) => [l, p[i]!])), ...(withLogits ? { logits: row } : {}) };
}

export async function runPredict(o: PredictOptions): Promise<{ rows: number; seconds: number }> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const loaded = await loadClassifier(o.model, { log });
  const tok = Tokenizer.fromDir(loaded.dir);
  const maxLength = Math.min(o.maxLength ?? 512, modelMaxLength(loaded));
  const batchSize = o.batchSize ?? 32;
  const problemType = loaded.model.problemType();
  const out = atomicWriteStream(o.output);
  const t0 = performance.now();
  let rows = 0;
  let truncated = 0;
  let textCol: string | undefined;
  let pairCol: string | undefined;
  const flush = async (batch: Row[]) => {
    if (!batch.length) return;
    const texts = batch.map((r) => String(r[textCol!] ?? ''));
    const pairs = pairCol ? batch.map((r) => String(r[pairCol!] ?? '')) : null;
    const enc = tok.encode(texts, pairs, { maxLength });
    truncated += enc.truncated;
    const B = texts.length;
    const T = enc.input_ids[0]!.length;
    const logits = scope(() => noGrad(() => loaded.model.forward({
      input_ids: tensor(enc.input_ids.flat(), [B, T], 'int32'),
      attention_mask: tensor(enc.attention_mask.flat(), [B, T], 'int32'),
      token_type_ids: tensor(enc.token_type_ids.flat(), [B, T], 'int32'),
    }).logits.toArray()));
    const C = logits.length / B;
    for (let i = 0; i < B; i++) await out.write(JSON.stringify(toPrediction(logits.slice(i * C, (i + 1) * C), loaded.labels, problemType, !!o.logits, o.threshold)) + '\n');
    rows += B;
    if (rows % (batchSize * 20) === 0) log(`  ${rows} rows, ${(rows / ((performance.now() - t0) / 1000)).toFixed(1)} rows/s`);
  };
  try {
    let batch: Row[] = [];
    for await (const row of readRows(o.input, o.format)) {
      if (textCol === undefined) {
        const cols = Object.keys(row);
        textCol = pickColumn(cols, o.textColumn, TEXT_COLUMNS, 'text', o.input);
        pairCol = o.textPairColumn ? pickColumn(cols, o.textPairColumn, [], 'text-pair', o.input) : undefined;
        if (!o.textColumn) log(`text column: "${textCol}" (detected; use --text-column to choose another)`);
      }
      batch.push(row);
      if (batch.length === batchSize) {
        await flush(batch);
        batch = [];
      }
    }
    await flush(batch);
    if (rows === 0) throw new DataError(`${o.input} has no rows`, 'E_INPUT_EMPTY');
    await out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  log(`wrote ${rows} predictions to ${o.output} in ${seconds.toFixed(1)} s (${(rows / seconds).toFixed(1)} rows/s)${truncated ? `; ${truncated} texts were truncated to ${maxLength} tokens` : ''}`);
  return { rows, seconds };
}

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('classify every row of a CSV/TSV/JSONL file with a model folder; writes JSONL')
    .requiredOption('--model <dir>', 'model folder (HF layout) or hub name')
    .requiredOption('--input <file>', 'CSV, TSV or JSONL file')
    .requiredOption('--output <file>', 'JSONL output: label, score, probabilities per row')
    .option('--text-column <name>', 'column with the text (default: detected: text, sentence, note, ...)')
    .option('--text-pair-column <name>', 'second text column for sentence-pair models')
    .option('--max-length <n>', 'truncate to this many tokens (default: 512 or the model maximum)', int('--max-length'))
    .option('--batch-size <n>', 'rows per forward pass', int('--batch-size'), 32)
    .option('--logits', 'also write the raw logits (label-id order)')
    .option('--threshold <p>', 'multi-label decision threshold', num('--threshold'), 0.5)
    .option('--format <fmt>', 'csv, tsv or jsonl (default: from the extension)')
    .option('--precision <p>', 'fp32, or bf16: bf16 matrix products (AVX512-BF16 CPUs)', precisionOption)
    .action(async (o: PredictOptions) => {
      await runPredict(o);
    });
}
