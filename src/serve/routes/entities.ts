/**
 * Entities: POST /v1/entities (and /v1/models/NAME/entities) → the entities of each text as character spans with a
 * label and a score, from a token-classification model (train --task token-classification, deid train), computed
 * in an inference worker. The same authentication, limits, admission and audit as /v1/diagnose; the audit entry
 * holds HMACs of the texts and the entity labels and offsets, never the texts.
 */
import type { FastifyRequest } from 'fastify';
import { MedtuneError } from '../../common/errors.js';
import { headKindOf } from '../../models/families.js';
import type { EntitySpan } from '../../infer/token-predictor.js';
import type { ServerState } from '../state.js';
import { errorResponses, modelRef, modelRefSchema, textsOf, type RoutePlugin } from './shared.js';

export interface EntitiesBody {
  text?: string;
  texts?: string[];
}

export const entitiesBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    text: { type: 'string', description: 'one note' },
    texts: { type: 'array', items: { type: 'string' }, description: 'several notes (at most --max-texts)' },
  },
} as const;

const entity = {
  type: 'object',
  properties: {
    start: { type: 'integer', description: 'first character (offsets into the text sent)' },
    end: { type: 'integer', description: 'one past the last character' },
    label: { type: 'string', description: 'the entity type (Disease, PERSON, …)' },
    score: { type: 'number', description: 'mean probability of the type over its words' },
  },
} as const;

export const entitiesResponse = {
  type: 'object',
  properties: {
    request_id: { type: 'string' },
    model: modelRefSchema,
    results: {
      type: 'array',
      items: { type: 'object', properties: { entities: { type: 'array', items: entity } } },
    },
  },
} as const;

/** The served token-classification model of a request (E_MODEL_TASK for a sequence classifier). */
function tagger(st: ServerState, model: string | undefined) {
  const m = st.model(model);
  if (headKindOf(m.info.config) !== 'token-classification')
    throw new MedtuneError(
      `model ${m.name} classifies whole texts; /v1/entities needs a token-classification model (use /v1/diagnose)`,
      'E_MODEL_TASK',
    );
  return m;
}

export const entityRoutes: RoutePlugin = async (app, { st }) => {
  const handler = async (req: FastifyRequest<{ Body: EntitiesBody; Params: { name?: string } }>) => {
    const { name, info } = tagger(st, req.params.name);
    const texts = textsOf(req.body, st.o);
    const done = st.admit(texts.length);
    if (st.audit)
      req.audit = {
        ...req.audit,
        model: { name, sha256: info.identity.sha256 },
        inputs: texts.map((t) => st.audit!.hmac(t)),
      };
    let found: EntitySpan[][];
    try {
      found = (await st.side({ type: 'entities', model: name, texts }, req.cancel?.signal)).payload as EntitySpan[][];
    } finally {
      done();
    }
    // the audit keeps each text's entity types and offsets (never the words)
    if (req.audit)
      req.audit.results = found.map((es) => ({
        label: es.map((e) => `${e.label}@${e.start}-${e.end}`),
        score: Math.max(0, ...es.map((e) => e.score)),
      }));
    return { request_id: req.id, model: modelRef(name, info), results: found.map((entities) => ({ entities })) };
  };
  const schema = (summary: string, params?: object) => ({
    summary,
    body: entitiesBody,
    ...(params ? { params } : {}),
    response: { 200: entitiesResponse, ...errorResponses },
  });
  app.post('/v1/entities', { schema: schema('entities of one or more texts (token-classification model)') }, handler);
  app.post(
    '/v1/models/:name/entities',
    { schema: schema('entities with a named model', { type: 'object', properties: { name: { type: 'string' } } }) },
    handler,
  );
};
