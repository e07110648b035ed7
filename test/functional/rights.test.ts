/**
 * Users' rights end to end on the real broker, registry and Redis (issue #11, docs/privacy.md): consent at ingestion
 * and emission, erasure without resurrection (also through an in-process rebuild after state loss), pseudonymised
 * state, and dead letters without personal data. One partition per worker, so that "after" in the log is "after"
 * for the worker too; every wait ends on the partition's progress reaching the end of the log (the whole
 * micro-batch of the last record applied, erase stage included), never on a sleep.
 *
 * The Redis checks go by pseudonym (pseudonymizerFor on the worker's own config) and SCAN the run's whole prefix:
 * a user's trace is any key tagged `{u:<pseudonym>}` and any member of any set or sorted set that is the
 * pseudonym; the raw id must appear in no key name and no value at all. Event ids never embed a user id (the
 * dedupe window keeps event ids after an erasure, by design; docs/privacy.md).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { topicNames, type Config } from '../../src/config/config.js';
import { readTopicToEnd, type ReadRecord } from '../../src/output/read-topic.js';
import { StateStore } from '../../src/stores/state-store.js';
import { FeatureStore } from '../../src/stages/segments/store.js';
import { loadSegmentSetup } from '../../src/stages/segments/processor.js';
import { Keys } from '../../src/stores/keys.js';
import { scanKeys, deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import { pseudonymizerFor, type Pseudonymizer } from '../../src/stages/rights/pseudonym.js';
import type { RedisClient } from '../../src/stores/redis-client.js';
import { PERSONALIZATION, type ConsentChoice, type SegmentChange, type UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor, openPipeline, uniqueName, waitForSoleOwner } from '../support/env.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';

// vitest sets ATTUNE_PSEUDONYM_KEY for the integration suites; a fixed test secret otherwise (never a real key).
const TEST_KEY = 'attune-functional-test-pseudonym-key-0123456789';
const keyOverride = () => (process.env.ATTUNE_PSEUDONYM_KEY || process.env.ATTUNE_PSEUDONYM_KEY_FILE ? {} : { pseudonymKey: TEST_KEY });

const dir = mkdtempSync(join(tmpdir(), 'attune-rights-'));
const rulesPath = join(dir, 'segments.yaml');
// Long windows and no idle fallback: no timed exit can happen during the test, so every exit seen is a reset's.
writeFileSync(rulesPath, `segments:
  viewer:
    members: true
    when: { count: { type: view, window: 30d }, gte: 1 }
  buyer:
    when: { count: { type: purchase, window: 30d }, gte: 1 }
`);

const rightsConfig = (overrides: Partial<Record<keyof Config, unknown>> = {}) =>
  testConfig({ partitions: 1, segmentRules: rulesPath, segmentIdleMs: 0, microBatchSize: 50, ...keyOverride(), ...overrides });

// ---- events ----------------------------------------------------------------------------------------------------

const T0 = Date.UTC(2011, 5, 1, 10, 0, 0);
let seq = 0;
const runTag = uniqueName('r');
/** One event; its id holds no user id, its time increases by one second per event of the file. */
function ev(userId: string, type: UserEvent['type'], extra: Partial<UserEvent> = {}): UserEvent {
  const i = seq++;
  return {
    eventId: `${runTag}-${i}`, userId, type, eventTime: T0 + i * 1000, itemId: null, quantity: null, price: null,
    rating: null, sessionId: null, context: null, properties: {}, ...extra,
  };
}
const view = (u: string, item: string) => ev(u, 'view', { itemId: item });
const purchase = (u: string, item: string) => ev(u, 'purchase', { itemId: item, quantity: 1, price: 2 });
const consent = (u: string, status: ConsentChoice['status']) => ev(u, 'consent', { consent: [{ purpose: PERSONALIZATION, status }] });
const erase = (u: string) => ev(u, 'erase');
const identify = (anon: string, known: string) => ev(anon, 'identify', { knownUserId: known });
/** A user id unique to this run, distinctive enough that a substring search for it in Redis means something. */
const user = (what: string) => uniqueName(`rights-${what}-user-`);

// ---- one deployment under test -----------------------------------------------------------------------------------

type Pipeline = Awaited<ReturnType<typeof openPipeline>>;

