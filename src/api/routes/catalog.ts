/** /v1/items/:itemId/similar and /v1/segments: what the model and the segment counts say about the catalog. */
import type { FastifyInstance } from 'fastify';
import { v1Doc, type ApiDeps } from '../deps.js';
import { ApiError } from '../errors.js';
import { idSchema, limitQuery, segmentSizesSchema, similarSchema } from '../schemas.js';

export function registerCatalogRoutes(v1: FastifyInstance, deps: ApiDeps): void {
  const { readers } = deps;
  const params = { type: 'object', required: ['itemId'], properties: { itemId: idSchema(deps.maxIdLength, 'item') } } as const;

  v1.get<{ Params: { itemId: string }; Querystring: { limit: number } }>('/items/:itemId/similar', {
    schema: {
      params,
      querystring: limitQuery(10),
      ...v1Doc(['items'], 'The item\'s nearest neighbours as the recommender scores them (co-occurrence similarity), with catalog titles', similarSchema, [400, 401, 404, 429, 503]),
    },
  }, async (req) => {
    const s = await readers.similar(req.params.itemId, req.query.limit);
    if (!s) throw new ApiError(404, 'NOT_FOUND', 'the model knows no such item: no event has named it yet (check the id), or it was removed');
    return s;
  });

  v1.get('/segments', {
    schema: v1Doc(['segments'], 'Member count of every segment, with its rule description', segmentSizesSchema),
  }, async () => ({ segments: await readers.segmentSizes() }));
}
