/**
 * The routes behind the browser UI (each an ordinary API route with a schema and a key): de-identification preview,
 * explanations, the model card, and the review of a run folder's cases. Model work (de-identification, integrated
 * gradients) runs in the inference workers, never on the HTTP thread.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MedtuneError } from '../common/errors.js';
import type { ModelInfo } from '../infer/model-info.js';
import type { InferencePool } from './batcher.js';
import { agreement, readCases, ReviewStore, VERDICTS, type Case, type Verdict } from './reviews.js';
import { errorSchema } from './schemas.js';

export interface UiRouteContext {
  models: () => Map<string, ModelInfo>;
  defaultModel: string;
  pool: () => InferencePool | null;
  ready: () => boolean;
  maxChars: number;
  /** the run folder whose cases are reviewed (--review), with its database */
  review: { dir: string; store: ReviewStore; cases: Case[] } | null;
}

const fail = (code: 'E_BAD_REQUEST' | 'E_NOT_READY' | 'E_UNKNOWN_MODEL' | 'E_TOO_LARGE' | 'E_NOT_FOUND', msg: string) =>
  new MedtuneError(msg, code);
const errors = { '4xx': errorSchema, '5xx': errorSchema };

function checkText(text: string, maxChars: number): void {
  if (!text.trim()) throw fail('E_BAD_REQUEST', 'the text is empty');
  if (text.length > maxChars)
    throw fail('E_TOO_LARGE', `the text has ${text.length} characters; the limit is ${maxChars} (--max-chars)`);
}

