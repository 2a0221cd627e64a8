/**
 * The coordinator of a batch job on the Redis queue. It writes the job's spec into the job folder (or finds the same
 * job there unfinished: a rerun of the same command resumes it, keeping every finished chunk), puts each chunk that
 * is not done on the BullMQ queue `medtune-batch` (job id KEY-N, so a chunk is never queued twice), and waits. The
 * job folder is the record of what is done: a chunk is done when its worker has written its result and then its
 * record there. Meanwhile it reports progress (rows/s, ETA), stops the job when a chunk failed three times (BullMQ
 * retries with attempts: 3; a worker that dies loses its lock and the chunk goes to another worker), when a worker
 * found the input wrong or changed, and queues again the chunks that vanished from a Redis server that restarted.
 * When every chunk is done, it checks that the input is still the file the job started from; the caller assembles
 * the output from the chunk results, in input order, then removes the job folder.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { atomicWriteStream, makeDirs } from '../common/atomic.js';
import { onInterrupt } from '../common/cleanup.js';
import { MedtuneError, type ErrorCode } from '../common/errors.js';
import { fileSha256Streamed } from '../data/slices.js';
import { connectRedis } from '../tune/queue.js';
import type { ChunkJobData } from './chunk.js';
import {
  BATCH_QUEUE,
  chunkPaths,
  jobIdOf,
  readJson,
  readSpec,
  rowsText,
  writeSpec,
  type ChunkDone,
  type ChunkFailed,
  type ChunkSpec,
  type JobSpec,
} from './spec.js';

/** Three tries per chunk, a second apart; finished jobs leave Redis, failed ones stay for the coordinator to read. */
const JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'fixed', delay: 1000 },
  removeOnComplete: true,
  removeOnFail: false,
};

export interface CoordinateOptions {
  url: string;
  spec: JobSpec;
  dir: string;
  log: (l: string) => void;
}

export interface Coordinated {
  /** the records of every chunk, in input order */
  done: ChunkDone[];
  /** seconds this coordinator waited, and the rows done meanwhile (not those of an earlier run) */
  seconds: number;
  rows: number;
}

type Log = (l: string) => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fails within `ms` instead of waiting for a Redis server that is gone. */
const within = <T>(p: Promise<T>, ms: number): Promise<T | undefined> =>
  Promise.race([p, sleep(ms).then(() => undefined)]);

/** Probes the Redis server of --queue before any work starts (a clear error naming the URL). */
export async function probeRedis(url: string): Promise<void> {
  (await connectRedis(url)).disconnect();
}

export async function coordinate(o: CoordinateOptions): Promise<Coordinated> {
  const { spec, dir, log, url } = o;
  const connection = await connectRedis(url);
  openFolder(dir, spec, log);
  const queue = new Queue(BATCH_QUEUE, { connection });
  queue.on('error', () => {}); // said once by the watch, not once per reconnection attempt
  const watch = new Watch(connection, url, log);
  const onStop = onInterrupt(() =>
    log(`the chunks stay on the queue and the finished ones in ${dir}: run the same command again to resume`),
  );
  try {
    const { done } = listing(dir);
    const todo = spec.chunks.filter((c) => !done.has(c.index));
    await addChunks(queue, spec, dir, todo);
    log(
      `queue: ${spec.kind} job ${spec.key.slice(0, 8)}, ${todo.length} of ${spec.chunks.length} chunks of ` +
        `${spec.chunkRows} rows on ${url}; start workers with: medtune worker --queue ${url}`,
    );
    const waited = await waitForChunks(queue, spec, dir, log, watch);
    await checkInputUnchanged(spec, dir);
    return { done: readDone(spec, dir), ...waited };
  } catch (e) {
    await within(stopJob(queue, spec.key), 5000).catch(() => {});
    throw e;
  } finally {
    onStop();
    watch.stop();
    await within(queue.close(), 2000).catch(() => {});
    connection.disconnect();
  }
}

/** The job folder for this spec: the same job is resumed, another job's folder is replaced. */
function openFolder(dir: string, spec: JobSpec, log: Log): void {
  const old = existsSync(dir) ? readSpec(dir) : null;
  if (existsSync(dir) && old?.key !== spec.key) {
    rmSync(dir, { recursive: true, force: true });
    log(`${dir} held an unfinished queue job with another input, model or options; starting this one afresh`);
  }
  makeDirs(dir, 'job folder');
  const { done, failed } = listing(dir);
  // a rerun tries again the chunks that could not be done
  for (const i of failed) rmSync(chunkPaths(dir, i, spec.chunkExt).failed, { force: true });
  writeSpec(dir, spec);
  if (old?.key === spec.key)
    log(`resuming queue job ${spec.key.slice(0, 8)}: ${done.size} of ${spec.chunks.length} chunks were done (kept)`);
}

