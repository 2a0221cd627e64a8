/**
 * `medtune tune`: the options of train (recipe options as values or distributions) and of the study → tune/run.ts.
 * `medtune tune worker` is `medtune worker` (jobs/worker.ts): trials and batch chunks from a --queue.
 */
import { Option, type Command } from 'commander';
import { runWorker, type WorkerOptions } from '../jobs/worker.js';
import { runTune, type TuneOptions } from '../tune/run.js';
import { choice, int, num } from './args.js';
import { addTrainOptions, withOptions, workerOptions } from './options.js';

const studyOption = () => new Option('--study <name>', 'study name in the database').default('default');

export function registerTune(program: Command): void {
  const c = program
    .command('tune')
    .description(
      'hyperparameter search: trials of train with sampled recipes, pruned, resumable, local or on a Redis queue',
    );
  addTrainOptions(c, 'tune');
  c.enablePositionalOptions(); // `tune worker --queue` belongs to the worker
  // required options are checked in runTune, so that `tune worker` does not need them
  for (const opt of c.options) opt.mandatory = false;
  c.option('--space <file>', 'JSON or YAML file of parameter: distribution')
    .addOption(choice('--sampler <name>', 'how trials are chosen', ['grid', 'random', 'tpe'], 'tpe'))
    .option('--multivariate', 'TPE: one joint estimator over all parameters')
    .option('--startup-trials <n>', 'TPE: random trials first', int('--startup-trials', 0), 10)
    .option('--grid-points <n>', 'grid: values per continuous parameter', int('--grid-points', 2), 3)
    .addOption(
      choice('--pruner <name>', 'stop unpromising trials after an evaluation', ['none', 'median', 'asha'], 'median'),
    )
    .option('--trials <n>', 'trials to run (default 20)', int('--trials'))
    .option('--timeout <seconds>', 'start no trial after this many seconds', num('--timeout', { above: 0 }))
    .option('--jobs <n>', 'trials at a time on this machine (jobs × threads ≤ cores)', int('--jobs'), 1)
    .addOption(studyOption())
    .option('--storage <file>', 'SQLite study file (default OUTPUT_DIR/study.sqlite); rerun to resume')
    .option('--retries <n>', 'retry a failed trial this many times', int('--retries', 0), 1)
    .option(
      '--heartbeat-timeout <seconds>',
      'fail a running trial silent this long',
      num('--heartbeat-timeout', { above: 0 }),
      120,
    )
    .option(
      '--queue <redis-url>',
      'coordinate: put trials on a BullMQ queue on this Redis server for `medtune tune worker`',
    )
    .action(async (o: TuneOptions) => {
      await runTune(o);
    });
  withOptions(
    c.command('worker').description('the same as `medtune worker`: runs trials and batch chunks from a --queue'),
    workerOptions(),
  ).action(async (o: WorkerOptions) => {
    await runWorker(o);
  });
}
