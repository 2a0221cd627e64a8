/**
 * Admission control, the two mechanisms every route and the key check share: a Lane (at most `concurrency` at
 * once, at most `queue` waiting, each waiting at most `timeoutMs`; more get E_QUEUE_FULL, later ones
 * E_QUEUE_TIMEOUT, a waiter whose client went away leaves the queue), and a FailureLimiter (failures per key in a
 * fixed window; bounded, so that made-up keys cannot grow it).
 */
import { MedtuneError } from '../common/errors.js';

export interface LaneLimits {
  /** at once */
  concurrency: number;
  /** waiting for a slot, at most */
  queue: number;
  /** the longest wait for a slot (ms) */
  timeoutMs: number;
}

interface Waiter {
  grant: (release: () => void) => void;
}

export class Lane {
  private active = 0;
  private waiting: Waiter[] = [];
  /** counts of refusals, by reason (for /metrics) */
  readonly refused = { full: 0, timeout: 0, cancelled: 0 };

  constructor(
    readonly name: string,
    readonly limits: LaneLimits,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A slot: resolves with its release function (call it once), or rejects with why there is none. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    if (this.active < this.limits.concurrency) return Promise.resolve(this.slot());
    if (this.waiting.length >= this.limits.queue) {
      this.refused.full++;
      return Promise.reject(
        new MedtuneError(
          `the ${this.name} queue is full (${this.limits.queue} waiting, ${this.limits.concurrency} at once); ` +
            'retry later',
          'E_QUEUE_FULL',
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const leave = (e: Error, reason: 'timeout' | 'cancelled') => {
        const i = this.waiting.indexOf(w);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        this.refused[reason]++;
        done();
        reject(e);
      };
      const timer = setTimeout(
        () =>
          leave(
            new MedtuneError(
              `the request waited more than ${this.limits.timeoutMs} ms for a ${this.name} slot; retry later`,
              'E_QUEUE_TIMEOUT',
            ),
            'timeout',
          ),
        this.limits.timeoutMs,
      );
      const onAbort = () => leave(signal!.reason as Error, 'cancelled');
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const w: Waiter = {
        grant: (release) => {
          done();
          resolve(release);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(w);
    });
  }

  /** Takes a slot; its release (idempotent) hands it to the next waiter. */
  private slot(): () => void {
    this.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      const next = this.waiting.shift();
      if (next) next.grant(this.slot());
    };
  }
}

/** Failures per key (a client address, a key id) in fixed windows of `windowMs`; at most `maxKeys` keys tracked. */
export class FailureLimiter {
  private counts = new Map<string, { n: number; resetAt: number }>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    readonly maxKeys = 10_000,
  ) {}

  /** Seconds until `key` may try again (0: it may now). */
  retryAfterS(key: string, now = Date.now()): number {
    const c = this.counts.get(key);
    if (!c || c.resetAt <= now || c.n < this.max) return 0;
    return Math.max(1, Math.ceil((c.resetAt - now) / 1000));
  }

  fail(key: string, now = Date.now()): void {
    const c = this.counts.get(key);
    if (c && c.resetAt > now) {
      c.n++;
      return;
    }
    this.counts.delete(key);
    if (this.counts.size >= this.maxKeys) this.sweep(now);
    this.counts.set(key, { n: 1, resetAt: now + this.windowMs });
  }

  /** Takes back one failure of `key` (an attempt counted before it was known to succeed). */
  forgive(key: string, now = Date.now()): void {
    const c = this.counts.get(key);
    if (c && c.resetAt > now && c.n > 0) c.n--;
  }

  /** Drops expired windows; when all are live, the oldest (windows are inserted in time order). */
  private sweep(now: number): void {
    for (const [k, c] of this.counts) if (c.resetAt <= now) this.counts.delete(k);
    while (this.counts.size >= this.maxKeys) this.counts.delete(this.counts.keys().next().value!);
  }
}
