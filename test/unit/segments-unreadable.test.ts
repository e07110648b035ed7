/**
 * An unreadable stored feature state must not block a user's erasure (or consent withdrawal): for a user reset in the
 * micro-batch the segments processor reads a field that does not parse as empty (field by field: what is readable,
 * e.g. the segments to exit, is kept), so the reset and the rest apply and the commit replaces the value. A user
 * without a reset still fails the micro-batch (isolation dead-letters its records), as before. The processor runs
 * over the real FeatureStore.loadUser (a fake Redis HMGET) and fakes for the writes.
 */
import { describe, expect, it, vi } from 'vitest';
import type { SegmentChange, UserEvent } from '../../src/domain/events.js';
import type { OutboundRecord } from '../../src/kafka/port.js';
import { SegmentProcessor, resetUsers, type SegmentProcessorDeps } from '../../src/stages/segments/processor.js';
import { FeatureStore } from '../../src/stages/segments/store.js';
import type { StoredUser } from '../../src/stages/segments/stored.js';
import { compileRules, parseSegmentRules } from '../../src/stages/segments/core/index.js';
import { resolveFeatureConfig } from '../../src/stages/segments/features/index.js';
import type { OffsetEvent } from '../../src/stages/ingest/plan.js';
import type { RedisClient } from '../../src/stores/redis-client.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { log } from '../../src/log.js';
import { testConfig } from '../support/env.js';

const T = Date.UTC(2024, 0, 1);
const cfg = resolveFeatureConfig();
const rules = compileRules(parseSegmentRules('segments:\n  seen:\n    when: { count: { type: view, window: 1h }, gte: 1 }\n', cfg), cfg);
const ev = (userId: string, type: UserEvent['type'], k: number): UserEvent => ({
  eventId: `e${k}`, userId, type, eventTime: T + k * 1000, itemId: 'i', quantity: null, price: null, rating: null,
  sessionId: null, context: null, properties: { category: 'c' },
});
const at = (offset: number, e: UserEvent, mark: Partial<OffsetEvent> = {}): OffsetEvent => ({ offset, event: e, ...mark });

function setUp(hashes: Record<string, Record<string, string>>) {
  const redis = {
    hmget: async (key: string, ...fields: string[]) => {
      const id = /\{u:(.*)\}:features$/.exec(key)?.[1];
      const h = (id && hashes[id]) || {};
      return fields.map((f) => h[f] ?? null);
    },
  } as unknown as RedisClient;
  const store = new FeatureStore(redis, 'p', cfg);
  const commits: Array<[string, number, StoredUser]> = [];
  const sent: OutboundRecord[] = [];
  const metrics = createMetrics();
  Object.assign(store, {
    loadPartition: async () => ({ watermark: T, offset: 3, wall: 0, late: [], pending: [], rules: rules.fingerprint, rgen: 0, raw: { offset: '3', watermark: String(T) } }),
    readProgress: async () => 3,
    dueTimers: async () => [],
    commitUser: async (id: string, _t: string, _p: number, expected: number, _n: number, u: StoredUser) => { commits.push([id, expected, u]); },
    commitPartition: async () => undefined,
    applyCounts: async (_f: string, _l: number, d: unknown[]) => d.length,
    segmentCounts: async () => ({}),
  });
  const processor = new SegmentProcessor({
    cfg: testConfig(), topics: { segmentChanges: 'seg' } as SegmentProcessorDeps['topics'],
    codec: { encodeSegmentChange: async (c: SegmentChange) => Buffer.from(JSON.stringify(c)) } as unknown as SegmentProcessorDeps['codec'],
    store, producer: { send: async (_t: string, r: OutboundRecord[]) => { sent.push(...r); } } as unknown as SegmentProcessorDeps['producer'],
    deadLetters: {} as SegmentProcessorDeps['deadLetters'], deadLetter: () => { throw new Error('no dead letter expected'); },
    metrics, rules, featureConfig: cfg, now: () => T,
    catalog: () => undefined,
    identities: { resolve: async (ps) => new Map([...ps].map((p) => [p, `real-${p}`])), personalizable: async (ps) => new Set(ps) },
  });
  return { processor, commits, sent, metrics };
}

const unreadableCount = async (metrics: ReturnType<typeof createMetrics>) =>
  (await metrics.unreadableStates.get()).values.reduce((a, v) => a + v.value, 0);

describe('segments: an unreadable stored state and a reset', () => {
  it('reads the state of a user reset in the micro-batch as empty: the erasure applies, exits what is readable, logs counts only', async () => {
    const t = setUp({ P1: { s: '{not json', seg: '["seen"]', 'o:ev:0': '2' } });
    const warn = vi.spyOn(log, 'warn').mockImplementation(() => undefined);
    const res = await t.processor.process('ev', 0, [at(4, ev('P1', 'erase', 4), { reset: 'erasure' }), at(5, ev('P1', 'view', 5))]);
    expect(t.commits.map(([id, expected, u]) => [id, expected, u.offset, u.segments])).toEqual([['P1', 2, 5, ['seen']]]);
    expect(t.commits[0]![2].features.n).toBe(1); // the event after the reset built a fresh profile
    const changes = t.sent.map((r) => JSON.parse(String(r.value)) as SegmentChange).map((c) => [c.change, c.cause]);
    expect(changes).toEqual([['exit', 'erasure'], ['enter', 'e5']]);
    expect(res.changes).toBe(2);
    expect(await unreadableCount(t.metrics)).toBe(1);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toEqual({ topic: 'ev', partition: 0, users: 1 });
    expect(JSON.stringify(warn.mock.calls)).not.toMatch(/P1/);
    warn.mockRestore();
  });

  it('reads unreadable segments, their entries and pending changes as none, keeping the offset gate', async () => {
    const t = setUp({ P1: { s: '{"v":1}', seg: '"seen"', since: '{"seen":[1', 'lc:ev:0': '[1,2', 'o:ev:0': '2' } });
    const warn = vi.spyOn(log, 'warn').mockImplementation(() => undefined);
    await t.processor.process('ev', 0, [at(4, ev('P1', 'consent', 4), { reset: 'consent' })]);
    warn.mockRestore();
    expect(t.commits.map(([id, expected, u]) => [id, expected, u.offset, u.segments, u.since, u.features.n])).toEqual([['P1', 2, 4, [], {}, 0]]);
  });

  it('still fails the micro-batch for a user without a reset (isolation dead-letters its records), counting nothing', async () => {
    const t = setUp({ P1: { s: '{not json', 'o:ev:0': '2' } });
    await expect(t.processor.process('ev', 0, [at(4, ev('P1', 'view', 4)), at(5, ev('P2', 'erase', 5), { reset: 'erasure' })])).rejects.toThrow();
    expect(t.commits).toEqual([]);
    expect(await unreadableCount(t.metrics)).toBe(0);
  });

  it('resetUsers: resets the partition does not reflect yet', () => {
    const recs = [at(2, ev('A', 'erase', 2), { reset: 'erasure' }), at(4, ev('B', 'consent', 4), { reset: 'consent' }), at(5, ev('C', 'view', 5))];
    expect([...resetUsers(recs, 3)]).toEqual(['B']);
    expect([...resetUsers(recs, -1)]).toEqual(['A', 'B']);
  });
});
