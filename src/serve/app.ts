/**
 * `medtune serve`: a Fastify app that puts one or more model folders behind a secured, observable diagnosis API.
 * The HTTP thread validates, authenticates, queues and answers; inference runs in worker threads behind a dynamic
 * batcher (batcher.ts). Security is on by default (API keys, limits, security headers); logs never contain request
 * bodies, texts or predictions tied to text; an optional audit log keeps an HMAC of each input instead of the input.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import helmet from '@fastify/helmet';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { MedtuneError, ERROR_CATALOGUE, type ErrorCode } from '../common/errors.js';
import { describeModel, type ModelInfo } from '../infer/model-info.js';
import { classificationFrom, type Classification } from '../infer/predictor.js';
import { decideFromProbabilities } from '../infer/decision.js';
import { DRIFT_ALERT } from '../infer/drift.js';
import { KeyStore, type Principal } from './keys.js';
import { AuditLog, type AuditEntry } from './audit.js';
import { Batcher, InferencePool, type TextResult } from './batcher.js';
import { ServerMetrics } from './metrics.js';
import { diagnoseBody, diagnoseResponse, errorSchema, modelsResponse, seedBody, seedResponse } from './schemas.js';
import { openReview, registerUiRoutes } from './routes-ui.js';
import { registerStaticUi } from './static-ui.js';

export interface ServeOptions {
  /** served models; the first is the default of /v1/diagnose and /diagnose */
  models: { name: string; dir: string }[];
  /** the API keys file (see `medtune serve keys`); required unless auth is off */
  keys?: string;
  /** false: no API keys (only on a loopback host) */
  auth?: boolean;
  host?: string;
  port?: number;
  /** /metrics and /docs without a key */
  publicMetrics?: boolean;
  tls?: { cert: string; key: string };
  /** requests per minute per key (default: no limit) */
  rateLimit?: number;
  bodyLimit?: number;
  maxTexts?: number;
  maxChars?: number;
  maxBatchTokens?: number;
  maxWaitMs?: number;
  maxConcurrentRequests?: number;
  queueTimeoutMs?: number;
  workers?: number;
  /** engine threads per worker (default: every core with one worker, 1 each with several) */
  threads?: number;
  maxLength?: number;
  auditLog?: string;
  auditSecret?: string;
  /** de-identify texts before the model sees them */
  deid?: boolean;
  corsOrigin?: string[];
  /** the browser UI at / (default true) */
  ui?: boolean;
  /** a run folder whose cases the UI's review page shows */
  review?: string;
  /** the review database (default REVIEW/reviews.sqlite) */
  reviewDb?: string;
  logLevel?: string;
  /** where JSON logs go (default stdout) */
  logStream?: NodeJS.WritableStream;
  driftWindow?: number;
}

export const SERVE_DEFAULTS = {
  host: '127.0.0.1', port: 8080, bodyLimit: 1 << 20, maxTexts: 64, maxChars: 20000, maxBatchTokens: 8192, maxWaitMs: 5,
  maxConcurrentRequests: 512, queueTimeoutMs: 30000, workers: 1, logLevel: 'info', driftWindow: 1000,
};

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal | null;
    audit?: Partial<AuditEntry>;
  }
}

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
function checkOptions(o: ServeOptions & typeof SERVE_DEFAULTS): void {
  if (!o.models.length) throw fail('E_USAGE', 'give at least one --model NAME=DIR (or --model DIR)');
  const names = new Set<string>();
  for (const m of o.models) {
    if (!MODEL_NAME.test(m.name)) throw fail('E_USAGE', `model name "${m.name}" must be 1-64 letters, digits or _.- (--model NAME=DIR)`);
    if (names.has(m.name)) throw fail('E_USAGE', `model name ${m.name} is given twice`);
    names.add(m.name);
  }
  if (o.auth === false && !isLoopback(o.host)) {
    throw fail('E_USAGE', `--no-auth is only allowed on a loopback address (127.0.0.1, ::1); ${o.host} is reachable from other machines: create a key with \`medtune serve keys add\``);
  }
  if (o.auth !== false && !o.keys) throw fail('E_USAGE', 'serving needs API keys: pass --keys FILE (create one with `medtune serve keys add NAME --keys FILE`), or --no-auth on a loopback address');
  const threads = threadsOf(o);
  if (o.workers * threads > CORES) throw fail('E_USAGE', `--workers ${o.workers} × --threads ${threads} is more than the ${CORES} cores of this machine; lower one of them`);
  // The native engine's thread pool is one per process: with several workers, each computes on its own thread.
  if (o.workers > 1 && threads > 1) throw fail('E_USAGE', `with --workers ${o.workers}, each worker uses one engine thread (--threads 1); for more threads per model, run one worker per process and more processes`);
  if (!!o.tls?.cert !== !!o.tls?.key) throw fail('E_USAGE', '--tls-cert and --tls-key go together');
}

