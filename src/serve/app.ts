/**
 * `medtune serve`: a Fastify app that puts one or more model folders behind a secured, observable diagnosis API.
 * The HTTP thread validates, authenticates, queues and answers; inference runs in worker threads (pool.ts) behind a
 * dynamic batcher (batcher.ts). One plugin per resource (routes/), all taking the one ServerState (state.ts).
 * Security is on by default (API keys, limits, security headers); logs never contain request bodies, texts or
 * predictions tied to text; an optional audit log keeps an HMAC of each input instead of the input.
 */
import type { FastifyInstance } from 'fastify';
import type { ModelInfo } from '../infer/model-info.js';
import { MedtuneError } from '../common/errors.js';
import { buildHttp, connectionLimits } from './http.js';
import { checkBinding, isLoopbackAddress, resolveOptions, type ServeOptions } from './options.js';
import { adminRoutes } from './routes/admin.js';
import { deidRoutes } from './routes/deid.js';
import { diagnoseRoutes } from './routes/diagnose.js';
import { entityRoutes } from './routes/entities.js';
import { explainRoutes } from './routes/explain.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { modelRoutes } from './routes/models.js';
import { reviewRoutes } from './routes/reviews.js';
import { servedRoutes } from './routes/served.js';
import type { ServedCapture } from './capture.js';
import { ServerState } from './state.js';
import { registerStaticUi } from './static-ui.js';

export { SERVE_DEFAULTS, type ResolvedServeOptions, type ServeOptions } from './options.js';
export { errorReply } from './error-reply.js';

export interface MedtuneServer {
  app: FastifyInstance;
  /** resolves when every model is loaded in every worker (rejects with the load error) */
  ready: Promise<void>;
  isReady(): boolean;
  models(): Map<string, ModelInfo>;
  /** loads the model folders again, checks them, and swaps them in; in-flight batches finish on the old ones */
  reload(): Promise<ModelInfo[]>;
  /** the case capture (--capture), e.g. to wait for its writes */
  capture(): ServedCapture | null;
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** The resources of the API, one plugin each. */
const RESOURCES = [
  diagnoseRoutes,
  entityRoutes,
  modelRoutes,
  deidRoutes,
  explainRoutes,
  reviewRoutes,
  servedRoutes,
  adminRoutes,
  healthRoutes,
  metricsRoutes,
];

export async function createServer(options: ServeOptions): Promise<MedtuneServer> {
  const o = resolveOptions(options);
  await checkBinding(o);
  const st = await ServerState.open(o);
  const app = await buildHttp(st);
  st.log = app.log;
  const limits = connectionLimits(o);
  app.log.info(
    { max_connections: limits.maxConnections, per_client: limits.maxConnectionsPerClient, file_limit: o.fileLimit },
    'connection cap',
  );
  if (options.maxConnections !== undefined && limits.maxConnections < o.maxConnections)
    app.log.warn(
      `--max-connections ${o.maxConnections} lowered to ${limits.maxConnections}: ` +
        `the process may open ${o.fileLimit} files (ulimit -n), and files, workers and the audit log need some`,
    );
  st.audit?.onChange((failure) => {
    if (failure) app.log.error({ reason: failure }, 'the audit log cannot be written: refusing audited requests');
    else app.log.warn({ dropped: st.audit!.dropped }, 'the audit log is writable again: serving');
  });
  for (const plugin of RESOURCES) await app.register(plugin, { st });
  if (o.ui !== false) await registerStaticUi(app);
  // the server listens while the workers load: /health/ready and the model routes say 503 until they are ready
  const ready = st.start();
  ready.catch(() => {});
  return {
    app,
    ready,
    isReady: () => st.ready,
    models: () => st.models,
    reload: () => st.reload(),
    capture: () => st.capture,
    listen: async () => {
      const address = await app.listen({ host: o.host, port: o.port });
      // --no-auth: what was bound, not only what the name resolved to a moment ago, must be loopback
      if (o.auth === false && !app.addresses().every((a) => typeof a === 'string' || isLoopbackAddress(a.address))) {
        await app.close();
        throw new MedtuneError(`--no-auth: ${o.host} was bound to a non-loopback address; refused`, 'E_USAGE');
      }
      return address;
    },
    close: async () => {
      st.shutdown();
      await app.close();
      await st.close();
    },
  };
}
