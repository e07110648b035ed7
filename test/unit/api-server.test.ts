/**
 * The lookup API's routes through `app.inject` with in-memory readers (no I/O): authentication, per-key rate
 * limits, input bounds, ETag / If-None-Match, the error shape, the OpenAPI document, and no id in any log line.
 */
import { describe, it, expect, beforeEach } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApiServer } from '../../src/api/server.js';
import { sha256Hex, type ApiKey } from '../../src/api/auth.js';
import { ServiceUnavailable, type ApiReaders, type UserRecommendations } from '../../src/api/readers.js';

const key = (name: string, secret: string, rateLimitPerMinute = 1000): ApiKey => ({ name, digest: Buffer.from(sha256Hex(secret), 'hex'), rateLimitPerMinute });
const KEYS = [key('alpha', 'secret-alpha'), key('tiny', 'secret-tiny', 2)];
const AUTH = { authorization: 'Bearer secret-alpha' };

function list(userId: string, items: string[]): UserRecommendations {
  return {
    userId, strategy: 'hybrid', sourceEventId: 'e1', sourceEventTime: 1000, generatedAt: 2000, recommendationId: 'r1', assignments: [],
    items: items.map((itemId, i) => ({ itemId, score: 1 - i / 10, reasons: [{ kind: 'bought_together', text: `bought together with ${itemId}x`, relatedItemId: `${itemId}x` }] })),
  };
}

/** In-memory readers: a map of lists, and calls recorded so tests can see what reached them. */
function memoryReaders(lists: Map<string, UserRecommendations>) {
  const calls: Array<[string, unknown[]]> = [];
  const readers: ApiReaders = {
    recommendations: async (u) => { calls.push(['recommendations', [u]]); return lists.get(u) ?? null; },
    segments: async (u) => (lists.has(u) ? { userId: u, evaluatedAt: 5, segments: [{ segmentId: 'frequent_buyer', description: 'At least 10 purchase lines', since: 3, cause: 'event', changesAt: 99 }] } : null),
    features: async (u) => (lists.has(u) ? {
      userId: u, firstSeen: 1, lastSeen: 5, totalEvents: 3, country: 'FR', device: null, evaluatedAt: 5,
      windows: [{ window: '7d', views: 0, clicks: 0, addToCarts: 0, purchases: 3, monetary: 12.5 }],
      recencyMs: { any: 0, purchase: 0, view: null }, session: { count: 1, active: true, currentLengthMs: 4, currentEvents: 3 },
      topCategories: [{ category: 'kitchen', score: 2 }], counts: { purchase: 3 },
    } : null),
    events: async (u, n) => { calls.push(['events', [u, n]]); return lists.has(u) ? { userId: u, counts: { purchase: 3 }, firstSeen: 1, lastSeen: 5, recentItems: ['a', 'b'].slice(0, n), purchases: [{ itemId: 'a', at: 5 }] } : null; },
    similar: async (i, n) => {
      calls.push(['similar', [i, n]]);
      if (i === 'loading') throw new ServiceUnavailable('the similar-items model is still loading from Redis: retry in a few seconds');
      return i === 'mug' ? { itemId: 'mug', title: 'Red Mug', similarity: 'cosine', modelLoadedAt: 7, items: [{ itemId: 'saucer', title: 'Red Saucer', score: 0.9, available: true }] } : null;
    },
    segmentSizes: async () => [{ segmentId: 'frequent_buyer', description: 'At least 10 purchase lines', members: 4 }],
    deadLetters: async (n) => { calls.push(['deadLetters', [n]]); return [{ topic: 'x.dlq', partition: 0, offset: '4', time: 9, stage: 'validate', code: 'BAD_ID', reason: 'userId contains control characters', source: { topic: 'x.events', partition: 1, offset: '17' } }]; },
    live: async () => { throw new ServiceUnavailable('Prometheus at http://127.0.0.1:1 does not answer (fetch failed): start it'); },
    experiments: async () => ({ confidence: 0.95, experiments: [], unknownExperiments: [] }),
  };
  return { readers, calls };
}

