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
import { classificationOf } from '../infer/predictor.js';
import { Registry, validationOf, type ValidationFigures } from '../registry/registry.js';
import { windowCount, windowSpec } from '../text/windows.js';
import { AuditLog } from './audit.js';
import { Batcher } from './batcher.js';
import { decisionOf, ServedCapture } from './capture.js';
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

/** A model the workers load: a folder, or a registry version (its champion, followed when the alias moves). */
export interface ServedModel {
  name: string;
  dir: string;
  registry?: boolean;
  /** the registry version served (registry entries) */
  version?: string;
  /** the figures it was validated with: the live-performance alert's reference */
  validation: ValidationFigures | null;
}

/** The name the shadow model has in the workers (never served: st.model() does not know it). */
const SHADOW = '.shadow';

/** The served models: folders as given, registry entries resolved to their champion's folder, sha256 checked. */
async function resolveModels(o: ResolvedServeOptions, reg: Registry | null): Promise<ServedModel[]> {
  const out: ServedModel[] = [];
  for (const m of o.models) {
    if (!m.registry) {
      out.push({ name: m.name, dir: m.dir, validation: validationOf(m.dir) });
      continue;
    }
    const v = reg!.get(`${m.name}@champion`);
    await reg!.verify(v);
    out.push({ ...m, dir: reg!.folderOf(v.name, v.version), version: v.version, validation: v.validation });
  }
  return out;
}

