/**
 * What a running server holds: its options, the served models' descriptions, the inference pool (swapped on
 * reload), the batcher, metrics, keys and audit log, and the in-flight count. Shared by the HTTP setup (http.ts) and
 * the routes (routes-api.ts, routes-ui.ts).
 */
import { MedtuneError } from '../common/errors.js';
import type { ModelInfo } from '../infer/model-info.js';
import type { AuditLog } from './audit.js';
import { Batcher, InferencePool } from './batcher.js';
import type { KeyStore } from './keys.js';
import { ServerMetrics } from './metrics.js';
import type { ResolvedServeOptions } from './options.js';

export class ServerState {
  pool: InferencePool | null = null;
  ready = false;
  closing = false;
  inFlight = 0;
  readonly metrics: ServerMetrics;
  readonly batcher: Batcher;

  constructor(
    readonly o: ResolvedServeOptions,
    readonly threads: number,
    public models: Map<string, ModelInfo>,
    readonly keys: KeyStore | null,
    readonly audit: AuditLog | null,
    private readonly describe: () => Promise<Map<string, ModelInfo>>,
  ) {
    this.metrics = new ServerMetrics(o.driftWindow);
    this.metrics.setModels(models);
    this.batcher = new Batcher(() => this.pool, {
      maxBatchTokens: o.maxBatchTokens,
      maxWaitMs: o.maxWaitMs,
      queueTimeoutMs: o.queueTimeoutMs,
      maxLength: (m) => this.models.get(m)?.maxLength ?? 512,
    });
    this.batcher.onBatch = (s) => {
      this.metrics.batchSize.observe(s.size);
      this.metrics.batchTokens.observe(s.tokens);
      this.metrics.inference.observe({ model: s.model }, s.inferMs / 1000);
      for (const q of s.queueMs) this.metrics.queue.observe(q / 1000);
    };
  }

  get defaultModel(): string {
    return this.o.models[0]!.name;
  }

  /** A new pool of workers with every model loaded (rejects with the load error, leaving nothing running). */
  async startPool(): Promise<InferencePool> {
    const p = new InferencePool(
      {
        models: this.o.models.map((m) => ({ name: m.name, dir: m.dir, maxLength: this.o.maxLength })),
        threads: this.threads,
        deid: !!this.o.deid,
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
    const next = await this.describe();
    const fresh = await this.startPool();
    const old = this.pool;
    this.models = next;
    this.pool = fresh;
    this.metrics.setModels(next);
    this.batcher.schedule();
    if (old) void old.close();
    return [...next.values()];
  }

  /** The model of a request, or the catalogue's errors while loading, closing, or for an unknown name. */
  model(name: string): ModelInfo {
    if (this.closing)
      throw new MedtuneError('the server is shutting down; retry on another replica', 'E_SHUTTING_DOWN');
    if (!this.ready)
      throw new MedtuneError('the models are still loading; retry shortly (GET /health/ready)', 'E_NOT_READY');
    const info = this.models.get(name);
    if (!info)
      throw new MedtuneError(
        `no model named ${name}; served: ${[...this.models.keys()].join(', ')}`,
        'E_UNKNOWN_MODEL',
      );
    return info;
  }
}
