/** Explanations: POST /v1/explain → integrated gradients per word (log-probability units), computed in a worker. */
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
      const { text, label, steps } = req.body;
      textsOf({ text }, st.o);
      const { name, info } = st.model(req.body.model);
      if (label !== undefined && !info.labels.includes(label))
        throw new MedtuneError(`label ${label} is not a label of ${name}`, 'E_BAD_REQUEST');
      const r = await st.side({ type: 'explain', model: name, text, label, steps });
      return { model: modelRef(name, info), ...(r.payload as object) };
    },
  );
};
