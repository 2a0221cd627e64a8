/**
 * The review of a run folder's cases (--review RUN_DIR): GET /v1/review/cases (errors, most confident first, then
 * low-confidence predictions), POST /v1/reviews and DELETE /v1/reviews/ID (undo). The reviewer is the name of the
 * request's API key (`local` with --no-auth), never a field of the request; other reviewers' verdicts on a case stay
 * hidden from a reviewer until they have given their own. The store and the agreement statistics are
 * evaluate/reviews.ts.
 */
import type { FastifyRequest } from 'fastify';
import { MedtuneError } from '../../common/errors.js';
import { agreement, blindView, verdictLabel, VERDICTS, type Verdict } from '../../evaluate/reviews.js';
import type { ServerState } from '../state.js';
import { errorResponses, type RoutePlugin } from './shared.js';

interface ReviewBody {
  case_id: number;
  verdict: Verdict;
  label?: string;
  comment?: string;
}

/** A review's body: a case, a verdict among `verdicts`, an optional label and comment (run and served reviews). */
export function reviewBodyOf(verdicts: readonly string[]) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['case_id', 'verdict'],
    properties: {
      case_id: { type: 'integer' },
      verdict: { type: 'string', enum: verdicts },
      label: { type: 'string' },
      comment: { type: 'string', maxLength: 2000 },
    },
  } as const;
}

const reviewBody = reviewBodyOf(VERDICTS);

/** A page of the review queue (query strings are strings: the server validates without type coercion). */
export const casesQuery = {
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

/** Who reviews: the name of the request's API key; `local` when the server runs without keys (--no-auth). */
export const reviewerOf = (req: FastifyRequest): string => req.principal?.name ?? 'local';

/** The cases a reviewer has given a verdict on, of all the run's cases. */
function progressOf(st: ServerState, reviewer: string) {
  const r = reviewOf(st);
  const ids = new Set(r.cases.map((c) => c.id));
  const mine = r.store.all().filter((x) => x.reviewer === reviewer && ids.has(x.case_id));
  return { reviewed: new Set(mine.map((x) => x.case_id)).size, total: r.cases.length };
}

/** What the reviewer may see of one case's reviews, the agreement and their progress (after a change). */
function stateAfter(st: ServerState, caseId: number, reviewer: string) {
  const store = reviewOf(st).store;
  const view = blindView(
    store.all().filter((x) => x.case_id === caseId),
    reviewer,
  );
  return {
    case_reviews: view.reviews,
    hidden_reviews: view.hidden,
    agreement: agreement(store.latest()),
    progress: progressOf(st, reviewer),
  };
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
          'cases of the reviewed run: errors (most confident first), then low-confidence predictions; ' +
          "other reviewers' verdicts on a case only once you have given yours",
        querystring: casesQuery,
        response: errorResponses,
      },
    },
    async (req: FastifyRequest<{ Querystring: { offset?: string; limit?: string } }>) => {
      const r = reviewOf(st);
      const reviewer = reviewerOf(req);
      const offset = Number(req.query.offset ?? 0);
      const limit = Math.min(500, Math.max(1, Number(req.query.limit ?? 100)));
      const reviews = r.store.all();
      return {
        run: r.dir,
        labels: defaultModel()?.labels ?? [],
        reviewer,
        total: r.cases.length,
        offset,
        progress: progressOf(st, reviewer),
        cases: r.cases.slice(offset, offset + limit).map((c) => {
          const view = blindView(
            reviews.filter((x) => x.case_id === c.id),
            reviewer,
          );
          return { ...c, reviews: view.reviews, hidden_reviews: view.hidden };
        }),
        agreement: agreement(r.store.latest()),
      };
    },
  );
  app.post<{ Body: ReviewBody }>(
    '/v1/reviews',
    {
      config: { lane: 'reviews' },
      schema: {
        summary:
          'store your review of a case: recorded label is right / model is right / other label / unclear, with an ' +
          "optional comment; the reviewer is your API key's name",
        body: reviewBody,
        response: errorResponses,
      },
      // before the schema, so that the answer says why rather than "must NOT have additional properties"
      preValidation: async (req) => {
        const body = req.body as unknown;
        if (body && typeof body === 'object' && 'reviewer' in body)
          throw fail(
            'E_BAD_REQUEST',
            '"reviewer" is not accepted: the reviewer is the name of your API key (local with --no-auth)',
          );
      },
    },
    async (req, reply) => {
      const r = reviewOf(st);
      const b = req.body;
      const c = r.cases.find((x) => x.id === b.case_id);
      if (!c) throw fail('E_BAD_REQUEST', `no case ${b.case_id} in this run`);
      const model = defaultModel();
      const labels = model?.labels ?? [];
      if (b.verdict === 'other' && (!b.label || (labels.length && !labels.includes(b.label))))
        throw fail('E_BAD_REQUEST', 'verdict "other" needs a label of the model');
      const reviewer = reviewerOf(req);
      const saved = r.store.add({
        case_id: c.id,
        reviewer,
        verdict: b.verdict,
        label: verdictLabel(c, b.verdict, b.label),
        comment: b.comment?.trim() || null,
        model_sha256: model?.identity.sha256 ?? null,
      });
      reply.status(201);
      return { review: saved, ...stateAfter(st, c.id, reviewer) };
    },
  );
  app.delete(
    '/v1/reviews/:id',
    {
      schema: {
        summary: 'undo one of your reviews (only your own)',
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^\\d{1,12}$' } } },
        response: errorResponses,
      },
    },
    async (req: FastifyRequest<{ Params: { id: string } }>) => {
      const reviewer = reviewerOf(req);
      const removed = reviewOf(st).store.remove(Number(req.params.id), reviewer);
      if (!removed) throw fail('E_NOT_FOUND', `no review ${req.params.id} of yours`);
      return { removed, ...stateAfter(st, removed.case_id, reviewer) };
    },
  );
};