/** Describes every served model (config, metadata, identity); refuses models the server cannot serve. */
async function describeAll(o: ResolvedServeOptions, list: ServedModel[]): Promise<Map<string, ModelInfo>> {
  const out = new Map<string, ModelInfo>();
  for (const m of list) {
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
  /** the case capture (--capture) */
  capture: ServedCapture | null = null;
  /** the logger (the HTTP app's, once it is built) */
  log: { error(o: object, msg: string): void; warn(o: object, msg: string): void; info(o: object, msg: string): void } =
    { error: () => {}, warn: () => {}, info: () => {} };
  private reloading: Promise<ModelInfo[]> | null = null;
  private reloadRunning = false;
  private watcher: NodeJS.Timeout | null = null;
  /** per registry entry, a champion that failed to load (not tried again until the alias moves on) */
  private failedChampion = new Map<string, string>();
  private registryFailure: string | null = null;

  private constructor(
    readonly o: ResolvedServeOptions,
    private _models: Map<string, ModelInfo>,
    /** what the workers load: the served models and their folders (a registry champion's, when it moves) */
    private served: ServedModel[],
    readonly keys: KeyStore | null,
    readonly audit: AuditLog | null,
    /** the run folder whose cases are reviewed (--review), with its database */
    readonly review: OpenReview | null,
    readonly registry: Registry | null,
    /** the shadow version (--shadow): loaded in the workers, answers recorded, never returned */
    readonly shadow: { model: ServedModel; info: ModelInfo } | null,
  ) {
    this.threads = threadsOf(o);
    const limits = laneLimits(o);
    const names = Object.keys(limits) as LaneName[];
    this.lanes = Object.fromEntries(names.map((n) => [n, new Lane(n, limits[n])])) as Record<LaneName, Lane>;
    this.deadlines = Object.fromEntries(names.map((n) => [n, limits[n].deadlineMs])) as Record<LaneName, number>;
    if (audit) this.stores.push({ name: 'audit log', required: true, failure: () => audit.failure });
    if (registry) this.stores.push({ name: 'registry', required: false, failure: () => this.registryFailure });
    this.metrics = new ServerMetrics(o.driftWindow);
    this.metrics.watchLanes(Object.values(this.lanes));
    this.metrics.setModels(_models);
    // what the workers load under a name: a served model, or the shadow
    const infoOf = (m: string) => (m === SHADOW ? shadow?.info : this._models.get(m));
    this.batcher = new Batcher(() => this.pool, {
      maxBatchTokens: o.maxBatchTokens,
      maxWaitMs: o.maxWaitMs,
      queueTimeoutMs: o.queueTimeoutMs,
      maxLength: (m) => infoOf(m)?.maxLength ?? 512,
      estimate: (m, chars) => estimateTokens(infoOf(m), chars),
    });
    this.batcher.onBatch = (s) => {
      this.metrics.batchSize.observe(s.size);
      this.metrics.batchTokens.observe(s.tokens);
      this.metrics.inference.observe({ model: s.model }, s.inferMs / 1000);
      for (const q of s.queueMs) this.metrics.queue.observe(q / 1000);
    };
    if (o.capture) this.openCapture();
  }

  /** Opens what the options name: the keys, the audit log, the models' descriptions, the review (no workers yet). */
  static async open(o: ResolvedServeOptions): Promise<ServerState> {
    const keys =
      o.auth === false
        ? null
        : new KeyStore(o.keys!, { allowInsecure: o.allowInsecureKeys, maxFailures: o.maxAuthFailures });
    if (o.auditLog && !o.auditSecret)
      throw fail('E_USAGE', '--audit-log needs a secret (MEDTUNE_AUDIT_SECRET or --audit-secret-file)');
    const registry = o.registry ? Registry.open(o.registry, { readonly: true }) : null;
    const served = await resolveModels(o, registry);
    const shadow = o.shadow ? await ServerState.resolveShadow(o, registry!) : null;
    const audit = o.auditLog ? new AuditLog(o.auditLog, o.auditSecret!) : null;
    const models = await describeAll(o, served);
    const review = o.review ? openReview(o.review, o.reviewDb) : null;
    return new ServerState(o, models, served, keys, audit, review, registry, shadow);
  }

  /** The shadow version (--shadow NAME@VERSION), sha256 checked. */
  private static async resolveShadow(o: ResolvedServeOptions, reg: Registry) {
    const v = reg.get(o.shadow!);
    await reg.verify(v);
    const model = { name: SHADOW, dir: reg.folderOf(v.name, v.version), version: v.version, validation: v.validation };
    return { model, info: await describeModel(model.dir, { maxLength: o.maxLength }) };
  }

  /** Case capture: de-identification in a worker, the shadow model's answer through the batcher. */
  private openCapture(): void {
    const o = this.o;
    const sh = this.shadow;
    this.capture = new ServedCapture(
      {
        dir: o.capture!,
        key: o.captureKey!,
        rate: o.captureRate,
        days: o.captureDays,
        randomShare: o.captureRandomShare,
        shadowRate: o.shadowRate,
      },
      {
        deid: async (text) => {
          const r = (await this.side({ type: 'deid', text })).payload as { text: string; entities: unknown[] };
          return { text: r.text, entities: r.entities.length };
        },
        shadow: sh
          ? async (text) => {
              const [r] = await this.batcher.submit(SHADOW, [text]);
              const c = classificationOf(r!.decision, r!.cut, sh.info.settings);
              const { sha256, version } = sh.info.identity;
              return { model: { name: sh.model.name, version, sha256 }, decision: decisionOf(c) };
            }
          : null,
        log: { error: (x, m) => this.log.error(x, m), warn: (x, m) => this.log.warn(x, m) },
      },
      this.metrics.registry,
    );
    const cap = this.capture;
    this.stores.push({ name: 'capture', required: false, failure: () => cap.failure && `paused (${cap.failure})` });
  }

  /** The served model behind a name (its folder, registry version, validation figures). */
  servedModel(name: string): ServedModel | undefined {
    return this.served.find((m) => m.name === name);
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
    this.starting ??= this.startPool(this.served).then((p) => {
      this.pool = p;
      this._ready = true;
      this.batcher.schedule();
      if (this.registry && this.served.some((m) => m.registry)) {
        this.watcher = setInterval(() => this.followAliases(), this.o.registryPollMs);
        this.watcher.unref();
      }
    });
    return this.starting;
  }

  /** A new pool of workers with every model loaded (rejects with the load error, leaving nothing running). */
  private async startPool(list: ServedModel[], infos = this._models): Promise<InferencePool> {
    const all = this.shadow ? [...list, this.shadow.model] : list;
    const documentOf = (m: ServedModel) => (m.name === SHADOW ? this.shadow?.info : infos.get(m.name))?.document;
    const p = new InferencePool(
      {
        models: all.map((m) => ({
          name: m.name,
          dir: m.dir,
          maxLength: this.o.maxLength,
          ...(documentOf(m) ? { maxDocumentTokens: this.o.maxDocumentTokens } : {}),
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

  /**
   * Loads the folders again (registry entries: their champion now, sha256 checked) in a new pool and swaps it in;
   * batches already sent finish on the old one. Reloads run one after another: one asked for while another runs
   * starts after it, and sees the aliases as they are then.
   */
  reload(): Promise<ModelInfo[]> {
    const run = (this.reloading ?? Promise.resolve([])).catch(() => []).then(() => this.reloadNow());
    this.reloading = run;
    return run;
  }

  private async reloadNow(): Promise<ModelInfo[]> {
    this.reloadRunning = true;
    try {
      const list = await resolveModels(this.o, this.registry);
      const next = await describeAll(this.o, list);
      const fresh = await this.startPool(list, next);
      const old = this.pool;
      this._models = next;
      this.served = list;
      this.pool = fresh;
      this.metrics.setModels(next);
      this.batcher.schedule();
      if (old) void old.close();
      return [...next.values()];
    } finally {
      this.reloadRunning = false;
    }
  }

  /**
   * Follows the registry: when the champion of a served entry has moved, reloads (atomically: the new version is
   * checked and loaded before it takes a batch). A champion that fails is not tried again until the alias moves on;
   * meanwhile the previous version serves and /health/ready says "degraded" with why.
   */
  private followAliases(): void {
    if (this.reloadRunning || this._closing || !this.registry) return;
    const moved = this.served.filter((m) => {
      if (!m.registry) return false;
      const champion = this.registry!.alias(m.name, 'champion');
      return champion !== null && champion !== m.version && champion !== this.failedChampion.get(m.name);
    });
    if (!moved.length) return;
    const wanted = new Map(moved.map((m) => [m.name, this.registry!.alias(m.name, 'champion')!]));
    this.log.info({ models: Object.fromEntries(wanted) }, 'the registry champion moved: reloading');
    this.reload().then(
      () => {
        this.registryFailure = null;
        this.failedChampion.clear();
        this.log.info(
          { models: this.served.map((m) => `${m.name}@${m.version ?? '-'}`) },
          'models reloaded (registry)',
        );
      },
      (e: Error) => {
        for (const [n, v] of wanted) this.failedChampion.set(n, v);
        this.registryFailure = `the champion could not be loaded, still serving the previous version: ${e.message}`;
        this.log.error({ err: e }, 'registry reload failed; still serving the previous models');
      },
    );
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
    if (this.watcher) clearInterval(this.watcher);
    await this.capture?.close();
    this.batcher.close();
    await this.starting?.catch(() => {});
    if (this.pool) await this.pool.close();
    this.pool = null;
    await this.audit?.close();
    this.review?.store.close();
    this.registry?.close();
  }
}