/** The chunks done, and those a worker could not do, by their records in the job folder. */
function listing(dir: string): { done: Set<number>; failed: number[] } {
  const done = new Set<number>();
  const failed: number[] = [];
  for (const n of existsSync(dir) ? readdirSync(dir) : []) {
    const m = /^chunk-(\d{6})\.(done|failed)\.json$/.exec(n);
    if (!m) continue;
    if (m[2] === 'done') done.add(Number(m[1]) - 1);
    else failed.push(Number(m[1]) - 1);
  }
  return { done, failed };
}

const dataOf = (spec: JobSpec, dir: string, c: ChunkSpec): ChunkJobData => ({
  dir,
  key: spec.key,
  kind: spec.kind,
  index: c.index,
  chunks: spec.chunks.length,
  rows: [c.start + 1, c.end],
});

/** Queues chunks that are not on the queue (or only as failed or finished jobs, which are replaced). */
async function addChunks(queue: Queue, spec: JobSpec, dir: string, chunks: ChunkSpec[]): Promise<void> {
  const jobs: { name: string; data: ChunkJobData; opts: JobsOptions }[] = [];
  for (const c of chunks) {
    const id = jobIdOf(spec.key, c.index);
    const old = await queue.getJob(id);
    if (old) {
      const state = await old.getState();
      if (state !== 'failed' && state !== 'completed') continue;
      await old.remove();
    }
    jobs.push({ name: spec.kind, data: dataOf(spec, dir, c), opts: { ...JOB_OPTIONS, jobId: id } });
  }
  for (let i = 0; i < jobs.length; i += 500) await queue.addBulk(jobs.slice(i, i + 500));
}

/** Takes this job's chunks off the queue (waiting ones, and failed ones so that a rerun queues them afresh). */
async function stopJob(queue: Queue, key: string): Promise<void> {
  const jobs = await queue.getJobs(['waiting', 'delayed', 'prioritized', 'failed']);
  await Promise.all(jobs.filter((j) => j?.id?.startsWith(`${key}-`)).map((j) => j.remove().catch(() => {})));
}

/** Says once that the Redis server is gone, and once that it is back. */
class Watch {
  lost = false;
  private back = false;
  private stopped = false;
  constructor(r: Redis, url: string, log: Log) {
    const down = () => {
      if (this.lost || this.stopped) return;
      this.lost = true;
      log(
        `lost the Redis server at ${url}; waiting for it to come back ` +
          '(finished chunks are kept; after Ctrl-C the same command resumes)',
      );
    };
    r.on('close', down);
    r.on('ready', () => {
      if (!this.lost || this.stopped) return;
      this.lost = false;
      this.back = true;
      log(`the Redis server at ${url} is back`);
    });
  }
  /** whether it came back since the last call */
  cameBack(): boolean {
    const b = this.back;
    this.back = false;
    return b;
  }
  stop(): void {
    this.stopped = true;
  }
}

const rowsOf = (spec: JobSpec, done: Set<number>) =>
  spec.chunks.reduce((n, c) => n + (done.has(c.index) ? c.end - c.start : 0), 0);

function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

async function waitForChunks(
  queue: Queue,
  spec: JobSpec,
  dir: string,
  log: Log,
  watch: Watch,
): Promise<{ seconds: number; rows: number }> {
  const t0 = Date.now();
  const total = spec.input.rows;
  const before = rowsOf(spec, listing(dir).done);
  let problem: MedtuneError | null = null;
  let checking = false;
  let lastCheck = 0;
  let lastLost = Date.now();
  let lastLine = { at: t0, done: before === 0 ? 0 : -1 };
  const waiting = '; no chunk finished yet (are `medtune worker` processes running?)';
  for (;;) {
    const { done, failed } = listing(dir);
    if (failed.length) {
      const f = readJson<ChunkFailed>(chunkPaths(dir, failed[0]!, spec.chunkExt).failed);
      if (f?.code === 'E_INPUT_CHANGED') rmSync(dir, { recursive: true, force: true });
      throw new MedtuneError(f?.message ?? 'a worker could not read a chunk', (f?.code ?? 'E_JOB_FAILED') as ErrorCode);
    }
    if (problem) throw problem;
    const rows = rowsOf(spec, done);
    const seconds = (Date.now() - t0) / 1000;
    const rate = (rows - before) / Math.max(seconds, 1e-3);
    const now = Date.now();
    const all = done.size === spec.chunks.length;
    if ((done.size !== lastLine.done && now - lastLine.at >= 3000) || now - lastLine.at >= 30000 || all) {
      lastLine = { at: now, done: done.size };
      log(
        `  ${done.size}/${spec.chunks.length} chunks, ${rows}/${total} rows (${((100 * rows) / total).toFixed(1)}%), ` +
          `${rate.toFixed(1)} rows/s${all ? '' : rate > 0 ? `, ETA ${duration((total - rows) / rate)}` : waiting}`,
      );
    }
    if (all) return { seconds, rows: rows - before };
    if (!checking && !watch.lost && now - lastCheck >= 2000) {
      checking = true;
      lastCheck = now;
      const lost = watch.cameBack() || now - lastLost >= 15000;
      if (lost) lastLost = now;
      void checkQueue(queue, spec, dir, lost, log)
        .then((p) => {
          problem ??= p;
        })
        .catch(() => {})
        .finally(() => (checking = false));
    }
    await sleep(250);
  }
}