class Deployment {
  readonly topics;
  readonly keys;
  readonly store: StateStore;
  readonly features: FeatureStore;
  readonly pseudonyms: Pseudonymizer;
  constructor(readonly cfg: Config, readonly pipe: Pipeline) {
    this.topics = topicNames(cfg);
    this.keys = new Keys(cfg.keyPrefix);
    this.store = new StateStore(pipe.redis, cfg.keyPrefix);
    this.features = new FeatureStore(pipe.redis, cfg.keyPrefix, loadSegmentSetup(cfg).featureConfig);
    // Until test/support/env.ts has pseudonymOf: the same pseudonymizer the worker builds from the same config.
    this.pseudonyms = pseudonymizerFor(cfg);
  }
  get redis(): RedisClient { return this.pipe.redis; }
  pseudonymOf(userId: string) { return this.pseudonyms.pseudonym(userId); }

  async send(events: UserEvent[]) {
    await this.pipe.producer.send(this.topics.events, await Promise.all(events.map(async (e) => ({ key: e.userId, value: await this.pipe.codec.encodeEvent(e) }))));
  }

  /** Produces `events`, then waits until the partition's progress is at the end of the log. */
  async sendAndSettle(events: UserEvent[], timeoutMs = 60_000) {
    await this.send(events);
    await this.settle(timeoutMs);
  }

