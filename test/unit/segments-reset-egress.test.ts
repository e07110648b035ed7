/**
 * Egress of the segments stage (#11): its state knows users by pseudonym, its segment-change records are keyed by
 * and carry the real id, resolved with one Identities call per produce. A pseudonym that no longer resolves (the
 * user was erased meanwhile) gets no record, but its change still counts (counts follow memberships).
 */
import { describe, expect, it, vi } from 'vitest';
import type { SegmentChange } from '../../src/domain/events.js';
import type { OutboundRecord } from '../../src/kafka/port.js';
import type { Identities } from '../../src/stages/rights/identities.js';
import { countAndEmit, segmentChangeRecords, type PublishDeps } from '../../src/stages/segments/publish.js';
import type { PendingChange, StoredUser } from '../../src/stages/segments/stored.js';
import { RulesReevaluation } from '../../src/stages/segments/rules-reevaluation.js';
import { compileRules, parseSegmentRules } from '../../src/stages/segments/core/index.js';
import { applyEvent, emptyFeatureState, resolveFeatureConfig } from '../../src/stages/segments/features/index.js';
import { log } from '../../src/log.js';

class FakeIdentities implements Identities {
  calls: string[][] = [];
  constructor(private readonly ids: Record<string, string>) {}
  async resolve(pseudonyms: Iterable<string>): Promise<Map<string, string>> {
    const asked = [...pseudonyms];
    this.calls.push(asked);
    return new Map(asked.filter((p) => p in this.ids).map((p) => [p, this.ids[p]!]));
  }
  async personalizable(pseudonyms: Iterable<string>): Promise<Set<string>> {
    return new Set(pseudonyms);
  }
}

const change = (userId: string, segmentId: string, o: number, kind: 'enter' | 'exit' = 'enter', cause = 'e1'): PendingChange =>
  ({ userId, segmentId, change: kind, eventTime: 1000 + o, cause, emittedAt: 7, o });

function deps(identities: Identities) {
  const sent: Array<{ topic: string; records: OutboundRecord[] }> = [];
  const applied: Array<{ field: string; last: number; deltas: Array<[number, string, number]> }> = [];
  const inc: unknown[] = [];
  const d = {
    topics: { segmentChanges: 'seg' },
    codec: { encodeSegmentChange: async (c: SegmentChange) => Buffer.from(JSON.stringify(c)) },
    store: {
      applyCounts: async (field: string, last: number, deltas: Array<[number, string, number]>) => { applied.push({ field, last, deltas }); return deltas.length; },
      segmentCounts: async () => ({}),
    },
    producer: { send: async (topic: string, records: OutboundRecord[]) => { sent.push({ topic, records }); } },
    metrics: { segmentChanges: { inc: (l: unknown) => inc.push(l) }, segmentMembers: { set: () => undefined } },
    rules: { segments: [] },
    identities,
  } as unknown as PublishDeps;
  return { d, sent, applied, inc };
}

const decoded = (r: OutboundRecord) => JSON.parse(String(r.value)) as SegmentChange;

