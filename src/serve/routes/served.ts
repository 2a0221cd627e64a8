/**
 * Served cases (`serve --capture DIR`): GET /v1/served/cases (the review queue: a random sample flagged as such,
 * interleaved with the prioritised cases — out of scope, abstained, champion/challenger disagreement, low
 * confidence), POST /v1/served/reviews (a reviewer's outcome: the model is right, another label, unclear) and
 * DELETE /v1/served/reviews/ID (undo), stored in the encrypted capture store; GET /v1/models/NAME/performance (the
 * served version's live accuracy, macro-F1 and calibration error against the outcomes, with intervals, per window,
 * the random stream apart; the estimate from confidence of every captured case, before review (CBPE); the alert) and
 * its Prometheus gauges. The reviewer is the key's name, as in reviews.ts;
 * others' outcomes stay hidden until one's own.
 */
import type { FastifyRequest } from 'fastify';
import client from 'prom-client';
import { MedtuneError } from '../../common/errors.js';
import { agreement, blindView, type Review } from '../../evaluate/reviews.js';
import { SERVED_VERDICTS, type ReviewRecord, type ServedVerdict } from '../../registry/capture-store.js';
import { performanceOf, type PerformanceReport } from '../../registry/performance.js';
import { latestReviews, reviewQueue } from '../../registry/served-reviews.js';
import type { ServerState } from '../state.js';
import { casesQuery, reviewBodyOf, reviewerOf } from './reviews.js';
import { errorResponses, type RoutePlugin } from './shared.js';

interface ServedReviewBody {
  case_id: number;
  verdict: ServedVerdict;
  label?: string;
  comment?: string;
}

const fail = (code: 'E_BAD_REQUEST' | 'E_NOT_FOUND', msg: string) => new MedtuneError(msg, code);

function captureOf(st: ServerState) {
  if (!st.capture) throw fail('E_NOT_FOUND', 'no served cases: start the server with --capture DIR');
  return st.capture;
}

/** A served review in the shape of a run review (for the agreement statistics and the blind view). */
const asReview = (r: ReviewRecord): Review => ({
  id: r.id,
  case_id: r.case_id,
  reviewer: r.reviewer,
  verdict: r.verdict,
  label: r.label,
  comment: r.comment,
  model_sha256: null,
  created: r.time,
});

/**
 * The live performance of the version a name serves now, cached until a record is added or removed, and for a minute
 * at most (the 24h and 7d windows move with the clock).
 */
const cache = new WeakMap<ServerState, Map<string, { key: string; report: PerformanceReport }>>();
export function performanceReport(st: ServerState, name: string): PerformanceReport {
  const { info } = st.model(name);
  const cap = captureOf(st);
  const state = cap.state();
  const minute = Math.floor(Date.now() / 60_000);
  const key = `${info.identity.version}:${state.cases.size}:${state.reviews.length}:${minute}`;
  const mine = cache.get(st) ?? new Map<string, { key: string; report: PerformanceReport }>();
  cache.set(st, mine);
  const hit = mine.get(name);
  if (hit?.key === key) return hit.report;
  const report = performanceOf(state, {
    model: name,
    version: info.identity.version,
    validation: st.servedModel(name)?.validation ?? null,
    margin: st.o.performanceMargin,
    multiLabel: info.multiLabel,
  });
  mine.set(name, { key, report });
  return report;
}

