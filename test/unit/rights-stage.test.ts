import { describe, it, expect } from 'vitest';
import { rightsStage, eraseStage, type RightsRuntime } from '../../src/stages/rights/stage.js';
import { ErasureLedger } from '../../src/stages/rights/ledger.js';
import { Pseudonymizer } from '../../src/stages/rights/pseudonym.js';
import { SubjectIdentities } from '../../src/stages/rights/identities.js';
import { newEventBatch } from '../../src/topology/processor.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { UserEvent } from '../../src/domain/events.js';
import type { SubjectStore } from '../../src/stores/subject-store.js';
import type { InboundRecord } from '../../src/kafka/port.js';

const names = new Pseudonymizer('s'.repeat(32));
const ev = (userId: string, type: UserEvent['type']): UserEvent => ({
  eventId: `${userId}-${type}`, userId, type, eventTime: 1, itemId: type === 'view' ? 'i1' : null, quantity: null, price: null, rating: null,
  sessionId: null, context: null, properties: {},
});

function runtime(calls: string[]) {
  const subjects = {
    load: async () => new Map(),
    write: async (w: unknown[]) => void calls.push(`write:${w.length}`),
    sweep: async (p: string, keep: boolean) => { calls.push(`sweep:${p === names.pseudonym('bob')}:${keep}`); return 1; },
    sealedIds: async (ps: string[]) => ps.map(() => null),
    consents: async (ps: string[]) => ps.map(() => null),
  } as unknown as SubjectStore;
  const producer = { connect: async () => {}, disconnect: async () => {}, send: async (t: string, rs: unknown[]) => void calls.push(`ledger:${t}:${rs.length}`) };
  const rt: RightsRuntime = {
    names, subjects, plans: new WeakMap(), memberSegments: () => ['seg'],
    ledger: new ErasureLedger({ current: names, read: async () => [], producer, topic: 'x.erasures' }),
    identities: new SubjectIdentities(subjects, names, 'granted'),
    merges: {
      snapshot: async (p: string) => {
        calls.push(`snapshot:${p === names.pseudonym('bob')}`);
        return { profile: { v: 1, activity: { counts: { view: 2 }, firstSeen: 1, lastSeen: 2, recent: ['i1'], purchased: [] }, features: null, recommender: null }, unreadable: 0 };
      },
      send: async (es: UserEvent[]) => void calls.push(...es.map((e) => `merge:${e.userId}:${e.eventId}`)),
    },
  };
  return rt;
}

