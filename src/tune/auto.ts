/**
 * `medtune train --auto-tune N`: a small TPE study (median pruning) on the validation split over the recipe options
 * the user left out — learning rate around the automatic one, warm-up, batch size — in OUTPUT/auto-tune/, then the
 * final training with the best trial's values (evaluated on --test as usual).
 */
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputDir } from '../common/atomic.js';
import { readModelConfig } from '../models/auto.js';
import { autoLearningRate } from '../train/recipe.js';
import { runTrain, type TrainOptions, type TrainRunResult } from '../train/run.js';
import { runStudy, threadsPerJob } from './study.js';
import { LocalExecutor } from './local.js';
import type { Distribution } from './space.js';
import type { TrialTrainOptions } from './trial.js';

/** The recipe options the user left out, as distributions around the automatic recipe. */
async function autoTuneSpace(o: TrainOptions): Promise<Record<string, Distribution>> {
  const { config } = await readModelConfig(o.model);
  const lr = autoLearningRate(
    (config as { hidden_size?: number; dim?: number }).hidden_size ?? (config as { dim?: number }).dim ?? 768,
  );
  const params: Record<string, Distribution> = {};
  if (o.learningRate === undefined)
    params.learningRate = { type: 'float', low: lr / 4, high: Math.min(1e-2, lr * 4), log: true };
  if (o.warmup === undefined) params.warmup = { type: 'float', low: 0, high: 0.2, log: false };
  if (!o.fromCli?.includes('batchSize')) params.batchSize = { type: 'categorical', choices: [16, 32] };
  if (!Object.keys(params).length)
    throw new MedtuneError(
      '--auto-tune has nothing to tune: --learning-rate, --warmup and --batch-size are all given',
      'E_SEARCH_SPACE',
    );
  return params;
}

export async function runAutoTune(
  o: TrainOptions & { autoTune: number },
  log: (l: string) => void = (l) => console.log(l),
): Promise<TrainRunResult> {
  if (!o.validation && o.validationSplit === 0)
    throw new MedtuneError(
      '--auto-tune selects on validation data: pass --validation or keep --validation-split > 0',
      'E_NO_EVAL_DATA',
    );
  const params = await autoTuneSpace(o);
  prepareOutputDir(o.outputDir);
  const dir = path.join(o.outputDir, 'auto-tune');
  const threads = threadsPerJob(1, o.threads);
  const { autoTune: n, fromCli: _f, ...base } = o;
  const executor = new LocalExecutor(threads);
  let best;
  try {
    best = (
      await runStudy(
        {
          base: { ...base, test: undefined } as TrialTrainOptions,
          space: { params, fixed: {} },
          sampler: 'tpe',
          pruner: 'median',
          trials: n,
          startupTrials: Math.max(2, Math.floor(n / 3)),
          seed: o.seed,
          studyName: 'auto-tune',
          storage: path.join(dir, 'study.sqlite'),
          outputDir: dir,
          metric: o.metricForBestModel ?? (o.multiLabel ? 'f1_micro' : 'accuracy'),
          direction: o.metricForBestModel === 'loss' ? 'minimize' : 'maximize',
          jobs: 1,
          retries: 1,
          heartbeatTimeout: 120,
          executor,
          threads,
        },
        log,
      )
    ).best;
  } finally {
    await executor.close();
  }
  log(
    `auto-tune: best of ${n} trials: ${JSON.stringify(best.params)} (validation ${best.value}); ` +
      'training the final model with it',
  );
  return runTrain({ ...base, ...(best.params as Partial<TrainOptions>) }, log);
}
