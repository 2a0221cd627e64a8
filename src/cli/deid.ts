/**
/**
 * `medtune deid`: flags → jobs/batch.ts deidentifyFile (the text column of a CSV/TSV/JSONL file de-identified,
 * streamed; rules ∪ a de-identification model with `--model`; on the Redis queue with `--queue`).
 * `medtune deid train`: train/deid-train.ts.
 * `medtune deid-eval`: flags → deid/file.ts (precision / recall / F1 / F2 per type on a Presidio-format gold file).
 */
import { Option, type Command } from 'commander';
import { runDeidEval, type DeidEvalOptions } from '../deid/file.js';
import { deidentifyFile, type QueuedDeidOptions } from '../jobs/batch.js';
import { runDeidTrain, type DeidTrainOptions } from '../train/deid-train.js';
import { MedtuneError } from '../common/errors.js';
import { DEID_OPERATORS } from '../train/run.js';
import { choice, int, num } from './args.js';
import { encodingOption, formatOption, queueOptions, textColumnOption, withOptions } from './options.js';

type DeidCliOptions = Omit<QueuedDeidOptions, 'input' | 'output'> & { input?: string; output?: string };

export function registerDeid(program: Command): void {
  const c = program
    .command('deid')
    .description('find and replace PHI in the text column of a CSV/TSV/JSONL file (streamed)');
  withOptions(
    c,
    new Option('--input <file>', 'CSV, TSV or JSONL (required)'),
    new Option('--output <file>', 'same formats; JSONL rows also get `entities` (offsets into the original text)'),
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
  c.option('--model <dir>', 'also a de-identification model (from `medtune deid train`): rules ∪ model');
  c.option(
    '--recall-bias <p>',
    "with --model: PHI probability from which the model tags a word (default: the model's, chosen for recall)",
    num('--recall-bias', { above: 0, below: 1 }),
  );
  withOptions(c, queueOptions());
  c.action(async (o: DeidCliOptions) => {
    // required here rather than by commander: `deid train` has neither
    for (const k of ['input', 'output'] as const)
      if (!o[k]) throw new MedtuneError(`required option '--${k} <file>' not specified`, 'E_USAGE');
    await deidentifyFile({ ...o, input: o.input!, output: o.output! });
  });
  c.command('train')
    .description('train a de-identification model on synthetic clinical notes medtune generates (offline)')
    .option('--model <dir>', 'checkpoint to fine-tune (a local folder, e.g. mini-biobert)')
    .requiredOption('--output-dir <dir>', 'where the notes (data/), best_model/ and metrics.json go')
    .option('--notes <n>', 'synthetic training notes', int('--notes', 20), 3000)
    .option('--epochs <n>', 'epochs', num('--epochs', { above: 0 }), 2)
    .option('--max-length <n>', 'tokens per window', int('--max-length', 16), 128)
    .option('--seed <n>', 'seed of the notes and the training', int('--seed', 0), 42)
    .option('--threads <n>', 'threads', int('--threads', 1))
    .option('--overwrite', 'replace a previous run in --output-dir')
    .action(async (o: DeidTrainOptions, cmd: Command) => {
      // `--model` is also an option of `deid` itself, which takes it wherever it appears
      const model = (cmd.optsWithGlobals() as { model?: string }).model;
      if (!model) throw new MedtuneError("required option '--model <dir>' not specified", 'E_USAGE');
      await runDeidTrain({ ...o, model });
    });
  program
    .command('deid-eval')
    .description('measure de-identification on a Presidio-format gold file [{full_text, spans: [...]}]')
    .requiredOption('--gold <file>', 'JSON gold file')
    .option('--output <file>', 'write the full report (per type, misses, false positives) as JSON')
    .option('--misses <n>', 'misses to print', int('--misses', 0), 20)
    .action((o: DeidEvalOptions) => runDeidEval(o));
}
