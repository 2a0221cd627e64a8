/**
 * What the route plugins share: the plugin type (each takes the one ServerState), the error schema, the model
 * reference every answer carries, and the one check of the texts of a request against the limits.
 */
import type { FastifyPluginAsync } from 'fastify';
import { MedtuneError } from '../../common/errors.js';
import type { ModelInfo } from '../../infer/model-info.js';
import type { ServerState } from '../state.js';

/** A route plugin: one resource, its routes and their schemas. */
export type RoutePlugin = FastifyPluginAsync<{ st: ServerState }>;

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

/** The error answers of a route, for the OpenAPI document. */
export const errorResponses = { '4xx': errorSchema, '5xx': errorSchema } as const;

export const modelRefSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, version: { type: 'string' }, sha256: { type: 'string' } },
} as const;

/** The model an answer came from: its name, version and weights hash. */
export const modelRef = (name: string, info: ModelInfo) => ({
  name,
  version: info.identity.version,
  sha256: info.identity.sha256,
});

/**
 * The texts of a request (`text` or `texts`), checked against --max-texts and --max-chars (or the route's own limit,
 * named by `charsFlag`), never quoting them.
 */
export function textsOf(
  body: { text?: string; texts?: string[] },
  o: { maxTexts: number; maxChars: number; charsFlag?: string },
): string[] {
  const fail = (code: 'E_BAD_REQUEST' | 'E_TOO_LARGE', msg: string) => new MedtuneError(msg, code);
  if ((body.text === undefined) === (body.texts === undefined))
    throw fail('E_BAD_REQUEST', 'send either "text" (one string) or "texts" (a list of strings)');
  const texts = body.texts ?? [body.text!];
  if (!texts.length) throw fail('E_BAD_REQUEST', '"texts" is empty');
  if (texts.length > o.maxTexts)
    throw fail('E_TOO_LARGE', `${texts.length} texts in one request; the limit is ${o.maxTexts} (--max-texts)`);
  texts.forEach((t, i) => {
    if (!t.trim()) throw fail('E_BAD_REQUEST', body.texts ? `text ${i + 1} is empty` : 'the text is empty');
    if (t.length > o.maxChars)
      throw fail(
        'E_TOO_LARGE',
        `${body.texts ? `text ${i + 1}` : 'the text'} has ${t.length} characters; ` +
          `the limit is ${o.maxChars} (${o.charsFlag ?? '--max-chars'})`,
      );
  });
  return texts;
}
