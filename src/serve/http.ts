/**
 * The HTTP side of the server: Fastify with PHI-free logging (route patterns, never paths or queries), one error
 * format, connection time-outs and caps (connections.ts), security headers (strict CSP), OpenAPI docs, API-key
 * authentication on every route but the open ones (keys.ts: throttled failures, scrypt off the event loop), per-key
 * rate limits, admission lanes for the routes that name one (`config: { lane }`), a cancel signal per request (its
 * client went away, or its lane's deadline passed), and the hooks that count requests and write the audit log
 * before the answer is sent (no entry, no answer: 503 E_AUDIT_UNAVAILABLE).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import helmet from '@fastify/helmet';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { MedtuneError, type ErrorCode } from '../common/errors.js';
import type { AuditEntry } from './audit.js';
import { capConnections, timeoutOptions, type ConnectionLimits } from './connections.js';
import type { Principal } from './keys.js';
import { connectionCap } from './options.js';
import type { LaneName, ServerState } from './state.js';
import { errorReply } from './error-reply.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal | null;
    audit?: Partial<AuditEntry>;
    /** aborted when the client goes away (E_CANCELLED) or the lane's deadline passes (E_QUEUE_TIMEOUT) */
    cancel?: AbortController;
  }
  interface FastifyContextConfig {
    /** the admission lane of the route (state.ts): its concurrency, queue and deadline */
    lane?: LaneName;
  }
}

const fail = (code: ErrorCode, msg: string) => new MedtuneError(msg, code);

/** What the logs and the audit log call a request's route: its pattern, never the path that was asked for. */
export const routeOf = (req: FastifyRequest) => req.routeOptions?.url ?? '(no route)';

/** The routes without an audit entry: health, metrics and the API docs. */
const unaudited = (route: string) => route.startsWith('/health/') || route === '/metrics' || route.startsWith('/docs');

/** The connection limits of the options: the cap kept below the file limit; one address may hold half of it. */
export function connectionLimits(o: ServerState['o']): ConnectionLimits {
  const maxConnections = connectionCap(o);
  return { ...o, maxConnections, maxConnectionsPerClient: o.maxConnectionsPerClient ?? Math.ceil(maxConnections / 2) };
}

