/**
 * `medtune tune`: flags → a search space and study options → tune/study.ts; then the best trial's model is copied
 * to OUTPUT/best_model, evaluated on --test once, and tune_report.html is written. `medtune tune worker` runs
 * trials from a --queue (tune/queue.ts).
 */
import { cpSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputDir, writeDirAtomic, writeFileAtomic } from '../common/atomic.js';
import { checkInputFile, formatOf } from '../data/readers.js';
import { readModelConfig, resolveMaxLength } from '../models/auto.js';
import { checkMetricName } from '../evaluate/metrics.js';
import { buildSpace, readSpaceFile, TUNABLE, type SearchSpace } from '../tune/space.js';
import { runStudy, threadsPerJob, type StudyOptions, type StudyResult } from '../tune/study.js';
import { LocalExecutor, type TrialExecutor } from '../tune/local.js';
import { QueueExecutor, runQueueWorker } from '../tune/queue.js';
import { epochsSaved, writeTuneReport } from '../tune/report.js';
import type { TrialTrainOptions } from '../tune/trial.js';
import { runEvaluate } from './evaluate.js';
import { addTrainOptions } from './train.js';
import { choice, int, num } from './args.js';

export interface TuneCliOptions extends Record<string, unknown> {
  model: string;
  train: string;
  validation?: string;
  test?: string;
  outputDir: string;
  space?: string;
  sampler: 'grid' | 'random' | 'tpe';
  multivariate?: boolean;
  startupTrials?: number;
  gridPoints?: number;
  pruner: 'none' | 'median' | 'asha';
  trials?: number;
  timeout?: number;
  seed: number;
  jobs: number;
  threads?: number;
  study: string;
  storage?: string;
  retries: number;
  heartbeatTimeout: number;
  queue?: string;
  metricForBestModel?: string;
  multiLabel?: boolean;
}

const RECIPE_DEFAULTS = { batchSize: 32, weightDecay: 0.01, scheduler: 'linear', gradAccum: 1, labelSmoothing: 0 };

/** The search space from the recipe flags and --space (checked: see tune/space.ts). */
export function spaceFromOptions(o: Record<string, unknown>): SearchSpace {
  const cli = Object.fromEntries(
    Object.keys(TUNABLE)
      .filter((k) => o[k] !== undefined)
      .map((k) => [k, o[k]]),
  );
  return buildSpace(cli, o.space ? readSpaceFile(String(o.space)) : {});
}

/** Everything checked before any trial starts: files, output folder, space, metric, model limit, jobs. */
async function prepare(
  o: TuneCliOptions,
  log: (l: string) => void,
): Promise<StudyOptions & { executor: TrialExecutor }> {
  for (const [k, flag] of [
    ['model', '--model <dir-or-name>'],
    ['train', '--train <file>'],
    ['outputDir', '--output-dir <dir>'],
  ] as const) {
    if (!o[k])
      throw new MedtuneError(`required option '${flag}' not specified; see \`medtune tune --help\``, 'E_USAGE');
  }
  for (const [opt, file] of [
    ['--train', o.train],
    ['--validation', o.validation],
    ['--test', o.test],
  ] as const) {
    if (file === undefined) continue;
    checkInputFile(file, opt);
    formatOf(file, o.format as string | undefined);
  }
  const space = spaceFromOptions(o);
  const metric = o.metricForBestModel ?? (o.multiLabel ? 'f1_micro' : 'accuracy');
  checkMetricName(metric, !!o.multiLabel);
  if (o.maxSteps && space.params.epochs)
    throw new MedtuneError('--epochs is tuned but --max-steps overrides it; drop one', 'E_SEARCH_SPACE');
  if (!o.validation && o.validationSplit === 0)
    throw new MedtuneError(
      'tuning selects on validation data: pass --validation or keep --validation-split > 0',
      'E_NO_EVAL_DATA',
    );
  const { config } = await readModelConfig(o.model);
  const ml = space.params.maxLength;
  if (ml && ml.type !== 'categorical') resolveMaxLength(ml.high, config, 128);
  if (ml && ml.type === 'categorical') for (const c of ml.choices) resolveMaxLength(Number(c), config, 128);
  if (space.fixed.maxLength !== undefined) resolveMaxLength(Number(space.fixed.maxLength), config, 128);
  prepareOutputDir(o.outputDir);
  const cores = os.availableParallelism();
  const threads = o.queue ? o.threads : threadsPerJob(o.jobs, o.threads, cores);
  const executor: TrialExecutor = o.queue
    ? await QueueExecutor.connect(o.queue, o.study, log)
    : new LocalExecutor(threads!);
  const recipeKeys = new Set(Object.keys(TUNABLE));
  const rest = Object.fromEntries(Object.entries(o).filter(([k]) => !recipeKeys.has(k)));
  const base = { ...rest, ...RECIPE_DEFAULTS, ...space.fixed, test: undefined } as unknown as TrialTrainOptions;
  const trials = o.trials ?? 20;
  return {
    base,
    space,
    metric,
    direction: metric === 'loss' ? 'minimize' : 'maximize',
    sampler: o.sampler,
    multivariate: o.multivariate,
    startupTrials: o.startupTrials,
    gridPoints: o.gridPoints,
    pruner: o.pruner,
    trials,
    timeout: o.timeout,
    seed: o.seed,
    studyName: o.study,
    storage: o.storage ?? path.join(o.outputDir, 'study.sqlite'),
    outputDir: o.outputDir,
    jobs: o.jobs,
    retries: o.retries,
    heartbeatTimeout: o.heartbeatTimeout,
    executor,
    threads,
  };
}

