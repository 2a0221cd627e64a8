/**
 * Inference off the HTTP thread: a pool of worker threads (each loads every model once) and a dynamic batcher in
 * front of it. Texts from concurrent requests are coalesced into batches under a token budget (`maxBatchTokens`
 * counts padded tokens: texts × the longest text), waiting at most `maxWaitMs` for company, and are grouped by
 * length to limit padding (Triton's dynamic batcher, TEI's token budget). A text still queued after
 * `queueTimeoutMs` is answered 503. Reload swaps in a new pool once it has loaded; batches already sent finish on
 * the old one.
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
} from './worker.js';

/** A side job without its id (the pool numbers it). */
type SideJob = Omit<DeidRequest, 'id'> | Omit<ExplainRequest, 'id'>;

const workerUrl = new URL('./worker.js', import.meta.url);

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
          reject(new MedtuneError(m.message, (m.code in ERROR_CATALOGUE ? m.code : 'E_INTERNAL') as ErrorCode));
          return;
        }
        const p = this.pending.get(m.id!);
        if (!p) return;
        this.pending.delete(m.id!);
        slot.busy = false;
        if (m.type === 'result') p.resolve(m);
        else p.reject(new MedtuneError(m.message, (m.code in ERROR_CATALOGUE ? m.code : 'E_INTERNAL') as ErrorCode));
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

  run(model: string, texts: string[]): Promise<BatchResult> {
    return this.send({ type: 'batch', id: this.nextId++, model, texts }) as Promise<BatchResult>;
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

export interface TextResult {
  probabilities: number[];
  cut: number;
  entities: number;
  queueMs: number;
  inferMs: number;
  batchSize: number;
}

interface Item {
  model: string;
  text: string;
  /** estimated tokens (no tokenizer on the HTTP thread: ~4 characters per token, capped at the model's max) */
  est: number;
  enqueued: number;
  resolve: (r: TextResult) => void;
  reject: (e: Error) => void;
}

export interface BatcherOptions {
  maxBatchTokens: number;
  maxWaitMs: number;
  queueTimeoutMs: number;
  /** max tokens per text, per model (for the estimate) */
  maxLength: (model: string) => number;
}

export interface BatchStats {
  size: number;
  tokens: number;
  queueMs: number[];
  inferMs: number;
  model: string;
}

export class Batcher {
  private queue: Item[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sweeper: NodeJS.Timeout;
  onBatch: (s: BatchStats) => void = () => {};

  constructor(
    private getPool: () => InferencePool | null,
    readonly o: BatcherOptions,
  ) {
    this.sweeper = setInterval(() => this.expire(), 50);
    this.sweeper.unref();
  }

  get depth(): number {
    return this.queue.length;
  }

  /** Queues the texts of one request; resolves with one result per text, in order. */
  submit(model: string, texts: string[]): Promise<TextResult[]> {
    const now = performance.now();
    const max = this.o.maxLength(model);
    const ps = texts.map(
      (text) =>
        new Promise<TextResult>((resolve, reject) => {
          this.queue.push({
            model,
            text,
            est: Math.min(max, Math.ceil(text.length / 4) + 2),
            enqueued: now,
            resolve,
            reject,
          });
        }),
    );
    this.schedule();
    return Promise.all(ps);
  }

  /** Texts waiting longer than the queue timeout are answered 503. */
  private expire(): void {
    const now = performance.now();
    const late = this.queue.filter((it) => now - it.enqueued > this.o.queueTimeoutMs);
    if (!late.length) return;
    this.queue = this.queue.filter((it) => now - it.enqueued <= this.o.queueTimeoutMs);
    for (const it of late) {
      it.reject(
        new MedtuneError(
          `the request waited more than ${this.o.queueTimeoutMs} ms in the queue; retry later or add replicas`,
          'E_QUEUE_TIMEOUT',
        ),
      );
    }
  }

  /** Dispatches batches to idle workers: when the oldest text has waited maxWaitMs or the budget is full. */
  schedule(): void {
    const pool = this.getPool();
    while (pool && pool.idle && this.queue.length) {
      const oldest = this.queue[0]!;
      const waited = performance.now() - oldest.enqueued;
      const sameModel = this.queue.filter((it) => it.model === oldest.model);
      const full = sameModel.length * Math.max(...sameModel.map((it) => it.est)) >= this.o.maxBatchTokens;
      if (waited < this.o.maxWaitMs && !full) {
        this.arm(this.o.maxWaitMs - waited);
        return;
      }
      this.dispatch(pool, this.take(oldest, sameModel));
    }
  }

  private arm(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.schedule();
      },
      Math.max(0, Math.ceil(ms)),
    );
  }

  /** The batch around the oldest text: texts of similar length (sorted), as many as the padded budget allows. */
  private take(oldest: Item, candidates: Item[]): Item[] {
    const sorted = [...candidates].sort((a, b) => a.est - b.est);
    let lo = sorted.indexOf(oldest);
    let hi = lo;
    const cost = (a: number, b: number) => (b - a + 1) * sorted[b]!.est;
    for (;;) {
      const canUp = hi + 1 < sorted.length && cost(lo, hi + 1) <= this.o.maxBatchTokens;
      const canDown = lo > 0 && cost(lo - 1, hi) <= this.o.maxBatchTokens;
      if (!canUp && !canDown) break;
      // prefer older texts: extend toward the side whose next item has waited longer
      if (canUp && (!canDown || sorted[hi + 1]!.enqueued <= sorted[lo - 1]!.enqueued)) hi++;
      else lo--;
    }
    const batch = sorted.slice(lo, hi + 1);
    const set = new Set(batch);
    this.queue = this.queue.filter((it) => !set.has(it));
    return batch;
  }

  private dispatch(pool: InferencePool, batch: Item[]): void {
    const t = performance.now();
    const queueMs = batch.map((it) => t - it.enqueued);
    pool
      .run(
        batch[0]!.model,
        batch.map((it) => it.text),
      )
      .then(
        (r) => {
          this.onBatch({ size: batch.length, tokens: r.tokens, queueMs, inferMs: r.inferMs, model: batch[0]!.model });
          batch.forEach((it, i) =>
            it.resolve({
              probabilities: r.probabilities[i]!,
              cut: r.cut[i]!,
              entities: r.entities[i] ?? 0,
              queueMs: queueMs[i]!,
              inferMs: r.inferMs,
              batchSize: batch.length,
            }),
          );
        },
        (e: Error) => batch.forEach((it) => it.reject(e)),
      );
  }

  close(): void {
    clearInterval(this.sweeper);
    if (this.timer) clearTimeout(this.timer);
    for (const it of this.queue) it.reject(new MedtuneError('the server is shutting down', 'E_SHUTTING_DOWN'));
    this.queue = [];
  }
}
