/**
 * The API's one error shape, {error: {code, message}}, for every status it answers with (400, 401, 404, 429, 503,
 * 500). Messages name the fix and never echo a user or item id (they may be personal data and end up in logs).
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { ServiceUnavailable } from './readers.js';

export class ApiError extends Error {
  constructor(readonly statusCode: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/**
 * The error and not-found handlers. `onInternal` hears of unexpected errors (for the log): it is given the route
 * pattern (`/v1/users/:userId/...`), never the URL, which holds the ids.
 */
export function installErrorHandlers(app: FastifyInstance, onInternal: (err: Error, route: string) => void): void {
  app.setErrorHandler((err: FastifyError | ApiError | ServiceUnavailable, req, reply) => {
    if (err instanceof ApiError) return reply.code(err.statusCode).send(errorBody(err.code, err.message));
    if (err instanceof ServiceUnavailable) return reply.code(503).send(errorBody('UNAVAILABLE', err.message));
    const fe = err as FastifyError;
    if (fe.validation) {
      // ajv's message names the field (`params/userId must NOT have more than 128 characters`), never its value.
      return reply.code(400).send(errorBody('BAD_REQUEST', `${fe.message}: see GET /openapi.json for the bounds`));
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send(errorBody(fe.code ?? 'BAD_REQUEST', fe.message));
    }
    onInternal(err, req.routeOptions.url ?? 'unknown route');
    return reply.code(500).send(errorBody('INTERNAL', 'the request failed inside the API; the API log says where (with no ids)'));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('NOT_FOUND', `no such endpoint: ${req.method} requests go to the paths of GET /openapi.json`));
  });
}
