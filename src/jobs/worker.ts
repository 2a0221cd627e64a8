/**
 * `medtune worker` (and its alias `medtune tune worker`): one process that takes every kind of job from a Redis
 * server — the trials of a `tune` study (tune/queue.ts) and the chunks of `predict`, `deid` and `evaluate` jobs
 * (chunk-processor.ts) — until SIGINT/SIGTERM, when it takes nothing new and exits. Each job runs in a sandboxed
 * child process, so this process keeps renewing the job's lock while the child computes: a worker that dies stops
 * renewing it, and BullMQ's stalled-job check hands its job to another worker. Paths in the jobs must exist, with the
 * same content, on this machine (shared storage).
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { interceptSignals } from '../common/cleanup.js';
import { MedtuneError } from '../common/errors.js';
import { connectRedis, trialWorker } from '../tune/queue.js';
import type { ChunkJobData, ChunkOutcome } from './chunk.js';
import { BATCH_QUEUE } from './spec.js';

const PROCESSOR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'chunk-processor.js');

export interface WorkerOptions {
  queue: string;
  /** the tune study whose trials this worker also runs */
  study: string;
  /** jobs at a time (of each kind) */
  concurrency: number;
  threads?: number;
  /** ms; a job whose worker stops renewing its lock this long is handed to another worker */
  lockDuration: number;
  log?: (l: string) => void;
}

const chunkName = (d: ChunkJobData) =>
  `${d.kind} job ${d.key.slice(0, 8)} chunk ${d.index + 1}/${d.chunks} (rows ${d.rows[0]}–${d.rows[1]})`;

function chunkWorker(connection: Redis, o: WorkerOptions, log: (l: string) => void): Worker {
  const worker = new Worker(BATCH_QUEUE, PROCESSOR, {
    connection,
    concurrency: o.concurrency,
    lockDuration: o.lockDuration,
    stalledInterval: Math.max(500, Math.floor(o.lockDuration / 2)),
    // a chunk whose worker died goes to another worker, twice; then the job stops
    maxStalledCount: 2,
    useWorkerThreads: false,
  });
  worker.on('active', (job: Job<ChunkJobData>) => log(`${chunkName(job.data)} started`));
  worker.on('completed', (job: Job<ChunkJobData>, r: ChunkOutcome) => {
    const what =
      r.state === 'done'
        ? `done in ${r.seconds.toFixed(1)} s`
        : r.state === 'refused'
          ? `refused: ${r.message} (${r.code})`
          : r.state === 'obsolete'
            ? 'skipped: its job is gone'
            : 'was done already';
    log(`${chunkName(job.data)} ${what}`);
  });
  worker.on('failed', (job: Job<ChunkJobData> | undefined, e: Error) =>
    log(`${job ? chunkName(job.data) : 'a chunk'} failed: ${e.message.split('\n')[0]}`),
  );
  return worker;
}

/** Says once that the Redis server is gone (not once per reconnection attempt), and once that it is back. */
function watchRedis(connections: Redis[], workers: Worker[], url: string, log: (l: string) => void): void {
  let lost = false;
  const down = (e?: Error) => {
    if (lost) return;
    lost = true;
    log(`lost the Redis server at ${url} (${e?.message.split('\n')[0] ?? 'closed'}); retrying until it is back`);
  };
  for (const w of workers) w.on('error', down);
  for (const c of connections)
    c.on('ready', () => {
      if (!lost) return;
      lost = false;
      log(`the Redis server at ${url} is back`);
    });
}

export async function runWorker(o: WorkerOptions): Promise<void> {
  const log = o.log ?? ((l: string) => console.log(l));
  const cores = os.availableParallelism();
  if (o.concurrency > cores)
    throw new MedtuneError(`--concurrency ${o.concurrency} is above the ${cores} cores of this machine`, 'E_USAGE');
  const connections = [
    await connectRedis(o.queue, { forWorker: true }),
    await connectRedis(o.queue, { forWorker: true }),
  ];
  const threads = o.threads ?? Math.max(1, Math.floor(cores / o.concurrency));
  process.env.MEDTUNE_THREADS = String(threads);
  process.env.MEDTUNE_WORKER_ID = `${os.hostname()}:${process.pid}`;
  const workers = [trialWorker(connections[0]!, o, log), chunkWorker(connections[1]!, o, log)];
  watchRedis(connections, workers, o.queue, log);
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  log(
    `worker ${process.env.MEDTUNE_WORKER_ID}: trials of study "${o.study}" and chunks of predict, deid and evaluate ` +
      `jobs from ${o.queue}, ${o.concurrency} at a time, ${threads} threads each`,
  );
  await new Promise<void>((resolve) => {
    interceptSignals((signal) => {
      if (signal === 'SIGHUP') return;
      log(`${signal}: closing the worker`);
      void Promise.all(workers.map((w) => w.close())).then(() => {
        for (const c of connections) c.disconnect();
        resolve();
      });
    });
  });
}
