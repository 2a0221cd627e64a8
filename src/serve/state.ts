/**
 * What a running server holds: its options, the served models' descriptions, the inference pool (swapped on
 * reload), the batcher, metrics, keys, audit log, the review of a run folder, and the in-flight count. The HTTP
 * setup (http.ts) and every route plugin (routes/) take this one object; it is the only writer of its fields
 * (ready, closing, the pool, the models, the in-flight count): they change through its methods only.
 */
import { MedtuneError, type ErrorCode } from '../common/errors.js';
import { openReview, type OpenReview } from '../evaluate/reviews.js';
import { describeModel, type ModelInfo } from '../infer/model-info.js';
import { AuditLog } from './audit.js';
import { Batcher } from './batcher.js';
import { KeyStore } from './keys.js';
import { ServerMetrics } from './metrics.js';
import { threadsOf, type ResolvedServeOptions } from './options.js';
import { InferencePool, type SideJob } from './pool.js';
import type { SideResult } from './worker.js';

const fail = (code: ErrorCode, msg: string) => new MedtuneError(msg, code);

/** Describes every served model (config, metadata, identity); refuses models the server cannot serve. */
async function describeAll(o: ResolvedServeOptions): Promise<Map<string, ModelInfo>> {
  const out = new Map<string, ModelInfo>();
  for (const m of o.models) {
    const info = await describeModel(m.dir, { maxLength: o.maxLength });
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
    this.metrics = new ServerMetrics(o.driftWindow);
    this.metrics.setModels(_models);
    this.batcher = new Batcher(() => this.pool, {
      maxBatchTokens: o.maxBatchTokens,
      maxWaitMs: o.maxWaitMs,
      queueTimeoutMs: o.queueTimeoutMs,
      maxLength: (m) => this._models.get(m)?.maxLength ?? 512,
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
    const keys = o.auth === false ? null : new KeyStore(o.keys!);
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
  private async startPool(): Promise<InferencePool> {
    const p = new InferencePool(
      {
        models: this.o.models.map((m) => ({ name: m.name, dir: m.dir, maxLength: this.o.maxLength })),
        threads: this.threads,
        deid: !!this.o.deid,
        deidModel: this.o.deidModel,
        precision: this.o.precision,
      },
      this.o.workers,
    );
    p.onIdle = () => this.batcher.schedule();
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
    const fresh = await this.startPool();
    const old = this.pool;
    this._models = next;
    this.pool = fresh;
    this.metrics.setModels(next);
    this.batcher.schedule();
    if (old) void old.close();
    return [...next.values()];
  }

  /** Refuses model work while the models load and while the server shuts down. */
  private live(): void {
    if (this._closing) throw fail('E_SHUTTING_DOWN', 'the server is shutting down; retry on another replica');
    if (!this._ready) throw fail('E_NOT_READY', 'the models are still loading; retry shortly (GET /health/ready)');
  }

  /**
   * The model of a request (default: the first served): the one lookup of every route, with the catalogue's errors
   * while loading, while shutting down, and for an unknown name.
   */
  model(name: string = this.defaultModel): { name: string; info: ModelInfo } {
    this.live();
    const info = this._models.get(name);
    if (!info) throw fail('E_UNKNOWN_MODEL', `no model named ${name}; served: ${[...this._models.keys()].join(', ')}`);
    return { name, info };
  }

  /** A de-identification preview or an explanation, on the next idle worker. */
  side(job: SideJob): Promise<SideResult> {
    this.live();
    return this.pool!.request(job);
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
    await this.audit?.close();
    this.review?.store.close();
  }
}
