/**
 * Checkpoints and resuming a run: checkpoint-N/ folders (the model, its optimizer moments, the trainer state) written
 * and read back, which checkpoint to resume from, whether it is sound, and what to do when settings changed since it
 * was written. Settings that decide what the saved state means (data, batch size, accumulation, seed, best-model
 * metric) must match; the others may change, and each change is printed as a decision ("--learning-rate changed
 * 5e-5 → 1e-4: continuing with the new value from step N"). Fine-tuning and masked-LM pretraining share all of it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { sweepStaleIn, writeFileAtomic } from '../common/atomic.js';
import { onInterrupt } from '../common/cleanup.js';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AdamW } from './adamw.js';
import type { TrainConfig, TrainerState } from './config.js';

type Cfg = Omit<TrainConfig, 'outputDir'>;

// --seed first: it also draws the validation split, so a changed seed changes the data fingerprint too
const MUST_MATCH: [keyof Cfg, string][] = [
  ['seed', '--seed'],
  ['dataFingerprint', 'the training data (files, columns, --validation-split, --max-length, de-identification)'],
  ['batchSize', '--batch-size'],
  ['gradAccum', '--grad-accum'],
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
  const ints = ['step', 'epoch', 'batchInEpoch', 'optimizerSteps', 'generator'] as const;
  const ok =
    state &&
    typeof state === 'object' &&
    [...ints, ...(state.badEvals === undefined ? [] : (['badEvals'] as const))].every(
      (k) => Number.isInteger(state[k]) && state[k]! >= 0,
    ) &&
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
export function reconcileResume(state: TrainerState, settings: object, log: (l: string) => void): void {
  const old = state.config as Partial<Cfg>;
  const cfg = settings as Partial<Cfg>;
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

type Parameters = { namedParameters(): [string, Tensor][] };

/**
 * Completes a checkpoint folder whose weights the caller has written: the optimizer moments (optimizer.safetensors)
 * and the trainer state; then removes the oldest checkpoints of the run beyond `saveTotalLimit` (0 keeps all).
 */
export function writeCheckpoint(o: {
  dir: string;
  model: Parameters;
  opt: AdamW;
  state: object;
  saveTotalLimit: number;
}): void {
  const moments: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, p] of o.model.namedParameters()) {
    const st = o.opt.state.get(p)!;
    moments.push([`m.${name}`, { shape: p.shape, data: st.m.f32 }], [`v.${name}`, { shape: p.shape, data: st.v.f32 }]);
  }
  writeFileAtomic(path.join(o.dir, 'optimizer.safetensors'), serializeSafetensors(moments));
  writeFileAtomic(path.join(o.dir, 'trainer_state.json'), JSON.stringify(o.state, null, 1) + '\n');
  const all = listCheckpoints(path.dirname(o.dir));
  if (o.saveTotalLimit > 0)
    for (const old of all.slice(0, Math.max(0, all.length - o.saveTotalLimit)))
      rmSync(old.dir, { recursive: true, force: true });
}

/** Loads a checkpoint's optimizer moments into `opt`; E_CHECKPOINT when they do not fit the model. */
export function readMoments(dir: string, model: Parameters, opt: AdamW): void {
  const moments = readSafetensors(path.join(dir, 'optimizer.safetensors'));
  for (const [name, p] of model.namedParameters()) {
    const st = opt.state.get(p)!;
    const m = moments.get(`m.${name}`);
    const v = moments.get(`v.${name}`);
    if (!m || !v || m.data.length !== st.m.f32.length || v.data.length !== st.v.f32.length) {
      throw new MedtuneError(
        `${dir}/optimizer.safetensors does not fit this model (${name}); is it a checkpoint of this run?`,
        'E_CHECKPOINT',
      );
    }
    st.m.f32.set(m.data);
    st.v.f32.set(v.data);
  }
}

/** Checkpoint folders of a run, oldest first. */
export function listCheckpoints(outputDir: string): { dir: string; step: number }[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir)
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => !!m && existsSync(path.join(outputDir, m[0], 'trainer_state.json')))
    .map((m) => ({ dir: path.join(outputDir, m[0]), step: Number(m[1]) }))
    .sort((a, b) => a.step - b.step);
}

/**
 * The checkpoint `--resume` names (checked: it exists, belongs to this output folder and is complete), or for `true`
 * the latest in the output folder.
 */
export function checkpointToResume(outputDir: string, resume: string | true): string {
  if (typeof resume === 'string') {
    const dir = resume;
    if (existsSync(dir) && !statSync(dir).isDirectory())
      throw new MedtuneError(
        `--resume ${dir} is a file; give the checkpoint folder that holds it (--resume ${path.dirname(dir)}), ` +
          'or --resume alone for the latest checkpoint of --output-dir',
        'E_CHECKPOINT',
      );
    if (!existsSync(dir)) {
      const have = listCheckpoints(outputDir).map((c) => path.basename(c.dir));
      throw new MedtuneError(
        `--resume: checkpoint folder ${dir} does not exist` +
          `${have.length ? ` (checkpoints in ${outputDir}: ${have.join(', ')})` : ''}`,
        'E_CHECKPOINT',
      );
    }
    if (path.resolve(path.dirname(path.resolve(dir))) !== path.resolve(outputDir)) {
      throw new MedtuneError(
        `--resume: ${dir} belongs to the run in ${path.dirname(path.resolve(dir))}, ` +
          `not to --output-dir ${outputDir}; pass that folder as --output-dir to continue its run`,
        'E_CHECKPOINT',
      );
    }
    readCheckpointState(dir);
    return dir;
  }
  const all = listCheckpoints(outputDir);
  if (!all.length)
    throw new MedtuneError(
      `--resume: no checkpoint-N folder with trainer_state.json in ${outputDir}; train without --resume to start`,
      'E_CHECKPOINT',
    );
  readCheckpointState(all[all.length - 1]!.dir);
  return all[all.length - 1]!.dir;
}