/** medtune_live_* gauges: the random stream's figures over all time, the reviewed cases, the alert. */
function liveGauges(st: ServerState): void {
  const reg = [st.metrics.registry];
  const each = (f: (name: string, r: PerformanceReport) => void) => {
    if (!st.capture || !st.ready) return;
    for (const name of st.models.keys()) f(name, performanceReport(st, name));
  };
  for (const metric of ['accuracy', 'macro_f1', 'ece'] as const)
    new client.Gauge({
      name: `medtune_live_${metric}`,
      help: `live ${metric.replace('_', '-')} of the served version against reviewed outcomes (random|prioritised)`,
      labelNames: ['model', 'version', 'stream'],
      registers: reg,
      collect() {
        this.reset();
        each((name, r) => {
          const all = r.windows[r.windows.length - 1]!;
          for (const stream of ['random', 'prioritised'] as const) {
            const v = all[stream][metric];
            if (v) this.set({ model: name, version: r.version, stream }, v.value);
          }
        });
      },
    });
  new client.Gauge({
    name: 'medtune_live_reviewed_cases',
    help: 'served cases of the served version with a reviewed outcome (stream: random|prioritised)',
    labelNames: ['model', 'stream'],
    registers: reg,
    collect() {
      each((name, r) => {
        const all = r.windows[r.windows.length - 1]!;
        this.set({ model: name, stream: 'random' }, all.random.n);
        this.set({ model: name, stream: 'prioritised' }, all.prioritised.n);
      });
    },
  });
  new client.Gauge({
    name: 'medtune_live_performance_alert',
    help:
      'live accuracy (random stream) or the estimated accuracy below the validation accuracy minus ' +
      '--performance-margin (1: alert; medtune_estimated_performance_alert says whether the estimate fired)',
    labelNames: ['model'],
    registers: reg,
    collect() {
      each((name, r) => this.set({ model: name }, r.alert.active ? 1 : 0));
    },
  });
  estimatedGauges(reg, each);
}

/** medtune_estimated_*: the confidence-based estimate over every captured case of the served version (all time). */
function estimatedGauges(reg: client.Registry[], each: (f: (name: string, r: PerformanceReport) => void) => void) {
  const all = (r: PerformanceReport) => r.windows[r.windows.length - 1]!.estimated;
  new client.Gauge({
    name: 'medtune_estimated_accuracy',
    help: 'estimated accuracy of the served version from its calibrated confidence, before review (CBPE; bound)',
    labelNames: ['model', 'version', 'bound'],
    registers: reg,
    collect() {
      this.reset();
      each((name, r) => {
        const a = all(r)?.accuracy;
        if (!a) return;
        for (const bound of ['value', 'low', 'high'] as const)
          this.set({ model: name, version: r.version, bound }, a[bound]);
      });
    },
  });
  new client.Gauge({
    name: 'medtune_estimated_performance_alert',
    help: 'the estimated accuracy (all captured cases) is below the validation accuracy minus the margin (1: alert)',
    labelNames: ['model'],
    registers: reg,
    collect() {
      each((name, r) => this.set({ model: name }, r.alert.fired.includes('estimated') ? 1 : 0));
    },
  });
  new client.Gauge({
    name: 'medtune_estimated_macro_f1',
    help: 'estimated macro-F1 of the served version from the expected confusion matrix, before review (CBPE)',
    labelNames: ['model', 'version'],
    registers: reg,
    collect() {
      this.reset();
      each((name, r) => {
        const f = all(r)?.macro_f1;
        if (f != null) this.set({ model: name, version: r.version }, f);
      });
    },
  });
}

const servedBody = reviewBodyOf(SERVED_VERDICTS);

/** The queue (of the default model's cases), the reviewer's progress and the agreement. */
function queueOf(st: ServerState, reviewer: string) {
  const state = captureOf(st).state();
  const queue = reviewQueue(state, { model: st.defaultModel });
  const reviews = state.reviews.map(asReview);
  const ids = new Set(queue.map((c) => c.id));
  const mine = new Set(reviews.filter((r) => r.reviewer === reviewer && ids.has(r.case_id)).map((r) => r.case_id));
  return {
    queue,
    reviews,
    progress: { reviewed: mine.size, total: queue.length },
    agreement: agreement(latestReviews(state.reviews).map(asReview)),
  };
}

