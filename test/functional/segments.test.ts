/**
 * Real-time segments end to end on the real broker, registry and Redis, one partition: an entry when a
 * threshold is crossed, an exit exactly at the due time driven by OTHER users' events, a too-late event in the
 * DLQ with code TOO_LATE, and a replay (Redis state deleted, new group) reproducing the same history — which is
 * also the pure reference engine's.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { topicNames, type Config } from '../../src/config/config.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { createRedis, type RedisClient } from '../../src/stores/redis-client.js';
import { FeatureStore } from '../../src/stages/segments/store.js';
import { bootstrapState } from '../../src/stores/bootstrap.js';
import type { StreamProducer } from '../../src/kafka/port.js';
import type { SegmentChange, UserEvent } from '../../src/domain/events.js';
import { PartitionEngine } from '../../src/stages/segments/core/engine.js';
import { loadSegmentSetup } from '../../src/stages/segments/processor.js';
import { testConfig, waitFor, pseudonymOf } from '../support/env.js';

const dir = mkdtempSync(join(tmpdir(), 'attune-seg-'));
const rulesPath = join(dir, 'segments.yaml');
writeFileSync(rulesPath, `segments:
  busy:
    description: at least 3 views in the last hour
    when:
      count: { type: view, window: 1h }
      gte: 3
`);

const cfg = testConfig({ partitions: 1, segmentRules: rulesPath, allowedLatenessMs: 60_000, timerResolutionMs: 1000, segmentIdleMs: 0 });
const topics = topicNames(cfg);
const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-test');
let worker: WorkerHandle | undefined;
let codec: Codec;
let producer: StreamProducer;
let redis: RedisClient;

const MIN = 60_000;
const T0 = Date.UTC(2011, 5, 1, 10, 0, 0); // minute-aligned: the 1h window (1 min buckets) slides exactly
let n = 0;
const view = (userId: string, t: number): UserEvent => ({
  eventId: `${userId}-${n++}`, userId, type: 'view', eventTime: t, itemId: 'i1', quantity: null, price: null,
  rating: null, sessionId: null, context: null, properties: {},
});
// alice enters "busy" with her 3rd view; bob's events move event time; carol's is too late.
const input: UserEvent[] = [
  view('alice', T0), view('alice', T0 + 1000), view('alice', T0 + 2000),
  view('bob', T0 + 30 * MIN),
  view('bob', T0 + 60 * MIN + 5000), // the 1h window of alice's first view ends at T0 + 60 min: exit due then
  view('carol', T0), // more than 60 s behind the watermark: TOO_LATE
  view('bob', T0 + 61 * MIN),
];

type Seen = Omit<SegmentChange, 'emittedAt'> & { source: string };

async function segmentHistory(c: Config, min: number): Promise<Seen[]> {
  return waitFor(async () => {
    const recs = await readTopicToEnd(kafka, topicNames(c).segmentChanges);
    if (recs.length < min) return null;
    const out: Seen[] = [];
    for (const r of recs) {
      const { emittedAt: _e, ...rest } = (await codec.decode(r.value, 1e6)) as unknown as SegmentChange;
      expect(r.key).toBe(rest.userId);
      out.push({ ...rest, eventTime: Number(rest.eventTime), source: r.headers['attune.source']! });
    }
    return out;
  }, `${min} segment changes`);
}

async function clearRedis() {
  const keys = await redis.keys(`${cfg.keyPrefix}:*`);
  if (keys.length) await redis.del(...keys);
}

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, cfg);
  await admin.disconnect();
  codec = new Codec(cfg.registryUrl, topics);
  await codec.registerAll();
  producer = kafka.producer();
  await producer.connect();
  redis = createRedis(cfg);
  worker = await startWorker(cfg, kafka);
});

afterAll(async () => {
  await worker?.stop();
  await producer?.disconnect();
  await clearRedis();
  await redis.quit();
});

describe('real-time segments', () => {
  let first: Seen[] = [];

  it('enters on the threshold, exits at the due time on other users\' events, dead-letters a too-late event', async () => {
    await producer.send(topics.events, await Promise.all(input.map(async (e) => ({ key: e.userId, value: await codec.encodeEvent(e) }))));
    first = await segmentHistory(cfg, 3);
    expect(first).toEqual([
      { userId: 'alice', segmentId: 'busy', change: 'enter', eventTime: T0 + 2000, cause: input[2]!.eventId, source: `${topics.events}:0:2` },
      // no event of alice: bob's event at offset 4 moved the watermark past the due time
      { userId: 'alice', segmentId: 'busy', change: 'exit', eventTime: T0 + 60 * MIN, cause: 'time', source: `${topics.events}:0:4` },
      // bob's own 3rd view within the hour
      { userId: 'bob', segmentId: 'busy', change: 'enter', eventTime: T0 + 61 * MIN, cause: input[6]!.eventId, source: `${topics.events}:0:6` },
    ]);
    expect(Math.abs(first[1]!.eventTime - (T0 + 60 * MIN))).toBeLessThanOrEqual(cfg.timerResolutionMs);

    const dlq = await waitFor(async () => { const r = await readTopicToEnd(kafka, topics.dlq); return r.length >= 1 ? r : null; }, 'the too-late event in the DLQ');
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.headers['attune.error.code']).toBe('TOO_LATE');
    expect(dlq[0]!.headers['attune.source.offset']).toBe('5');
    expect(dlq[0]!.key).toBe('carol');

    // Redis state through the typed read interface.
    const { featureConfig } = loadSegmentSetup(cfg);
    const store = new FeatureStore(redis, cfg.keyPrefix, featureConfig);
    await waitFor(async () => (await store.loadPartition(topics.events, 0)).offset === 6, 'partition state at offset 6');
    expect(await store.readSegments(pseudonymOf('alice'))).toEqual([]);
    const v = await store.readFeatureView(pseudonymOf('alice'));
    expect(v!.count({ type: 'view', window: '1h' }, T0 + 2000)).toBe(3);
    expect(v!.count({ type: 'view', window: '1h' }, T0 + 61 * MIN)).toBe(0);
    expect(await store.readFeatureView(pseudonymOf('carol'))).toBeNull(); // too late: never applied
    expect(await store.segmentCounts()).toEqual({ busy: 1 });
    expect(await store.readSegments(pseudonymOf('bob'))).toEqual(['busy']);
    const metrics = await (await fetch(`http://127.0.0.1:${worker!.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/attune_segment_changes_total\{segment="busy",change="enter"\} 2/);
    expect(metrics).toMatch(/attune_segment_changes_total\{segment="busy",change="exit"\} 1/);
    expect(metrics).toMatch(/attune_segment_members\{segment="busy"\} 1/);
    expect(metrics).toMatch(/attune_dlq_records_total\{stage="process",code="TOO_LATE"\} 1/);
  });

  it('refuses stale writes (CAS) with retriable codes and counts each offset once', async () => {
    const store = new FeatureStore(redis, `${cfg.keyPrefix}-cas`);
    await bootstrapState(redis, `${cfg.keyPrefix}-cas`);
    const u = await store.loadUser('zed', 't', 0);
    await store.commitUser('zed', 't', 0, -1, 10, { ...u, segments: ['busy'], due: 5 });
    await expect(store.commitUser('zed', 't', 0, -1, 11, u)).rejects.toMatchObject({ code: 'SEGMENT_USER_CONFLICT', retriable: true });
    expect(await store.loadUser('zed', 't', 0)).toMatchObject({ offset: 10, segments: ['busy'], due: 5 });
    expect(await store.readSegments('zed')).toEqual(['busy']);
    const p = await store.loadPartition('t', 0);
    await store.commitPartition('t', 0, p.raw, { offset: 10, watermark: 100, wall: 1, late: [], pending: [] }, [['zed', 5]]);
    await expect(store.commitPartition('t', 0, p.raw, { offset: 11, watermark: 100, wall: 1, late: [], pending: [] }, []))
      .rejects.toMatchObject({ code: 'SEGMENT_PARTITION_CONFLICT', retriable: true });
    expect(await store.dueTimers('t', 0, 5)).toEqual(['zed']);
    expect(await store.applyCounts('o:t:0', 10, [[3, 'busy', 1], [10, 'busy', 1]])).toBe(2);
    expect(await store.applyCounts('o:t:0', 12, [[3, 'busy', 1], [10, 'busy', 1], [12, 'busy', -1]])).toBe(1);
    expect(await store.segmentCounts()).toEqual({ busy: 1 });
    const keys = await redis.keys(`${cfg.keyPrefix}-cas:*`);
    await redis.del(...keys);
  });

  it('a replay of the same input reproduces the same history (and the reference engine\'s)', async () => {
    // The pure reference on the same input.
    const { featureConfig, rules } = loadSegmentSetup(cfg);
    const eng = new PartitionEngine({ features: featureConfig, segments: rules });
    const ref = input.flatMap((e) => eng.process(e).changes).map(({ emittedAt: _e, ...c }) => c);
    expect(first.map(({ source: _s, ...c }) => c)).toEqual(ref);

    // Replay: forget the Redis state, read the topic again with a new group.
    await worker!.stop();
    worker = undefined;
    await clearRedis();
    const cfg2 = { ...cfg, groupId: `${cfg.groupId}-replay` };
    worker = await startWorker(cfg2, kafka);
    const all = await segmentHistory(cfg2, first.length * 2);
    expect(all.slice(first.length)).toEqual(first);
  });
});
