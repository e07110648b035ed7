/**
 * The lookup API (docs/api.md) as a fastify app built from injected dependencies: the readers (what it reads),
 * the API keys and the static folders. Tests build it with in-memory readers and call `app.inject`; `attune api`
 * builds it with the Redis, Kafka and Prometheus readers and listens.
 *
 * fastify's logger is off: its request log lines hold the URL, and the URL holds user and item ids.
 * Unexpected errors are logged with the route pattern only.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { matchKey, presentedKey, type ApiKey } from './auth.js';
import { ApiError, installErrorHandlers } from './errors.js';
import type { ApiDeps } from './deps.js';
import { errorSchema } from './schemas.js';
import { registerUserRoutes } from './routes/users.js';
import { registerCatalogRoutes } from './routes/catalog.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerUi } from './routes/ui.js';
import { ATTUNE_VERSION } from '../stages/dead-letter/record.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The key the request authenticated with (set by the /v1 auth hook). */
    apiKey?: ApiKey;
  }
}


export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // No fastify logger at all: its request lines would carry the URL, and so the ids.
    logger: false,
    // Ids may be percent-encoded (3 characters each): room for the longest id the schema then bounds, with a 400.
    routerOptions: { maxParamLength: deps.maxIdLength * 3 + 16 },
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false } },
  });
  installErrorHandlers(app, deps.onInternalError ?? (() => {}));
  app.addSchema(errorSchema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Attune lookup API', version: ATTUNE_VERSION, description: 'Current recommendations, segments, features and activity of users; similar items; segment sizes; dead letters; live figures. See docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  // Per-key limits: requests without a key never reach the limiter (public routes, or refused by the auth hook).
  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    timeWindow: 60_000,
    max: (req) => req.apiKey?.rateLimitPerMinute ?? 1,
    keyGenerator: (req) => req.apiKey?.name ?? 'anonymous',
    allowList: (req) => req.apiKey === undefined,
    errorResponseBuilder: (req, ctx) =>
      new ApiError(429, 'RATE_LIMITED', `the key ${req.apiKey?.name ?? ''} is over its limit of ${ctx.max} requests per minute: retry after ${ctx.after}, or raise its rateLimitPerMinute in the keys file`),
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(async (v1) => {
    // Runs before the route's rate-limit hook (instance hooks first), so the limiter sees the key.
    v1.addHook('onRequest', async (req) => {
      const key = presentedKey(req.headers);
      if (key === null) throw new ApiError(401, 'UNAUTHORIZED', 'no API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`');
      const found = matchKey(deps.keys, key);
      if (!found) throw new ApiError(401, 'UNAUTHORIZED', 'the API key is not in the keys file: check it, or add its entry (`attune api-key new <name>`)');
      req.apiKey = found;
    });
    registerUserRoutes(v1, deps);
    registerCatalogRoutes(v1, deps);
    registerOpsRoutes(v1, deps);
  }, { prefix: '/v1' });

  if (deps.ui) await registerUi(app, deps.ui);
  await app.ready();
  return app;
}

export type { ApiDeps };
