/**
 * Explanations: POST /v1/explain → integrated gradients per word (log-probability units), computed in a worker, in
 * the `explain` lane (--explain-concurrency at once, --explain-queue waiting, --explain-timeout-ms), with steps and
 * text capped (--explain-max-steps, --explain-max-chars); an explanation whose client went away is cancelled.
 */
import type { FastifyRequest } from 'fastify';
import { MedtuneError } from '../../common/errors.js';
import { errorResponses, modelRef, textsOf, type RoutePlugin } from './shared.js';

interface ExplainBody {
  text: string;
  model?: string;
  label?: string;
  steps?: number;
}

export const explainRoutes: RoutePlugin = async (app, { st }) => {
  app.post(
    '/v1/explain',
    {
      config: { lane: 'explain' },
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
        response: errorResponses,
      },
    },
    async (req: FastifyRequest<{ Body: ExplainBody }>) => {
      const { o } = st;
      const { text, label, steps } = req.body;
      textsOf({ text }, { maxTexts: 1, maxChars: o.explainMaxChars, charsFlag: '--explain-max-chars' });
      if (steps !== undefined && steps > o.explainMaxSteps)
        throw new MedtuneError(
          `steps ${steps} is above this server's limit of ${o.explainMaxSteps} (--explain-max-steps)`,
          'E_TOO_LARGE',
        );
      const { name, info } = st.model(req.body.model);
      // (the label asked for is never quoted: it may be anything, patient text included)
      if (label !== undefined && !info.labels.includes(label))
        throw new MedtuneError(
          `the label asked for is not a label of model ${name} (see GET /v1/models)`,
          'E_BAD_REQUEST',
        );
      const job = { type: 'explain' as const, model: name, text, label, steps, maxSteps: o.explainMaxSteps };
      const r = await st.side(job, req.cancel?.signal);
      return { model: modelRef(name, info), ...(r.payload as object) };
    },
  );
};
