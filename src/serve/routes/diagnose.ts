/**
 * Diagnosis: POST /v1/diagnose, /v1/models/NAME/diagnose and the seed's /diagnose. Texts go through the batcher to
 * the inference workers; each answer is built from the Predictor's decision made there (classificationOf), so the
 * decision for a text is made once and every route gives the same one: label, abstention and its reason, whether the
 * note is in scope. A text without a letter or digit is refused (400) before it is queued.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MedtuneError } from '../../common/errors.js';
import { withAbstention } from '../../infer/decision.js';
import { checkHasWords } from '../../infer/input.js';
import { headKindOf } from '../../models/families.js';
import { classificationOf, type Classification } from '../../infer/predictor.js';
import type { ModelInfo } from '../../infer/model-info.js';
import type { TextResult } from '../batcher.js';
import type { ServerState } from '../state.js';
import { errorResponses, modelRef, modelRefSchema, textsOf, type RoutePlugin } from './shared.js';

export interface DiagnoseBody {
  text?: string;
  texts?: string[];
  top_k?: number;
  abstain_below?: number | null;
}

const diagnoseBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    text: { type: 'string', description: 'one note' },
    texts: { type: 'array', items: { type: 'string' }, description: 'several notes (at most --max-texts)' },
    top_k: {
      type: 'integer',
      minimum: 1,
      description: 'return the k most probable labels instead of every probability',
    },
    abstain_below: {
      anyOf: [{ type: 'number', minimum: 0, maximum: 1 }, { type: 'null' }],
      description:
        "override the model's abstention: abstain below this confidence and on out-of-scope notes " +
        '(null: never abstain)',
    },
  },
} as const;

const scored = { type: 'object', properties: { label: { type: 'string' }, score: { type: 'number' } } } as const;

const result = {
  type: 'object',
  properties: {
    label: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    score: { type: 'number' },
    probabilities: { type: 'object', additionalProperties: { type: 'number' } },
    top_k: { type: 'array', items: scored },
    truncated_tokens: { type: 'integer', description: 'tokens cut by truncation: 0 means the whole note was read' },
    abstain: { type: 'boolean', description: 'true: the model is not sure — refer to a clinician' },
    abstain_reason: {
      anyOf: [{ type: 'string', enum: ['out_of_scope', 'low_confidence'] }, { type: 'null' }],
      description: 'why it abstains: the note is unlike the training data, or the confidence is too low; null: answers',
    },
    in_scope: { type: 'boolean', description: 'the note is like the training data (true without a detector)' },
    ood_score: {
      anyOf: [{ type: 'number' }, { type: 'null' }],
      description: "distance to the training data over the model's in-scope limit: above 1 is out of scope",
    },
    deid_entities: { type: 'integer', description: 'PHI entities replaced before the model saw the text (--deid)' },
  },
} as const;

const diagnoseResponse = {
  type: 'object',
  properties: { request_id: { type: 'string' }, model: modelRefSchema, results: { type: 'array', items: result } },
} as const;

const seedBody = {
  type: 'object',
  additionalProperties: false,
  required: ['text'],
  properties: { text: { type: 'string' }, top_k: { type: 'integer', minimum: 1 } },
} as const;

const seedResponse = {
  type: 'object',
  properties: {
    diagnosis: { type: 'array', items: scored, description: 'the top-k labels; empty when the model abstains' },
    abstain: result.properties.abstain,
    abstain_reason: result.properties.abstain_reason,
    in_scope: result.properties.in_scope,
    candidates: { type: 'array', items: scored, description: 'the top-k labels, also when the model abstains' },
  },
} as const;

type Result = Classification & { deid_entities?: number };

/** Queues the texts, builds one classification per text, records metrics and the audit entry. */
async function diagnose(
  st: ServerState,
  req: FastifyRequest,
  reply: FastifyReply,
  model: string | undefined,
  body: DiagnoseBody,
): Promise<{ name: string; info: ModelInfo; results: Result[] }> {
  const { name, info } = st.model(model);
  if (headKindOf(info.config) === 'token-classification')
    throw new MedtuneError(
      `model ${name} is a token-classification model; find its entities with POST /v1/entities`,
      'E_MODEL_TASK',
    );
  const { o, metrics, audit } = st;
  const texts = textsOf(body, o);
  checkHasWords(texts, body.texts !== undefined);
  if (body.top_k !== undefined && body.top_k > info.labels.length)
    throw new MedtuneError(
      `top_k ${body.top_k} is more than the model's ${info.labels.length} labels`,
      'E_BAD_REQUEST',
    );
  const done = st.admit(texts.length);
  if (audit)
    req.audit = {
      ...req.audit,
      model: { name, sha256: info.identity.sha256, version: info.identity.version },
      inputs: texts.map((t) => audit.hmac(t)),
    };
  let raw: TextResult[];
  try {
    raw = await st.batcher.submit(name, texts, { abstainBelow: body.abstain_below, signal: req.cancel?.signal });
  } finally {
    done();
  }
  const settings = withAbstention(info.settings, body.abstain_below);
  const results = raw.map((r) => {
    metrics.observePrediction(name, r.decision, info.labels, r.cut > 0);
    const c = classificationOf(r.decision, r.cut, settings, { topK: body.top_k });
    return { ...c, ...(o.deid ? { deid_entities: r.entities } : {}) };
  });
  reply.header('x-queue-time', Math.max(...raw.map((r) => r.queueMs)).toFixed(1));
  reply.header('x-inference-time', Math.max(...raw.map((r) => r.inferMs)).toFixed(1));
  if (req.audit)
    req.audit.results = results.map((r) => ({
      label: r.label,
      score: r.score,
      ...(r.abstain ? { abstain: true, abstain_reason: r.abstain_reason } : {}),
      ...(r.in_scope ? {} : { in_scope: false }),
    }));
  // after the answer is built; never holds it up or fails it (serve/capture.ts)
  st.capture?.offer({
    model: { name, version: info.identity.version, sha256: info.identity.sha256 },
    key: req.principal?.name ?? null,
    texts,
    results,
  });
  return { name, info, results };
}

