/**
 * Running a study: open (or resume) it in the study database, fail what a killed run left running (and retry it),
 * then keep `jobs` trials running — each sampled from what finished before, pruned through its evaluations — until
 * `trials` have ended or the time is up. The test split is never seen here; the caller evaluates the best trial's
 * model on it once, at the end.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MedtuneError } from '../common/errors.js';
import { makeSampler, rankTrials, type Direction } from './samplers.js';
import { makePruner } from './pruners.js';
import { describeSpace, spaceSignature, TUNABLE, type SearchSpace } from './space.js';
import { ownerDead, StudyStore, type Study, type Trial } from './storage.js';
import { trialDirName, trialOptions, type TrialOutcome, type TrialTrainOptions } from './trial.js';
import type { TrialExecutor } from './local.js';

export interface StudyOptions {
  /** the train options every trial shares (recipe options in `space.params` are set per trial) */
  base: TrialTrainOptions;
  space: SearchSpace;
  sampler: 'grid' | 'random' | 'tpe';
  multivariate?: boolean;
  startupTrials?: number;
  gridPoints?: number;
  pruner: 'none' | 'median' | 'asha';
  /** trials that end (complete, pruned, or failed and not retried) */
  trials: number;
  /** seconds after which no new trial starts */
  timeout?: number;
  seed: number;
  studyName: string;
  storage: string;
  outputDir: string;
  metric: string;
  direction: Direction;
  jobs: number;
  /** failed trials are retried this many times (a new trial with the same parameters) */
  retries: number;
  /** a running trial whose heartbeat is older than this (seconds) is failed */
  heartbeatTimeout: number;
  executor: TrialExecutor;
  /** threads each local trial uses (for the log) */
  threads?: number;
}

export interface StudyResult {
  study: Study;
  trials: Trial[];
  best: Trial;
  /** the best trial's model folder */
  bestModel: string;
  seconds: number;
}

export const trialsDir = (outputDir: string) => path.join(outputDir, 'trials');

/**
 * Threads per local trial: an even share of the cores; more jobs than cores, or jobs × threads above them, refused.
 */
export function threadsPerJob(jobs: number, threads: number | undefined, cores = os.availableParallelism()): number {
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new MedtuneError(`--jobs must be a positive integer, got ${jobs}`, 'E_USAGE');
  if (jobs > cores)
    throw new MedtuneError(
      `--jobs ${jobs} is above the ${cores} cores of this machine; ` +
        `use at most ${cores} (or --queue with workers on other machines)`,
      'E_USAGE',
    );
  const t = threads ?? Math.max(1, Math.floor(cores / jobs));
  if (jobs * t > cores)
    throw new MedtuneError(
      `--jobs ${jobs} × --threads ${t} = ${jobs * t} threads on ${cores} cores would oversubscribe them; ` +
        `use --threads ${Math.floor(cores / jobs)} or fewer jobs`,
      'E_USAGE',
    );
  return t;
}

const finished = (t: Trial) => t.state === 'complete' || t.state === 'pruned' || (t.state === 'failed' && !t.retried);

/** Fails what a previous run left running (its process is gone, or its heartbeat stopped); retries it if allowed. */
function recover(store: StudyStore, study: Study, o: StudyOptions, log: (l: string) => void, busy: Set<number>): void {
  const nowS = Date.now() / 1000;
  for (const t of store.trials(study.id)) {
    if (t.state !== 'running' || busy.has(t.number)) continue;
    const stale = (t.heartbeatAt ?? 0) < nowS - o.heartbeatTimeout;
    if (!stale && !ownerDead(t.owner)) continue;
    const why = stale
      ? `its heartbeat stopped ${Math.round(nowS - (t.heartbeatAt ?? 0))} s ago`
      : 'the tune process running it is gone';
    store.finish(study.id, t.number, { state: 'failed', error: `interrupted: ${why}` });
    log(`trial ${t.number}: failed (interrupted: ${why})${retry(store, study, t, o) ? '; retried' : ''}`);
  }
}

/** Queues a retry of a failed trial (same parameters) when it has attempts left. */
function retry(store: StudyStore, study: Study, t: Trial, o: StudyOptions): boolean {
  if (t.attempt > o.retries) return false;
  store.markRetried(study.id, t.number);
  store.addTrial(study.id, t.params, { state: 'waiting', retryOf: t.number, attempt: t.attempt + 1 });
  return true;
}

const fmtParams = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(([k, v]) => `${TUNABLE[k]?.flag.slice(2) ?? k} ${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`)
    .join(', ');

