/**
 * What a running server holds: its options, the served models' descriptions, the inference pool (swapped on
 * reload), the batcher, the admission lanes of the routes that are not batched, metrics, keys, audit log, the review
 * of a run folder, and the in-flight count. The HTTP setup (http.ts) and every route plugin (routes/) take this one
 * object; it is the only writer of its fields (ready, closing, the pool, the models, the in-flight count): they
 * change through its methods only. Its health is ready, loading, shutting down, or degraded (a store that requests
 * need, such as the audit log, cannot be written).
 */
import { MedtuneError, type ErrorCode } from '../common/errors.js';
import { openReview, type OpenReview } from '../evaluate/reviews.js';
import { describeModel, type ModelInfo } from '../infer/model-info.js';
import { windowCount, windowSpec } from '../text/windows.js';
import { AuditLog } from './audit.js';
import { Batcher } from './batcher.js';
import { KeyStore } from './keys.js';
import { Lane, type LaneLimits } from './limits.js';
import { ServerMetrics } from './metrics.js';
import { threadsOf, type ResolvedServeOptions } from './options.js';
import { InferencePool, type SideJob } from './pool.js';
import type { SideResult } from './worker.js';

const fail = (code: ErrorCode, msg: string) => new MedtuneError(msg, code);

/**
 * The batch budget's estimate of a text (no tokenizer on the HTTP thread: ~4 characters per token): a model that
 * reads long texts in windows costs all its windows (windows × the window's length), one that cuts them the cut.
 */
export function estimateTokens(info: ModelInfo | undefined, chars: number): number {
  const tokens = Math.ceil(chars / 4) + 2;
  const d = info?.document;
  if (!d) return Math.min(info?.maxLength ?? 512, tokens);
  const spec = windowSpec({ length: d.window, stride: d.stride, head: 1, tail: 1 });
  return windowCount(Math.min(tokens, d.max_document_tokens + 2), spec) * d.window;
}

/** The routes with their own admission lane (route config `lane`); diagnose has the batcher. */
export type LaneName = 'explain' | 'deid' | 'reviews';

/** Each lane's limits: explanations from the options; de-identification and reviews are quick, and fixed. */
function laneLimits(o: ResolvedServeOptions): Record<LaneName, LaneLimits & { deadlineMs: number }> {
  const explain = { concurrency: o.explainConcurrency, queue: o.explainQueue, timeoutMs: o.explainTimeoutMs };
  const quick = { queue: 64, timeoutMs: o.queueTimeoutMs, deadlineMs: o.queueTimeoutMs };
  return {
    explain: { ...explain, deadlineMs: o.explainTimeoutMs },
    deid: { ...quick, concurrency: 2 * o.workers },
    reviews: { ...quick, concurrency: 4 },
  };
}

/** Something the server writes to besides its answers; `required`: requests are refused while it fails. */
export interface Store {
  name: string;
  required: boolean;
  /** why it cannot be written now (null: it can) */
  failure(): string | null;
}

export interface Health {
  status: 'ready' | 'loading' | 'shutting_down' | 'degraded';
  /** why it is degraded */
  reason?: string;
  /** 200 or 503 */
  http: number;
}

/** Describes every served model (config, metadata, identity); refuses models the server cannot serve. */
async function describeAll(o: ResolvedServeOptions): Promise<Map<string, ModelInfo>> {
  const out = new Map<string, ModelInfo>();
  for (const m of o.models) {
    let info = await describeModel(m.dir, { maxLength: o.maxLength });
    if (info.document && o.maxDocumentTokens)
      info = await describeModel(m.dir, { maxLength: o.maxLength, maxDocumentTokens: o.maxDocumentTokens });
    if (info.problemType === 'regression')
      throw fail('E_MODEL_UNSUPPORTED', `${m.dir} is a regression model; medtune serve serves classifiers`);
    out.set(m.name, info);
  }
  return out;
}

