/**
 * De-identification preview: POST /v1/deid → the PHI spans found (in a worker) and the text the model reads on this
 * server. The worker de-identifies with the one call it also applies to every diagnose and explain text under
 * --deid, so `model_text` is exactly what the model receives: the de-identified text with --deid, the original
 * text without it (`model_reads` says which).
 */
import type { FastifyRequest } from 'fastify';
import { errorResponses, textsOf, type RoutePlugin } from './shared.js';

const deidResponse = {
  type: 'object',
  properties: {
    text: { type: 'string', description: 'the text with every PHI span replaced by its type tag' },
    entities: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          type: { type: 'string' },
          start: { type: 'integer' },
          end: { type: 'integer' },
          score: { type: 'number' },
          source: { type: 'string', enum: ['rules', 'model', 'both'], description: 'with --deid-model' },
        },
      },
    },
    model_reads: {
      type: 'string',
      enum: ['deidentified', 'original'],
      description: 'which text the model reads on this server: de-identified (--deid) or the original',
    },
    model_text: { type: 'string', description: 'the text the model receives on this server' },
  },
} as const;

interface Preview {
  text: string;
  entities: { type: string; start: number; end: number; score: number }[];
}

export const deidRoutes: RoutePlugin = async (app, { st }) => {
  app.post(
    '/v1/deid',
    {
      config: { lane: 'deid' },
      schema: {
        summary:
          'de-identification preview: the PHI spans found (type, offsets), the de-identified text, ' +
          'and the text the model reads on this server (de-identified only with --deid)',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['text'],
          properties: { text: { type: 'string' } },
        },
        response: { 200: deidResponse, ...errorResponses },
      },
    },
    async (req: FastifyRequest<{ Body: { text: string } }>) => {
      const [text] = textsOf(req.body, st.o);
      const preview = (await st.side({ type: 'deid', text: text! }, req.cancel?.signal)).payload as Preview;
      const deid = !!st.o.deid;
      return { ...preview, model_reads: deid ? 'deidentified' : 'original', model_text: deid ? preview.text : text };
    },
  );
};