let app: FastifyInstance;
let calls: Array<[string, unknown[]]>;
let internal: string[];

beforeEach(async () => {
  const lists = new Map([['17850', list('17850', ['mug', 'tin'])], ['a/b c', list('a/b c', ['tin'])]]);
  const m = memoryReaders(lists);
  calls = m.calls;
  internal = [];
  app = await buildApiServer({ readers: m.readers, keys: KEYS, maxIdLength: 16, onInternalError: (e, route) => internal.push(`${route} ${e.message}`) });
});

describe('authentication', () => {
  it('refuses a request without a key, or with an unknown one, with 401 and the JSON error', async () => {
    const none = await app.inject({ url: '/v1/users/17850/recommendations' });
    expect(none.statusCode).toBe(401);
    expect(none.json()).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.stringContaining('Authorization: Bearer') } });
    const wrong = await app.inject({ url: '/v1/users/17850/recommendations', headers: { authorization: 'Bearer secret-alphb' } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.message).toContain('attune api-key new');
    expect(calls).toEqual([]);
  });

  it('accepts the key as a Bearer token or as x-api-key', async () => {
    expect((await app.inject({ url: '/v1/segments', headers: AUTH })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/segments', headers: { 'x-api-key': 'secret-alpha' } })).statusCode).toBe(200);
  });

  it('needs no key for /healthz and /openapi.json', async () => {
    expect((await app.inject({ url: '/healthz' })).json()).toEqual({ ok: true });
    expect((await app.inject({ url: '/openapi.json' })).statusCode).toBe(200);
  });
});

describe('rate limits', () => {
  it('limits each key by its own rate, with 429 in the JSON error shape, not touching other keys', async () => {
    const tiny = { 'x-api-key': 'secret-tiny' };
    expect((await app.inject({ url: '/v1/segments', headers: tiny })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/segments', headers: tiny })).statusCode).toBe(200);
    const third = await app.inject({ url: '/v1/segments', headers: tiny });
    expect(third.statusCode).toBe(429);
    expect(third.json().error.code).toBe('RATE_LIMITED');
    expect(third.json().error.message).toContain('2 requests per minute');
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0);
    expect(third.headers['x-ratelimit-limit']).toBe('2');
    expect((await app.inject({ url: '/v1/segments', headers: AUTH })).statusCode).toBe(200);
  });

  it('limits requests refused for their key per client address (no key guessing at line rate), not valid keys', async () => {
    const guarded = await buildApiServer({ readers: memoryReaders(new Map()).readers, keys: KEYS, maxIdLength: 16, refusedPerMinute: 3 });
    const from = (ip: string, headers: Record<string, string> = {}) => guarded.inject({ url: '/v1/segments', remoteAddress: ip, headers });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await from('10.0.0.1', i % 2 ? { 'x-api-key': `guess-${i}` } : {})).statusCode);
    expect(codes).toEqual([401, 401, 401]);
    const fourth = await from('10.0.0.1', { 'x-api-key': 'guess-4' });
    expect(fourth.statusCode).toBe(429);
    expect(fourth.json().error.message).toContain('without a valid API key');
    expect((await from('10.0.0.2')).statusCode).toBe(401); // another address has its own count
    expect((await from('10.0.0.1', { 'x-api-key': 'secret-alpha' })).statusCode).toBe(200); // a valid key is limited by its own rate
    expect((await guarded.inject({ url: '/healthz', remoteAddress: '10.0.0.1' })).statusCode).toBe(200);
    await guarded.close();
  });
});

describe('URLs it cannot decode', () => {
  it('answers 400 in the JSON error shape without repeating the URL (it holds the ids)', async () => {
    const r = await app.inject({ url: '/v1/users/%E0%A4%Asecret-user/segments', headers: AUTH });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ error: { code: 'BAD_URL', message: expect.stringContaining('encodeURIComponent') } });
    expect(r.body).not.toContain('secret-user');
  });
});

