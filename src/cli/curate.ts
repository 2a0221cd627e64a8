/** `medtune curate`: flags → data/curate-file.ts (merge, filter, de-duplicate; a JSON summary beside the output). */
import type { Command } from 'commander';
import { runCurate, type CurateFileOptions } from '../data/curate-file.js';
import { int, num } from './args.js';
import { normalizeLabelsOption, outputOption, withOptions } from './options.js';

export function registerCurate(program: Command): void {
  const c = program
    .command('curate')
    .description(
      'merge, filter and de-duplicate labelled files; report conflicting labels; JSON summary beside the output',
    );
  c.requiredOption(
    '--input <files...>',
    'CSV/TSV/JSONL/Parquet files, each FILE or FILE:text=COL,label=COL,source=NAME',
  );
  withOptions(c, outputOption('merged CSV/TSV/JSONL (summary: OUTPUT.curate.json)'));
  c.option('--source-column <name>', "output column naming each row's source", 'source');
  c.option('--min-chars <n>', 'texts shorter than this are removed', int('--min-chars', 0), 1);
  c.option('--min-words <n>', 'texts with fewer words are removed', int('--min-words', 0), 1);
  c.option('--max-chars <n>', 'texts longer than this are removed', int('--max-chars'), 100_000);
  c.option('--require-label', 'remove rows without a label (default: when some input has a label column)');
  c.option('--no-require-label', 'keep rows without a label (unlabelled corpora)');
  c.option('--labels <list-or-file>', 'keep only these labels (comma-separated, or a file with one per line)');
  c.option('--no-non-text', 'keep non-text content (binary, encoded blobs, mostly digits/symbols)');
  c.addOption(normalizeLabelsOption());
  c.option('--duplicates <mode>', 'drop (keep the first of each cluster), flag (keep all, mark copies) or off', 'drop');
  c.option('--threshold <j>', 'Jaccard similarity of near-duplicates', num('--threshold'), 0.7);
  c.option('--shingle-size <n>', 'words per shingle', int('--shingle-size'), 2);
  c.option('--num-perm <n>', 'MinHash permutations', int('--num-perm', 16), 128);
  c.action(async (o: CurateFileOptions) => {
    await runCurate(o);
  });
}