export async function createServer(options: ServeOptions): Promise<MedtuneServer> {
  const o = { ...SERVE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as ServeOptions & typeof SERVE_DEFAULTS;
  checkOptions(o);
  const threads = threadsOf(o);
  const keys = o.auth === false ? null : new KeyStore(o.keys!);
  const audit = o.auditLog ? new AuditLog(o.auditLog, o.auditSecret ?? '') : null;
  if (audit && !o.auditSecret) throw fail('E_USAGE', '--audit-log needs a secret (MEDTUNE_AUDIT_SECRET or --audit-secret-file)');
  let models = await describeAll(o);
  const metrics = new ServerMetrics(o.driftWindow);
  metrics.setModels(models);
  const workerConfig = () => ({ models: o.models.map((m) => ({ name: m.name, dir: m.dir, maxLength: o.maxLength })), threads, deid: !!o.deid });
  let pool: InferencePool | null = null;
  let ready = false;
  let closing = false;
  let inFlight = 0;
  const batcher = new Batcher(() => pool, {
    maxBatchTokens: o.maxBatchTokens, maxWaitMs: o.maxWaitMs, queueTimeoutMs: o.queueTimeoutMs, maxLength: (m) => models.get(m)?.maxLength ?? 512,
  });
  batcher.onBatch = (s) => {
    metrics.batchSize.observe(s.size);
    metrics.batchTokens.observe(s.tokens);
    metrics.inference.observe({ model: s.model }, s.inferMs / 1000);
    for (const q of s.queueMs) metrics.queue.observe(q / 1000);
  };
  const startPool = async (): Promise<InferencePool> => {
    const p = new InferencePool(workerConfig(), o.workers);
    p.onIdle = () => batcher.schedule();
    try {
      await p.start();
    } catch (e) {
      await p.close();
      throw e;
    }
    return p;
  };

  const app = Fastify({
    bodyLimit: o.bodyLimit,
    ...(o.tls ? { https: { cert: readFileSync(o.tls.cert), key: readFileSync(o.tls.key) } } : {}),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
    },
    logger: {
      level: o.logLevel,
      ...(o.logStream ? { stream: o.logStream } : {}),
      // never bodies, query strings or headers: a request is its method, route and id; a response its status
      // (an error's own message may quote input, e.g. JSON.parse's: only medtune's messages are logged, and stacks
      // without their first line)
      serializers: {
        req: (req: { method: string; url: string; id: string }) => ({ method: req.method, url: req.url.split('?')[0], id: req.id }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: (e: FastifyError) => ({
          type: e.name, code: e.code, message: e instanceof MedtuneError ? e.message : '(not logged: may quote input)',
          stack: (e.stack ?? '').split('\n').slice(1).join('\n'),
        }),
      },
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  // set before any plugin is registered, so that every context (e.g. the /docs plugin's) inherits them
  app.setErrorHandler((err: FastifyError | MedtuneError, req, reply) => {
    const { status, code, message } = errorReply(err);
    if (status >= 500 && code === 'E_INTERNAL') req.log.error({ err }, 'internal error');
    reply.status(status).send({ error: { code, message } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { code: 'E_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}; see /docs` } });
  });
  // JSON only: a text/plain body is 415, not a string the schema then rejects
  app.removeContentTypeParser('text/plain');
  await app.register(helmet, {
    // strict: no inline scripts or styles anywhere (the UI sets styles through the CSSOM only)
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'script-src': ["'self'"], 'style-src': ["'self'"], 'img-src': ["'self'", 'data:'], 'connect-src': ["'self'"],
        'upgrade-insecure-requests': o.tls ? [] : null,
      },
    },
    strictTransportSecurity: o.tls ? undefined : false,
  });
  if (o.corsOrigin?.length) await app.register(cors, { origin: o.corsOrigin });
  await app.register(swagger, {
    openapi: {
      info: { title: 'medtune diagnosis API', version: '1', description: 'Decision support for clinicians, not a diagnosis; not clinically validated.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const openRoute = (url: string) => url.startsWith('/health/') || (o.publicMetrics && (url === '/metrics' || url.startsWith('/docs')))
    || (o.ui !== false && (url === '/' || url === '/favicon.ico' || url.startsWith('/ui/')));
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    req.audit = { time: new Date().toISOString(), request_id: req.id, route: req.routeOptions.url ?? req.url.split('?')[0] };
    if (!keys || openRoute(req.url.split('?')[0]!)) return;
    const h = req.headers.authorization;
    const token = typeof h === 'string' && /^Bearer\s+/i.test(h) ? h.replace(/^Bearer\s+/i, '').trim() : undefined;
    req.principal = keys.verify(token);
    if (!req.principal) {
      reply.header('www-authenticate', 'Bearer');
      throw fail('E_AUTH', token ? 'the API key is not valid (wrong or revoked)' : 'an API key is required: send Authorization: Bearer KEY');
    }
  });
  if (o.rateLimit) {
    await app.register(rateLimit, {
      max: o.rateLimit, timeWindow: 60_000, hook: 'preHandler',
      keyGenerator: (req) => req.principal?.name ?? req.ip,
      allowList: (req) => req.url.startsWith('/health/'),
      errorResponseBuilder: (_req, ctx) => fail('E_RATE_LIMIT', `more than ${ctx.max} requests per minute from this key; retry in ${ctx.after}`),
    });
  }

  // while shutting down, answers close their connection, so that keep-alive clients do not hold the exit back
  app.addHook('onSend', async (_req, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
    if (audit && !req.url.startsWith('/health/') && req.url !== '/metrics' && !req.url.startsWith('/docs')) {
      audit.write({ ...req.audit, key: req.principal?.name ?? null, status: reply.statusCode, latency_ms: Math.round(reply.elapsedTime * 10) / 10 } as AuditEntry);
    }
  });

  /** Queues the texts, builds one classification per text, records metrics and the audit entry. */
  async function diagnose(req: FastifyRequest, reply: FastifyReply, name: string, body: DiagnoseBody): Promise<{ info: ModelInfo; results: (Classification & { deid_entities?: number })[] }> {
    if (closing) throw fail('E_SHUTTING_DOWN', 'the server is shutting down; retry on another replica');
    if (!ready) throw fail('E_NOT_READY', 'the models are still loading; retry shortly (GET /health/ready)');
    const info = models.get(name);
    if (!info) throw fail('E_UNKNOWN_MODEL', `no model named ${name}; served: ${[...models.keys()].join(', ')}`);
    const texts = textsOf(body, o);
    if (body.top_k !== undefined && body.top_k > info.labels.length) throw fail('E_BAD_REQUEST', `top_k ${body.top_k} is more than the model's ${info.labels.length} labels`);
    if (inFlight >= o.maxConcurrentRequests) throw fail('E_QUEUE_FULL', `the server is handling ${o.maxConcurrentRequests} requests (--max-concurrent-requests); retry later`);
    if (audit) req.audit = { ...req.audit, model: { name, sha256: info.identity.sha256 }, inputs: texts.map((t) => audit.hmac(t)) };
    inFlight++;
    metrics.inFlight.set(inFlight);
    metrics.queueDepth.set(batcher.depth + texts.length);
    let raw: TextResult[];
    try {
      raw = await batcher.submit(name, texts);
    } finally {
      inFlight--;
      metrics.inFlight.set(inFlight);
      metrics.queueDepth.set(batcher.depth);
    }
    const settings = body.abstain_below !== undefined ? { ...info.settings, abstainBelow: body.abstain_below } : info.settings;
    const results = raw.map((r) => {
      metrics.observePrediction(name, decideFromProbabilities(r.probabilities, settings), info.labels, r.cut > 0);
      const c = classificationFrom(r.probabilities, r.cut, settings, { topK: body.top_k });
      return { ...c, ...(o.deid ? { deid_entities: r.entities } : {}) };
    });
    reply.header('x-queue-time', Math.max(...raw.map((r) => r.queueMs)).toFixed(1));
    reply.header('x-inference-time', Math.max(...raw.map((r) => r.inferMs)).toFixed(1));
    if (req.audit) req.audit.results = results.map((r) => ({ label: r.label, score: r.score, ...(r.abstain ? { abstain: true } : {}) }));
    return { info, results };
  }

  const v1 = async (req: FastifyRequest<{ Body: DiagnoseBody; Params: { name?: string } }>, reply: FastifyReply) => {
    const name = req.params.name ?? o.models[0]!.name;
    const { info, results } = await diagnose(req, reply, name, req.body);
    return {
      request_id: req.id,
      model: { name, version: info.identity.version, sha256: info.identity.sha256 },
      results: results.map(({ probabilities, top_k, ...rest }) => (top_k ? { ...rest, top_k } : { ...rest, probabilities })),
    };
  };
  const diagnoseSchema = (summary: string, params?: object) => ({
    summary, body: diagnoseBody, ...(params ? { params } : {}), response: { 200: diagnoseResponse, '4xx': errorSchema, '5xx': errorSchema },
  });
  app.post('/v1/diagnose', { schema: diagnoseSchema('classify one or more texts with the default model') }, v1);
  app.post('/v1/models/:name/diagnose', { schema: diagnoseSchema('classify with a named model', { type: 'object', properties: { name: { type: 'string' } } }) }, v1);
  app.post('/diagnose', { schema: { summary: 'the seed\'s shape: { text } → { diagnosis: [{ label, score }] }', body: seedBody, response: { 200: seedResponse, '4xx': errorSchema, '5xx': errorSchema } } },
    async (req: FastifyRequest<{ Body: { text: string; top_k?: number } }>, reply) => {
      const topK = req.body.top_k ?? 3;
      const { results } = await diagnose(req, reply, o.models[0]!.name, { text: req.body.text, top_k: Math.min(topK, models.get(o.models[0]!.name)!.labels.length) });
      return { diagnosis: results[0]!.top_k!.map(({ label, score }) => ({ label, score })) };
    });

  app.get('/v1/models', { schema: { summary: 'served models, their labels, monitoring and the server limits', response: { 200: modelsResponse } } }, async () => ({
    default_model: o.models[0]!.name,
    ready,
    models: [...models].map(([name, info]) => ({
      name, version: info.identity.version, sha256: info.identity.sha256, labels: info.labels, problem_type: info.problemType, max_length: info.maxLength,
      temperature: info.settings.temperature ?? 1, abstain_below: info.settings.abstainBelow ?? null,
      monitoring: { reference: !!info.metadata.reference, drift: metrics.driftOf(name), drift_alert_at: DRIFT_ALERT },
    })),
    limits: {
      max_texts: o.maxTexts, max_chars: o.maxChars, max_batch_tokens: o.maxBatchTokens, max_wait_ms: o.maxWaitMs,
      max_concurrent_requests: o.maxConcurrentRequests, queue_timeout_ms: o.queueTimeoutMs, body_limit: o.bodyLimit,
      rate_limit_per_minute: o.rateLimit ?? null, workers: o.workers, threads_per_worker: threads, deid: !!o.deid,
    },
  }));
  app.get('/health/live', { schema: { summary: 'the process is up' } }, async () => ({ status: 'live' }));
  app.get('/health/ready', { schema: { summary: 'every model is loaded' } }, async (_req, reply) => {
    if (!ready || closing) reply.status(503);
    return { status: closing ? 'shutting_down' : ready ? 'ready' : 'loading' };
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  const reload = async (): Promise<ModelInfo[]> => {
    const next = await describeAll(o);
    const fresh = await startPool();
    const old = pool;
    models = next;
    pool = fresh;
    metrics.setModels(models);
    batcher.schedule();
    if (old) void old.close();
    return [...models.values()];
  };
  app.post('/v1/admin/reload', { schema: { summary: 'load the model folders again and swap them in (admin keys)' } }, async (req) => {
    if (keys && !req.principal?.admin) throw fail('E_FORBIDDEN', 'reloading needs an admin key (medtune serve keys add NAME --admin)');
    const infos = await reload();
    req.log.info({ models: infos.map((i) => i.identity.version) }, 'models reloaded');
    return { reloaded: [...models.keys()], models: [...models].map(([name, i]) => ({ name, version: i.identity.version, sha256: i.identity.sha256 })) };
  });

  const review = o.review ? openReview(o.review, o.reviewDb) : null;
  registerUiRoutes(app, {
    models: () => models, defaultModel: o.models[0]!.name, pool: () => pool, ready: () => ready, maxChars: o.maxChars, review,
  });
  if (o.ui !== false) await registerStaticUi(app);

  const readyPromise = startPool().then((p) => {
    pool = p;
    ready = true;
    batcher.schedule();
  });
  readyPromise.catch(() => {});

  return {
    app,
    ready: readyPromise,
    isReady: () => ready,
    models: () => models,
    reload,
    listen: async () => app.listen({ host: o.host, port: o.port }),
    close: async () => {
      closing = true;
      await app.close();
      batcher.close();
      await readyPromise.catch(() => {});
      if (pool) await pool.close();
      await audit?.close();
      review?.store.close();
    },
  };
}

interface DiagnoseBody {
  text?: string;
  texts?: string[];
  top_k?: number;
  abstain_below?: number | null;
}

/** The texts of a request, checked against the limits (never quoting them). */
function textsOf(body: DiagnoseBody, o: { maxTexts: number; maxChars: number }): string[] {
  if ((body.text === undefined) === (body.texts === undefined)) throw fail('E_BAD_REQUEST', 'send either "text" (one string) or "texts" (a list of strings)');
  const texts = body.texts ?? [body.text!];
  if (!texts.length) throw fail('E_BAD_REQUEST', '"texts" is empty');
  if (texts.length > o.maxTexts) throw fail('E_TOO_LARGE', `${texts.length} texts in one request; the limit is ${o.maxTexts} (--max-texts)`);
  texts.forEach((t, i) => {
    if (!t.trim()) throw fail('E_BAD_REQUEST', body.texts ? `text ${i + 1} is empty` : 'the text is empty');
    if (t.length > o.maxChars) throw fail('E_TOO_LARGE', `${body.texts ? `text ${i + 1}` : 'the text'} has ${t.length} characters; the limit is ${o.maxChars} (--max-chars)`);
  });
  return texts;
}

/** Describes every served model (config, metadata, identity); refuses models the server cannot serve. */
async function describeAll(o: ServeOptions): Promise<Map<string, ModelInfo>> {
  const out = new Map<string, ModelInfo>();
  for (const m of o.models) {
    const info = await describeModel(m.dir, { maxLength: o.maxLength });
    if (info.problemType === 'regression') throw fail('E_MODEL_UNSUPPORTED', `${m.dir} is a regression model; medtune serve serves classifiers`);
    out.set(m.name, info);
  }
  return out;
}

/** The catalogue's status and code for anything a route threw; Fastify's own errors get plain words. */
export function errorReply(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof MedtuneError) return { status: err.httpStatus, code: err.code, message: err.message };
  const e = err as FastifyError & { validation?: unknown };
  if (e.validation) return { status: 400, code: 'E_BAD_REQUEST', message: `the request does not match the schema: ${e.message}` };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'E_TOO_LARGE', message: 'the body is larger than the server accepts (--body-limit)' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'E_UNSUPPORTED_MEDIA', message: 'send the body as application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'E_BAD_REQUEST', message: 'the body is empty; send a JSON object' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'E_BAD_REQUEST', message: 'the body is not valid JSON' };
    default:
      break;
  }
  // JSON.parse's message quotes the body: never pass it on
  if (e.statusCode === 400 && e instanceof SyntaxError) return { status: 400, code: 'E_BAD_REQUEST', message: 'the body is not valid JSON' };
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.statusCode === 404 ? 'E_NOT_FOUND' : e.statusCode === 429 ? 'E_RATE_LIMIT' : 'E_BAD_REQUEST';
    return { status: e.statusCode, code, message: (ERROR_CATALOGUE[code as ErrorCode]?.when ?? 'bad request').replace(/^HTTP: /, '') };
  }
  return { status: 500, code: 'E_INTERNAL', message: 'internal error; the request id is in the x-request-id header' };
}