export const servedRoutes: RoutePlugin = async (app, { st }) => {
  if (st.capture) liveGauges(st);
  const labels = () => st.models.get(st.defaultModel)?.labels ?? [];
  app.get(
    '/v1/served/cases',
    {
      config: { lane: 'reviews' },
      schema: {
        summary:
          'captured served cases to review: a random sample (flagged) interleaved with prioritised cases ' +
          "(out of scope, abstained, disagreement, low confidence); others' outcomes only once you have given yours",
        querystring: casesQuery,
        response: errorResponses,
      },
    },
    async (req: FastifyRequest<{ Querystring: { offset?: string; limit?: string } }>) => {
      const reviewer = reviewerOf(req);
      const { queue, reviews, progress, agreement } = queueOf(st, reviewer);
      const offset = Number(req.query.offset ?? 0);
      const limit = Math.min(500, Math.max(1, Number(req.query.limit ?? 100)));
      return {
        source: 'served',
        labels: labels(),
        reviewer,
        total: queue.length,
        offset,
        progress,
        cases: queue.slice(offset, offset + limit).map((c) => {
          const view = blindView(
            reviews.filter((r) => r.case_id === c.id),
            reviewer,
          );
          return { ...c, gold: null, reviews: view.reviews, hidden_reviews: view.hidden };
        }),
        agreement,
      };
    },
  );
  app.post<{ Body: ServedReviewBody }>(
    '/v1/served/reviews',
    {
      config: { lane: 'reviews' },
      schema: {
        summary:
          'record the true outcome of a served case: the model is right, another label, or unclear; the reviewer ' +
          "is your API key's name; stored encrypted in the capture store",
        body: servedBody,
        response: errorResponses,
      },
      preValidation: async (req) => {
        const body = req.body as unknown;
        if (body && typeof body === 'object' && 'reviewer' in body)
          throw fail('E_BAD_REQUEST', '"reviewer" is not accepted: the reviewer is the name of your API key');
      },
    },
    async (req, reply) => {
      const cap = captureOf(st);
      const b = req.body;
      const c = cap.state().cases.get(b.case_id);
      if (!c) throw fail('E_BAD_REQUEST', `no served case ${b.case_id}`);
      const known = st.models.get(c.model.name)?.labels ?? labels();
      if (b.verdict === 'other' && (!b.label || !known.includes(b.label)))
        throw fail('E_BAD_REQUEST', 'verdict "other" needs a label of the model');
      const predicted = Array.isArray(c.decision.label) ? c.decision.label.join(',') : c.decision.label;
      const reviewer = reviewerOf(req);
      const saved = await cap.review({
        case_id: c.id,
        reviewer,
        verdict: b.verdict,
        label: b.verdict === 'model' ? predicted : b.verdict === 'other' ? b.label! : null,
        comment: b.comment?.trim() || null,
      });
      reply.status(201);
      const q = queueOf(st, reviewer);
      const view = blindView(
        q.reviews.filter((r) => r.case_id === c.id),
        reviewer,
      );
      return {
        review: asReview(saved),
        case_reviews: view.reviews,
        hidden_reviews: view.hidden,
        agreement: q.agreement,
        progress: q.progress,
      };
    },
  );
  app.delete(
    '/v1/served/reviews/:id',
    {
      schema: {
        summary: 'undo one of your reviews of a served case (only your own)',
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^\\d{1,17}$' } } },
        response: errorResponses,
      },
    },
    async (req: FastifyRequest<{ Params: { id: string } }>) => {
      const reviewer = reviewerOf(req);
      const removed = await captureOf(st).undo(Number(req.params.id), reviewer);
      if (!removed) throw fail('E_NOT_FOUND', `no review ${req.params.id} of yours`);
      const q = queueOf(st, reviewer);
      const view = blindView(
        q.reviews.filter((r) => r.case_id === removed.case_id),
        reviewer,
      );
      return {
        removed: asReview(removed),
        case_reviews: view.reviews,
        hidden_reviews: view.hidden,
        agreement: q.agreement,
        progress: q.progress,
      };
    },
  );
  app.get(
    '/v1/models/:name/performance',
    {
      schema: {
        summary:
          'live accuracy, macro-F1 and calibration error of the served version against reviewed outcomes, with ' +
          '95 % bootstrap intervals and n, per window (24h, 7d, all), the random sample apart; the accuracy and ' +
          'macro-F1 estimated from confidence over every captured case (CBPE, before review); the alert',
        params: { type: 'object', properties: { name: { type: 'string' } } },
        response: errorResponses,
      },
    },
    async (req: FastifyRequest<{ Params: { name: string } }>) => performanceReport(st, req.params.name),
  );
};
