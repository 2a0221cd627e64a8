/**
 * Inference off the HTTP thread: a pool of worker threads (worker.ts), each of which loads every served model once.
 * A classification batch (from the batcher, batcher.ts) goes to an idle worker; side jobs (de-identification
 * previews, explanations) wait for one and go before new batches. A worker that dies fails its batch and is
 * replaced. Reload starts a new pool and swaps it in (state.ts); batches already sent finish on the old one.
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

/** A side job without its id (the pool numbers it). */
export type SideJob = Omit<DeidRequest, 'id'> | Omit<ExplainRequest, 'id'> | Omit<EntitiesRequest, 'id'>;

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
  /** side jobs (de-identification previews, explanations) waiting for an idle worker; served before new batches */
  private side: { msg: WorkerRequest; resolve: (r: SideResult) => void; reject: (e: Error) => void }[] = [];
  private nextId = 1;
  private closed = false;
  onIdle: () => void = () => {};

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

  /** A worker is free: queued side jobs first, then the batcher. */
  private idleAgain(): void {
    while (this.side.length && this.slots.some((s) => !s.busy)) {
      const job = this.side.shift()!;
      this.send(job.msg).then((r) => job.resolve(r as SideResult), job.reject);
    }
    this.onIdle();
  }

  /** A de-identification preview or an explanation: on an idle worker now, or when one becomes idle. */
  request(msg: SideJob): Promise<SideResult> {
    return new Promise((resolve, reject) => {
      this.side.push({ msg: { ...msg, id: this.nextId++ } as WorkerRequest, resolve, reject });
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

  /** Waits for the batches in flight, then stops the workers. */
  async close(): Promise<void> {
    while (this.pending.size || this.side.length) await new Promise((r) => setTimeout(r, 10));
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots = [];
  }
}
