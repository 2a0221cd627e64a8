/**
 * A conversion run in a worker thread with a bounded heap (what `medtune data` does). V8 sizes a process's heap
 * for speed, not footprint: with the CPU busy, a long conversion lets garbage reach several hundred MB before it
 * collects. A worker with `maxOldGenerationSizeMb` collects within the bound instead, and runs faster for it. The
 * worker's log lines, progress and temporary paths come to this thread (which draws the bar and removes the paths
 * on Ctrl-C); its errors come back as the same MedtuneError.
 */
import { rmSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { removeOnInterrupt } from '../../common/cleanup.js';
import { MedtuneError, type ErrorCode } from '../../common/errors.js';
import { byteProgress, stderrLog, type DatasetResult, type Log, type ProgressSink } from './io.js';

export type DataSourceName = 'mimic' | 'mimic4' | 'pubmed' | 'ctgov';

/** Old-generation heap of the worker, MB: the MIMIC pipeline holds code tables and one partition; the document
 * sources also keep every id seen (to let a later version replace an earlier one). */
const HEAP_MB: Record<DataSourceName, number> = { mimic: 192, mimic4: 192, pubmed: 1024, ctgov: 1024 };

export type WorkerMessage =
  | { kind: 'log'; line: string }
  | { kind: 'progress'; total: number; what: string }
  | { kind: 'bytes'; n: number }
  | { kind: 'progress-stop' }
  | { kind: 'tmp'; path: string; live: boolean }
  | { kind: 'done'; result: DatasetResult }
  | { kind: 'error'; message: string; code: ErrorCode };

/** The heap bound: MEDTUNE_DATA_HEAP_MB, else the source's default. */
function heapMb(source: DataSourceName): number {
  const env = process.env.MEDTUNE_DATA_HEAP_MB;
  if (env === undefined || env === '') return HEAP_MB[source];
  const n = Number(env);
  if (!Number.isInteger(n) || n < 64)
    throw new MedtuneError(`MEDTUNE_DATA_HEAP_MB must be a whole number of MB ≥ 64, got "${env}"`, 'E_ENV');
  return n;
}

/**
 * Runs `medtune data <source>` with these options (the library options of that source, without functions) in a
 * worker thread; resolves as the library function does.
 */
export function runDataConversion(
  source: DataSourceName,
  options: object,
  o: { log?: Log } = {},
): Promise<DatasetResult> {
  const log = o.log ?? stderrLog;
  const limit = heapMb(source);
  const worker = new Worker(new URL('./worker.js', import.meta.url), {
    workerData: { source, options },
    resourceLimits: { maxOldGenerationSizeMb: limit },
    stderr: false,
  });
  const temps = new Map<string, () => void>();
  let progress: ProgressSink | null = null;
  let outcome: { result: DatasetResult } | { error: MedtuneError } | null = null;
  worker.on('message', (m: WorkerMessage) => {
    if (m.kind === 'log') log(m.line);
    else if (m.kind === 'progress') progress = byteProgress(m.total, m.what, log);
    else if (m.kind === 'bytes') progress?.add(m.n);
    else if (m.kind === 'progress-stop') progress?.stop();
    else if (m.kind === 'tmp' && m.live) temps.set(m.path, removeOnInterrupt(m.path));
    else if (m.kind === 'tmp') {
      temps.get(m.path)?.();
      temps.delete(m.path);
    } else if (m.kind === 'done') outcome = { result: m.result };
    else if (m.kind === 'error') outcome = { error: new MedtuneError(m.message, m.code) };
  });
  return new Promise((resolve, reject) => {
    let crash: Error | null = null;
    worker.on('error', (e) => (crash = e));
    worker.on('exit', () => {
      progress?.stop();
      for (const [p, release] of temps) {
        rmSync(p, { recursive: true, force: true }); // left by a crash: the worker cleans up after itself otherwise
        release();
      }
      if (outcome && 'result' in outcome) return resolve(outcome.result);
      if (outcome) return reject(outcome.error);
      const oom = (crash as NodeJS.ErrnoException | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
      reject(
        oom
          ? new MedtuneError(
              `the conversion needed more than its ${limit} MB of memory; set MEDTUNE_DATA_HEAP_MB to a larger bound`,
              'E_INPUT_DATA',
            )
          : new MedtuneError(`the conversion stopped: ${crash ? (crash as Error).message : 'no result'}`, 'E_INTERNAL'),
      );
    });
  });
}
