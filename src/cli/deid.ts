/**
 * `medtune deid`: flags → deid/file.ts (the text column of a CSV/TSV/JSONL file de-identified, streamed); via jobs/
 * with --queue.
 * `medtune deid-eval`: flags → deid/file.ts (precision / recall / F1 / F2 per type on a Presidio-format gold file).
 */
import type { Command } from 'commander';
import { runDeidEval, type DeidEvalOptions } from '../deid/file.js';
import { deidentifyFile, type QueuedDeidOptions } from '../jobs/batch.js';
import { DEID_OPERATORS } from '../train/run.js';
import { choice, int } from './args.js';
import {
  encodingOption,
  formatOption,
  inputOption,
  outputOption,
  queueOptions,
  textColumnOption,
  withOptions,
} from './options.js';

export function registerDeid(program: Command): void {
  const c = program
    .command('deid')
    .description('find and replace PHI in the text column of a CSV/TSV/JSONL file (streamed)');
  withOptions(
    c,
    inputOption('CSV, TSV or JSONL'),
    outputOption('same formats; JSONL rows also get `entities` (offsets into the original text)'),
    textColumnOption(),
    choice('--operator <op>', 'how PHI is replaced', DEID_OPERATORS, 'tag'),
    encodingOption(),
    formatOption('input', ['csv', 'tsv', 'jsonl']),
  );
  c.option('--in-place', 'write the output over the input file (the original is replaced only when the run succeeds)');
  c.option('--secret <key>', 'key for consistent surrogates, hashes and date shifts (or MEDTUNE_DEID_SECRET)');
  c.option('--patient-column <name>', 'rows with the same value share one date shift');
  c.option('--allow <file>', 'words never treated as PHI, one per line (disease eponyms are built in)');
  c.option('--deny <file>', 'strings always removed, one per line');
  withOptions(c, queueOptions());
  c.action(async (o: QueuedDeidOptions) => {
    await deidentifyFile(o);
  });
  program
    .command('deid-eval')
    .description('measure de-identification on a Presidio-format gold file [{full_text, spans: [...]}]')
    .requiredOption('--gold <file>', 'JSON gold file')
    .option('--output <file>', 'write the full report (per type, misses, false positives) as JSON')
    .option('--misses <n>', 'misses to print', int('--misses', 0), 20)
    .action((o: DeidEvalOptions) => runDeidEval(o));
}