  async settle(timeoutMs = 60_000) {
    const admin = this.pipe.kafka.admin();
    await admin.connect();
    let end: number;
    try {
      end = Number((await admin.endOffsets(this.topics.events)).get(0) ?? 0);
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await waitFor(async () => ((await this.store.readProgress(this.topics.events, 0)) ?? -1) >= end - 1, `progress at offset ${end - 1}`, timeoutMs);
  }

  /** The offset of the event with this id in the events topic (one partition). */
  async offsetOf(eventId: string): Promise<number> {
    for (const r of await readTopicToEnd(this.pipe.kafka, this.topics.events)) {
      const e = await this.pipe.codec.decodeEvent(r.value, 1e6).catch(() => null);
      if (e?.eventId === eventId) return Number(r.offset);
    }
    throw new Error(`event ${eventId} not in ${this.topics.events}`);
  }

  async allKeys(): Promise<string[]> {
    const out: string[] = [];
    for await (const batch of scanKeys(this.redis, `${this.cfg.keyPrefix}:*`)) out.push(...batch);
    return out;
  }

  /** Every `{u:P}` key of the prefix, and every set/zset of the prefix with P as a member. */
  async tracesOf(userId: string): Promise<{ userKeys: string[]; memberOf: string[] }> {
    const p = this.pseudonymOf(userId);
    const keys = await this.allKeys();
    const userKeys = keys.filter((k) => k.includes(`{u:${p}}`)).sort();
    const memberOf: string[] = [];
    for (const k of keys) {
      const t = await this.redis.type(k);
      if (t === 'set' && (await this.redis.sismember(k, p))) memberOf.push(k);
      if (t === 'zset' && (await this.redis.zscore(k, p)) !== null) memberOf.push(k);
    }
    return { userKeys, memberOf: memberOf.sort() };
  }

  /** Keys whose name or content (members, fields, values, elements) holds `needle`. */
  async keysMentioning(needle: string): Promise<string[]> {
    const hits: string[] = [];
    for (const k of await this.allKeys()) {
      if (k.includes(needle)) { hits.push(k); continue; }
      const t = await this.redis.type(k);
      let parts: string[] = [];
      if (t === 'string') parts = [(await this.redis.get(k)) ?? ''];
      else if (t === 'hash') parts = Object.entries(await this.redis.hgetall(k)).flat();
      else if (t === 'list') parts = await this.redis.lrange(k, 0, -1);
      else if (t === 'set') parts = await this.redis.smembers(k);
      else if (t === 'zset') parts = await this.redis.zrange(k, 0, -1);
      if (parts.some((x) => x.includes(needle))) hits.push(k);
    }
    return hits;
  }

  /** The merge records (identity stitching) in the events topic keyed by `known`. */
  async mergeRecordsOf(known: string): Promise<UserEvent[]> {
    const out: UserEvent[] = [];
    for (const r of await this.recordsFor(this.topics.events, known)) {
      const e = await this.pipe.codec.decodeEvent(r.value, 1e6);
      if (e.type === 'identify' && e.profile) out.push(e);
    }
    return out;
  }

  async recordsFor(topic: string, userId: string): Promise<ReadRecord[]> {
    return (await readTopicToEnd(this.pipe.kafka, topic)).filter((r) => r.key === userId);
  }

  async segmentChangesOf(userId: string): Promise<Array<SegmentChange & { source: string }>> {
    const out: Array<SegmentChange & { source: string }> = [];
    for (const r of await this.recordsFor(this.topics.segmentChanges, userId)) {
      out.push({ ...((await this.pipe.codec.decode(r.value, 1e6)) as unknown as SegmentChange), source: r.headers['attune.source']! });
    }
    return out;
  }

  /** The user's per-user content: counts by event type, recent items, purchases, features, segments, stored list. */
  async contentOf(userId: string) {
    const p = this.pseudonymOf(userId);
    const counts = await this.store.userCounts(p);
    const eventCounts = Object.fromEntries(Object.entries(counts).filter(([f]) => f !== 'lastSeen' && f !== 'firstSeen'));
    const fv = await this.features.readFeatureView(p);
    return {
      eventCounts,
      recent: await this.redis.lrange(this.keys.userRecent(p), 0, -1),
      purchased: await this.redis.zcard(this.keys.userPurchased(p)),
      views30d: fv ? fv.count({ type: 'view', window: '30d' }, T0 + seq * 1000) : 0,
      purchases30d: fv ? fv.count({ type: 'purchase', window: '30d' }, T0 + seq * 1000) : 0,
      segments: await this.features.readSegments(p),
      storedList: await this.redis.exists(this.keys.userRecommendations(p)),
    };
  }
}

const EMPTY = { eventCounts: {}, recent: [], purchased: 0, views30d: 0, purchases30d: 0, segments: [], storedList: 0 };

async function metric(port: number, re: RegExp): Promise<number> {
  const m = re.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
  return m ? Number(m[1]) : 0;
}
const NO_CONSENT = /attune_rights_events_total\{outcome="no_consent"\} (\d+)/;

// ---- the default deployment (ATTUNE_CONSENT_DEFAULT=granted) --------------------------------------------------------

describe('users\' rights, consent granted by default', () => {
  let d: Deployment;
  let worker: WorkerHandle | undefined;

  beforeAll(async () => {
    const cfg = rightsConfig();
    d = new Deployment(cfg, await openPipeline(cfg));
    worker = await startWorker(cfg, d.pipe.kafka);
    // Others buy a few items first, so that lists are never empty for want of popularity.
    await d.sendAndSettle([purchase('seed-1', 'a'), purchase('seed-1', 'b'), purchase('seed-2', 'a'), purchase('seed-2', 'c')]);
  });
  afterAll(async () => {
    await worker?.stop();
    await d?.pipe.close();
  });

  it('consent denied: the user\'s activity leaves no per-user state and no list', async () => {
    const u = user('denied');
    const before = await metric(worker!.httpPort, NO_CONSENT);
    await d.sendAndSettle([consent(u, 'denied'), view(u, 'a'), purchase(u, 'b'), view(u, 'c'), purchase('seed-3', 'a')]);
    const p = d.pseudonymOf(u);
    const { userKeys, memberOf } = await d.tracesOf(u);
    // At most the subject hash (the stored consent), nothing a stage derives from activity.
    expect(userKeys.filter((k) => k !== d.keys.userSubject(p))).toEqual([]);
    expect(memberOf).toEqual([]);
    // No list; the denial withdraws personalization, which always sends a tombstone (the worker cannot know whether
    // a list of the user was emitted before, and a tombstone on a key without a value is harmless).
    const recs = await d.recordsFor(d.topics.recommendations, u);
    expect(recs.map((r) => r.value)).toEqual([null]);
    expect(await d.recordsFor(d.topics.segmentChanges, u)).toEqual([]);
    expect(await d.keysMentioning(u)).toEqual([]);
    const stored = await d.redis.hget(d.keys.userSubject(p), 'consent');
    expect(stored, 'the denial is stored in the subject hash').not.toBeNull();
    const c = JSON.parse(stored!) as { p: Record<string, [string, number]>; h: Array<[number, 0 | 1]> };
    expect(c.p[PERSONALIZATION]![0]).toBe('denied');
    expect(c.h.at(-1)![1]).toBe(0);
    expect(await metric(worker!.httpPort, NO_CONSENT) - before).toBe(3);
    // The popularity of the items she touched counts only the others' purchases (aggregates setting: default false).
    expect((await d.store.topPopular(100)).find((x) => x.itemId === 'b')?.count).toBe(1);
  });

  it('revoked after activity: a tombstone replaces her list, she exits her segments with cause consent, her profile is emptied', async () => {
    const u = user('revoked');
    await d.sendAndSettle([view(u, 'a'), purchase(u, 'b'), view(u, 'c')]);
    expect((await d.recordsFor(d.topics.recommendations, u)).at(-1)?.value).not.toBeNull();
    expect((await d.contentOf(u)).segments).toEqual(['buyer', 'viewer']);
    const revoke = consent(u, 'revoked');
    await d.sendAndSettle([revoke]);
    const at = await d.offsetOf(revoke.eventId);

    const recs = await d.recordsFor(d.topics.recommendations, u);
    expect(recs.at(-1)!.value).toBeNull();
    expect(recs.at(-1)!.headers['attune.source']).toBe(`${d.topics.events}:0:${at}`);
    const exits = (await d.segmentChangesOf(u)).filter((c) => c.change === 'exit');
    expect(exits.map((c) => [c.segmentId, c.cause, c.source]).sort()).toEqual([
      ['buyer', 'consent', `${d.topics.events}:0:${at}`], ['viewer', 'consent', `${d.topics.events}:0:${at}`],
    ]);
    expect(await d.contentOf(u)).toEqual(EMPTY);
    expect((await d.tracesOf(u)).memberOf).toEqual([]);
    expect(await d.keysMentioning(u)).toEqual([]);

    // Still revoked: later activity changes nothing and emits nothing.
    const recordsBefore = recs.length;
    await d.sendAndSettle([view(u, 'a'), purchase(u, 'c')]);
    expect(await d.contentOf(u)).toEqual(EMPTY);
    expect(await d.recordsFor(d.topics.recommendations, u)).toHaveLength(recordsBefore);
  });

  it('a granted consent after a denial starts from an empty profile', async () => {
    const u = user('regranted');
    await d.sendAndSettle([view(u, 'a'), view(u, 'b'), purchase(u, 'a')]);
    expect((await d.contentOf(u)).eventCounts).toEqual({ view: '2', purchase: '1' });
    await d.sendAndSettle([consent(u, 'denied'), view(u, 'c'), purchase(u, 'c'), view(u, 'b'), consent(u, 'granted'), view(u, 'c')]);
    const c = await d.contentOf(u);
    // Only the view after the grant: neither the activity before the denial nor the one during it.
    expect(c.eventCounts).toEqual({ view: '1' });
    expect(c.recent).toEqual(['c']);
    expect(c.purchased).toBe(0);
    expect(c.views30d).toBe(1);
    expect(c.purchases30d).toBe(0);
    expect(c.segments).toEqual(['viewer']);
    expect((await d.recordsFor(d.topics.recommendations, u)).at(-1)?.value).not.toBeNull();
  });

  it('erase: nothing of the user is left in Redis, a tombstone, exits with cause erasure, a ledger entry', async () => {
    const u = user('erased');
    await d.sendAndSettle([view(u, 'a'), purchase(u, 'b'), view(u, 'c'), purchase(u, 'c')]);
    const p = d.pseudonymOf(u);
    const held = await d.tracesOf(u);
    expect(held.userKeys.length).toBeGreaterThan(0);
    expect(held.memberOf.length, 'she is in a member set, the known users, holders').toBeGreaterThan(0);
    const popularityBefore = new Map((await d.store.topPopular(100)).map((x) => [x.itemId, x.count]));

    const e = erase(u);
    const producedAt = Date.now();
    await d.sendAndSettle([e]);
    const at = await d.offsetOf(e.eventId);

    expect(await d.tracesOf(u)).toEqual({ userKeys: [], memberOf: [] });
    expect(await d.keysMentioning(u)).toEqual([]);
    const recs = await d.recordsFor(d.topics.recommendations, u);
    expect(recs.at(-1)!.value).toBeNull();
    expect(recs.at(-1)!.headers['attune.source']).toBe(`${d.topics.events}:0:${at}`);
    const exits = (await d.segmentChangesOf(u)).filter((c) => c.change === 'exit');
    expect(exits.map((c) => [c.segmentId, c.cause]).sort()).toEqual([['buyer', 'erasure'], ['viewer', 'erasure']]);

    const ledger = await waitFor(async () => (await readTopicToEnd(d.pipe.kafka, d.topics.erasures)).filter((r) => r.key === p), 'the ledger entry');
    expect(ledger).toHaveLength(1);
    const entry = JSON.parse(ledger[0]!.value!.toString()) as { v: number; topic: string; partition: number; offset: number; at: number };
    expect(entry).toMatchObject({ v: 1, topic: d.topics.events, partition: 0, offset: at });
    // `at` is the erase record's broker timestamp (LogAppendTime): between the produce and now, give or take clock steps.
    expect(entry.at).toBeGreaterThanOrEqual(producedAt - 5000);
    expect(entry.at).toBeLessThanOrEqual(Date.now() + 5000);
    // Nothing in the ledger or its key names the user.
    expect(ledger[0]!.value!.toString()).not.toContain(u);
    // Anonymous aggregates already counted stay (docs/privacy.md: a rebuild removes them).
    expect(new Map((await d.store.topPopular(100)).map((x) => [x.itemId, x.count]))).toEqual(popularityBefore);
  });

  it('erase, then a new event of the same user: a fresh profile', async () => {
    const u = user('returning');
    await d.sendAndSettle([view(u, 'a'), view(u, 'b'), purchase(u, 'a'), erase(u)]);
    expect((await d.tracesOf(u)).userKeys).toEqual([]);
    await d.sendAndSettle([purchase(u, 'c')]);
    const c = await d.contentOf(u);
    expect(c.eventCounts).toEqual({ purchase: '1' });
    expect(c.recent).toEqual(['c']);
    expect(c.purchased).toBe(1);
    expect(c.views30d).toBe(0);
    expect(c.purchases30d).toBe(1);
    expect(c.segments).toEqual(['buyer']);
    expect((await d.recordsFor(d.topics.recommendations, u)).at(-1)?.value).not.toBeNull();
  });

  it('identify: the known user\'s profile counts the anonymous user\'s events once; the anonymous profile is erased', async () => {
    const anon = user('cookie');
    const known = user('known');
    await d.sendAndSettle([view(known, 'a'), purchase(known, 'b')]);
    // The anonymous user's events and the identify in one micro-batch: the rights stage cuts before the identify,
    // so that its snapshot holds the three events.
    const link = identify(anon, known);
    await d.sendAndSettle([view(anon, 'c'), view(anon, 'd'), purchase(anon, 'e'), link, view(known, 'f')]);
    // The merge record was produced before the identify's micro-batch completed: now it is in the log, settle on it.
    await d.settle();
    const at = await d.offsetOf(link.eventId);
    const merges = await d.mergeRecordsOf(known);
    expect(merges.map((m) => m.eventId)).toEqual([`attune:merge:${d.topics.events}:0:${at}`]);
    expect(merges[0]!.profile).not.toContain(anon);

    const c = await d.contentOf(known);
    expect(c.eventCounts).toEqual({ view: '4', purchase: '2' });
    expect(c.views30d).toBe(4);
    expect(c.purchases30d).toBe(2);
    expect(c.purchased).toBe(2);
    expect(c.recent.slice().sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(c.segments).toEqual(['buyer', 'viewer']);
    expect((await d.recordsFor(d.topics.recommendations, known)).at(-1)?.value).not.toBeNull();

    expect(await d.tracesOf(anon)).toEqual({ userKeys: [], memberOf: [] });
    expect(await d.keysMentioning(anon)).toEqual([]);
    expect((await d.recordsFor(d.topics.recommendations, anon)).at(-1)!.value).toBeNull();
    const exits = (await d.segmentChangesOf(anon)).filter((x) => x.change === 'exit');
    expect(exits.map((x) => [x.segmentId, x.cause]).sort()).toEqual([['buyer', 'erasure'], ['viewer', 'erasure']]);
  });

  it('identify of a user with nothing stored, or to a known user without consent, moves nothing', async () => {
    const anon = user('empty-cookie');
    const known = user('known-empty');
    await d.sendAndSettle([identify(anon, known)]);
    await d.settle();
    expect(await d.mergeRecordsOf(known)).toEqual([]);
    const refusing = user('known-refusing');
    const anon2 = user('cookie-2');
    await d.sendAndSettle([consent(refusing, 'denied'), view(anon2, 'a'), purchase(anon2, 'b')]);
    await d.sendAndSettle([identify(anon2, refusing)]);
    await d.settle();
    expect(await d.mergeRecordsOf(refusing)).toHaveLength(1);
    const p = d.pseudonymOf(refusing);
    expect((await d.tracesOf(refusing)).userKeys.filter((k) => k !== d.keys.userSubject(p))).toEqual([]);
    expect(await d.tracesOf(anon2)).toEqual({ userKeys: [], memberOf: [] });
  });

  it('erase and a later event in the same micro-batch: the later event starts the fresh profile, no tombstone last', async () => {
    const u = user('same-batch');
    await d.sendAndSettle([view(u, 'a'), purchase(u, 'b'), erase(u), view(u, 'c')]);
    const c = await d.contentOf(u);
    expect(c.eventCounts).toEqual({ view: '1' });
    expect(c.purchased).toBe(0);
    expect((await d.recordsFor(d.topics.recommendations, u)).at(-1)?.value).not.toBeNull();
  });
});

// ---- an opt-in deployment that must not copy personal data to the DLQ ------------------------------------------------

describe('users\' rights, ATTUNE_CONSENT_DEFAULT=denied and ATTUNE_DLQ_VALUES=drop', () => {
  let d: Deployment;
  let worker: WorkerHandle | undefined;

  beforeAll(async () => {
    const cfg = rightsConfig({ consentDefault: 'denied', dlqValues: 'drop' });
    d = new Deployment(cfg, await openPipeline(cfg));
    worker = await startWorker(cfg, d.pipe.kafka);
    await d.sendAndSettle([consent('seed-1', 'granted'), purchase('seed-1', 'a'), purchase('seed-1', 'b')]);
  });
  afterAll(async () => {
    await worker?.stop();
    await d?.pipe.close();
  });

  it('no state and no list until a granted consent; after it, a profile of the later events and a list', async () => {
    const u = user('opt-in');
    const before = await metric(worker!.httpPort, NO_CONSENT);
    await d.sendAndSettle([view(u, 'a'), purchase(u, 'b'), view(u, 'c')]);
    const p = d.pseudonymOf(u);
    const { userKeys, memberOf } = await d.tracesOf(u);
    expect(userKeys.filter((k) => k !== d.keys.userSubject(p))).toEqual([]);
    expect(memberOf).toEqual([]);
    expect(await d.recordsFor(d.topics.recommendations, u)).toEqual([]);
    expect(await metric(worker!.httpPort, NO_CONSENT) - before).toBe(3);

    await d.sendAndSettle([consent(u, 'granted'), view(u, 'c'), purchase(u, 'a')]);
    const c = await d.contentOf(u);
    expect(c.eventCounts).toEqual({ view: '1', purchase: '1' });
    expect(c.segments).toEqual(['buyer', 'viewer']);
    const recs = await d.recordsFor(d.topics.recommendations, u);
    expect(recs.length).toBeGreaterThan(0);
    expect(recs.at(-1)!.value).not.toBeNull();
  });

  it('a dead-lettered record\'s copy has a null key and value and keeps its headers', async () => {
    const u = user('dead-lettered');
    const tooOld = await d.pipe.codec.encodeEvent({ ...view(u, 'a'), eventTime: Date.UTC(1990, 0, 1) });
    await d.pipe.producer.send(d.topics.events, [
      { key: u, value: Buffer.from('garbage bytes, not avro') },
      { key: u, value: tooOld },
    ]);
    await d.settle();
    const dlq = await waitFor(async () => { const r = await readTopicToEnd(d.pipe.kafka, d.topics.dlq); return r.length >= 2 ? r : null; }, '2 DLQ records');
    expect(dlq.map((r) => r.headers['attune.error.code'])).toEqual(['BAD_MAGIC', 'TIME_TOO_OLD']);
    for (const r of dlq) {
      expect(r.key).toBeNull();
      expect(r.value).toBeNull();
      expect(r.headers['attune.source.topic']).toBe(d.topics.events);
      expect(r.headers['attune.source.offset']).toMatch(/^\d+$/);
      expect(r.headers['attune.error.stage']).toMatch(/^(decode|validate)$/);
      for (const v of Object.values(r.headers)) expect(v).not.toContain(u);
    }
  });
});

// ---- erasure survives a state loss handled by an in-process rebuild --------------------------------------------------

describe('erasure, then Redis state loss with ATTUNE_ON_STATE_LOSS=rebuild', () => {
  let d: Deployment;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    const cfg = rightsConfig({ onStateLoss: 'rebuild' });
    d = new Deployment(cfg, await openPipeline(cfg));
    // A process, as test/fault/redis-state-loss.test.ts and bench/rebuild.ts run it: the rebuild restarts in-process.
    worker = spawnWorker(cfg);
    await waitForSoleOwner(cfg, d.topics.events);
  });
  afterAll(async () => {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
    await d?.pipe.close();
  });

  it('the replay skips the erased user\'s earlier events: no key of hers, her purchases out of popularity', async () => {
    const u = user('rebuilt');
    // Her purchases: an item only she bought, and one others bought too.
    await d.sendAndSettle([
      purchase('other-1', 'shared'), purchase(u, 'only-hers'), purchase(u, 'shared'), view(u, 'only-hers'),
      purchase('other-2', 'shared'), purchase(u, 'only-hers'),
    ], 120_000);
    expect((await d.store.topPopular(100)).find((x) => x.itemId === 'only-hers')?.count).toBe(2);
    await d.sendAndSettle([erase(u), purchase('other-3', 'other-item')], 120_000);
    expect((await d.tracesOf(u)).userKeys).toEqual([]);
    // Before the loss the anonymous aggregates still hold her purchases (they stay until a rebuild).
    expect((await d.store.topPopular(100)).find((x) => x.itemId === 'shared')?.count).toBe(3);
    await waitFor(async () => (await readTopicToEnd(d.pipe.kafka, d.topics.erasures)).some((r) => r.key === d.pseudonymOf(u)), 'the ledger entry');

    // The loss: every key of the deployment gone at once (as when Redis restarts empty), then one event to notice it.
    await deleteKeysWithPrefix(d.redis, d.cfg.keyPrefix);
    await d.send([purchase('other-4', 'other-item')]);
    await waitFor(() => /state rebuilt empty under a new epoch/.test(worker!.output()), 'the in-process rebuild', 120_000)
      .catch((err: Error) => { throw new Error(`${err.message}\nworker output:\n${worker!.output().slice(-3000)}`); });
    await d.settle(120_000);
    expect(worker!.child.exitCode).toBeNull();

    expect(await d.tracesOf(u)).toEqual({ userKeys: [], memberOf: [] });
    expect(await d.keysMentioning(u)).toEqual([]);
    const popularity = new Map((await d.store.topPopular(100)).map((x) => [x.itemId, x.count]));
    expect(popularity.get('only-hers')).toBeUndefined();
    expect(popularity.get('shared')).toBe(2);
    expect(popularity.get('other-item')).toBe(2);
    // The others were rebuilt in full.
    expect((await d.store.userCounts(d.pseudonymOf('other-1'))).purchase).toBe('1');
    // Nothing re-emitted a list for her after the tombstone.
    expect((await d.recordsFor(d.topics.recommendations, u)).at(-1)!.value).toBeNull();
  });

  it('identify, then a rebuild: the merge record is not produced again and the known user counts the anonymous events once', async () => {
    const anon = user('rebuilt-cookie');
    const known = user('rebuilt-known');
    await d.sendAndSettle([view(anon, 'x1'), purchase(anon, 'x2')], 120_000);
    await d.sendAndSettle([view(known, 'x3'), identify(anon, known)], 120_000);
    await d.settle(120_000);
    await waitFor(async () => (await readTopicToEnd(d.pipe.kafka, d.topics.erasures)).some((r) => r.key === d.pseudonymOf(anon)), 'the identify\'s ledger entry');
    const before = await d.contentOf(known);
    expect(before.eventCounts).toEqual({ view: '2', purchase: '1' });

    const rebuilds = () => (worker!.output().match(/state rebuilt empty under a new epoch/g) ?? []).length;
    const rebuildsBefore = rebuilds();
    await deleteKeysWithPrefix(d.redis, d.cfg.keyPrefix);
    await d.send([purchase('other-5', 'other-item')]);
    await waitFor(() => rebuilds() > rebuildsBefore, 'the in-process rebuild', 120_000)
      .catch((err: Error) => { throw new Error(`${err.message}\nworker output:\n${worker!.output().slice(-3000)}`); });
    await d.settle(120_000);
    expect(await d.mergeRecordsOf(known)).toHaveLength(1);
    expect(await d.contentOf(known)).toEqual(before);
    expect(await d.tracesOf(anon)).toEqual({ userKeys: [], memberOf: [] });
  });
});
