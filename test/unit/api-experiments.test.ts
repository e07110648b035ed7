/**
 * /v1/experiments and /v1/experiments.svg through `app.inject` with an injected reader (no I/O): the key, the
 * report as `attune experiments report --json` builds it with every field through the response schema (fastify's
 * serializer drops what the schema does not name), the chart, the OpenAPI entries; and the Redis reader's one
 * HGETALL of the counts hash.
 */
import { describe, it, expect } from 'vitest';
import { buildApiServer } from '../../src/api/server.js';
import { sha256Hex } from '../../src/api/auth.js';
import type { ApiReaders } from '../../src/api/readers.js';
import { RedisExperimentsReader } from '../../src/api/redis-readers.js';
import type { RedisClient } from '../../src/stores/redis-client.js';
import { Keys } from '../../src/stores/keys.js';
import { parseExperiments } from '../../src/experiments/file.js';
import { countField, parseCounts, type Metric } from '../../src/experiments/counts.js';
import { experimentsReport, reportSvg, type ExperimentsReport } from '../../src/experiments/report-format.js';

const KEYS = [{ name: 'alpha', digest: Buffer.from(sha256Hex('secret-alpha'), 'hex'), rateLimitPerMinute: 1000 }];
const AUTH = { authorization: 'Bearer secret-alpha' };

// An A/B test with three variants (chi-square), a per-segment bandit (shares, segments) and one without impressions.
const CONFIG = parseExperiments(`
version: 1
experiments:
  home_abc:
    layer: home
    traffic: 0.5
    variants:
      control: { strategy: hybrid, share: 0.5 }
      better: { strategy: collaborative, share: 0.25 }
      worse: { strategy: trending, share: 0.25 }
  bandit_ab:
    layer: bandit
    allocation: thompson
    bandit: { min_exploration: 0.1, per_segment: true }
    eligible: { segments: [frequent_buyer] }
    variants:
      a: { strategy: hybrid }
      b: { strategy: collaborative }
  fresh:
    variants:
      control: { strategy: hybrid, share: 0.5 }
      untouched: { strategy: content, share: 0.5 }
`);

const HASH: Record<string, string> = {};
const put = (e: string, v: string, seg: string | null, counts: Partial<Record<Metric, number>>) => {
  for (const [m, n] of Object.entries(counts)) HASH[countField(e, v, seg, m as Metric)] = String(n);
};
put('home_abc', 'control', null, { i: 5000, c: 200, v: 50 });
put('home_abc', 'better', null, { i: 5000, c: 300, v: 80 });
put('home_abc', 'worse', null, { i: 5000, c: 150, v: 40 });
put('bandit_ab', 'a', null, { i: 1800, c: 123, v: 10 });
put('bandit_ab', 'b', null, { i: 2000, c: 105, v: 9 });
put('bandit_ab', 'a', 'frequent_buyer', { i: 1500, c: 120 });
put('bandit_ab', 'b', 'frequent_buyer', { i: 500, c: 15 });
put('home_abc', 'renamed', null, { i: 7 });
put('retired', 'control', null, { i: 3 });

const REPORT = experimentsReport(CONFIG, parseCounts(HASH));

function readersWith(report: () => Promise<ExperimentsReport>): { readers: ApiReaders; calls: () => number } {
  let n = 0;
  const unused = async (): Promise<never> => { throw new Error('not read in these tests'); };
  return {
    readers: {
      recommendations: unused, segments: unused, features: unused, events: unused, similar: unused,
      segmentSizes: unused, deadLetters: unused, live: unused,
      experiments: () => { n++; return report(); },
    },
    calls: () => n,
  };
}

async function appWith(report: ExperimentsReport) {
  const r = readersWith(async () => report);
  return { app: await buildApiServer({ readers: r.readers, keys: KEYS, maxIdLength: 16 }), calls: r.calls };
}