export class ServerState {
  readonly metrics: ServerMetrics;
  readonly batcher: Batcher;
  readonly threads: number;
  /** admission of the routes that are not batched, with each lane's deadline (wait + work) */
  readonly lanes: Record<LaneName, Lane>;
  readonly deadlines: Record<LaneName, number>;
  private stores: Store[] = [];
  private pool: InferencePool | null = null;
  private starting: Promise<void> | null = null;
  private _ready = false;
  private _closing = false;
  private inFlight = 0;

  private constructor(
    readonly o: ResolvedServeOptions,
    private _models: Map<string, ModelInfo>,
    readonly keys: KeyStore | null,
    readonly audit: AuditLog | null,
    /** the run folder whose cases are reviewed (--review), with its database */
    readonly review: OpenReview | null,
  ) {
    this.threads = threadsOf(o);
    const limits = laneLimits(o);
    const names = Object.keys(limits) as LaneName[];
    this.lanes = Object.fromEntries(names.map((n) => [n, new Lane(n, limits[n])])) as Record<LaneName, Lane>;
    this.deadlines = Object.fromEntries(names.map((n) => [n, limits[n].deadlineMs])) as Record<LaneName, number>;
    if (audit) this.stores.push({ name: 'audit log', required: true, failure: () => audit.failure });
    this.metrics = new ServerMetrics(o.driftWindow);
    this.metrics.watchLanes(Object.values(this.lanes));
    this.metrics.setModels(_models);
    this.batcher = new Batcher(() => this.pool, {
      maxBatchTokens: o.maxBatchTokens,
      maxWaitMs: o.maxWaitMs,
      queueTimeoutMs: o.queueTimeoutMs,
      maxLength: (m) => this._models.get(m)?.maxLength ?? 512,
      estimate: (m, chars) => estimateTokens(this._models.get(m), chars),
    });
    this.batcher.onBatch = (s) => {
      this.metrics.batchSize.observe(s.size);
      this.metrics.batchTokens.observe(s.tokens);
      this.metrics.inference.observe({ model: s.model }, s.inferMs / 1000);
      for (const q of s.queueMs) this.metrics.queue.observe(q / 1000);
    };
  }

  /** Opens what the options name: the keys, the audit log, the models' descriptions, the review (no workers yet). */
  static async open(o: ResolvedServeOptions): Promise<ServerState> {
    const keys =
      o.auth === false
        ? null
        : new KeyStore(o.keys!, { allowInsecure: o.allowInsecureKeys, maxFailures: o.maxAuthFailures });
    if (o.auditLog && !o.auditSecret)
      throw fail('E_USAGE', '--audit-log needs a secret (MEDTUNE_AUDIT_SECRET or --audit-secret-file)');
    const audit = o.auditLog ? new AuditLog(o.auditLog, o.auditSecret!) : null;
    const models = await describeAll(o);
    const review = o.review ? openReview(o.review, o.reviewDb) : null;
    return new ServerState(o, models, keys, audit, review);
  }

  /** every model is loaded in every worker */
  get ready(): boolean {
    return this._ready;
  }

  get closing(): boolean {
    return this._closing;
  }

  get models(): Map<string, ModelInfo> {
    return this._models;
  }

  /** Ready, loading, shutting down, or degraded (with why): what GET /health/ready answers. */
  health(): Health {
    if (this._closing) return { status: 'shutting_down', http: 503 };
    if (!this._ready) return { status: 'loading', http: 503 };
    const failing = this.stores.filter((x) => x.failure() !== null);
    if (!failing.length) return { status: 'ready', http: 200 };
    const reason = failing.map((x) => `${x.name}: ${x.failure()}`).join('; ');
    return { status: 'degraded', reason, http: failing.some((x) => x.required) ? 503 : 200 };
  }

  get defaultModel(): string {
    return this.o.models[0]!.name;
  }

  /** Starts the workers; resolves when they are ready (rejects with the load error, leaving nothing running). */
  start(): Promise<void> {
    this.starting ??= this.startPool().then((p) => {
      this.pool = p;
      this._ready = true;
      this.batcher.schedule();
    });
    return this.starting;
  }

