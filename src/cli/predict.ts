/** `medtune predict`: flags → infer/predict-file.ts (one JSON object per row of a file), via jobs/ with --queue. */
import type { Command } from 'commander';
import { predictFile, type QueuedPredictOptions } from '../jobs/batch.js';
import { int } from './args.js';
import {
  cleanOption,
  decisionOptions,
  inferenceOptions,
  inputOption,
  modelOption,
  outputOption,
  pairColumnOption,
  precisionOption,
  queueOptions,
  readOptions,
  textColumnOption,
  withOptions,
} from './options.js';

export function registerPredict(program: Command): void {
  const c = program
    .command('predict')
    .description('classify every row of a CSV/TSV/JSONL/Parquet file with a model folder; writes JSONL');
  withOptions(
    c,
    modelOption(),
    inputOption('CSV, TSV, JSONL or Parquet file'),
    outputOption('JSONL output: row, label, score, probabilities, truncated_tokens per row'),
    textColumnOption(),
    pairColumnOption(),
    inferenceOptions(),
  );
  c.option('--top-k <k>', 'also write the k most probable labels', int('--top-k'));
  c.option('--logits', 'also write the raw logits (label-id order)');
  withOptions(c, decisionOptions(), readOptions('input'), precisionOption());
  c.addOption(cleanOption('the cleaning the model was trained with (its config.json)'));
  withOptions(c, queueOptions());
  c.action(async (o: QueuedPredictOptions) => {
    await predictFile(o);
  });
}