describe('segment-change egress', () => {
  it('keys records by the real id and carries it in the value; state-side pseudonyms never leave', async () => {
    const ids = new FakeIdentities({ P1: 'alice', P2: 'bob' });
    const { d, sent, applied } = deps(ids);
    const changes = [change('P1', 'high_value', 3), change('P2', 'new_visitor', 4), change('P1', 'new_visitor', 5, 'exit', 'erasure')];
    await countAndEmit(d, 'events', 0, 'o:events:0', 5, changes, changes, (c) => c.o);
    expect(ids.calls).toEqual([['P1', 'P2']]); // one resolve per produce, each pseudonym once
    expect(sent).toHaveLength(1);
    expect(sent[0]!.records.map((r) => [r.key, decoded(r).userId, decoded(r).segmentId, decoded(r).cause, r.headers?.['attune.source']])).toEqual([
      ['alice', 'alice', 'high_value', 'e1', 'events:0:3'], ['bob', 'bob', 'new_visitor', 'e1', 'events:0:4'], ['alice', 'alice', 'new_visitor', 'erasure', 'events:0:5'],
    ]);
    expect(JSON.stringify(sent)).not.toMatch(/P1|P2/);
    expect(decoded(sent[0]!.records[0]!)).toEqual({ userId: 'alice', segmentId: 'high_value', change: 'enter', eventTime: 1003, cause: 'e1', emittedAt: 7 });
    expect(applied[0]!.deltas).toEqual([[3, 'high_value', 1], [4, 'new_visitor', 1], [5, 'new_visitor', -1]]);
  });

  it('emits nothing for a pseudonym that does not resolve, but still counts its change; logs the count only', async () => {
    const ids = new FakeIdentities({ P1: 'alice' });
    const { d, sent, applied, inc } = deps(ids);
    const changes = [change('P1', 'a', 1), change('GONE', 'a', 2), change('GONE', 'b', 2)];
    const debug = vi.spyOn(log, 'debug').mockImplementation(() => undefined);
    await countAndEmit(d, 'events', 0, 'o:events:0', 2, changes, changes, (c) => c.o);
    expect(debug).toHaveBeenCalledTimes(1);
    expect(debug.mock.calls[0]![0]).toEqual({ topic: 'events', partition: 0, changes: 2 });
    expect(JSON.stringify(debug.mock.calls)).not.toMatch(/GONE|alice|P1/);
    debug.mockRestore();
    expect(sent[0]!.records.map((r) => r.key)).toEqual(['alice']);
    expect(applied[0]!.deltas).toEqual([[1, 'a', 1], [2, 'a', 1], [2, 'b', 1]]);
    expect(inc).toHaveLength(3);
  });

  it('produces nothing (and resolves nothing) without changes, or when no user resolves', async () => {
    const ids = new FakeIdentities({});
    const { d, sent } = deps(ids);
    await countAndEmit(d, 'events', 0, 'o:events:0', 2, [], [], (c) => c.o);
    expect(ids.calls).toEqual([]);
    await countAndEmit(d, 'events', 0, 'o:events:0', 3, [change('GONE', 'a', 3)], [], (c) => c.o);
    expect(ids.calls).toHaveLength(1);
    expect(sent).toEqual([]);
  });

  it('segmentChangeRecords takes the headers per change', async () => {
    const ids = new FakeIdentities({ P: 'u-1' });
    const out = await segmentChangeRecords({ codec: deps(ids).d.codec, identities: ids }, [change('P', 's', 9)], (c) => ({ h: String(c.o) }), {});
    expect(out.map((r) => [r.key, r.headers])).toEqual([['u-1', { h: '9' }]]);
  });

  it('a rules re-evaluation produces real ids too (one resolve per chunk)', async () => {
    const cfg = resolveFeatureConfig();
    const rules = compileRules(parseSegmentRules('segments:\n  seen:\n    when: { count: { type: view, window: 1h }, gte: 1 }\n', cfg), cfg);
    const T = Date.UTC(2024, 0, 1);
    const user = (): StoredUser => {
      const features = emptyFeatureState();
      applyEvent(features, { eventId: 'e', userId: 'x', type: 'view', eventTime: T, itemId: 'i', quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {} }, cfg);
      return { features, segments: [], due: null, offset: 4, pending: [], since: {} };
    };
    const ids = new FakeIdentities({ P1: 'alice' });
    const { d, sent, applied } = deps(ids);
    Object.assign(d.store, {
      loadPartition: async () => ({ watermark: T + 1, offset: 4, wall: 0, late: [], pending: [], rules: 'old', rgen: 0, raw: { offset: '4', watermark: String(T + 1) } }),
      readProgress: async () => 4,
      knownUsers: async () => ['GONE', 'P1'],
      userOffsets: async () => [4, 4],
      loadUser: async () => user(),
      commitUser: async () => undefined,
      commitPartition: async () => undefined,
    });
    const re = new RulesReevaluation({ ...d, rules, featureConfig: cfg }, () => 0);
    expect(await re.ensure('events', 0)).toBe(2);
    expect(ids.calls).toEqual([['GONE', 'P1']]);
    expect(sent[0]!.records.map((r) => [r.key, decoded(r).userId, decoded(r).cause, r.headers?.['attune.source']])).toEqual([['alice', 'alice', 'rules', 'events:0:4']]);
    expect(applied[0]!.deltas).toEqual([[1, 'seen', 1], [2, 'seen', 1]]);
  });
});
