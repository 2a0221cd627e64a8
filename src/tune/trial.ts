/**
 * One trial: `medtune train` with the trial's parameters on the training and validation data only (no test file,
 * no baseline, no checkpoints), reporting each validation evaluation and stopping when the study's pruner says so.
 * Its value is its best evaluation, and the best_model/ it keeps is that evaluation's (the Trainer keeps the best).
 * The same function runs in a local trial process and in a queue worker's sandboxed processor.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeDirs } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { runTrain, type TrainOptions } from '../train/run.js';
import type { ParamValue } from './space.js';

/** Train options as plain data (what crosses a process or the queue). */
export type TrialTrainOptions = Omit<TrainOptions, 'onEvaluate'>;

export interface TrialSpec {
  study: string;
  number: number;
  params: Record<string, ParamValue>;
  /** the trial's full train options (params applied, outputDir = its folder) */
  options: TrialTrainOptions;
}

export interface TrialOutcome {
  state: 'complete' | 'pruned' | 'failed';
  value?: number;
  /** evaluation index of the best value */
  bestStep?: number;
  epochsRun?: number;
  epochsPlanned?: number;
  seconds: number;
  error?: string;
  /** the error's catalogue code */
  code?: string;
}

export interface TrialIO {
  /** reports an evaluation; resolves true when the trial should stop (pruned) */
  report: (step: number, value: number) => Promise<boolean>;
}

/** Train options of a trial: the study's options with the trial's parameters, on its own folder. */
export function trialOptions(
  base: TrialTrainOptions,
  params: Record<string, ParamValue>,
  dir: string,
  threads?: number,
): TrialTrainOptions {
  return {
    ...base,
    ...(params as Partial<TrialTrainOptions>),
    outputDir: dir,
    test: undefined,
    baseline: false,
    resume: false,
    overwrite: true,
    checkpoints: false,
    ...(threads ? { threads } : {}),
  };
}

export const trialDirName = (n: number) => `trial-${String(n).padStart(4, '0')}`;

/** Runs a trial; its log goes to OUTPUT/train.log (never to the console: trials run side by side). */
export async function runTrial(spec: TrialSpec, io: TrialIO): Promise<TrialOutcome> {
  const t0 = performance.now();
  const dir = spec.options.outputDir;
  makeDirs(dir);
  const logFile = path.join(dir, 'train.log');
  const log = (l: string) => appendFileSync(logFile, l + '\n');
  log(`trial ${spec.number} of study ${spec.study}: ${JSON.stringify(spec.params)}`);
  const seconds = () => (performance.now() - t0) / 1000;
  try {
    const r = await runTrain({ ...spec.options, onEvaluate: (e) => io.report(e.index, e.value) }, log);
    if (!r.best)
      throw new MedtuneError(
        'the trial had no validation evaluation (pass --validation or keep --validation-split > 0)',
        'E_NO_EVAL_DATA',
      );
    log(
      `trial ${spec.number} finished: ${r.stopped ? 'pruned' : 'complete'}, ` +
        `best ${r.best.value} at evaluation ${r.best.index}`,
    );
    return {
      state: r.stopped ? 'pruned' : 'complete',
      value: r.best.value,
      bestStep: r.best.index,
      epochsRun: r.epochsRun,
      epochsPlanned: spec.options.maxSteps ? undefined : r.recipe.values.epochs,
      seconds: seconds(),
    };
  } catch (e) {
    const code = e instanceof MedtuneError ? e.code : 'E_INTERNAL';
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
    log(`failed: ${msg} (${code})`);
    return { state: 'failed', error: msg, code, seconds: seconds() };
  }
}
