/** De-identification preview: POST /v1/deid → the text the model would see and the PHI spans found (in a worker). */
import type { FastifyRequest } from 'fastify';
import { errorResponses, textsOf, type RoutePlugin } from './shared.js';

export const deidRoutes: RoutePlugin = async (app, { st }) => {
  app.post(
    '/v1/deid',
    {
      config: { lane: 'deid' },
      schema: {
        summary: 'de-identification preview: the text the model would see, and the PHI spans found (type, offsets)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['text'],
          properties: { text: { type: 'string' } },
        },
        response: errorResponses,
      },
    },
    async (req: FastifyRequest<{ Body: { text: string } }>) => {
      const [text] = textsOf(req.body, st.o);
      return (await st.side({ type: 'deid', text: text! }, req.cancel?.signal)).payload;
    },
  );
};