/** What a previous run left in an output folder (checkpoints, best model, reports). */
const RUN_FILES = /^(checkpoint-\d+|best_model|metrics\.jsonl?|predictions\.jsonl|confusion_matrix\.svg|recipe\.json)$/;
/** ... and the report files (report.html, run.json, audit.json / audit.html). */
const REPORT_FILES = /^(report\.html|run\.json|audit\.(json|html))$/;

/** A previous run that --overwrite moved aside: removed once the new run is complete, put back if it is not. */
export interface PreviousRun {
  /** the new run is complete: the previous one goes */
  discard(): void;
  /** the new run failed or was interrupted: its outputs go and the previous run is put back */
  restore(): void;
}

/** Where --overwrite keeps the previous run while the new one runs (the pid of the run that set it aside). */
const ASIDE = /^\.medtune-previous-run-(\d+)$/;

/** Moves the previous run's entries into a hidden folder of `outputDir` until the new run is complete. */
function setAside(outputDir: string, names: string[]): PreviousRun {
  const aside = path.join(outputDir, `.medtune-previous-run-${process.pid}`);
  mkdirSync(aside);
  for (const n of names) renameSync(path.join(outputDir, n), path.join(aside, n));
  return keptAside(outputDir, aside);
}

/** The run kept in `aside`: put back on failure or Ctrl-C, removed when the new run is complete. */
function keptAside(outputDir: string, aside: string): PreviousRun {
  const restore = () => {
    unhook();
    putBack(outputDir, aside);
  };
  const unhook = onInterrupt(restore);
  return {
    discard: () => {
      unhook();
      // renamed first: a run killed while this is removed leaves no half-removed folder that looks restorable
      const gone = `${aside}.discarded`;
      renameSync(aside, gone);
      rmSync(gone, { recursive: true, force: true });
    },
    restore,
  };
}

/** The new run's entries go and the previous run's come back. */
function putBack(outputDir: string, aside: string): void {
  sweepStaleIn(outputDir, isRunEntry); // what a killed run was writing
  for (const n of readdirSync(outputDir).filter(isRunEntry)) rmSync(path.join(outputDir, n), { recursive: true });
  for (const n of readdirSync(aside)) renameSync(path.join(aside, n), path.join(outputDir, n));
  rmSync(aside, { recursive: true, force: true });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * A previous run that an `--overwrite` run killed with SIGKILL (or a power cut) left aside: put back, so the folder
 * holds the last complete run again (the killed run's partial outputs go). With --resume, the killed run is the one
 * resumed, and the run aside stays aside until it completes. Half-removed discards are finished.
 */
function recoverAside(outputDir: string, resume: boolean, log: (l: string) => void): PreviousRun | undefined {
  let adopted: PreviousRun | undefined;
  for (const n of readdirSync(outputDir)) {
    if (n.startsWith('.medtune-previous-run-') && n.endsWith('.discarded')) {
      rmSync(path.join(outputDir, n), { recursive: true, force: true });
      continue;
    }
    const pid = Number(ASIDE.exec(n)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    const aside = path.join(outputDir, n);
    if (resume && !adopted) {
      log(`the previous run an interrupted --overwrite run (pid ${pid}) set aside stays aside until this one ends`);
      adopted = keptAside(outputDir, aside);
    } else {
      putBack(outputDir, aside);
      log(`put back the previous run that an interrupted --overwrite run (pid ${pid}) had set aside in ${outputDir}`);
    }
  }
  return adopted;
}

const isRunEntry = (n: string) => RUN_FILES.test(n) || REPORT_FILES.test(n);

/**
 * Runs a training run in `o.outputDir`: `run` gets the checkpoint to resume from (checked; undefined for a fresh
 * run). With `overwrite` a previous run in the folder is set aside (without it, refused) and replaced only when `run`
 * completes; when it throws, the previous run is put back.
 */
export async function runInOutputDir<T>(
  o: { outputDir: string; resume?: string | boolean; overwrite?: boolean },
  log: (l: string) => void,
  run: (resumeFrom: string | undefined) => Promise<T>,
): Promise<T> {
  const { resumeFrom, previous } = startOrResume(o, log);
  try {
    const r = await run(resumeFrom);
    previous?.discard();
    return r;
  } catch (e) {
    previous?.restore();
    throw e;
  }
}

/** The checkpoint a run resumes from, and the previous run set aside (see runInOutputDir). */
function startOrResume(
  o: { outputDir: string; resume?: string | boolean; overwrite?: boolean },
  log: (l: string) => void,
): { resumeFrom?: string; previous?: PreviousRun } {
  const recovered = existsSync(o.outputDir) ? recoverAside(o.outputDir, !!o.resume, log) : undefined;
  if (o.resume) return { resumeFrom: checkpointToResume(o.outputDir, o.resume), previous: recovered };
  const old = readdirSync(o.outputDir).filter(isRunEntry);
  if (old.length && !o.overwrite) {
    throw new MedtuneError(
      `--output-dir ${o.outputDir} already holds a training run ` +
        `(${old.slice(0, 3).join(', ')}${old.length > 3 ? ', …' : ''}); ` +
        'pass --resume to continue it, --overwrite to replace it, or choose another folder',
      'E_OUTPUT_PATH',
    );
  }
  if (!old.length) return {};
  log(`--overwrite: the previous run in ${o.outputDir} (${old.length} entries) is replaced when this run is complete`);
  return { previous: setAside(o.outputDir, old) };
}