  /** A new pool of workers with every model loaded (rejects with the load error, leaving nothing running). */
  private async startPool(models = this._models): Promise<InferencePool> {
    const p = new InferencePool(
      {
        models: this.o.models.map((m) => ({
          name: m.name,
          dir: m.dir,
          maxLength: this.o.maxLength,
          ...(models.get(m.name)?.document ? { maxDocumentTokens: this.o.maxDocumentTokens } : {}),
        })),
        threads: this.threads,
        deid: !!this.o.deid,
        deidModel: this.o.deidModel,
        precision: this.o.precision,
      },
      this.o.workers,
    );
    p.onIdle = () => this.batcher.schedule();
    p.batchesWaiting = () => this.batcher.depth > 0;
    p.onCancelled = () => this.metrics.workerCancelled.inc();
    try {
      await p.start();
    } catch (e) {
      await p.close();
      throw e;
    }
    return p;
  }

  /** Loads the folders again in a new pool and swaps it in; batches already sent finish on the old one. */
  async reload(): Promise<ModelInfo[]> {
    const next = await describeAll(this.o);
    const fresh = await this.startPool(next);
    const old = this.pool;
    this._models = next;
    this.pool = fresh;
    this.metrics.setModels(next);
    this.batcher.schedule();
    if (old) void old.close();
    return [...next.values()];
  }

  /** Refuses a request that arrives while the server shuts down (those already in flight finish). */
  admitRequest(): void {
    if (this._closing) throw fail('E_SHUTTING_DOWN', 'the server is shutting down; retry on another replica');
  }

  /** Refuses model work while the models load and once the workers have stopped. */
  private live(): void {
    if (this._closing && !this.pool) this.admitRequest();
    if (!this._ready) throw fail('E_NOT_READY', 'the models are still loading; retry shortly (GET /health/ready)');
  }

  /**
   * The model of a request (default: the first served): the one lookup of every route, with the catalogue's errors
   * while loading, while shutting down, and for an unknown name.
   */
  model(name: string = this.defaultModel): { name: string; info: ModelInfo } {
    this.live();
    const info = this._models.get(name);
    // (the name asked for is never quoted: it may be anything, patient text included)
    if (!info) throw fail('E_UNKNOWN_MODEL', `no model of that name; served: ${[...this._models.keys()].join(', ')}`);
    return { name, info };
  }

  /** A de-identification preview or an explanation, on the next idle worker; `signal` abandons it. */
  side(job: SideJob, signal?: AbortSignal): Promise<SideResult> {
    this.live();
    return this.pool!.request(job, signal);
  }

  /**
   * Counts one diagnose request of `texts` texts in flight (E_QUEUE_FULL above --max-concurrent-requests); returns
   * the function that counts it out.
   */
  admit(texts: number): () => void {
    const { o, metrics, batcher } = this;
    if (this.inFlight >= o.maxConcurrentRequests)
      throw fail(
        'E_QUEUE_FULL',
        `the server is handling ${o.maxConcurrentRequests} requests (--max-concurrent-requests); retry later`,
      );
    this.inFlight++;
    metrics.inFlight.set(this.inFlight);
    metrics.queueDepth.set(batcher.depth + texts);
    return () => {
      this.inFlight--;
      metrics.inFlight.set(this.inFlight);
      metrics.queueDepth.set(batcher.depth);
    };
  }

  /** From now on: no new work, answers close their connections. */
  shutdown(): void {
    this._closing = true;
  }

  /** Stops what is left once the HTTP server has closed: the queue, the workers, the audit log, the review. */
  async close(): Promise<void> {
    this._closing = true;
    this.batcher.close();
    await this.starting?.catch(() => {});
    if (this.pool) await this.pool.close();
    this.pool = null;
    await this.audit?.close();
    this.review?.store.close();
  }
}
