/**
 * The lookup API (docs/api.md) as a fastify app built from injected dependencies: the readers (what it reads),
 * the API keys and the static folders. Tests build it with in-memory readers and call `app.inject`; `attune api`
 * builds it with the Redis, Kafka and Prometheus readers and listens.
 *
 * fastify's logger is off: its request log lines hold the URL, and the URL holds user and item ids.
 * Unexpected errors are logged with the route pattern only.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import { matchKey, presentedKey, type ApiKey } from './auth.js';
import { ApiError, errorBody, installErrorHandlers } from './errors.js';
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
    /** Why the /v1 auth hook refused the request: answered after the limiter has counted it (see below). */
    authRefused?: ApiError;
  }
}

/** Requests a minute one client address may make without a valid key before it gets 429 (key guessing). */
export const REFUSED_PER_MINUTE = 60;

export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // No fastify logger at all: its request lines would carry the URL, and so the ids.
    logger: false,
    // Ids may be percent-encoded (3 characters each): room for the longest id the schema then bounds, with a 400.
    routerOptions: { maxParamLength: deps.maxIdLength * 3 + 16 },
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false, allErrors: false } },
    // fastify's own answer to a URL it cannot decode repeats the URL, which holds the ids: ours does not.
    frameworkErrors: (err, _req, reply) => {
      const bad = (err as FastifyError).code === 'FST_ERR_BAD_URL';
      (reply as FastifyReply).code(400).send(errorBody(bad ? 'BAD_URL' : 'BAD_REQUEST', bad
        ? 'the URL is not valid percent-encoding: encode each id with encodeURIComponent'
        : 'the request could not be routed: see GET /openapi.json for the paths'));
    },
  });
  installErrorHandlers(app, deps.onInternalError ?? (() => {}));
  app.addSchema(errorSchema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Attune lookup API', version: ATTUNE_VERSION, description: 'Current recommendations, segments, features and activity of users; similar items; segment sizes; dead letters; live figures; experiments. See docs/api.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  // Per-key limits, and per client address for requests the auth hook refused (no key, or a wrong one), so that
  // keys cannot be guessed at line rate. Public routes (health, OpenAPI, the ops page's files) are not limited.
  const refusedPerMinute = deps.refusedPerMinute ?? REFUSED_PER_MINUTE;
  await app.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    timeWindow: 60_000,
    max: (req) => req.apiKey?.rateLimitPerMinute ?? refusedPerMinute,
    keyGenerator: (req) => (req.apiKey ? `key:${req.apiKey.name}` : `refused:${req.ip}`),
    allowList: (req) => req.apiKey === undefined && req.authRefused === undefined,
    errorResponseBuilder: (req, ctx) => req.apiKey
      ? new ApiError(429, 'RATE_LIMITED', `the key ${req.apiKey.name} is over its limit of ${ctx.max} requests per minute: retry after ${ctx.after}, or raise its rateLimitPerMinute in the keys file`)
      : new ApiError(429, 'RATE_LIMITED', `more than ${ctx.max} requests a minute from this address without a valid API key: retry after ${ctx.after} with a key from the keys file`),
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(async (v1) => {
    // Runs before the route's rate-limit hook (instance hooks first), so the limiter sees the key, or the refusal;
    // the refusal is answered in the next phase, once the limiter has counted it.
    v1.addHook('onRequest', async (req) => {
      const key = presentedKey(req.headers);
      if (key === null) req.authRefused = new ApiError(401, 'UNAUTHORIZED', 'no API key: send it as `Authorization: Bearer <key>` or `x-api-key: <key>`');
      else {
        const found = matchKey(deps.keys, key);
        if (found) req.apiKey = found;
        else req.authRefused = new ApiError(401, 'UNAUTHORIZED', 'the API key is not in the keys file: check it, or add its entry (`attune api-key new <name>`)');
      }
    });
    v1.addHook('preParsing', async (req) => {
      if (req.authRefused) throw req.authRefused;
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
