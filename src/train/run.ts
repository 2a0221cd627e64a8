/**
 * Fine-tuning a checkpoint on labelled files, end to end (what `medtune train` runs), as five named stages, one file
 * each: read (read.ts: files into splits) → prepare (prepare.ts: de-identification, the leakage check, cleaning,
 * augmentation) → fit (fit.ts: the classifier, the recipe, the Trainer) → calibrate (calibrate.ts: on validation) →
 * record (record.ts: the saved model, the final evaluation, the baseline, the reports). Every option, input file and
 * the output folder are checked before any model or data is loaded, and config.json is read once.
 */
import { performance } from 'node:perf_hooks';
import { readModelConfig, resolveMaxLength, type ModelFolder } from '../models/auto.js';
import { parseMetadata } from '../models/metadata.js';
import { setThreads } from '../tensor/backend.js';
import { setPrecision } from '../tensor/precision.js';
import type { EvalResult } from '../evaluate/types.js';
import { checkTrainOptions, type Splits, type TrainOptions } from './options.js';
import { runInOutputDir } from './resume.js';
import { fineTunedLabels, readSplits } from './read.js';
import { prepareSplits } from './prepare.js';
import { fit } from './fit.js';
import { calibrate } from './calibrate.js';
import { recordRun, startRunRecord } from './record.js';
import type { Recipe } from './recipe.js';
import { runTokenTrain } from './token-run.js';

export type { Splits, TrainOptions };
export { DEID_OPERATORS } from './options.js';
export { SCHEDULERS } from './schedule.js';
export { classWeightsFor } from './fit.js';

export interface TrainRunResult {
  /** classification metrics, or entity metrics (`--task token-classification`) */
  metrics: EvalResult['metrics'] | Record<string, unknown>;
  outputDir: string;
  baseline: Record<string, unknown> | null;
  /** the best validation evaluation (metric units) and its evaluation index; null without validation */
  best: { value: number; step: number; index: number } | null;
  epochsRun: number;
  /** the per-evaluation callback stopped training */
  stopped: boolean;
  recipe: Recipe;
}

export async function runTrain(
  o: TrainOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<TrainRunResult> {
  if (o.task === 'token-classification') return { ...(await runTokenTrain(o, log)), baseline: null };
  const t0 = performance.now();
  checkTrainOptions(o);
  const record = startRunRecord(o);
  if (o.threads) setThreads(o.threads);
  if (o.precision) setPrecision(o.precision, '--precision');
  const model = await readModelConfig(o.model);
  if (o.maxLength !== undefined) resolveMaxLength(o.maxLength, model.config, 128);
  return runInOutputDir(o, log, (resumeFrom) => trainStages({ o, model, resumeFrom, t0, record, log }));
}

async function trainStages(x: {
  o: TrainOptions;
  model: ModelFolder;
  resumeFrom: string | undefined;
  t0: number;
  record: ReturnType<typeof startRunRecord>;
  log: (l: string) => void;
}): Promise<TrainRunResult> {
  const { o, model, resumeFrom, t0, record, log } = x;
  const parent = parseMetadata((model.config as { medtune?: unknown }).medtune);
  const s = await readSplits(o, fineTunedLabels(model.config), log, parent);
  const { preprocessing } = await prepareSplits(o, s, model, log);
  const f = await fit({ o, s, model, preprocessing, resumeFrom, log });
  const c = calibrate(o, s, f, log);
  const { result, baseline } = await recordRun({ o, s, f, c, model, t0, record, log });
  return {
    metrics: result.metrics,
    outputDir: o.outputDir,
    baseline,
    best: f.trainer.bestResult,
    epochsRun: f.trainer.epochsRun,
    stopped: f.trainer.stoppedByCallback,
    recipe: f.recipe,
  };
}
