/**
 * The review of a run folder's cases (--review RUN_DIR): GET /v1/review/cases (errors, most confident first, then
 * low-confidence predictions, with their reviews) and POST /v1/reviews; the store and the agreement statistics are
 * evaluate/reviews.ts.
 */
import type { FastifyRequest } from 'fastify';
import { MedtuneError } from '../../common/errors.js';
import { agreement, verdictLabel, VERDICTS, type Verdict } from '../../evaluate/reviews.js';
import type { ServerState } from '../state.js';
import { errorResponses, type RoutePlugin } from './shared.js';

interface ReviewBody {
  case_id: number;
  reviewer: string;
  verdict: Verdict;
  label?: string;
  comment?: string;
}

const reviewBody = {
  type: 'object',
  additionalProperties: false,
  required: ['case_id', 'reviewer', 'verdict'],
  properties: {
    case_id: { type: 'integer' },
    reviewer: { type: 'string', minLength: 1, maxLength: 80 },
    verdict: { type: 'string', enum: VERDICTS },
    label: { type: 'string' },
    comment: { type: 'string', maxLength: 2000 },
  },
} as const;

// (query strings are strings: the server validates without type coercion)
const casesQuery = {
  type: 'object',
  properties: {
    offset: { type: 'string', pattern: '^\\d{1,7}$' },
    limit: { type: 'string', pattern: '^\\d{1,3}$' },
  },
} as const;

const fail = (code: 'E_BAD_REQUEST' | 'E_NOT_FOUND', msg: string) => new MedtuneError(msg, code);

/** The review the server was started with (404 without --review). */
function reviewOf(st: ServerState) {
  if (!st.review) throw fail('E_NOT_FOUND', 'no run to review: start the server with --review RUN_DIR');
  return st.review;
}

export const reviewRoutes: RoutePlugin = async (app, { st }) => {
  // the default model's description (known before its workers have loaded)
  const defaultModel = () => st.models.get(st.defaultModel);
  app.get(
    '/v1/review/cases',
    {
      config: { lane: 'reviews' },
      schema: {
        summary:
          'cases of the reviewed run: errors (most confident first), then low-confidence predictions, ' +
          'with their reviews',
        querystring: casesQuery,
        response: errorResponses,
      },
    },
    async (req: FastifyRequest<{ Querystring: { offset?: string; limit?: string } }>) => {
      const r = reviewOf(st);
      const offset = Number(req.query.offset ?? 0);
      const limit = Math.min(500, Math.max(1, Number(req.query.limit ?? 100)));
      const reviews = r.store.all();
      return {
        run: r.dir,
        labels: defaultModel()?.labels ?? [],
        total: r.cases.length,
        offset,
        cases: r.cases
          .slice(offset, offset + limit)
          .map((c) => ({ ...c, reviews: reviews.filter((x) => x.case_id === c.id) })),
        agreement: agreement(r.store.latest()),
      };
    },
  );
  app.post(
    '/v1/reviews',
    {
      config: { lane: 'reviews' },
      schema: {
        summary:
          'store a review of a case: gold is right / model is right / other label / unclear, with an optional comment',
        body: reviewBody,
        response: errorResponses,
      },
    },
    async (req: FastifyRequest<{ Body: ReviewBody }>, reply) => {
      const r = reviewOf(st);
      const b = req.body;
      const c = r.cases.find((x) => x.id === b.case_id);
      if (!c) throw fail('E_BAD_REQUEST', `no case ${b.case_id} in this run`);
      const model = defaultModel();
      const labels = model?.labels ?? [];
      if (b.verdict === 'other' && (!b.label || (labels.length && !labels.includes(b.label))))
        throw fail('E_BAD_REQUEST', 'verdict "other" needs a label of the model');
      const saved = r.store.add({
        case_id: c.id,
        reviewer: b.reviewer.trim(),
        verdict: b.verdict,
        label: verdictLabel(c, b.verdict, b.label),
        comment: b.comment?.trim() || null,
        model_sha256: model?.identity.sha256 ?? null,
      });
      reply.status(201);
      return { review: saved, agreement: agreement(r.store.latest()) };
    },
  );
};
