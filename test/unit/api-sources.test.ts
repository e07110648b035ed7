/** The API's sources without I/O: dead letters shown from their headers only, Prometheus answers (fetch injected). */
import { describe, it, expect } from 'vitest';
import { newestFirst, toDeadLetter } from '../../src/api/dead-letter-tail.js';
import { LIVE_QUERIES, PrometheusLive } from '../../src/api/prometheus.js';
import { ServiceUnavailable } from '../../src/api/readers.js';

describe('dead letters', () => {
  it('are shown from their headers, never with the record key or value', () => {
    const d = toDeadLetter('t.dlq', 2, {
      offset: '41', key: Buffer.from('user-17850'), value: Buffer.from('{"userId":"user-17850"}'), timestamp: '1000',
      headers: {
        'attune.error.code': Buffer.from('BAD_ID'), 'attune.error.stage': 'validate', 'attune.error.message': 'userId contains control characters',
        'attune.source.topic': 't.events', 'attune.source.partition': '1', 'attune.source.offset': '77', 'attune.failed.at': '5000',
      },
    });
    expect(d).toEqual({ topic: 't.dlq', partition: 2, offset: '41', time: 5000, stage: 'validate', code: 'BAD_ID', reason: 'userId contains control characters', source: { topic: 't.events', partition: 1, offset: '77' } });
    expect(JSON.stringify(d)).not.toContain('17850');
  });

  it('sort newest first, by time then offset', () => {
    const at = (partition: number, offset: string, time: number) => ({ topic: 't', partition, offset, time, stage: null, code: null, reason: null, source: { topic: null, partition: null, offset: null } });
    const sorted = [at(0, '1', 10), at(1, '5', 30), at(0, '2', 10), at(2, '0', 20)].sort(newestFirst);
    expect(sorted.map((d) => `${d.partition}:${d.offset}`)).toEqual(['1:5', '2:0', '0:2', '0:1']);
  });
});

describe('live figures from Prometheus', () => {
  const answer = (v: string) => ({ status: 'success', data: { resultType: 'vector', result: [{ value: [1, v] }] } });
  const rangeAnswer = { status: 'success', data: { resultType: 'matrix', result: [{ values: [[100, '3'], [115, 'NaN']] }] } };

  it('asks the documented PromQL and reads NaN (an empty histogram) as null', async () => {
    const asked: string[] = [];
    const fake = (async (url: string) => {
      const u = new URL(url);
      const q = u.searchParams.get('query')!;
      asked.push(`${u.pathname} ${q}`);
      if (u.pathname.endsWith('query_range')) return new Response(JSON.stringify(rangeAnswer));
      const v = q === LIVE_QUERIES.eventsPerSecond ? '250.5' : q === LIVE_QUERIES.lagRecords ? '12' : q.includes('event_time') ? 'NaN' : '0.02';
      return new Response(JSON.stringify(answer(v)));
    }) as typeof fetch;
    const live = await new PrometheusLive('http://prom:9090/', 1000, fake).live();
    expect(live.eventsPerSecond).toBe(250.5);
    expect(live.lag.records).toBe(12);
    expect(live.freshness.appendTime).toEqual({ p50: 0.02, p99: 0.02 });
    expect(live.freshness.eventTime).toEqual({ p50: null, p99: null });
    expect(live.series.eventsPerSecond).toEqual([{ t: 100_000, v: 3 }, { t: 115_000, v: null }]);
    expect(asked).toContain('/api/v1/query histogram_quantile(0.99, sum by (le) (rate(attune_freshness_seconds_bucket{since="append_time"}[5m])))');
    expect(asked).toContain('/api/v1/query max(attune_consumer_lag_seconds)');
  });

  it('turns an unreachable or refusing Prometheus into ServiceUnavailable naming ATTUNE_PROMETHEUS_URL', async () => {
    const down = (async () => { throw new TypeError('fetch failed'); }) as typeof fetch;
    await expect(new PrometheusLive('http://prom:9090', 1000, down).live()).rejects.toThrow(ServiceUnavailable);
    await expect(new PrometheusLive('http://prom:9090', 1000, down).live()).rejects.toThrow(/ATTUNE_PROMETHEUS_URL/);
    const refusing = (async () => new Response(JSON.stringify({ status: 'error', error: 'parse error' }), { status: 400 })) as typeof fetch;
    await expect(new PrometheusLive('http://prom:9090', 1000, refusing).live()).rejects.toThrow(/HTTP 400: parse error/);
  });
});