export const diagnoseRoutes: RoutePlugin = async (app, { st }) => {
  const v1 = async (req: FastifyRequest<{ Body: DiagnoseBody; Params: { name?: string } }>, reply: FastifyReply) => {
    const { name, info, results } = await diagnose(st, req, reply, req.params.name, req.body);
    return {
      request_id: req.id,
      model: modelRef(name, info),
      results: results.map(({ probabilities, top_k, ...rest }) =>
        top_k ? { ...rest, top_k } : { ...rest, probabilities },
      ),
    };
  };
  const schema = (summary: string, params?: object) => ({
    summary,
    body: diagnoseBody,
    ...(params ? { params } : {}),
    response: { 200: diagnoseResponse, ...errorResponses },
  });
  app.post('/v1/diagnose', { schema: schema('classify one or more texts with the default model') }, v1);
  app.post(
    '/v1/models/:name/diagnose',
    { schema: schema('classify with a named model', { type: 'object', properties: { name: { type: 'string' } } }) },
    v1,
  );
  app.post(
    '/diagnose',
    {
      schema: {
        summary:
          "the seed's shape: { text } → { diagnosis: [{ label, score }] (empty when abstaining), abstain, " +
          'abstain_reason, in_scope, candidates }',
        body: seedBody,
        response: { 200: seedResponse, ...errorResponses },
      },
    },
    async (req: FastifyRequest<{ Body: { text: string; top_k?: number } }>, reply) => {
      const topK = Math.min(req.body.top_k ?? 3, st.model().info.labels.length);
      const { results } = await diagnose(st, req, reply, undefined, { text: req.body.text, top_k: topK });
      const r = results[0]!;
      const candidates = r.top_k!.map(({ label, score }) => ({ label, score }));
      return {
        diagnosis: r.abstain ? [] : candidates,
        abstain: r.abstain,
        abstain_reason: r.abstain_reason,
        in_scope: r.in_scope,
        candidates,
      };
    },
  );
};