describe('GET /v1/experiments', () => {
  it('needs the key, like every /v1 route, and reads nothing without it', async () => {
    const { app, calls } = await appWith(REPORT);
    for (const url of ['/v1/experiments', '/v1/experiments.svg']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(401);
      expect(r.json().error.code).toBe('UNAUTHORIZED');
      expect((await app.inject({ url, headers: { 'x-api-key': 'wrong' } })).statusCode, url).toBe(401);
    }
    expect(calls()).toBe(0);
    await app.close();
  });

  it('answers the report with every field the report holds, through the response schema', async () => {
    const { app } = await appWith(REPORT);
    const r = await app.inject({ url: '/v1/experiments', headers: AUTH });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('application/json');
    // The report as JSON.stringify writes it: a field the schema forgot would be missing here.
    expect(r.json()).toEqual(JSON.parse(JSON.stringify(REPORT)));
    await app.close();
  });

  it('keeps the variants, tests, leader, bandit shares and segments, and the unknown ids', async () => {
    const { app } = await appWith(REPORT);
    const body = (await app.inject({ url: '/v1/experiments', headers: AUTH })).json();
    expect(body.confidence).toBe(0.95);
    expect(body.experiments.map((e: { id: string }) => e.id)).toEqual(['home_abc', 'bandit_ab', 'fresh']);
    const [abc, bandit, fresh] = body.experiments;
    expect(abc).toMatchObject({ layer: 'home', traffic: 0.5, allocation: 'fixed', control: 'control', impressions: 15000, bandit: null, unknownVariants: ['renamed'] });
    expect(abc.variants[1]).toEqual({
      id: 'better', strategy: 'collaborative', impressions: 5000, clicks: 300, conversions: 80,
      ctr: { rate: 0.06, lo: expect.any(Number), hi: expect.any(Number), vsControl: { z: expect.any(Number), p: expect.any(Number) } },
      conversion: { rate: 0.016, lo: expect.any(Number), hi: expect.any(Number), vsControl: { z: expect.any(Number), p: expect.any(Number) } },
    });
    expect(abc.variants[0].ctr.vsControl).toBeNull();
    expect(abc.ctrChiSquare).toEqual({ statistic: expect.any(Number), df: 2, p: expect.any(Number) });
    expect(abc.best).toEqual({ variant: 'better', isControl: false, p: expect.any(Number), significantAt: 0.01 });
    expect(bandit.allocation).toBe('thompson');
    expect(bandit.ctrChiSquare).toBeNull();
    expect(bandit.bandit).toEqual(JSON.parse(JSON.stringify(REPORT.experiments[1].bandit)));
    expect(Object.keys(bandit.bandit.shares)).toEqual(['a', 'b']);
    expect(bandit.bandit.segments.map((s: { segment: string; impressions: number; clicks: number }) => [s.segment, s.impressions, s.clicks])).toEqual([['frequent_buyer', 2000, 135]]);
    expect(fresh.best).toBeNull();
    expect(fresh.impressions).toBe(0);
    expect(body.unknownExperiments).toEqual(['retired']);
    await app.close();
  });

  it('answers the empty report when the API has no experiments file', async () => {
    const empty = await new RedisExperimentsReader({} as RedisClient, 'p', null).report();
    const { app } = await appWith(empty);
    const r = await app.inject({ url: '/v1/experiments', headers: AUTH });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ confidence: 0.95, experiments: [], unknownExperiments: [] });
    await app.close();
  });

  it('answers a reader\'s failure with 500 in the error shape', async () => {
    const r = readersWith(async () => { throw new Error('redis away'); });
    const app = await buildApiServer({ readers: r.readers, keys: KEYS, maxIdLength: 16 });
    const res = await app.inject({ url: '/v1/experiments', headers: AUTH });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.code).toBe('INTERNAL');
    await app.close();
  });
});

describe('GET /v1/experiments.svg', () => {
  it('answers the report\'s chart as image/svg+xml, byte for byte', async () => {
    const { app } = await appWith(REPORT);
    const r = await app.inject({ url: '/v1/experiments.svg', headers: AUTH });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.body).toBe(reportSvg(REPORT));
    expect(r.body.startsWith('<svg ')).toBe(true);
    await app.close();
  });
});

describe('OpenAPI', () => {
  it('documents both routes with the key and their content types', async () => {
    const { app } = await appWith(REPORT);
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    const json = doc.paths['/v1/experiments'].get;
    expect(json.security).toEqual([{ bearer: [] }, { apiKey: [] }]);
    expect(Object.keys(json.responses)).toEqual(expect.arrayContaining(['200', '401', '429']));
    const schema = json.responses['200'].content['application/json'].schema;
    expect(Object.keys(schema.properties)).toEqual(['confidence', 'experiments', 'unknownExperiments']);
    expect(Object.keys(schema.properties.experiments.items.properties)).toEqual(Object.keys(REPORT.experiments[0]));
    const svg = doc.paths['/v1/experiments.svg'].get;
    expect(Object.keys(svg.responses['200'].content)).toEqual(['image/svg+xml']);
    await app.close();
  });
});

describe('RedisExperimentsReader', () => {
  it('reads the counts hash of the deployment with one HGETALL and reports it', async () => {
    const reads: string[][] = [];
    const redis = { hgetall: async (key: string) => { reads.push([key]); return HASH; } } as unknown as RedisClient;
    const report = await new RedisExperimentsReader(redis, 'dep1', CONFIG).report();
    expect(reads).toEqual([[new Keys('dep1').experimentCounts()]]);
    expect(report).toEqual(REPORT);
  });

  it('reads nothing without an experiments file', async () => {
    const redis = { hgetall: async () => { throw new Error('must not be read'); } } as unknown as RedisClient;
    expect(await new RedisExperimentsReader(redis, 'dep1', null).report()).toEqual({ confidence: 0.95, experiments: [], unknownExperiments: [] });
  });
});
