/**
 * Holder corrections are produced before they are committed: a failed produce leaves the user's stored list hash
 * as it was, so the correction is emitted again by the next attempt instead of being lost.
 */
import { describe, it, expect } from 'vitest';
import { correctHolders } from '../../src/topology/holder-correction.js';
import { Tasks } from '../../src/topology/tasks.js';
import { RecommendStage, type RecommendDeps } from '../../src/stages/recommend/processor.js';
import { ListExperiments } from '../../src/stages/recommend/experiments.js';
import { Recommender } from '../../src/stages/recommend/model/recommender.js';
import { loadRecommenderConfig } from '../../src/stages/recommend/model/load-config.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import type { OutboundRecord } from '../../src/kafka/port.js';
import type { UserEvent } from '../../src/domain/events.js';
import { testConfig } from '../support/env.js';
import type { Identities } from '../../src/stages/rights/identities.js';

/** Holders are pseudonyms; `real` maps those that resolve, `consenting` those that may be personalized. */
function identities(real: Record<string, string>, consenting: string[], calls: string[] = []): Identities {
  return {
    resolve: async (ps) => { calls.push('resolve'); return new Map([...ps].filter((p) => p in real).map((p) => [p, real[p]])); },
    personalizable: async (ps) => { calls.push('personalizable'); return new Set([...ps].filter((p) => consenting.includes(p))); },
  };
}

const T = Date.UTC(2011, 0, 1);
const buy = (userId: string, itemId: string, i: number): UserEvent => ({
  eventId: `${userId}${i}`, userId, type: 'purchase', eventTime: T + i * 1000, itemId, quantity: 1, price: 1,
  rating: null, sessionId: null, context: null, properties: {},
});

function setUp(opts: { holders?: string[]; ids?: Identities; lh?: string } = {}) {
  const cfg = testConfig();
  const rec = new Recommender(loadRecommenderConfig(cfg));
  rec.collaborative.setEpoch(cfg.decayEpoch);
  rec.learnBatch([buy('bob', 'a', 1), buy('bob', 'b', 2), buy('carol', 'a', 3), buy('carol', 'c', 4)]);
  const log: string[] = [];
  let stored = JSON.stringify({ h: { i: ['a'], w: [1], t: [T] }, p: [], c: null, lt: T + 5000, lh: opts.lh ?? 'an older list', li: ['gone'] });
  const store = {
    loadUser: async () => ({ offset: 5, state: stored }),
    commitUser: async (_u: string, _f: string, _e: number, _n: number, state: string) => { log.push('commit'); stored = state; },
    updateHolders: async () => { log.push('holders'); },
    holders: async () => opts.holders ?? ['P-alice'],
    userPartition: async () => 0,
  };
  const stage = new RecommendStage({
      experiments: ListExperiments.none(rec, createMetrics()),
    cfg, rec, metrics: createMetrics(), topics: {} as RecommendDeps['topics'], producer: {} as RecommendDeps['producer'],
    codec: { encodeRecommendations: async () => Buffer.from('list') } as unknown as RecommendDeps['codec'],
    store: store as unknown as RecommendDeps['store'],
    state: { saveRecommendations: async (r: { userId: string }) => { log.push(`save ${r.userId}`); } } as unknown as RecommendDeps['state'],
    identities: opts.ids ?? identities({ 'P-alice': 'alice' }, ['P-alice']),
  });
  const tasks = new Tasks(async () => 1);
  tasks.assign([{ topic: 'ev', partitions: [0] }]);
  let failSend = true;
  const sent: OutboundRecord[] = [];
  const metrics = createMetrics();
  const deps = {
    eventsTopic: 'ev', recommendationsTopic: 'recs', tasks, store, recommend: stage, metrics,
    identities: opts.ids ?? identities({ 'P-alice': 'alice' }, ['P-alice']),
    producer: {
      connect: async () => {}, disconnect: async () => {},
      send: async (_t: string, records: OutboundRecord[]) => {
        log.push('send');
        if (failSend) throw new Error('MESSAGE_TOO_LARGE (not retriable)');
        sent.push(...records);
      },
    },
    isActive: () => true, isJoined: () => true,
  };
  return { deps, log, sent, metrics, heal: () => { failSend = false; } };
}

describe('holder correction', () => {
  it('produces the corrected list before committing it; a failed produce commits nothing, and the next attempt emits it', async () => {
    const { deps, log, sent, metrics, heal } = setUp();
    await expect(correctHolders(deps, 'gone', 'items:0:7')).rejects.toThrow('MESSAGE_TOO_LARGE');
    expect(log).toEqual(['send']); // nothing committed: the stored list is still the one holding 'gone'

    heal();
    await correctHolders(deps, 'gone', 'items:0:8');
    // The stored list is under (and holds) the pseudonym; the record is keyed by the real id.
    // Holders of the dropped items left before the commit, the new list's joined after: holders stay within `li`.
    expect(log.slice(1)).toEqual(['send', 'holders', 'commit', 'holders', 'save P-alice']);
    expect(sent).toHaveLength(1);
    expect(sent[0].key).toBe('alice');
    expect(sent[0].headers).toEqual({ 'attune.source': 'items:0:8' });
    expect((await metrics.lists.get()).values.find((v) => v.labels.outcome === 'emitted')?.value).toBe(1);

    // Committed now: the same correction again changes nothing and emits nothing.
    await correctHolders(deps, 'gone', 'items:0:9');
    expect(sent).toHaveLength(1);
  });
});

describe('holder correction and users\' rights', () => {
  it('corrects only holders who may be personalized and whose id resolves, with one consent and one resolve call', async () => {
    const calls: string[] = [];
    const ids = identities({ 'P-alice': 'alice', 'P-dan': 'dan' }, ['P-alice', 'P-erased'], calls);
    const { deps, sent, heal } = setUp({ holders: ['P-alice', 'P-dan', 'P-erased'], ids });
    heal();
    await correctHolders(deps, 'gone', 'items:0:8');
    // P-dan withdrew consent (not personalizable); P-erased is personalizable by default but has no id any more.
    expect(sent.map((r) => r.key)).toEqual(['alice']);
    expect(calls).toEqual(['personalizable', 'resolve']);
  });

  it('leaves a user alone whose state has no list since a reset (a withdrawal committed after the consent check)', async () => {
    const { deps, sent, log, heal } = setUp({ lh: '' });
    heal();
    await correctHolders(deps, 'gone', 'items:0:8');
    expect(sent).toEqual([]);
    expect(log).toEqual([]);
  });
});