export async function buildHttp(st: ServerState): Promise<FastifyInstance> {
  const limits = connectionLimits(st.o);
  const timeouts = timeoutOptions(limits);
  const app = Fastify({
    bodyLimit: st.o.bodyLimit,
    requestTimeout: limits.bodyTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    ...(st.o.tls
      ? { https: { cert: readFileSync(st.o.tls.cert), key: readFileSync(st.o.tls.key), ...timeouts } }
      : { http: timeouts }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
    },
    logger: {
      level: st.o.logLevel,
      ...(st.o.logStream ? { stream: st.o.logStream } : {}),
      // never bodies, paths, query strings or headers: a request is its method, route pattern and id; a response
      // its status (an error's own message may quote input, e.g. JSON.parse's: only medtune's messages are logged,
      // and stacks without their first line)
      serializers: {
        req: (req: FastifyRequest) => ({ method: req.method, route: routeOf(req), id: req.id }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: (e: FastifyError) => ({
          type: e.name,
          code: e.code,
          message: e instanceof MedtuneError ? e.message : '(not logged: may quote input)',
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
  app.setNotFoundHandler((_req, reply) => {
    // (the path asked for is never quoted: it may be anything, patient text included)
    reply.status(404).send({ error: { code: 'E_NOT_FOUND', message: 'no route for this method and path; see /docs' } });
  });
  // JSON only: a text/plain body is 415, not a string the schema then rejects
  app.removeContentTypeParser('text/plain');
  await app.register(helmet, {
    // strict: no inline scripts or styles anywhere (the UI sets styles through the CSSOM only)
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'script-src': ["'self'"],
        'style-src': ["'self'"],
        'img-src': ["'self'", 'data:'],
        'connect-src': ["'self'"],
        'upgrade-insecure-requests': st.o.tls ? [] : null,
      },
    },
    strictTransportSecurity: st.o.tls ? undefined : false,
  });
  if (st.o.corsOrigin?.length) await app.register(cors, { origin: st.o.corsOrigin });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'medtune diagnosis API',
        version: '1',
        description: 'Decision support for clinicians, not a diagnosis; not clinically validated.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const openRoute = (url: string) =>
    url.startsWith('/health/') ||
    (st.o.publicMetrics && (url === '/metrics' || url.startsWith('/docs'))) ||
    (st.o.ui !== false && (url === '/' || url === '/favicon.ico' || url.startsWith('/ui/')));
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    req.audit = { time: new Date().toISOString(), request_id: req.id, route: routeOf(req) };
    req.cancel = cancelOnClose(reply, () => st.metrics.cancelled.inc({ route: routeOf(req) }));
    const open = openRoute(req.url.split('?')[0]!);
    if (!open) st.admitRequest();
    if (st.keys && !open) await authenticate(st, req, reply);
    if (st.audit?.failure && !unaudited(routeOf(req))) {
      reply.header('retry-after', '5');
      throw fail('E_AUDIT_UNAVAILABLE', 'the audit log cannot be written (GET /health/ready says why); retry later');
    }
  });
  if (st.o.rateLimit) {
    await app.register(rateLimit, {
      max: st.o.rateLimit,
      timeWindow: 60_000,
      hook: 'preHandler',
      keyGenerator: (req) => req.principal?.name ?? req.ip,
      allowList: (req) => req.url.startsWith('/health/'),
      errorResponseBuilder: (_req, ctx) =>
        fail('E_RATE_LIMIT', `more than ${ctx.max} requests per minute from this key; retry in ${ctx.after}`),
    });
  }
  admission(app, st);

  // while shutting down, answers close their connection, so that keep-alive clients do not hold the exit back
  app.addHook('onSend', async (req, reply, payload) => {
    if (st.closing) reply.header('connection', 'close');
    return st.audit && !unaudited(routeOf(req)) ? audited(st, req, reply, payload) : payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    st.metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    st.metrics.duration.observe({ route }, reply.elapsedTime / 1000);
  });
  const closeQuiet = capConnections(app.server, limits, st.metrics);
  app.addHook('preClose', async () => closeQuiet());

  return app;
}

/** A request's cancel signal: aborted (E_CANCELLED) when its connection closes before the answer is sent. */
function cancelOnClose(reply: FastifyReply, onGone: () => void): AbortController {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (reply.raw.writableFinished) return;
    onGone();
    ac.abort(fail('E_CANCELLED', 'the client closed the connection before the answer; the request was cancelled'));
  });
  return ac;
}

/** The key of the request: its owner, or 401 (the same answer for every bad key) or 429 (too many failures). */
async function authenticate(st: ServerState, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const h = req.headers.authorization;
  const token = typeof h === 'string' && /^Bearer\s+/i.test(h) ? h.replace(/^Bearer\s+/i, '').trim() : undefined;
  const r = await st.keys!.verify(token, req.ip);
  if ('principal' in r) {
    req.principal = r.principal;
    return;
  }
  st.metrics.authRefusals.inc({ reason: r.refused });
  if (r.refused === 'throttled') {
    reply.header('retry-after', String(r.retryAfterS));
    throw fail(
      'E_AUTH_THROTTLED',
      `too many failed key checks from this address or for this key; retry in ${r.retryAfterS} s`,
    );
  }
  reply.header('www-authenticate', 'Bearer');
  throw fail(
    'E_AUTH',
    token ? 'the API key is not valid (wrong or revoked)' : 'an API key is required: send Authorization: Bearer KEY',
  );
}

/**
 * The lanes: a route whose config names a lane waits for a slot of it (E_QUEUE_FULL, E_QUEUE_TIMEOUT) and gets the
 * lane's deadline on its cancel signal; the slot is released when the connection's answer ends, however it ends.
 */
function admission(app: FastifyInstance, st: ServerState): void {
  app.addHook('preHandler', async (req, reply) => {
    const lane = req.routeOptions.config?.lane;
    if (!lane) return;
    const ac = req.cancel!;
    const ms = st.deadlines[lane];
    const deadline = setTimeout(
      () => ac.abort(fail('E_QUEUE_TIMEOUT', `the request took longer than its deadline of ${ms} ms; retry later`)),
      ms,
    );
    reply.raw.once('close', () => clearTimeout(deadline));
    const release = await st.lanes[lane].acquire(ac.signal);
    if (reply.raw.closed) release();
    else reply.raw.once('close', release);
  });
}

/**
 * Writes the request's audit entry before its answer goes out; when it cannot be written, the answer becomes
 * 503 E_AUDIT_UNAVAILABLE (fail closed) and the entry waits in the audit log's backlog.
 */
async function audited(st: ServerState, req: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  const entry = {
    ...req.audit,
    key: req.principal?.name ?? null,
    status: reply.statusCode,
    latency_ms: Math.round(reply.elapsedTime * 10) / 10,
  } as AuditEntry;
  try {
    await st.audit!.write(entry);
    return payload;
  } catch (e) {
    (payload as { destroy?: () => void } | null)?.destroy?.(); // a file stream that will not be sent
    const { status, code, message } = errorReply(e);
    reply.status(status).header('content-type', 'application/json; charset=utf-8').header('retry-after', '5');
    reply.removeHeader('content-length');
    return JSON.stringify({ error: { code, message } });
  }
}
