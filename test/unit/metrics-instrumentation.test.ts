/**
 * The pure parts of the #13 instrumentation: consumer lag in records and seconds (and its gauges, aged at scrape
 * time), the freshness of emitted lists, the Redis command labels and timing hook, produce timing by topic kind,
 * and prom-client's default metrics under their standard names.
 */
import { describe, expect, it } from 'vitest';
import { ConsumerLag, lagSeconds, partitionLagAt } from '../../src/kafka/lag.js';
import { listFreshness } from '../../src/stages/emit/freshness.js';
import { commandLabel, sha1, timeCommands } from '../../src/stores/command-timing.js';
import { timedProducer, topicKinds } from '../../src/kafka/timed-producer.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { topicNames } from '../../src/config/config.js';
import type { InboundRecord, OutboundRecord, StreamProducer } from '../../src/kafka/port.js';
import type { OffsetEvent } from '../../src/stages/ingest/plan.js';
import type { UserEvent } from '../../src/domain/events.js';

const rec = (offset: number, timestamp: number): InboundRecord => ({ offset: String(offset), timestamp: String(timestamp), key: null, value: null, headers: {} });

describe('consumer lag', () => {
  it('lagSeconds: the age of the oldest unprocessed record, 0 when caught up or its clock is ahead', () => {
    expect(lagSeconds(5, 1_000, 4_500)).toBe(3.5);
    expect(lagSeconds(0, 1_000, 4_500)).toBe(0);
    expect(lagSeconds(5, null, 4_500)).toBe(0);
    expect(lagSeconds(5, 9_000, 4_500)).toBe(0);
  });

  it('partitionLagAt: records left to the high watermark and the timestamp of the next one', () => {
    const records = [rec(10, 100), rec(11, 200), rec(12, 300)];
    expect(partitionLagAt(records, 0, '13')).toEqual({ records: 3, oldestMs: 100 });
    expect(partitionLagAt(records, 2, '13')).toEqual({ records: 1, oldestMs: 300 });
    expect(partitionLagAt(records, 3, '13')).toEqual({ records: 0, oldestMs: null });
    // The watermark moved past the fetched records: the last processed record's time stands in (an upper bound).
    expect(partitionLagAt(records, 3, '20')).toEqual({ records: 7, oldestMs: 300 });
    expect(partitionLagAt([], 0, '20')).toEqual({ records: 0, oldestMs: null });
  });

  it('the gauges age between batches and forget revoked partitions', async () => {
    const m = createMetrics();
    m.consumerLag.update('ev', 0, 4, Date.now() - 30_000);
    m.consumerLag.update('ev', 1, 0, null);
    m.consumerLag.update('items', 0, 2, Date.now());
    const seconds = async () => Object.fromEntries((await m.lagSeconds.get()).values.map((v) => [`${v.labels.topic}:${v.labels.partition}`, v.value]));
    const s = await seconds();
    expect(s['ev:0']).toBeGreaterThanOrEqual(30);
    expect(s['ev:1']).toBe(0);
    expect((await m.lagRecords.get()).values.find((v) => v.labels.partition === '0' && v.labels.topic === 'ev')?.value).toBe(4);
    m.consumerLag.retain('ev', [1]);
    expect(Object.keys(await seconds()).sort()).toEqual(['ev:1', 'items:0']);
  });

  it('ConsumerLag never reports a negative count', () => {
    const l = new ConsumerLag();
    l.update('ev', 0, -3, 5);
    expect(l.snapshot(10)).toEqual([{ topic: 'ev', partition: 0, records: 0, seconds: 0 }]);
  });
});