describe('the rights and erase stages', () => {
  const identify = (userId: string, known: string): UserEvent => ({ ...ev(userId, 'identify'), knownUserId: known });
  const batchOf = (events: UserEvent[]) => {
    const records: InboundRecord[] = events.map((_, o) => ({ offset: String(o), key: null, value: null, timestamp: String(1000 + o), headers: {} }));
    const b = newEventBatch('ev', 0, records, 5_000);
    b.valid = events.map((event, offset) => ({ offset, event }));
    return b;
  };
  const cfg = { consentDefault: 'granted' as const, consentAnonymousAggregates: false };

  it('re-key an identify\'s anonymous profile to the known user, then ledger it, before any per-user stage runs; the identify erases the anonymous profile', async () => {
    const calls: string[] = [];
    const rights = runtime(calls);
    const metrics = createMetrics();
    const b = batchOf([identify('bob', 'robert'), ev('alice', 'view')]);
    await rightsStage.create({ cfg, rights, metrics }).process(b);
    expect(b.cutBefore).toBeNull();
    // The snapshot, the merge record keyed by the known id with the deterministic event id, then the ledger entry.
    expect(calls).toEqual(['write:1', 'snapshot:true', 'merge:robert:attune:merge:ev:0:0', 'ledger:x.erasures:1']);
    expect(b.valid.map((v) => [v.offset, v.reset ?? null])).toEqual([[0, 'erasure'], [1, null]]);
    expect(b.withdrawn.get(names.pseudonym('bob'))).toEqual({ userId: 'bob', offset: 0 });
    expect(await metrics.registry.metrics()).toContain('attune_identity_merges_total 1');
    // A replay of the micro-batch finds the ledger entry at the identify: no second merge record.
    calls.length = 0;
    const again = batchOf([identify('bob', 'robert'), ev('alice', 'view')]);
    await rightsStage.create({ cfg, rights, metrics }).process(again);
    expect(calls.filter((c) => c.startsWith('merge:') || c.startsWith('snapshot:'))).toEqual([]);
    expect(again.valid[0].reset).toBe('erasure');
  });

  it('ask for a cut before an identify whose user has an earlier event in the micro-batch, writing nothing', async () => {
    const calls: string[] = [];
    const rights = runtime(calls);
    const b = batchOf([ev('alice', 'view'), ev('bob', 'view'), ev('carol', 'view'), identify('bob', 'robert')]);
    await rightsStage.create({ cfg, rights, metrics: createMetrics() }).process(b);
    expect(b.cutBefore).toBe(3);
    expect(calls).toEqual([]);
  });

  it('pass a merge record only to a personalized known user, marked with its profile; never as an anonymous aggregate', async () => {
    const profile = JSON.stringify({ v: 1, activity: null, features: null, recommender: { h: { i: ['i1'], w: [1], t: [5] }, p: [], c: null, lt: 5 } });
    const merge: UserEvent = { ...ev('robert', 'identify'), eventId: 'attune:merge:ev:0:7', profile };
    for (const [dflt, passes] of [['granted', true], ['denied', false]] as const) {
      const rights = runtime([]);
      const b = batchOf([merge]);
      await rightsStage.create({ cfg: { consentDefault: dflt, consentAnonymousAggregates: true }, rights, metrics: createMetrics() }).process(b);
      expect(b.valid.map((v) => [v.event.userId, v.merge?.recommender?.h.i ?? null, v.anonymous ?? null])).toEqual(passes ? [[names.pseudonym('robert'), ['i1'], null]] : []);
    }
  });

  it('replace valid events by pseudonymised ones, then record the erasure before writing and sweeping', async () => {
    const calls: string[] = [];
    const rights = runtime(calls);
    const metrics = createMetrics();
    const records: InboundRecord[] = [0, 1, 2].map((o) => ({ offset: String(o), key: null, value: null, timestamp: String(1000 + o), headers: {} }));
    const b = newEventBatch('ev', 0, records, 5_000);
    b.valid = [{ offset: 0, event: ev('alice', 'view') }, { offset: 1, event: ev('bob', 'view') }, { offset: 2, event: ev('bob', 'erase') }];
    await rightsStage.create({ cfg: { consentDefault: 'granted', consentAnonymousAggregates: false }, rights, metrics }).process(b);
    expect(b.valid.map((v) => [v.offset, v.event.userId, v.reset ?? null])).toEqual([
      [0, names.pseudonym('alice'), null], [1, names.pseudonym('bob'), null], [2, names.pseudonym('bob'), 'erasure'],
    ]);
    expect(b.withdrawn).toEqual(new Map([[names.pseudonym('bob'), { userId: 'bob', offset: 2 }]]));
    expect(await rights.identities.resolve([names.pseudonym('alice')])).toEqual(new Map([[names.pseudonym('alice'), 'alice']]));
    await eraseStage.create({ rights, metrics }).process(b);
    // The rights stage wrote alice's sealed id (new user) before the later stages; bob's erasure changes no consent.
    expect(calls).toEqual(['write:1', 'ledger:x.erasures:1', 'sweep:true:false']);
    expect(rights.ledger.lookup('bob')).toEqual({ v: 1, topic: 'ev', partition: 0, offset: 2, at: 1002 });
    expect((await rights.identities.resolve([names.pseudonym('bob')])).size).toBe(0);
    const text = await metrics.registry.metrics();
    expect(text).toContain('attune_rights_events_total{outcome="passed"} 3');
    expect(text).toContain('attune_erasures_total 1');
  });

  it('write a new user\'s sealed id before the later stages, so an output stage finds it after the cache evicted the user', async () => {
    const stored = new Map<string, string>();
    const subjects = {
      load: async (ps: string[]) => new Map(ps.map((p) => [p, stored.has(p) ? { id: stored.get(p)!, consent: null } : null])),
      write: async (ws: Array<{ pseudonym: string; id?: string }>) => { for (const w of ws) if (w.id) stored.set(w.pseudonym, w.id); },
      sweep: async () => 0,
      sealedIds: async (ps: string[]) => ps.map((p) => stored.get(p) ?? null),
      consents: async (ps: string[]) => ps.map(() => null),
    } as unknown as SubjectStore;
    const producer = { connect: async () => {}, disconnect: async () => {}, send: async () => {} };
    // An identities cache of one: the second user of the batch evicts the first.
    const rights: RightsRuntime = {
      names, subjects, plans: new WeakMap(), memberSegments: () => [],
      ledger: new ErasureLedger({ current: names, read: async () => [], producer, topic: 'x.erasures' }),
      identities: new SubjectIdentities(subjects, names, 'granted', 1),
      merges: { snapshot: async () => { throw new Error('no identify here'); }, send: async () => { throw new Error('no identify here'); } },
    };
    const records: InboundRecord[] = [0, 1].map((o) => ({ offset: String(o), key: null, value: null, timestamp: String(1000 + o), headers: {} }));
    const b = newEventBatch('ev', 0, records, 5_000);
    b.valid = [{ offset: 0, event: ev('alice', 'view') }, { offset: 1, event: ev('bob', 'view') }];
    await rightsStage.create({ cfg: { consentDefault: 'granted', consentAnonymousAggregates: false }, rights, metrics: createMetrics() }).process(b);
    // What segments/recommend/emit ask before the erase stage runs:
    expect(await rights.identities.resolve([names.pseudonym('alice'), names.pseudonym('bob')])).toEqual(new Map([
      [names.pseudonym('alice'), 'alice'], [names.pseudonym('bob'), 'bob'],
    ]));
    // Steady state: a second micro-batch of the same users writes no id.
    let writes = 0;
    const write = subjects.write.bind(subjects);
    (subjects as unknown as { write: typeof write }).write = async (ws) => { writes += ws.length; return write(ws); };
    const b2 = newEventBatch('ev', 0, records, 5_000);
    b2.valid = [{ offset: 0, event: ev('alice', 'view') }, { offset: 1, event: ev('bob', 'view') }];
    await rightsStage.create({ cfg: { consentDefault: 'granted', consentAnonymousAggregates: false }, rights, metrics: createMetrics() }).process(b2);
    expect(writes).toBe(0);
  });
});
