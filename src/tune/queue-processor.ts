/**
 * BullMQ's sandboxed processor for one trial (a child process of `medtune tune worker`): checks that the trial's
 * data and model exist on this machine, runs it, sends every evaluation as job progress and waits (up to a minute)
 * for the coordinator's pruning decision, sends a heartbeat every few seconds, and returns the outcome.
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { SandboxedJob } from 'bullmq';
import { MedtuneError } from '../common/errors.js';
import { runTrial, type TrialOutcome, type TrialSpec } from './trial.js';
import { decisionKey, queueName, type TrialProgress } from './queue.js';

const worker = process.env.MEDTUNE_WORKER_ID ?? `${process.pid}`;

/** Data and model paths must exist on every worker machine. */
function checkPaths(spec: TrialSpec): void {
  const o = spec.options;
  for (const [opt, p] of [
    ['--train', o.train],
    ['--validation', o.validation],
    ['--model', o.model],
  ] as const) {
    if (p === undefined) continue;
    const local = opt !== '--model' || /^[./~]|^[A-Za-z]:\\/.test(p);
    if (local && !existsSync(p)) {
      throw new MedtuneError(
        `trial ${spec.number}: ${opt} ${p} does not exist on worker ${worker}; ` +
          'data and model paths must exist on every worker machine',
        'E_TRIAL_DATA',
      );
    }
  }
}

async function waitForDecision(redis: Redis, key: string): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    const v = await redis.get(key);
    if (v) return v === 'prune';
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export default async function processTrial(job: SandboxedJob<{ spec: TrialSpec; url: string }>): Promise<TrialOutcome> {
  const { spec, url } = job.data;
  try {
    checkPaths(spec);
  } catch (e) {
    throw new Error(`${(e as MedtuneError).message} (${(e as MedtuneError).code})`);
  }
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  const send = (p: TrialProgress) => job.updateProgress(p as unknown as Record<string, unknown>);
  await send({ type: 'start', worker });
  const beat = setInterval(() => void send({ type: 'heartbeat', worker }).catch(() => {}), 5000);
  try {
    return await runTrial(spec, {
      report: async (step, value) => {
        await send({ type: 'eval', worker, step, value });
        return waitForDecision(redis, decisionKey(queueName(spec.study), job.id!, step));
      },
    });
  } finally {
    clearInterval(beat);
    redis.disconnect();
  }
}