describe('recommendations', () => {
  it('answers the current list with a strong ETag, and 304 to If-None-Match with that tag', async () => {
    const r = await app.inject({ url: '/v1/users/17850/recommendations', headers: AUTH });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual(list('17850', ['mug', 'tin']));
    const etag = r.headers.etag as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/);
    const again = await app.inject({ url: '/v1/users/17850/recommendations', headers: { ...AUTH, 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers.etag).toBe(etag);
    // A weak form and a list holding the tag match too (RFC 9110: If-None-Match compares weakly).
    expect((await app.inject({ url: '/v1/users/17850/recommendations', headers: { ...AUTH, 'if-none-match': `"x", W/${etag}` } })).statusCode).toBe(304);
    const other = await app.inject({ url: '/v1/users/17850/recommendations', headers: { ...AUTH, 'if-none-match': '"stale"' } });
    expect(other.statusCode).toBe(200);
    expect(other.json().items).toHaveLength(2);
  });

  it('tags different lists differently', async () => {
    const a = await app.inject({ url: '/v1/users/17850/recommendations', headers: AUTH });
    const b = await app.inject({ url: `/v1/users/${encodeURIComponent('a/b c')}/recommendations`, headers: AUTH });
    expect(b.statusCode).toBe(200);
    expect(b.json().userId).toBe('a/b c');
    expect(a.headers.etag).not.toBe(b.headers.etag);
  });

  it('passes the decoded raw id to the reader and answers 404 without echoing the id', async () => {
    const r = await app.inject({ url: '/v1/users/nobody-here/recommendations', headers: AUTH });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('NOT_FOUND');
    expect(r.json().error.message).toContain('erased');
    expect(r.body).not.toContain('nobody-here');
    expect(calls).toContainEqual(['recommendations', ['nobody-here']]);
  });
});

describe('input bounds', () => {
  it('refuses an id longer than ATTUNE_MAX_ID_LENGTH or with a control character before any read', async () => {
    const long = await app.inject({ url: `/v1/users/${'x'.repeat(17)}/recommendations`, headers: AUTH });
    expect(long.statusCode).toBe(400);
    expect(long.json().error).toEqual({ code: 'BAD_REQUEST', message: expect.stringContaining('16 characters') });
    const ctl = await app.inject({ url: '/v1/users/a%01b/segments', headers: AUTH });
    expect(ctl.statusCode).toBe(400);
    expect(ctl.json().error.message).toContain('pattern');
    expect(calls).toEqual([]);
  });

  it('bounds limit to 1..100 and defaults it', async () => {
    for (const bad of ['0', '101', 'ten', '-1']) {
      const r = await app.inject({ url: `/v1/dead-letters?limit=${bad}`, headers: AUTH });
      expect(r.statusCode, bad).toBe(400);
      expect(r.json().error.code).toBe('BAD_REQUEST');
    }
    expect((await app.inject({ url: '/v1/users/17850/events?limit=100', headers: AUTH })).statusCode).toBe(200);
    await app.inject({ url: '/v1/users/17850/events', headers: AUTH });
    await app.inject({ url: '/v1/items/mug/similar', headers: AUTH });
    expect(calls).toEqual([['events', ['17850', 100]], ['events', ['17850', 20]], ['similar', ['mug', 10]]]);
  });

  it('refuses unknown query parameters', async () => {
    const r = await app.inject({ url: '/v1/dead-letters?limit=5&value=1', headers: AUTH });
    expect(r.statusCode).toBe(400);
  });
});

describe('the other endpoints', () => {
  it('answers segments, features, events, similar items, segment sizes and dead letters in their documented shapes', async () => {
    const seg = (await app.inject({ url: '/v1/users/17850/segments', headers: AUTH })).json();
    expect(seg.segments[0]).toEqual({ segmentId: 'frequent_buyer', description: 'At least 10 purchase lines', since: 3, cause: 'event', changesAt: 99 });
    const f = (await app.inject({ url: '/v1/users/17850/features', headers: AUTH })).json();
    expect(f.windows[0]).toEqual({ window: '7d', views: 0, clicks: 0, addToCarts: 0, purchases: 3, monetary: 12.5 });
    expect(f.counts).toEqual({ purchase: 3 });
    expect(f.topCategories).toEqual([{ category: 'kitchen', score: 2 }]);
    const ev = (await app.inject({ url: '/v1/users/17850/events?limit=1', headers: AUTH })).json();
    expect(ev).toEqual({ userId: '17850', counts: { purchase: 3 }, firstSeen: 1, lastSeen: 5, recentItems: ['a'], purchases: [{ itemId: 'a', at: 5 }] });
    const sim = (await app.inject({ url: '/v1/items/mug/similar?limit=3', headers: AUTH })).json();
    expect(sim.items).toEqual([{ itemId: 'saucer', title: 'Red Saucer', score: 0.9, available: true }]);
    expect((await app.inject({ url: '/v1/segments', headers: AUTH })).json()).toEqual({ segments: [{ segmentId: 'frequent_buyer', description: 'At least 10 purchase lines', members: 4 }] });
    const dl = (await app.inject({ url: '/v1/dead-letters?limit=3', headers: AUTH })).json();
    expect(dl.deadLetters[0]).toEqual({ topic: 'x.dlq', partition: 0, offset: '4', time: 9, stage: 'validate', code: 'BAD_ID', reason: 'userId contains control characters', source: { topic: 'x.events', partition: 1, offset: '17' } });
  });

  it('answers 404 for an unknown user or item, 503 when a source is away, both in the error shape', async () => {
    for (const p of ['segments', 'features', 'events']) expect((await app.inject({ url: `/v1/users/zz/${p}`, headers: AUTH })).statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/items/nope/similar', headers: AUTH })).json().error.code).toBe('NOT_FOUND');
    const loading = await app.inject({ url: '/v1/items/loading/similar', headers: AUTH });
    expect(loading.statusCode).toBe(503);
    expect(loading.json().error).toEqual({ code: 'UNAVAILABLE', message: expect.stringContaining('retry') });
    const live = await app.inject({ url: '/v1/live', headers: AUTH });
    expect(live.statusCode).toBe(503);
    expect(live.json().error.message).toContain('Prometheus');
  });

  it('answers an unknown path with 404 in the error shape', async () => {
    const r = await app.inject({ url: '/v2/nothing', headers: AUTH });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('NOT_FOUND');
  });

  it('answers 500 in the error shape and reports the route pattern only, never the id', async () => {
    const broken: ApiReaders = { ...memoryReaders(new Map()).readers, recommendations: async () => { throw new Error('boom'); } };
    const a = await buildApiServer({ readers: broken, keys: KEYS, maxIdLength: 16, onInternalError: (e, route) => internal.push(`${route} ${e.message}`) });
    const r = await a.inject({ url: '/v1/users/secret-user/recommendations', headers: AUTH });
    expect(r.statusCode).toBe(500);
    expect(r.json().error.code).toBe('INTERNAL');
    expect(internal).toEqual(['/v1/users/:userId/recommendations boom']);
  });
});

describe('OpenAPI', () => {
  it('documents every /v1 endpoint with its parameters, bounds and security, from the route schemas', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/v1/dead-letters', '/v1/experiments', '/v1/experiments.svg', '/v1/items/{itemId}/similar', '/v1/live', '/v1/segments',
      '/v1/users/{userId}/events', '/v1/users/{userId}/features', '/v1/users/{userId}/recommendations', '/v1/users/{userId}/segments',
    ]);
    const rec = doc.paths['/v1/users/{userId}/recommendations'].get;
    expect(rec.parameters[0]).toMatchObject({ name: 'userId', in: 'path', required: true, schema: { maxLength: 16 } });
    expect(rec.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(Object.keys(rec.responses)).toEqual(expect.arrayContaining(['200', '304', '401', '404', '429']));
    const limit = doc.paths['/v1/dead-letters'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit.schema).toMatchObject({ minimum: 1, maximum: 100 });
  });
});
