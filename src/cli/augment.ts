/** `medtune augment`: flags → infer/augment-file.ts (N augmented copies of each row, written after the originals). */
import type { Command } from 'commander';
import { runAugment, type AugmentFileOptions } from '../infer/augment-file.js';
import { num } from './args.js';
import { inputOption, labelColumnOption, outputOption, seedOption, textColumnOption, withOptions } from './options.js';

export function registerAugment(program: Command): void {
  const c = program
    .command('augment')
    .description(
      'add N augmented copies of each row (EDA + masked-LM substitution); negations, numbers, doses, drugs, ' +
        'PHI tags, label words untouched',
    );
  withOptions(
    c,
    inputOption('labelled CSV/TSV/JSONL/Parquet (training data only)'),
    outputOption('CSV/TSV/JSONL: the originals, then the copies with parent_id and augment_ops'),
  );
  c.requiredOption('--per-example <n>', 'augmented copies per row (1-100)', (v: string) => Number(v));
  c.option('--model <dir-or-name>', 'masked-LM for contextual substitution (the checkpoint you fine-tune)');
  c.option(
    '--ops <list>',
    'synonym,insert,swap,delete,contextual (default: the four EDA operations; + contextual with --model)',
  );
  c.option('--alpha <a>', 'share of words each operation changes', num('--alpha'), 0.1);
  withOptions(c, seedOption(), textColumnOption(), labelColumnOption());
  c.option('--protect <file>', 'extra words never touched (drug or abbreviation list), one per line');
  c.action(async (o: AugmentFileOptions) => {
    await runAugment(o);
  });
}
