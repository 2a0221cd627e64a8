/** `medtune clean`: flags → text/clean-file.ts (the text column cleaned; optional spelling correction). */
import type { Command } from 'commander';
import type { CleanFileOptions } from '../text/clean-file.js';
import { runCleanWithContext } from '../infer/clean-context.js';
import { int } from './args.js';
import { inputOption, outputOption, textColumnOption, withOptions } from './options.js';

export function registerClean(program: Command): void {
  const c = program
    .command('clean')
    .description(
      'clean the text column of a CSV/TSV/JSONL file; optional spelling correction with a JSONL report of every change',
    );
  withOptions(
    c,
    inputOption('CSV, TSV, JSONL or Parquet'),
    outputOption('CSV, TSV or JSONL; other columns pass through'),
    textColumnOption(),
  );
  c.option(
    '--steps <list>',
    'default, or a list of unicode,controls,whitespace,linebreaks,lowercase,stopwords',
    'default',
  );
  c.option(
    '--spell',
    "correct misspellings against a lexicon (the file's own frequent words, --model vocabulary, --lexicon)",
  );
  c.option('--lexicon <file>', 'with --spell: extra words, one per line, optionally with a count');
  c.option('--model <dir-or-name>', "with --spell: add the whole words of this model's vocabulary");
  c.option(
    '--min-count <n>',
    'with --spell: corpus words seen fewer times are not trusted as correct',
    int('--min-count'),
    3,
  );
  c.option('--changes <file>', 'with --spell: where the JSONL list of changes goes (default OUTPUT.changes.jsonl)');
  c.action(async (o: CleanFileOptions) => {
    await runCleanWithContext(o);
  });
}
