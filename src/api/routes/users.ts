/**
 * /v1/users/:userId/… — one user's current list, segments, features and recent activity. The id is the raw id
 * (what the events carry); the Redis reader pseudonymizes it as the worker does.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { v1Doc, type ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { eventsSchema, featuresSchema, idSchema, limitQuery, recommendationsSchema, segmentsSchema } from '../schemas.js';

interface UserParams { userId: string }
interface LimitQuery { limit: number }

/** A 404 that says what "no data" can mean, without the id (it may be personal data). */
function unknownUser(what: string): ApiError {
  return new ApiError(404, 'NOT_FOUND', `no ${what} for this user: the worker has not seen them (check the id), or their data was erased or personalization withdrawn`);
}

/** Strong ETag of a body: the SHA-256 of its bytes (same body, same tag, on every API process). */
export function strongEtag(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url')}"`;
}

/** If-None-Match matches (weak comparison, RFC 9110 13.1.2): `*` or any listed tag equal up to a `W/` prefix. */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

export function registerUserRoutes(v1: FastifyInstance, deps: ApiDeps): void {
  const params = { type: 'object', required: ['userId'], properties: { userId: idSchema(deps.maxIdLength, 'user') } } as const;
  const { readers } = deps;

  v1.get<{ Params: UserParams }>('/users/:userId/recommendations', {
    schema: {
      params,
      ...v1Doc(['users'], 'The user\'s current recommendation list (as last emitted), with reasons and strategy; ETag / If-None-Match', recommendationsSchema, [304, 400, 401, 404, 429]),
    },
  }, async (req: FastifyRequest<{ Params: UserParams }>, reply: FastifyReply) => {
    const list = await readers.recommendations(req.params.userId);
    if (!list) throw unknownUser('current recommendation list');
    // Serialized here (not by the schema) so that the tag is of the exact bytes sent.
    const body = JSON.stringify(list);
    const etag = strongEtag(body);
    reply.header('etag', etag).header('cache-control', 'private, no-cache');
    if (noneMatch(req.headers['if-none-match'], etag)) return reply.code(304).send();
    return reply.type('application/json; charset=utf-8').send(body);
  });

  v1.get<{ Params: UserParams }>('/users/:userId/segments', {
    schema: { params, ...v1Doc(['users'], 'The segments the user is in, with the rule (why), since when when known, and when membership next changes by time', segmentsSchema, [400, 401, 404, 429]) },
  }, async (req) => {
    const s = await readers.segments(req.params.userId);
    if (!s) throw unknownUser('segment state');
    return s;
  });

  v1.get<{ Params: UserParams }>('/users/:userId/features', {
    schema: { params, ...v1Doc(['users'], 'The user\'s rolling features (windows, recency, session, category affinity) and event counts', featuresSchema, [400, 401, 404, 429]) },
  }, async (req) => {
    const f = await readers.features(req.params.userId);
    if (!f) throw unknownUser('features');
    return f;
  });

  v1.get<{ Params: UserParams; Querystring: LimitQuery }>('/users/:userId/events', {
    schema: { params, querystring: limitQuery(20), ...v1Doc(['users'], 'The user\'s recent activity Redis holds: counts, first/last seen, recent items, purchases with times', eventsSchema, [400, 401, 404, 429]) },
  }, async (req) => {
    const e = await readers.events(req.params.userId, req.query.limit);
    if (!e) throw unknownUser('activity');
    return e;
  });
}
