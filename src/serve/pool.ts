/**
 * Inference off the HTTP thread: a pool of worker threads (worker.ts), each of which loads (and checks) every served
 * model once. A classification batch (from the batcher, batcher.ts) goes to an idle worker; side jobs
 * (de-identification previews, explanations) wait for one, taking turns with batches when both wait, so that
 * neither starves the other. A side job whose request is abandoned (its signal aborts) leaves the queue, or, when a
 * worker already runs it, is cancelled there (a shared flag the worker reads between steps). A worker that dies
 * fails its batch and is replaced. Reload starts a new pool and swaps it in (state.ts); batches already sent finish
 * on the old one.
 */
import { Worker } from 'node:worker_threads';
import { MedtuneError, type ErrorCode, ERROR_CATALOGUE } from '../common/errors.js';
import type {
  BatchResult,
  DeidRequest,
  ExplainRequest,
  SideResult,
  WorkerConfig,
  WorkerError,
  WorkerRequest,
  EntitiesRequest,
} from './worker.js';

/** A side job without its id and cancel flag (the pool adds them). */
export type SideJob =
  Omit<DeidRequest, 'id' | 'cancel'> | Omit<ExplainRequest, 'id' | 'cancel'> | Omit<EntitiesRequest, 'id' | 'cancel'>;

interface QueuedSide {
  msg: DeidRequest | ExplainRequest | EntitiesRequest;
  resolve: (r: SideResult) => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
}

const workerUrl = new URL('./worker.js', import.meta.url);
/** A worker's error as the catalogue's (codes it does not know are internal). */
const fromWorker = (m: WorkerError) =>
  new MedtuneError(m.message, (m.code in ERROR_CATALOGUE ? m.code : 'E_INTERNAL') as ErrorCode);

interface Slot {
  worker: Worker;
  busy: boolean;
}

/** N worker threads with the same models; a batch goes to an idle one. */
export class InferencePool {
  private slots: Slot[] = [];
  private pending = new Map<
    number,
    { resolve: (r: BatchResult | SideResult) => void; reject: (e: Error) => void; slot: Slot }
  >();
  /** side jobs (de-identification previews, explanations) waiting for an idle worker */
  private side: QueuedSide[] = [];
  /** when batches and side jobs both wait, they take turns: true when a side job goes next */
  private sideTurn = true;
  private nextId = 1;
  private closed = false;
  onIdle: () => void = () => {};
  /** whether the batcher has texts waiting (set by the server state) */
  batchesWaiting: () => boolean = () => false;
  /** a worker stopped a job because its request was abandoned */
  onCancelled: () => void = () => {};

  constructor(
    readonly config: WorkerConfig,
    readonly size: number,
  ) {}

  /** Starts the workers; resolves when every one has loaded every model (rejects with the first load error). */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.size }, () => this.spawn()));
  }

  private spawn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(workerUrl, { workerData: this.config });
      const slot: Slot = { worker, busy: true };
      this.slots.push(slot);
      let ready = false;
      worker.on('message', (m: BatchResult | SideResult | WorkerError | { type: 'ready' }) => {
        if (m.type === 'ready') {
          ready = true;
          slot.busy = false;
          resolve();
          this.idleAgain();
          return;
        }
        if (m.type === 'error' && m.id === undefined) {
          reject(fromWorker(m));
          return;
        }
        const p = this.pending.get(m.id!);
        if (!p) return;
        this.pending.delete(m.id!);
        slot.busy = false;
        if (m.type === 'error' && m.code === 'E_CANCELLED') this.onCancelled();
        if (m.type === 'result') p.resolve(m);
        else p.reject(fromWorker(m));
        this.idleAgain();
      });
      worker.on('error', (e) => {
        if (!ready) reject(new MedtuneError(`an inference worker failed to start: ${e.message}`, 'E_INTERNAL'));
        this.fail(slot, e);
      });
      worker.on('exit', (code) => {
        if (!ready) reject(new MedtuneError(`an inference worker exited (${code}) before it was ready`, 'E_INTERNAL'));
        if (!this.closed) this.fail(slot, new Error(`inference worker exited with code ${code}`));
      });
    });
  }

  /** A worker died: its batch fails, and it is replaced so the server keeps serving. */
  private fail(slot: Slot, e: Error): void {
    for (const [id, p] of this.pending) {
      if (p.slot !== slot) continue;
      this.pending.delete(id);
      p.reject(new MedtuneError(`inference failed: ${e.message}`, 'E_INTERNAL'));
    }
    this.slots = this.slots.filter((s) => s !== slot);
    if (!this.closed) this.spawn().catch(() => {});
  }

  /** A worker is free: a side job when it is their turn (or no batch waits), then the batcher. */
  private idleAgain(): void {
    while (this.side.length && this.idle && (this.sideTurn || this.draining || !this.batchesWaiting())) {
      this.sideTurn = false;
      this.dispatchSide(this.side.shift()!);
    }
    this.onIdle();
  }

  private dispatchSide(job: QueuedSide): void {
    const onAbort = () => {
      Atomics.store(new Int32Array(job.msg.cancel), 0, 1); // the worker stops at its next step
      job.reject(job.signal!.reason as Error);
    };
    job.signal?.addEventListener('abort', onAbort, { once: true });
    this.send(job.msg)
      .then((r) => job.resolve(r as SideResult), job.reject)
      .finally(() => job.signal?.removeEventListener('abort', onAbort));
  }

  /**
   * A de-identification preview or an explanation: on an idle worker now, or when one becomes idle. When `signal`
   * aborts, it rejects with the signal's reason, leaving the queue or cancelled in the worker.
   */
  request(job: SideJob, signal?: AbortSignal): Promise<SideResult> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const msg = { ...job, id: this.nextId++, cancel: new SharedArrayBuffer(4) } as QueuedSide['msg'];
      const queued: QueuedSide = { msg, resolve, reject, signal };
      const leave = () => {
        const i = this.side.indexOf(queued);
        if (i < 0) return;
        this.side.splice(i, 1);
        reject(signal!.reason as Error);
      };
      signal?.addEventListener('abort', leave, { once: true });
      queued.resolve = (r) => {
        signal?.removeEventListener('abort', leave);
        resolve(r);
      };
      this.side.push(queued);
      this.idleAgain();
    });
  }

  get idle(): boolean {
    return this.slots.some((s) => !s.busy);
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** One batch of one model's texts, each with its request's abstention threshold (undefined: the model's). */
  run(model: string, texts: string[], abstainBelow: (number | null | undefined)[]): Promise<BatchResult> {
    this.sideTurn = true;
    return this.send({ type: 'batch', id: this.nextId++, model, texts, abstainBelow }) as Promise<BatchResult>;
  }

  private send(msg: WorkerRequest): Promise<BatchResult | SideResult> {
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) return Promise.reject(new MedtuneError('no idle inference worker', 'E_INTERNAL'));
    slot.busy = true;
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject, slot });
      slot.worker.postMessage(msg);
    });
  }

  /** closing: side jobs no longer wait for a turn */
  private draining = false;

  /** Waits for the batches and side jobs in flight, then stops the workers. */
  async close(): Promise<void> {
    // a replaced pool gets no more batches: its queued side jobs go now (before, they waited for a turn forever)
    this.draining = true;
    this.idleAgain();
    while (this.pending.size || this.side.length) await new Promise((r) => setTimeout(r, 10));
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots = [];
  }
}