/** A chunk's job that failed for good stops the job; chunks whose jobs vanished are queued again. */
async function checkQueue(
  queue: Queue,
  spec: JobSpec,
  dir: string,
  lookForLost: boolean,
  log: Log,
): Promise<MedtuneError | null> {
  const mine = (j: Job | undefined): j is Job => !!j?.id?.startsWith(`${spec.key}-`);
  const failed = (await queue.getFailed(0, -1)).filter(mine);
  for (const j of failed) {
    const chunk = spec.chunks[Number(j.id!.slice(spec.key.length + 1)) - 1];
    if (!chunk || existsSync(chunkPaths(dir, chunk.index, spec.chunkExt).done)) continue;
    const stalled = /stalled more than/.test(j.failedReason ?? '');
    const why = stalled
      ? 'its workers stopped (killed or cut off) while running it'
      : `it failed ${j.attemptsMade} times (last: ${j.failedReason})`;
    return new MedtuneError(
      `${rowsText(chunk, spec.input.path)}: ${why}; the finished chunks are kept in ${dir}: ` +
        'run the same command again to resume',
      'E_JOB_FAILED',
    );
  }
  if (!lookForLost) return null;
  const lost: ChunkSpec[] = [];
  const { done } = listing(dir);
  for (const c of spec.chunks) {
    if (!done.has(c.index) && !(await queue.getJob(jobIdOf(spec.key, c.index)))) lost.push(c);
  }
  // a chunk may have been finished (and its job removed) since the folder was read
  const missing = lost.filter((c) => !existsSync(chunkPaths(dir, c.index, spec.chunkExt).done));
  if (missing.length) {
    await addChunks(queue, spec, dir, missing);
    log(`${missing.length} chunks were no longer on the queue (did the Redis server restart?); queued them again`);
  }
  return null;
}

function readDone(spec: JobSpec, dir: string): ChunkDone[] {
  return spec.chunks.map((c) => {
    const d = readJson<ChunkDone>(chunkPaths(dir, c.index, spec.chunkExt).done);
    if (!d || d.index !== c.index)
      throw new MedtuneError(`the record of chunk ${c.index + 1} in ${dir} cannot be read`, 'E_JOB_MISMATCH');
    return d;
  });
}

/** The input is the file the job started from (its size and sha256); else nothing is written. */
async function checkInputUnchanged(spec: JobSpec, dir: string): Promise<void> {
  const { path: file, size, sha256 } = spec.input;
  if (statSync(file, { throwIfNoEntry: false })?.size === size && (await fileSha256Streamed(file)) === sha256) return;
  rmSync(dir, { recursive: true, force: true });
  throw new MedtuneError(
    `--input ${file} changed during the job (its size or sha256 differ from when the job started); ` +
      'nothing was written',
    'E_INPUT_CHANGED',
  );
}

/** The text of each chunk's result in order, checked against its record (size and sha256). */
export async function* chunkResults(spec: JobSpec, dir: string, done: ChunkDone[]): AsyncGenerator<string> {
  for (const d of done) {
    const file = chunkPaths(dir, d.index, spec.chunkExt).out;
    const h = createHash('sha256');
    let size = 0;
    for await (const s of createReadStream(file, { encoding: 'utf8' })) {
      const b = Buffer.from(s as string);
      h.update(b);
      size += b.length;
      yield s as string;
    }
    if (size !== d.size || h.digest('hex') !== d.sha256)
      throw new MedtuneError(
        `${file} is not the result its worker recorded (size or sha256 differ); ` +
          `remove it and ${chunkPaths(dir, d.index, spec.chunkExt).done}, then run the same command again`,
        'E_JOB_MISMATCH',
      );
  }
}

/** The output file: `head` (a header line), then every chunk's result in order; then the job folder goes. */
export async function assemble(
  spec: JobSpec,
  dir: string,
  done: ChunkDone[],
  output: string,
  head = '',
): Promise<void> {
  const out = atomicWriteStream(output);
  try {
    if (head) await out.write(head);
    for await (const s of chunkResults(spec, dir, done)) await out.write(s);
    await out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  rmSync(dir, { recursive: true, force: true });
}