export function registerUiRoutes(app: FastifyInstance, ctx: UiRouteContext): void {
  const pool = () => {
    const p = ctx.pool();
    if (!p || !ctx.ready())
      throw fail('E_NOT_READY', 'the models are still loading; retry shortly (GET /health/ready)');
    return p;
  };
  const model = (name: string | undefined) => {
    const n = name ?? ctx.defaultModel;
    const info = ctx.models().get(n);
    if (!info) throw fail('E_UNKNOWN_MODEL', `no model named ${n}; served: ${[...ctx.models().keys()].join(', ')}`);
    return { name: n, info };
  };

  app.post(
    '/v1/deid',
    {
      schema: {
        summary: 'de-identification preview: the text the model would see, and the PHI spans found (type, offsets)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['text'],
          properties: { text: { type: 'string' } },
        },
        response: errors,
      },
    },
    async (req: FastifyRequest<{ Body: { text: string } }>) => {
      checkText(req.body.text, ctx.maxChars);
      return (await pool().request({ type: 'deid', text: req.body.text })).payload;
    },
  );

  app.post(
    '/v1/explain',
    {
      schema: {
        summary: 'which words drove the prediction: integrated gradients per word (log-probability units)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['text'],
          properties: {
            text: { type: 'string' },
            model: { type: 'string' },
            label: { type: 'string' },
            steps: { type: 'integer', minimum: 2, maximum: 256 },
          },
        },
        response: errors,
      },
    },
    async (req: FastifyRequest<{ Body: { text: string; model?: string; label?: string; steps?: number } }>) => {
      checkText(req.body.text, ctx.maxChars);
      const { name, info } = model(req.body.model);
      if (req.body.label !== undefined && !info.labels.includes(req.body.label))
        throw fail('E_BAD_REQUEST', `label ${req.body.label} is not a label of ${name}`);
      const r = await pool().request({
        type: 'explain',
        model: name,
        text: req.body.text,
        label: req.body.label,
        steps: req.body.steps,
      });
      return {
        model: { name, version: info.identity.version, sha256: info.identity.sha256 },
        ...(r.payload as object),
      };
    },
  );

  app.get(
    '/v1/models/:name/card',
    {
      schema: {
        summary: 'the model card (README.md of the model folder) and the metrics of the run that made it',
        response: errors,
      },
    },
    async (req: FastifyRequest<{ Params: { name: string } }>) => {
      const { name, info } = model(req.params.name);
      const card = path.join(info.dir, 'README.md');
      const metricsFile = path.join(path.dirname(path.resolve(info.dir)), 'metrics.json');
      let metrics: Record<string, unknown> | null = null;
      try {
        if (existsSync(metricsFile)) {
          const m = JSON.parse(readFileSync(metricsFile, 'utf8')) as Record<string, unknown>;
          metrics = Object.fromEntries(
            Object.entries(m).filter(([, v]) => typeof v === 'number' || typeof v === 'string'),
          );
        }
      } catch {
        metrics = null; // a run folder's metrics are optional here
      }
      return {
        name,
        version: info.identity.version,
        sha256: info.identity.sha256,
        labels: info.labels,
        markdown: existsSync(card) ? readFileSync(card, 'utf8') : null,
        metrics,
        validation_status:
          'not clinically validated: decision support for clinicians, not a diagnosis; ' +
          'a clinician must review every output',
      };
    },
  );

  const review = () => {
    if (!ctx.review) throw fail('E_NOT_FOUND', 'no run to review: start the server with --review RUN_DIR');
    return ctx.review;
  };
  app.get(
    '/v1/review/cases',
    {
      schema: {
        summary:
          'cases of the reviewed run: errors (most confident first), then low-confidence predictions, ' +
          'with their reviews',
        // (query strings are strings: the server validates without type coercion)
        querystring: {
          type: 'object',
          properties: {
            offset: { type: 'string', pattern: '^\\d{1,7}$' },
            limit: { type: 'string', pattern: '^\\d{1,3}$' },
          },
        },
        response: errors,
      },
    },
    async (req: FastifyRequest<{ Querystring: { offset?: string; limit?: string } }>) => {
      const r = review();
      const offset = Number(req.query.offset ?? 0);
      const limit = Math.min(500, Math.max(1, Number(req.query.limit ?? 100)));
      const reviews = r.store.all();
      const labels = ctx.models().get(ctx.defaultModel)?.labels ?? [];
      return {
        run: r.dir,
        labels,
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
      schema: {
        summary:
          'store a review of a case: gold is right / model is right / other label / unclear, with an optional comment',
        body: {
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
        },
        response: errors,
      },
    },
    async (
      req: FastifyRequest<{
        Body: { case_id: number; reviewer: string; verdict: Verdict; label?: string; comment?: string };
      }>,
      reply,
    ) => {
      const r = review();
      const b = req.body;
      const c = r.cases.find((x) => x.id === b.case_id);
      if (!c) throw fail('E_BAD_REQUEST', `no case ${b.case_id} in this run`);
      const labels = ctx.models().get(ctx.defaultModel)?.labels ?? [];
      if (b.verdict === 'other' && (!b.label || (labels.length && !labels.includes(b.label))))
        throw fail('E_BAD_REQUEST', 'verdict "other" needs a label of the model');
      const asLabel = (x: string | string[]) => (Array.isArray(x) ? x.join(',') : x);
      const label =
        b.verdict === 'gold'
          ? asLabel(c.gold)
          : b.verdict === 'model'
            ? asLabel(c.predicted)
            : b.verdict === 'other'
              ? b.label!
              : null;
      const model = ctx.models().get(ctx.defaultModel);
      const saved = r.store.add({
        case_id: c.id,
        reviewer: b.reviewer.trim(),
        verdict: b.verdict,
        label,
        comment: b.comment?.trim() || null,
        model_sha256: model?.identity.sha256 ?? null,
      });
      reply.status(201);
      return { review: saved, agreement: agreement(r.store.latest()) };
    },
  );
}

/** Opens the review of a run folder: its cases and its database (default RUN_DIR/reviews.sqlite). */
export function openReview(dir: string, dbFile?: string): { dir: string; store: ReviewStore; cases: Case[] } {
  const cases = readCases(dir);
  const store = new ReviewStore(dbFile ?? path.join(dir, 'reviews.sqlite'));
  store.setMeta('run_dir', path.resolve(dir));
  return { dir: path.resolve(dir), store, cases };
}
