/**
 * The diagnosis API: POST /v1/diagnose, /v1/models/NAME/diagnose and the seed's /diagnose (through the batcher and
 * the inference workers; results built by the shared classificationFrom), GET /v1/models, the health routes,
 * /metrics and the admin reload.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MedtuneError, type ErrorCode } from '../common/errors.js';
import { classificationFrom, type Classification } from '../infer/predictor.js';
import { decideFromProbabilities } from '../infer/decision.js';
import { DRIFT_ALERT } from '../infer/drift.js';
import type { ModelInfo } from '../infer/model-info.js';
import type { TextResult } from './batcher.js';
import type { ServerState } from './state.js';
import { diagnoseBody, diagnoseResponse, errorSchema, modelsResponse, seedBody, seedResponse } from './schemas.js';

const fail = (code: ErrorCode, msg: string) => new MedtuneError(msg, code);

export interface DiagnoseBody {
  text?: string;
  texts?: string[];
  top_k?: number;
  abstain_below?: number | null;
}

/** The texts of a request, checked against the limits (never quoting them). */
function textsOf(body: DiagnoseBody, o: { maxTexts: number; maxChars: number }): string[] {
  if ((body.text === undefined) === (body.texts === undefined))
    throw fail('E_BAD_REQUEST', 'send either "text" (one string) or "texts" (a list of strings)');
  const texts = body.texts ?? [body.text!];
  if (!texts.length) throw fail('E_BAD_REQUEST', '"texts" is empty');
  if (texts.length > o.maxTexts)
    throw fail('E_TOO_LARGE', `${texts.length} texts in one request; the limit is ${o.maxTexts} (--max-texts)`);
  texts.forEach((t, i) => {
    if (!t.trim()) throw fail('E_BAD_REQUEST', body.texts ? `text ${i + 1} is empty` : 'the text is empty');
    if (t.length > o.maxChars)
      throw fail(
        'E_TOO_LARGE',
        `${body.texts ? `text ${i + 1}` : 'the text'} has ${t.length} characters; ` +
          `the limit is ${o.maxChars} (--max-chars)`,
      );
  });
  return texts;
}

/** Queues the texts, builds one classification per text, records metrics and the audit entry. */
async function diagnose(
  st: ServerState,
  req: FastifyRequest,
  reply: FastifyReply,
  name: string,
  body: DiagnoseBody,
): Promise<{ info: ModelInfo; results: (Classification & { deid_entities?: number })[] }> {
  const info = st.model(name);
  const { o, metrics, batcher, audit } = st;
  const texts = textsOf(body, o);
  if (body.top_k !== undefined && body.top_k > info.labels.length)
    throw fail('E_BAD_REQUEST', `top_k ${body.top_k} is more than the model's ${info.labels.length} labels`);
  if (st.inFlight >= o.maxConcurrentRequests)
    throw fail(
      'E_QUEUE_FULL',
      `the server is handling ${o.maxConcurrentRequests} requests (--max-concurrent-requests); retry later`,
    );
  if (audit)
    req.audit = {
      ...req.audit,
      model: { name, sha256: info.identity.sha256 },
      inputs: texts.map((t) => audit.hmac(t)),
    };
  st.inFlight++;
  metrics.inFlight.set(st.inFlight);
  metrics.queueDepth.set(batcher.depth + texts.length);
  let raw: TextResult[];
  try {
    raw = await batcher.submit(name, texts);
  } finally {
    st.inFlight--;
    metrics.inFlight.set(st.inFlight);
    metrics.queueDepth.set(batcher.depth);
  }
  const settings =
    body.abstain_below !== undefined ? { ...info.settings, abstainBelow: body.abstain_below } : info.settings;
  const results = raw.map((r) => {
    metrics.observePrediction(name, decideFromProbabilities(r.probabilities, settings), info.labels, r.cut > 0);
    const c = classificationFrom(r.probabilities, r.cut, settings, { topK: body.top_k });
    return { ...c, ...(o.deid ? { deid_entities: r.entities } : {}) };
  });
  reply.header('x-queue-time', Math.max(...raw.map((r) => r.queueMs)).toFixed(1));
  reply.header('x-inference-time', Math.max(...raw.map((r) => r.inferMs)).toFixed(1));
  if (req.audit)
    req.audit.results = results.map((r) => ({
      label: r.label,
      score: r.score,
      ...(r.abstain ? { abstain: true } : {}),
    }));
  return { info, results };
}

