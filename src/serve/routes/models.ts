/**
 * Models: GET /v1/models (the served models, their labels, monitoring and the server's limits) and
 * GET /v1/models/NAME/card (the model card and the headline metrics of the run that made the model).
 */
import { headKindOf } from '../../models/families.js';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyRequest } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { DRIFT_ALERT } from '../../infer/drift.js';
import { headlineOfRun, type Headline } from '../../report/headline.js';
import type { ServerState } from '../state.js';
import { errorResponses, modelRef, type RoutePlugin } from './shared.js';

const drift = {
  anyOf: [
    { type: 'null' },
    {
      type: 'object',
      properties: {
        label_psi: { type: 'number' },
        confidence_psi: { type: 'number' },
        window: { type: 'integer' },
        alert: { type: 'boolean' },
      },
    },
  ],
} as const;

const modelsResponse = {
  type: 'object',
  properties: {
    default_model: { type: 'string' },
    ready: { type: 'boolean' },
    capture: { type: 'boolean', description: 'served cases are captured (--capture): live performance exists' },
    review: {
      anyOf: [{ type: 'string', enum: ['run', 'served'] }, { type: 'null' }],
      description: "what the Review page reviews: a run's cases (--review), captured served cases (--capture), none",
    },
    models: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          version: { type: 'string' },
          sha256: { type: 'string' },
          labels: { type: 'array', items: { type: 'string' } },
          problem_type: { type: 'string' },
          task: {
            type: 'string',
            enum: ['sequence-classification', 'token-classification'],
            description: 'token-classification models answer POST /v1/entities, the others /v1/diagnose',
          },
          max_length: { type: 'integer' },
          temperature: { type: 'number' },
          abstain_below: { anyOf: [{ type: 'number' }, { type: 'null' }] },
          monitoring: {
            type: 'object',
            properties: { reference: { type: 'boolean' }, drift, drift_alert_at: { type: 'number' } },
          },
        },
      },
    },
    limits: { type: 'object', additionalProperties: true },
  },
} as const;

/** GET /v1/models: like TEI's /info. */
function catalogue(st: ServerState) {
  const { o } = st;
  return {
    default_model: st.defaultModel,
    ready: st.ready,
    capture: !!st.capture,
    review: st.review ? 'run' : st.capture ? 'served' : null,
    models: [...st.models].map(([name, info]) => ({
      ...modelRef(name, info),
      labels: info.labels,
      problem_type: info.problemType,
      task: headKindOf(info.config) === 'token-classification' ? 'token-classification' : 'sequence-classification',
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
  };
}

/** The numbers and strings of the run's metrics.json beside the model folder (optional: null when absent). */
function runMetrics(modelDir: string): Record<string, unknown> | null {
  const file = path.join(path.dirname(path.resolve(modelDir)), 'metrics.json');
  try {
    if (!existsSync(file)) return null;
    const m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number' || typeof v === 'string'));
  } catch {
    return null; // a run folder's metrics are optional here
  }
}

/**
 * Example notes from the card's front matter (`widget: [{ text }]`, the HuggingFace convention for a model's
 * example inputs): written by whoever publishes the model, never taken from its data.
 */
function examplesOf(markdown: string | null): string[] {
  const front = markdown ? /^---\n([\s\S]*?)\n---\n/.exec(markdown) : null;
  if (!front) return [];
  try {
    const widget = (parseYaml(front[1]!) as { widget?: unknown } | null)?.widget;
    return (Array.isArray(widget) ? widget : [])
      .map((w) => (w && typeof w === 'object' ? (w as { text?: unknown }).text : undefined))
      .filter((t): t is string => typeof t === 'string' && !!t.trim())
      .slice(0, 8);
  } catch {
    return []; // a card whose front matter does not parse still renders; it just offers no examples
  }
}

export const modelRoutes: RoutePlugin = async (app, { st }) => {
  // the headline of each model's run (its bootstrap takes a moment): once per model version
  const headlines = new Map<string, Headline | null>();
  const headlineOf = (dir: string, sha256: string) => {
    if (!headlines.has(sha256)) headlines.set(sha256, headlineOfRun(path.dirname(path.resolve(dir)), sha256));
    return headlines.get(sha256)!;
  };
  app.get(
    '/v1/models',
    {
      schema: {
        summary: 'served models, their labels, monitoring and the server limits',
        response: { 200: modelsResponse },
      },
    },
    async () => catalogue(st),
  );
  app.get(
    '/v1/models/:name/card',
    {
      schema: {
        summary:
          'the model card (README.md of the model folder), its example notes, and the metrics of the run that ' +
          'made it (headline: plain names, 95 % bootstrap intervals, the TF-IDF baseline)',
        response: errorResponses,
      },
    },
    async (req: FastifyRequest<{ Params: { name: string } }>) => {
      const { name, info } = st.model(req.params.name);
      const card = path.join(info.dir, 'README.md');
      const markdown = existsSync(card) ? readFileSync(card, 'utf8') : null;
      return {
        ...modelRef(name, info),
        labels: info.labels,
        markdown,
        examples: examplesOf(markdown),
        metrics: runMetrics(info.dir),
        headline: headlineOf(info.dir, info.identity.sha256),
        validation_status:
          'not clinically validated: decision support for clinicians, not a diagnosis; ' +
          'a clinician must review every output',
      };
    },
  );
};