export async function runStudy(
  o: StudyOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<StudyResult> {
  const t0 = performance.now();
  const store = new StudyStore(o.storage);
  try {
    return await studyLoop(store, o, log, t0);
  } finally {
    store.close();
  }
}

async function studyLoop(
  store: StudyStore,
  o: StudyOptions,
  log: (l: string) => void,
  t0: number,
): Promise<StudyResult> {
  const signature = spaceSignature(o.space, { metric: o.metric, direction: o.direction });
  const { study, created } = store.openStudy({
    name: o.studyName,
    direction: o.direction,
    metric: o.metric,
    space: o.space,
    signature,
    settings: { sampler: o.sampler, pruner: o.pruner, seed: o.seed },
  });
  const sampler = makeSampler(o.sampler, {
    seed: o.seed,
    multivariate: o.multivariate,
    startupTrials: o.startupTrials,
    gridPoints: o.gridPoints,
  });
  const pruner = makePruner(o.pruner);
  const before = store.trials(study.id);
  log(
    `study "${study.name}" in ${o.storage}: ` +
      `${created ? 'new' : `resumed (${before.filter(finished).length} trials ended before)`}; ` +
      `${o.sampler} sampler, ${o.pruner} pruner, ${o.trials} trials, ${o.jobs} at a time; ` +
      `${o.direction} ${o.metric} on validation; ${describeSpace(o.space.params)}`,
  );
  const active = new Map<number, Promise<void>>();
  recover(store, study, o, log, new Set());
  const deadline = o.timeout ? t0 + o.timeout * 1000 : Infinity;
  for (;;) {
    const trials = store.trials(study.id);
    const done = trials.filter(finished);
    const ok = done.filter((t) => t.state !== 'failed');
    if (done.length >= Math.min(3, o.trials) && !ok.length && !active.size) break; // every trial so far failed: stop
    const timeUp = performance.now() > deadline;
    while (!timeUp && active.size < o.jobs) {
      const now = store.trials(study.id);
      const waiting = now.find((t) => t.state === 'waiting' && !active.has(t.number));
      const planned = now.filter(finished).length + active.size + now.filter((t) => t.state === 'waiting').length;
      let number: number;
      if (waiting && store.claim(study.id, waiting.number)) number = waiting.number;
      else if (planned < o.trials) {
        const nextNumber = now.length ? now[now.length - 1]!.number + 1 : 0;
        const params = sampler.sample({
          space: o.space.params,
          trials: now,
          direction: o.direction,
          number: nextNumber,
        });
        number = store.addTrial(study.id, { ...params }, { state: 'running' });
      } else break;
      active.set(
        number,
        launch(store, study, o, number, pruner, log).finally(() => active.delete(number)),
      );
    }
    if (!active.size) break;
    await Promise.race(active.values());
    recover(store, study, o, log, new Set(active.keys()));
  }
  await Promise.all(active.values());
  return result(store, study, o, t0);
}

function result(store: StudyStore, study: Study, o: StudyOptions, t0: number): StudyResult {
  const trials = store.trials(study.id);
  const complete = trials.filter((t) => t.state === 'complete');
  if (!complete.length) {
    const failed = trials.filter((t) => t.state === 'failed');
    const first = failed.find((t) => t.error)?.error ?? 'no trial completed';
    throw new MedtuneError(
      `no trial of study "${study.name}" completed ` +
        `(${failed.length} failed, ${trials.filter((t) => t.state === 'pruned').length} pruned); ` +
        `first error: ${first}. Logs: ${trialsDir(o.outputDir)}/trial-*/train.log`,
      'E_TRIALS_FAILED',
    );
  }
  const best = rankTrials(complete, o.direction)[0] as Trial;
  return {
    study,
    trials,
    best,
    bestModel: path.join(trialsDir(o.outputDir), trialDirName(best.number), 'best_model'),
    seconds: (performance.now() - t0) / 1000,
  };
}

async function launch(
  store: StudyStore,
  study: Study,
  o: StudyOptions,
  number: number,
  pruner: ReturnType<typeof makePruner>,
  log: (l: string) => void,
): Promise<void> {
  const t = store.trial(study.id, number);
  const dir = path.join(trialsDir(o.outputDir), trialDirName(number));
  log(
    `trial ${number} started: ${fmtParams(t.params)}` +
      `${t.retryOf !== null ? ` (retry of trial ${t.retryOf}, attempt ${t.attempt})` : ''}`,
  );
  let outcome: TrialOutcome;
  try {
    outcome = await o.executor.run(
      { study: study.name, number, params: t.params, options: trialOptions(o.base, t.params, dir, o.threads) },
      {
        heartbeat: (worker) => store.heartbeat(study.id, number, worker),
        restarted: (worker) => {
          store.resetIntermediate(study.id, number);
          log(`trial ${number}: started again on ${worker ?? 'another worker'} (the previous worker stopped)`);
        },
        report: (step, value) => {
          store.report(study.id, number, step, value);
          const all = store.trials(study.id);
          const me = all.find((x) => x.number === number)!;
          return pruner.shouldPrune({ trial: me, step, trials: all, direction: o.direction });
        },
      },
    );
  } catch (e) {
    outcome = { state: 'failed', seconds: 0, error: (e as Error).message.split('\n')[0]!, code: 'E_INTERNAL' };
  }
  if (
    !store.finish(study.id, number, {
      ...outcome,
      error: outcome.error ? `${outcome.error} (${outcome.code ?? 'E_INTERNAL'})` : undefined,
      value: outcome.value ?? null,
      bestStep: outcome.bestStep ?? null,
      epochsRun: outcome.epochsRun,
      seconds: outcome.seconds,
    })
  )
    return;
  if (outcome.epochsPlanned !== undefined)
    store.db
      .prepare('UPDATE trials SET epochs_planned = ? WHERE study_id = ? AND number = ?')
      .run(outcome.epochsPlanned, study.id, number);
  const v =
    outcome.value !== undefined ? `${o.metric} ${outcome.value.toFixed(4)} (evaluation ${outcome.bestStep})` : '';
  if (outcome.state === 'failed') {
    const retried = retry(store, study, store.trial(study.id, number), o);
    log(`trial ${number} failed: ${outcome.error} (${outcome.code ?? 'E_INTERNAL'})${retried ? '; retried' : ''}`);
  } else
    log(
      `trial ${number} ${outcome.state}: ${v}, ` +
        `${outcome.epochsRun?.toFixed(1)} epochs, ${outcome.seconds.toFixed(0)} s`,
    );
}
