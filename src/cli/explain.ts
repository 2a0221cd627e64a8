/** `medtune explain`: flags → infer/explain-file.ts (integrated gradients per word for every row of a file). */
import type { Command } from 'commander';
import { runExplain, type ExplainFileOptions } from '../infer/explain-file.js';
import { choice, int } from './args.js';
import {
  documentOptions,
  inputOption,
  maxLengthOption,
  modelOption,
  outputOption,
  readOptions,
  textColumnOption,
  precisionOption,
  withOptions,
} from './options.js';

export function registerExplain(program: Command): void {
  const c = program
    .command('explain')
    .description('which words drove each prediction: integrated gradients per word, JSONL (and an HTML page)');
  withOptions(
    c,
    modelOption(),
    inputOption('CSV, TSV, JSONL or Parquet with a text column'),
    outputOption('JSONL: row, label, probability, words [{word, start, end, score}], completeness_error'),
  );
  c.option('--html <file>', 'also write a page with the words highlighted green/red (no scripts)');
  c.option('--label <name>', 'explain this label (default: the predicted one)');
  c.option(
    '--steps <n>',
    'integration steps to start with (doubled while completeness is off by more than 5%)',
    int('--steps', 2, 512),
    32,
  );
  c.option('--truncate', 'explain the first --max-length tokens of longer texts (default: refuse them)');
  c.addOption(choice('--baseline <kind>', 'what a word is compared with', ['pad', 'zero'], 'pad'));
  withOptions(c, textColumnOption(), maxLengthOption(), documentOptions(), readOptions('input'), precisionOption());
  c.action(async (o: ExplainFileOptions) => {
    await runExplain(o);
  });
}
