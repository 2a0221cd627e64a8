/**
 * The dynamic batcher in front of the inference pool (pool.ts). Texts from concurrent requests are coalesced into
 * batches under a token budget (`maxBatchTokens` counts padded tokens: texts × the longest text), waiting at most
 * `maxWaitMs` for company, and are grouped by length to limit padding (Triton's dynamic batcher, TEI's token
 * budget). A text still queued after `queueTimeoutMs` is answered 503; the texts of a request whose client went away
 * (its signal aborts) leave the queue.
 */
import { MedtuneError } from '../common/errors.js';
import type { Decision } from '../infer/decision.js';
import type { InferencePool } from './pool.js';

export interface TextResult {
  /** the Predictor's decision in the worker (calibrated probabilities, label(s), confidence, abstention) */
  decision: Decision;
  cut: number;
  entities: number;
  queueMs: number;
  inferMs: number;
  batchSize: number;
}

interface Item {
  model: string;
  text: string;
  /** the request's abstention threshold (undefined: the model's) */
  abstainBelow: number | null | undefined;
  /**
   * estimated tokens (no tokenizer on the HTTP thread: ~4 characters per token, capped at the model's max; a model
   * that reads windows: the tokens of all windows)
   */
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
  /** the estimate of a text of `chars` characters (default: chars / 4 + 2, capped at `maxLength`) */
  estimate?: (model: string, chars: number) => number;
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
  submit(
    model: string,
    texts: string[],
    o: { abstainBelow?: number | null; signal?: AbortSignal } = {},
  ): Promise<TextResult[]> {
    if (o.signal?.aborted) return Promise.reject(o.signal.reason as Error);
    const now = performance.now();
    const max = this.o.maxLength(model);
    const mine: Item[] = [];
    const ps = texts.map(
      (text) =>
        new Promise<TextResult>((resolve, reject) => {
          const it = {
            model,
            text,
            abstainBelow: o.abstainBelow,
            est: this.o.estimate?.(model, text.length) ?? Math.min(max, Math.ceil(text.length / 4) + 2),
            enqueued: now,
            resolve,
            reject,
          };
          mine.push(it);
          this.queue.push(it);
        }),
    );
    const { signal } = o;
    if (signal) {
      const leave = () => {
        const gone = new Set(mine);
        this.queue = this.queue.filter((it) => !gone.has(it));
        for (const it of mine) it.reject(signal.reason as Error);
      };
      signal.addEventListener('abort', leave, { once: true });
      void Promise.allSettled(ps).then(() => signal.removeEventListener('abort', leave));
    }
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
        batch.map((it) => it.abstainBelow),
      )
      .then(
        (r) => {
          this.onBatch({ size: batch.length, tokens: r.tokens, queueMs, inferMs: r.inferMs, model: batch[0]!.model });
          batch.forEach((it, i) =>
            it.resolve({
              decision: r.decisions[i]!,
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