export function registerApiRoutes(app: FastifyInstance, st: ServerState): void {
  const { o } = st;
  const v1 = async (req: FastifyRequest<{ Body: DiagnoseBody; Params: { name?: string } }>, reply: FastifyReply) => {
    const name = req.params.name ?? st.defaultModel;
    const { info, results } = await diagnose(st, req, reply, name, req.body);
    return {
      request_id: req.id,
      model: { name, version: info.identity.version, sha256: info.identity.sha256 },
      results: results.map(({ probabilities, top_k, ...rest }) =>
        top_k ? { ...rest, top_k } : { ...rest, probabilities },
      ),
    };
  };
  const diagnoseSchema = (summary: string, params?: object) => ({
    summary,
    body: diagnoseBody,
    ...(params ? { params } : {}),
    response: { 200: diagnoseResponse, '4xx': errorSchema, '5xx': errorSchema },
  });
  app.post('/v1/diagnose', { schema: diagnoseSchema('classify one or more texts with the default model') }, v1);
  app.post(
    '/v1/models/:name/diagnose',
    {
      schema: diagnoseSchema('classify with a named model', {
        type: 'object',
        properties: { name: { type: 'string' } },
      }),
    },
    v1,
  );
  app.post(
    '/diagnose',
    {
      schema: {
        summary: "the seed's shape: { text } → { diagnosis: [{ label, score }] }",
        body: seedBody,
        response: { 200: seedResponse, '4xx': errorSchema, '5xx': errorSchema },
      },
    },
    async (req: FastifyRequest<{ Body: { text: string; top_k?: number } }>, reply) => {
      const topK = req.body.top_k ?? 3;
      const { results } = await diagnose(st, req, reply, st.defaultModel, {
        text: req.body.text,
        top_k: Math.min(topK, st.model(st.defaultModel).labels.length),
      });
      return { diagnosis: results[0]!.top_k!.map(({ label, score }) => ({ label, score })) };
    },
  );

  app.get(
    '/v1/models',
    {
      schema: {
        summary: 'served models, their labels, monitoring and the server limits',
        response: { 200: modelsResponse },
      },
    },
    async () => ({
      default_model: st.defaultModel,
      ready: st.ready,
      models: [...st.models].map(([name, info]) => ({
        name,
        version: info.identity.version,
        sha256: info.identity.sha256,
        labels: info.labels,
        problem_type: info.problemType,
        max_length: info.maxLength,
        temperature: info.settings.temperature ?? 1,
        abstain_below: info.settings.abstainBelow ?? null,
        monitoring: {
          reference: !!info.metadata.reference,
          drift: st.metrics.driftOf(name),
          drift_alert_at: DRIFT_ALERT,
        },
      })),
      limits: {
        max_texts: o.maxTexts,
        max_chars: o.maxChars,
        max_batch_tokens: o.maxBatchTokens,
        max_wait_ms: o.maxWaitMs,
        max_concurrent_requests: o.maxConcurrentRequests,
        queue_timeout_ms: o.queueTimeoutMs,
        body_limit: o.bodyLimit,
        rate_limit_per_minute: o.rateLimit ?? null,
        workers: o.workers,
        threads_per_worker: st.threads,
        deid: !!o.deid,
      },
    }),
  );
  app.get('/health/live', { schema: { summary: 'the process is up' } }, async () => ({ status: 'live' }));
  app.get('/health/ready', { schema: { summary: 'every model is loaded' } }, async (_req, reply) => {
    if (!st.ready || st.closing) reply.status(503);
    return { status: st.closing ? 'shutting_down' : st.ready ? 'ready' : 'loading' };
  });
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    reply.type(st.metrics.registry.contentType);
    return st.metrics.registry.metrics();
  });

  app.post(
    '/v1/admin/reload',
    { schema: { summary: 'load the model folders again and swap them in (admin keys)' } },
    async (req) => {
      if (st.keys && !req.principal?.admin)
        throw fail('E_FORBIDDEN', 'reloading needs an admin key (medtune serve keys add NAME --admin)');
      const infos = await st.reload();
      req.log.info({ models: infos.map((i) => i.identity.version) }, 'models reloaded');
      return {
        reloaded: [...st.models.keys()],
        models: [...st.models].map(([name, i]) => ({ name, version: i.identity.version, sha256: i.identity.sha256 })),
      };
    },
  );
}