/** Runs the study, copies the best model, evaluates it on --test once, writes the report and best_params.json. */
export async function runTune(
  o: TuneCliOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<StudyResult & { test: Record<string, unknown> | null }> {
  const so = await prepare(o, log);
  let r: StudyResult;
  try {
    r = await runStudy(so, log);
  } finally {
    await so.executor.close();
  }
  const bestDir = path.join(o.outputDir, 'best_model');
  writeDirAtomic(bestDir, (tmp) => cpSync(r.bestModel, tmp, { recursive: true }));
  const { run, saved } = epochsSaved(r.trials);
  log(
    `best trial ${r.best.number}: ${so.metric} ${r.best.value!.toFixed(4)} on validation; ` +
      `${JSON.stringify(r.best.params)}; copied to ${bestDir}`,
  );
  log(
    `study: ${r.trials.length} trials in ${r.seconds.toFixed(0)} s; ` +
      `${run.toFixed(1)} epochs trained, ${saved.toFixed(1)} saved by pruning`,
  );
  let test: Record<string, unknown> | null = null;
  if (o.test) {
    test = await runEvaluate(
      {
        model: bestDir,
        test: o.test,
        outputDir: o.outputDir,
        textColumn: o.textColumn as string | undefined,
        labelColumn: o.labelColumn as string | undefined,
        textPairColumn: o.textPairColumn as string | undefined,
        labelDelimiter: o.labelDelimiter as string | undefined,
        groupColumn: o.groupColumn as string | undefined,
        groupRegex: o.groupRegex as string | undefined,
        format: o.format as string | undefined,
        encoding: o.encoding as string | undefined,
        batchSize: 64,
      },
      log,
    );
  }
  writeFileAtomic(
    path.join(o.outputDir, 'best_params.json'),
    JSON.stringify(
      { study: r.study.name, trial: r.best.number, metric: so.metric, value: r.best.value, params: r.best.params },
      null,
      2,
    ) + '\n',
  );
  const report = path.join(o.outputDir, 'tune_report.html');
  writeTuneReport(report, {
    study: r.study.name,
    metric: so.metric,
    direction: so.direction,
    sampler: so.sampler,
    pruner: so.pruner,
    trials: r.trials,
    best: r.best,
    seconds: r.seconds,
    test,
  });
  log(`report: ${report}`);
  return { ...r, test };
}

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
    .option('--study <name>', 'study name in the database', 'default')
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
    .action(async (o: TuneCliOptions) => {
      await runTune(o);
    });
  c.command('worker')
    .description('run trials from a --queue (data and model paths must exist on this machine)')
    .requiredOption('--queue <redis-url>', 'the Redis server the coordinator uses')
    .option('--study <name>', 'study name', 'default')
    .option('--concurrency <n>', 'trials at a time on this worker', int('--concurrency'), 1)
    .option('--threads <n>', 'threads per trial (default: cores / concurrency)', int('--threads'))
    .option(
      '--lock-duration <ms>',
      'a job whose worker is silent this long is taken by another worker',
      int('--lock-duration', 1000),
      30000,
    )
    .action(
      async (o: { queue: string; study: string; concurrency: number; threads?: number; lockDuration: number }) => {
        await runQueueWorker(o);
      },
    );
}
