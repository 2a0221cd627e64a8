/** One error format for every route: `{ error: { code, message } }` with the catalogue's HTTP status. */
import type { FastifyError } from 'fastify';
import { MedtuneError, ERROR_CATALOGUE, type ErrorCode } from '../common/errors.js';

/** The catalogue's status and code for anything a route threw; Fastify's own errors get plain words. */
export function errorReply(err: unknown): { status: number; code: string; message: string } {
  if (err instanceof MedtuneError) return { status: err.httpStatus, code: err.code, message: err.message };
  const e = err as FastifyError & { validation?: unknown };
  if (e.validation)
    return { status: 400, code: 'E_BAD_REQUEST', message: `the request does not match the schema: ${e.message}` };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'E_TOO_LARGE', message: 'the body is larger than the server accepts (--body-limit)' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'E_UNSUPPORTED_MEDIA', message: 'send the body as application/json' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'E_BAD_REQUEST', message: 'the body is empty; send a JSON object' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, code: 'E_BAD_REQUEST', message: 'the body is not valid JSON' };
    default:
      break;
  }
  // JSON.parse's message quotes the body: never pass it on
  if (e.statusCode === 400 && e instanceof SyntaxError)
    return { status: 400, code: 'E_BAD_REQUEST', message: 'the body is not valid JSON' };
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    const code = e.statusCode === 404 ? 'E_NOT_FOUND' : e.statusCode === 429 ? 'E_RATE_LIMIT' : 'E_BAD_REQUEST';
    return {
      status: e.statusCode,
      code,
      message: (ERROR_CATALOGUE[code as ErrorCode]?.when ?? 'bad request').replace(/^HTTP: /, ''),
    };
  }
  return { status: 500, code: 'E_INTERNAL', message: 'internal error; the request id is in the x-request-id header' };
}
