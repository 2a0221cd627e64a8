/**
 * Resuming a run: which checkpoint, whether it is sound, and what to do when settings changed since it was written.
 * Settings that decide what the saved state means (data, batch size, accumulation, seed, best-model metric) must
 * match; the others may change, and each change is printed as a decision ("--learning-rate changed 5e-5 → 1e-4:
 * continuing with the new value from step N").
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import type { TrainConfig, TrainerState } from './config.js';

type Cfg = Omit<TrainConfig, 'outputDir'>;

const MUST_MATCH: [keyof Cfg, string][] = [
  ['dataFingerprint', 'the training data (files, columns, --validation-split, --max-length, de-identification)'],
  ['batchSize', '--batch-size'],
  ['gradAccum', '--grad-accum'],
  ['seed', '--seed'],
  ['bucket', 'length bucketing'],
  ['metricForBestModel', '--metric-for-best-model'],
];
const MAY_CHANGE: [keyof Cfg, string][] = [
  ['learningRate', '--learning-rate'],
  ['epochs', '--epochs'],
  ['maxSteps', '--max-steps'],
  ['warmup', '--warmup'],
  ['scheduler', '--scheduler'],
  ['weightDecay', '--weight-decay'],
  ['maxGradNorm', '--max-grad-norm'],
  ['evalEvery', '--eval-every'],
  ['earlyStoppingPatience', '--early-stopping'],
  ['saveSteps', '--save-steps'],
  ['saveTotalLimit', '--save-total-limit'],
  ['labelSmoothing', '--label-smoothing'],
  ['classWeights', '--class-weights'],
  ['threshold', '--threshold'],
];

const show = (v: unknown): string =>
  v === undefined || v === null ? 'none' : Array.isArray(v) ? `[${v.length} values]` : String(v);

/** Reads and checks trainer_state.json of a checkpoint folder. */
export function readCheckpointState(dir: string): TrainerState {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new MedtuneError(`checkpoint folder ${dir} does not exist`, 'E_CHECKPOINT');
  for (const f of ['trainer_state.json', 'model.safetensors', 'optimizer.safetensors']) {
    if (!existsSync(path.join(dir, f)))
      throw new MedtuneError(`${dir} is not a complete checkpoint: ${f} is missing`, 'E_CHECKPOINT');
  }
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(path.join(dir, 'trainer_state.json'), 'utf8')) as TrainerState;
  } catch {
    throw new MedtuneError(
      `${dir}/trainer_state.json is corrupt (not valid JSON); resume from an earlier checkpoint or start a new run`,
      'E_CHECKPOINT',
    );
  }
  const ints = ['step', 'epoch', 'batchInEpoch', 'optimizerSteps', 'generator', 'badEvals'] as const;
  const ok =
    state &&
    typeof state === 'object' &&
    ints.every((k) => Number.isInteger(state[k]) && state[k] >= 0) &&
    Array.isArray(state.history) &&
    state.config &&
    typeof state.config === 'object';
  if (!ok)
    throw new MedtuneError(
      `${dir}/trainer_state.json is corrupt (missing or invalid fields); ` +
        'resume from an earlier checkpoint or start a new run',
      'E_CHECKPOINT',
    );
  return state;
}

/** Refuses what cannot continue, prints what changed and continues with the new values. */
export function reconcileResume(state: TrainerState, cfg: TrainConfig, log: (l: string) => void): void {
  const old = state.config as Cfg;
  for (const [k, what] of MUST_MATCH) {
    if (old[k] === undefined || JSON.stringify(old[k]) === JSON.stringify(cfg[k])) continue;
    const change =
      k === 'dataFingerprint' ? 'changed since the checkpoint' : `was ${show(old[k])}, now ${show(cfg[k])}`;
    throw new MedtuneError(
      `cannot resume: ${what} ${change}; the checkpoint's state only fits the original setting. ` +
        'Resume with the original value, or start a new run (without --resume, or with --overwrite)',
      'E_RESUME_MISMATCH',
    );
  }
  for (const [k, what] of MAY_CHANGE) {
    if (old[k] === undefined || JSON.stringify(old[k]) === JSON.stringify(cfg[k])) continue;
    log(
      `resume: ${what} changed ${show(old[k])} → ${show(cfg[k])}: ` +
        `continuing with the new value from step ${state.step}`,
    );
  }
}
