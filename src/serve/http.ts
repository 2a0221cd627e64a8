/**
 * The HTTP side of the server: Fastify with PHI-free logging, one error format, security headers (strict CSP),
 * OpenAPI docs, API-key authentication on every route but the open ones, per-key rate limits, and the hooks that
 * count requests and write the audit log.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import helmet from '@fastify/helmet';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { MedtuneError } from '../common/errors.js';
import type { AuditEntry } from './audit.js';
import type { Principal } from './keys.js';
import type { ServerState } from './state.js';
import { errorReply } from './error-reply.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal | null;
    audit?: Partial<AuditEntry>;
  }
}

const fail = (code: 'E_AUTH' | 'E_RATE_LIMIT', msg: string) => new MedtuneError(msg, code);

export async function buildHttp(st: ServerState): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: st.o.bodyLimit,
    ...(st.o.tls ? { https: { cert: readFileSync(st.o.tls.cert), key: readFileSync(st.o.tls.key) } } : {}),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w-]{1,64}$/.test(given) ? given : randomUUID();
    },
    logger: {
      level: st.o.logLevel,
      ...(st.o.logStream ? { stream: st.o.logStream } : {}),
      // never bodies, query strings or headers: a request is its method, route and id; a response its status
      // (an error's own message may quote input, e.g. JSON.parse's: only medtune's messages are logged, and stacks
      // without their first line)
      serializers: {
        req: (req: { method: string; url: string; id: string }) => ({
          method: req.method,
          url: req.url.split('?')[0],
          id: req.id,
        }),
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
  app.setNotFoundHandler((req, reply) => {
    reply
      .status(404)
      .send({ error: { code: 'E_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}; see /docs` } });
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
    req.audit = {
      time: new Date().toISOString(),
      request_id: req.id,
      route: req.routeOptions.url ?? req.url.split('?')[0],
    };
    if (!st.keys || openRoute(req.url.split('?')[0]!)) return;
    const h = req.headers.authorization;
    const token = typeof h === 'string' && /^Bearer\s+/i.test(h) ? h.replace(/^Bearer\s+/i, '').trim() : undefined;
    req.principal = st.keys.verify(token);
    if (!req.principal) {
      reply.header('www-authenticate', 'Bearer');
      throw fail(
        'E_AUTH',
        token
          ? 'the API key is not valid (wrong or revoked)'
          : 'an API key is required: send Authorization: Bearer KEY',
      );
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

  // while shutting down, answers close their connection, so that keep-alive clients do not hold the exit back
  app.addHook('onSend', async (_req, reply) => {
    if (st.closing) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    st.metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    st.metrics.duration.observe({ route }, reply.elapsedTime / 1000);
    if (st.audit && !req.url.startsWith('/health/') && req.url !== '/metrics' && !req.url.startsWith('/docs')) {
      st.audit.write({
        ...req.audit,
        key: req.principal?.name ?? null,
        status: reply.statusCode,
        latency_ms: Math.round(reply.elapsedTime * 10) / 10,
      } as AuditEntry);
    }
  });

  return app;
}