describe('listFreshness', () => {
  const event = (eventTime: number): UserEvent => ({
    eventId: 'e', userId: 'u', type: 'purchase', eventTime, itemId: 'i', quantity: 1, price: 1, rating: null, sessionId: null, context: null, properties: {},
  });
  it('measures each list against its source event (by the attune.source offset); tombstones are no list', () => {
    const records = [rec(7, 9_000), rec(8, 9_500)];
    const events: OffsetEvent[] = [{ offset: 7, event: event(8_000) }, { offset: 8, event: event(9_400) }];
    const out: OutboundRecord[] = [
      { key: 'a', value: Buffer.from('x'), headers: { 'attune.source': 'ev:0:8' } },
      { key: 'b', value: null, headers: { 'attune.source': 'ev:0:7' } },
      { key: 'c', value: Buffer.from('x'), headers: { 'attune.source': 'ev:0:7' } },
      { key: 'd', value: Buffer.from('x'), headers: { 'attune.source': 'ev:0:99' } }, // not in the micro-batch
    ];
    expect(listFreshness(out, records, events, 10_000)).toEqual([{ eventTime: 0.6, appendTime: 0.5 }, { eventTime: 2, appendTime: 1 }]);
    // A source clock ahead of the worker's is 0, not negative.
    expect(listFreshness(out.slice(0, 1), records, events, 9_000)).toEqual([{ eventTime: 0, appendTime: 0 }]);
  });
});

describe('Redis command timing', () => {
  const scripts = new Map([[sha1('return 1'), 'applyUserEvents']]);
  it('labels a script call by its script, anything else by its command name', () => {
    expect(commandLabel('evalsha', [sha1('return 1'), 0], scripts)).toBe('applyUserEvents');
    expect(commandLabel('eval', ['return 1', 0], scripts)).toBe('applyUserEvents'); // the NOSCRIPT fallback
    expect(commandLabel('evalsha', ['f'.repeat(40)], scripts)).toBe('evalsha');
    expect(commandLabel('HGETALL', ['k'], scripts)).toBe('hgetall');
  });

  it('times each command once from its first send to its reply, failures included', async () => {
    const seen: Array<[string, number]> = [];
    const replies: Array<() => void> = [];
    const client = {
      sent: 0,
      sendCommand(this: { sent: number }, _c: unknown) { this.sent++; return 'queued'; },
    };
    timeCommands(client, scripts, (name, s) => seen.push([name, s]));
    const command = (name: string, fail = false) => {
      let settle!: () => void;
      const promise = new Promise<void>((resolve, reject) => { settle = () => (fail ? reject(new Error('x')) : resolve()); });
      promise.catch(() => {});
      replies.push(settle);
      return { name, args: ['k'], promise };
    };
    const get = command('get');
    expect(client.sendCommand(get)).toBe('queued');
    client.sendCommand(get); // sent again (offline queue, redirection): still one round trip
    const del = command('del', true);
    client.sendCommand(del);
    expect(client.sent).toBe(3);
    expect(seen).toEqual([]);
    for (const r of replies) r();
    await new Promise((r) => setTimeout(r, 0));
    expect(seen.map(([n]) => n)).toEqual(['get', 'del']);
    expect(seen.every(([, s]) => s >= 0 && s < 5)).toBe(true);
  });
});

describe('produce timing', () => {
  const topics = topicNames({ topicPrefix: 'acme' });
  it('names topics by kind, never by raw name', () => {
    const kind = topicKinds(topics);
    expect([topics.recommendations, topics.segmentChanges, topics.dlq, topics.erasures, 'elsewhere'].map(kind))
      .toEqual(['recommendations', 'segments', 'dead_letters', 'erasures', 'other']);
  });

  it('observes every send, a failed one too, and no empty one', async () => {
    const seen: string[] = [];
    let fail = false;
    const inner: StreamProducer = { connect: async () => {}, disconnect: async () => {}, send: async () => { if (fail) throw new Error('refused'); } };
    const p = timedProducer(inner, topicKinds(topics), (k) => seen.push(k));
    await p.send(topics.recommendations, [{ key: 'a', value: null }]);
    await p.send(topics.dlq, []);
    fail = true;
    await expect(p.send(topics.dlq, [{ key: 'a', value: null }])).rejects.toThrow('refused');
    expect(seen).toEqual(['recommendations', 'dead_letters']);
  });
});

describe('default metrics', () => {
  it('come under their standard names, and no gauge is named *_total', async () => {
    const m = createMetrics();
    const all = await m.registry.getMetricsAsJSON();
    const names = all.map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_active_handles']));
    expect(names.filter((n) => n.startsWith('attune_process_'))).toEqual([]);
    expect(all.filter((x) => String(x.type) !== 'counter' && x.name.endsWith('_total')).map((x) => x.name)).toEqual([]);
  });
});
