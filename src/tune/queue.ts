/**
 * Trials beyond one machine, on BullMQ over a real Redis server. The `tune` process is the coordinator: it owns the
 * study file, samples trials and puts each on the queue `medtune-tune-STUDY`; `medtune tune worker` processes on any
 * machine pull them and run each in a sandboxed processor (a child process: queue-processor.js), reporting every
 * evaluation as job progress and the outcome as the job's return value. The pruning decision for a remote trial
 * comes back from the coordinator as a Redis key the worker waits for after each evaluation. A worker that dies
 * loses its job lock; BullMQ's stalled-job check hands the job to another worker (once; a second stall fails it).
 * `medtune worker` (jobs/worker.ts) runs trialWorker beside the chunks of batch jobs.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { MedtuneError } from '../common/errors.js';
import type { ExecutorIO, TrialExecutor } from './local.js';
import type { TrialOutcome, TrialSpec } from './trial.js';

export const queueName = (study: string) => `medtune-tune-${study.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
export const decisionKey = (queue: string, jobId: string, step: number) => `medtune:${queue}:decision:${jobId}:${step}`;

/** Progress messages a trial's job sends. */
export type TrialProgress =
  { type: 'start' | 'heartbeat'; worker: string } | { type: 'eval'; worker: string; step: number; value: number };

/** A Redis connection that is known to work, or a clear error naming the URL (never a hang). */
export async function connectRedis(url: string, o: { forWorker?: boolean; timeoutMs?: number } = {}): Promise<Redis> {
  if (!/^rediss?:\/\/[^/\s]+/.test(url))
    throw new MedtuneError(`--queue ${url} is not a Redis URL (redis://HOST:PORT)`, 'E_USAGE');
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: o.timeoutMs ?? 3000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  probe.on('error', () => {});
  try {
    await Promise.race([
      probe.connect(),
      new Promise((_, rej) => setTimeout(() => rej(new Error('timed out')), o.timeoutMs ?? 3000).unref()),
    ]);
    await probe.ping();
  } catch (e) {
    probe.disconnect();
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new MedtuneError(
      `cannot reach the Redis server at ${url} (${why}); start redis-server there or fix --queue`,
      'E_QUEUE_UNREACHABLE',
    );
  }
  probe.disconnect();
  const r = new Redis(url, { maxRetriesPerRequest: null });
  r.on('error', () => {});
  return r;
}

interface Pending {
  io: ExecutorIO;
  /** a worker began the job (a second start means it was handed to another worker) */
  started?: boolean;
  resolve: (o: TrialOutcome) => void;
  t0: number;
}

/** The coordinator's side: one job per trial, events from the workers back to the study runner. */
export class QueueExecutor implements TrialExecutor {
  private pending = new Map<string, Pending>();

  private constructor(
    private queue: Queue,
    private events: QueueEvents,
    private redis: Redis,
    private eventsRedis: Redis,
    private name: string,
    private url: string,
  ) {
    events.on('progress', ({ jobId, data }) => void this.progress(jobId, data as unknown as TrialProgress));
    events.on('completed', ({ jobId, returnvalue }) =>
      this.settle(jobId, (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as TrialOutcome),
    );
    events.on('failed', ({ jobId, failedReason }) =>
      this.settle(jobId, {
        state: 'failed',
        seconds: 0,
        error: failedReason,
        code: /E_[A-Z_]+/.exec(failedReason)?.[0] ?? 'E_INTERNAL',
      }),
    );
  }

  static async connect(url: string, study: string, log: (l: string) => void): Promise<QueueExecutor> {
    const redis = await connectRedis(url);
    const name = queueName(study);
    const queue = new Queue(name, { connection: redis });
    const eventsRedis = await connectRedis(url);
    const events = new QueueEvents(name, { connection: eventsRedis });
    await events.waitUntilReady();
    const stale = await queue.getWaitingCount();
    if (stale) {
      await queue.drain();
      log(`queue ${name}: removed ${stale} waiting jobs a previous coordinator left`);
    }
    log(
      `coordinator: trials go to queue ${name} on ${url}; ` +
        `start workers with: medtune tune worker --queue ${url} --study ${study}`,
    );
    return new QueueExecutor(queue, events, redis, eventsRedis, name, url);
  }

  async run(spec: TrialSpec, io: ExecutorIO): Promise<TrialOutcome> {
    const job = await this.queue.add(
      'trial',
      { spec, url: this.url },
      { attempts: 1, removeOnComplete: true, removeOnFail: true },
    );
    return new Promise((resolve) => this.pending.set(job.id!, { io, resolve, t0: Date.now() }));
  }

  private async progress(jobId: string, p: TrialProgress): Promise<void> {
    const h = this.pending.get(jobId);
    if (!h || !p || typeof p !== 'object') return;
    if (p.type === 'start') {
      if (h.started) h.io.restarted?.(p.worker);
      h.started = true;
    }
    h.io.heartbeat(p.worker);
    if (p.type !== 'eval') return;
    const prune = await h.io.report(p.step, p.value);
    await this.redis.set(decisionKey(this.name, jobId, p.step), prune ? 'prune' : 'go', 'EX', 3600);
  }

  private settle(jobId: string, o: TrialOutcome): void {
    const h = this.pending.get(jobId);
    if (!h) return;
    this.pending.delete(jobId);
    h.resolve({ ...o, seconds: o.seconds || (Date.now() - h.t0) / 1000 });
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
    this.redis.disconnect();
    this.eventsRedis.disconnect();
  }
}

const PROCESSOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'queue-processor.js');

export interface TrialWorkerOptions {
  study: string;
  concurrency: number;
  /** ms; a job whose worker stops renewing its lock this long is handed to another worker */
  lockDuration: number;
}

/**
 * The trials of one study for `medtune worker` (and its alias `tune worker`), which runs them beside the chunks of
 * batch jobs (jobs/worker.ts) until SIGINT/SIGTERM.
 */
export function trialWorker(connection: Redis, o: TrialWorkerOptions, log: (l: string) => void): Worker {
  const worker = new Worker(queueName(o.study), PROCESSOR, {
    connection,
    concurrency: o.concurrency,
    lockDuration: o.lockDuration,
    stalledInterval: Math.max(500, Math.floor(o.lockDuration / 2)),
    maxStalledCount: 1,
    useWorkerThreads: false,
  });
  worker.on('active', (job: Job) =>
    log(`trial ${(job.data as { spec: TrialSpec }).spec.number} started (job ${job.id})`),
  );
  worker.on('completed', (job: Job, r: TrialOutcome) =>
    log(
      `trial ${(job.data as { spec: TrialSpec }).spec.number} ${r.state}` +
        `${r.value !== undefined ? `: ${r.value.toFixed(4)}` : ''}`,
    ),
  );
  worker.on('failed', (job: Job | undefined, e: Error) =>
    log(
      `trial ${(job?.data as { spec: TrialSpec } | undefined)?.spec.number ?? '?'} failed: ${e.message.split('\n')[0]}`,
    ),
  );
  return worker;
}
