/**
 * `medtune serve`: a Fastify app that puts one or more model folders behind a secured, observable diagnosis API.
 * The HTTP thread validates, authenticates, queues and answers; inference runs in worker threads behind a dynamic
 * batcher (batcher.ts). Security is on by default (API keys, limits, security headers); logs never contain request
 * bodies, texts or predictions tied to text; an optional audit log keeps an HMAC of each input instead of the input.
 */
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import { MedtuneError, type ErrorCode } from '../common/errors.js';
import { SERVE_DEFAULTS, type ResolvedServeOptions, type ServeOptions } from './options.js';

export { SERVE_DEFAULTS, type ResolvedServeOptions, type ServeOptions } from './options.js';
export { errorReply } from './error-reply.js';
import { describeModel, type ModelInfo } from '../infer/model-info.js';
import { KeyStore } from './keys.js';
import { AuditLog } from './audit.js';
import { ServerState } from './state.js';
import { buildHttp } from './http.js';
import { registerApiRoutes } from './routes-api.js';
import { openReview, registerUiRoutes } from './routes-ui.js';
import { registerStaticUi } from './static-ui.js';
import { parsePrecision } from '../tensor/precision.js';

export interface MedtuneServer {
  app: FastifyInstance;
  /** resolves when every model is loaded in every worker (rejects with the load error) */
  ready: Promise<void>;
  isReady(): boolean;
  models(): Map<string, ModelInfo>;
  /** loads the model folders again, checks them, and swaps them in; in-flight batches finish on the old ones */
  reload(): Promise<ModelInfo[]>;
  listen(): Promise<string>;
  close(): Promise<void>;
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const fail = (code: ErrorCode, msg: string) => new MedtuneError(msg, code);

const CORES = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
/** Engine threads per worker: all cores for one worker; one each for several (the native pool is per process). */
const threadsOf = (o: { threads?: number; workers: number }) => o.threads ?? (o.workers > 1 ? 1 : CORES);

/** Checks the options that need no model: names, auth, limits, threads. */
function checkOptions(o: ResolvedServeOptions): void {
  if (!o.models.length) throw fail('E_USAGE', 'give at least one --model NAME=DIR (or --model DIR)');
  const names = new Set<string>();
  for (const m of o.models) {
    if (!MODEL_NAME.test(m.name))
      throw fail('E_USAGE', `model name "${m.name}" must be 1-64 letters, digits or _.- (--model NAME=DIR)`);
    if (names.has(m.name)) throw fail('E_USAGE', `model name ${m.name} is given twice`);
    names.add(m.name);
  }
  if (o.auth === false && !isLoopback(o.host)) {
    throw fail(
      'E_USAGE',
      `--no-auth is only allowed on a loopback address (127.0.0.1, ::1); ${o.host} is reachable from other machines: ` +
        'create a key with `medtune serve keys add`',
    );
  }
  if (o.auth !== false && !o.keys)
    throw fail(
      'E_USAGE',
      'serving needs API keys: pass --keys FILE (create one with `medtune serve keys add NAME --keys FILE`), ' +
        'or --no-auth on a loopback address',
    );
  const threads = threadsOf(o);
  if (o.workers * threads > CORES)
    throw fail(
      'E_USAGE',
      `--workers ${o.workers} × --threads ${threads} is more than the ${CORES} cores of this machine; ` +
        'lower one of them',
    );
  // The native engine's thread pool is one per process: with several workers, each computes on its own thread.
  if (o.workers > 1 && threads > 1)
    throw fail(
      'E_USAGE',
      `with --workers ${o.workers}, each worker uses one engine thread (--threads 1); ` +
        'for more threads per model, run one worker per process and more processes',
    );
  if (!!o.tls?.cert !== !!o.tls?.key) throw fail('E_USAGE', '--tls-cert and --tls-key go together');
  if (o.precision) parsePrecision(o.precision, '--precision'); // bf16 on a CPU without it: refused at start
}

export async function createServer(options: ServeOptions): Promise<MedtuneServer> {
  const o = {
    ...SERVE_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as ResolvedServeOptions;
  checkOptions(o);
  const keys = o.auth === false ? null : new KeyStore(o.keys!);
  if (o.auditLog && !o.auditSecret)
    throw fail('E_USAGE', '--audit-log needs a secret (MEDTUNE_AUDIT_SECRET or --audit-secret-file)');
  const audit = o.auditLog ? new AuditLog(o.auditLog, o.auditSecret!) : null;
  const st = new ServerState(o, threadsOf(o), await describeAll(o), keys, audit, () => describeAll(o));
  const app = await buildHttp(st);
  registerApiRoutes(app, st);
  const review = o.review ? openReview(o.review, o.reviewDb) : null;
  registerUiRoutes(app, {
    models: () => st.models,
    defaultModel: st.defaultModel,
    pool: () => st.pool,
    ready: () => st.ready,
    maxChars: o.maxChars,
    review,
  });
  if (o.ui !== false) await registerStaticUi(app);
  // the server listens while the workers load: /health/ready and the model routes say 503 until they are ready
  const readyPromise = st.startPool().then((p) => {
    st.pool = p;
    st.ready = true;
    st.batcher.schedule();
  });
  readyPromise.catch(() => {});
  return {
    app,
    ready: readyPromise,
    isReady: () => st.ready,
    models: () => st.models,
    reload: () => st.reload(),
    listen: async () => app.listen({ host: o.host, port: o.port }),
    close: async () => {
      st.closing = true;
      await app.close();
      st.batcher.close();
      await readyPromise.catch(() => {});
      if (st.pool) await st.pool.close();
      await audit?.close();
      review?.store.close();
    },
  };
}

/** Describes every served model (config, metadata, identity); refuses models the server cannot serve. */
async function describeAll(o: ServeOptions): Promise<Map<string, ModelInfo>> {
  const out = new Map<string, ModelInfo>();
  for (const m of o.models) {
    const info = await describeModel(m.dir, { maxLength: o.maxLength });
    if (info.problemType === 'regression')
      throw fail('E_MODEL_UNSUPPORTED', `${m.dir} is a regression model; medtune serve serves classifiers`);
    out.set(m.name, info);
  }
  return out;
}
