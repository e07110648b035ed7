/** /v1/dead-letters and /v1/live: what operators watch (the ops page's panels). */
import type { FastifyInstance } from 'fastify';
import { v1Doc, type ApiDeps } from '../deps.js';
import { deadLettersSchema, limitQuery, liveSchema } from '../schemas.js';

export function registerOpsRoutes(v1: FastifyInstance, deps: ApiDeps): void {
  const { readers } = deps;

  v1.get<{ Querystring: { limit: number } }>('/dead-letters', {
    schema: {
      querystring: limitQuery(20),
      ...v1Doc(['ops'], 'The latest dead letters (newest first): stage, code, reason, source record; never the record\'s key or value', deadLettersSchema, [400, 401, 429, 503]),
    },
  }, async (req) => ({ deadLetters: await readers.deadLetters(req.query.limit) }));

  v1.get('/live', {
    schema: v1Doc(['ops'], 'Throughput, lag and freshness quantiles from Prometheus, now and over the last 15 minutes', liveSchema, [401, 429, 503]),
  }, async () => readers.live());
}
