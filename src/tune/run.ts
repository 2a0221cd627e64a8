/**
 * A hyperparameter study (what `medtune tune` runs): options → a search space and study options → study.ts; then the
 * best trial's model is copied to OUTPUT/best_model, evaluated on --test once, and tune_report.html and
 * best_params.json are written.
 */
import { cpSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputDir, writeDirAtomic, writeFileAtomic } from '../common/atomic.js';
import { checkDataFiles } from '../train/options.js';
import { readModelConfig, resolveMaxLength } from '../models/auto.js';
import { checkMetricName } from '../evaluate/metrics.js';
import { runEvaluate } from '../evaluate/run.js';
import { buildSpace, readSpaceFile, TUNABLE, type SearchSpace } from './space.js';
import { runStudy, threadsPerJob, type StudyOptions, type StudyResult } from './study.js';
import { LocalExecutor, type TrialExecutor } from './local.js';
import { QueueExecutor } from './queue.js';
import { epochsSaved, labelCount, writeTuneReport } from './report.js';
import type { TrialTrainOptions } from './trial.js';

export interface TuneOptions extends Record<string, unknown> {
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
async function prepare(o: TuneOptions, log: (l: string) => void): Promise<StudyOptions & { executor: TrialExecutor }> {
  for (const [k, flag] of [
    ['model', '--model <dir-or-name>'],
    ['train', '--train <file>'],
    ['outputDir', '--output-dir <dir>'],
  ] as const) {
    if (!o[k])
      throw new MedtuneError(`required option '${flag}' not specified; see \`medtune tune --help\``, 'E_USAGE');
  }
  checkDataFiles({ ...o, format: o.format as string | undefined });
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
  o: TuneOptions,
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
    labels: labelCount(bestDir),
  });
  log(`report: ${report}`);
  return { ...r, test };
}
