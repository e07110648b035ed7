/** /v1/dead-letters, /v1/live and /v1/experiments: what operators watch (the ops page's panels). */
import type { FastifyInstance } from 'fastify';
import { v1Doc, type ApiDeps } from '../deps.js';
import { deadLettersSchema, experimentsSchema, experimentsSvgResponse, limitQuery, liveSchema } from '../schemas.js';
import { reportSvg } from '../../experiments/report-format.js';

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

  v1.get('/experiments', {
    schema: v1Doc(['experiments'], 'Per experiment of ATTUNE_EXPERIMENTS: each variant\'s counts, CTR and conversion with Wilson intervals and z-tests against the control, the leader, bandit shares (as `attune experiments report --json`)', experimentsSchema, [401, 429]),
  }, async () => readers.experiments());

  v1.get('/experiments.svg', {
    schema: v1Doc(['experiments'], 'The experiments report as a chart: CTR per variant with its interval, and bandit shares (as `attune experiments report --svg`)', experimentsSvgResponse, [401, 429]),
  }, async (_req, reply) => {
    const svg = reportSvg(await readers.experiments());
    // A string with a non-JSON type is sent as it is (no serializer); the chart escapes every text it holds.
    return reply.type('image/svg+xml; charset=utf-8').header('x-content-type-options', 'nosniff').send(svg);
  });
}
