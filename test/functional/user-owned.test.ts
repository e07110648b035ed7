/**
 * The user-owned registry against what the stages really write, on the real broker, registry and Redis: a handful
 * of users through the whole pipeline (two partitions, a segment with a member set, timers, purchases, lists), then
 * every key of the run's prefix is SCANned and every set/zset member, hash field, list element and JSON value is
 * looked at. Every trace of a test user must be one `ownedBy` returns for that user (so a stage that starts writing
 * a user id somewhere undeclared fails here), and every instance it returns that the stages must have written exists.
 * The stages key users by pseudonym (issue #11): the traces looked for are the pseudonyms, and the RAW user id must
 * appear nowhere in Redis — no key, member, field or value (the pseudonymisation guarantee).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { loadSegmentSetup } from '../../src/stages/segments/processor.js';
import { Keys } from '../../src/stores/keys.js';
import { StateStore } from '../../src/stores/state-store.js';
import { scanKeys } from '../../src/stores/maintenance.js';
import { USER_OWNED, ownedBy, readOwnerContext, userOfKey, keyPatternOf, type OwnedInstance } from '../../src/stores/user-owned.js';
import type { UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor, openPipeline, pseudonymOf } from '../support/env.js';
import { caughtUp } from '../support/verifier.js';

const dir = mkdtempSync(join(tmpdir(), 'attune-owned-'));
const rulesPath = join(dir, 'segments.yaml');
writeFileSync(rulesPath, `segments:
  buyer:
    members: true
    when: { count: { type: purchase, window: 24h }, gte: 1 }
  busy:
    when: { count: { type: view, window: 1h }, gte: 2 }
`);
// One A/B experiment, so that the impressions sent below are attributed and the experiment counts are written.
const experimentsPath = join(dir, 'experiments.yaml');
writeFileSync(experimentsPath, `version: 1
experiments:
  owned_ab:
    variants:
      a: { strategy: hybrid, share: 0.5 }
      b: { strategy: collaborative, share: 0.5 }
`);
const cfg = testConfig({ partitions: 2, segmentRules: rulesPath, experiments: experimentsPath, allowedLatenessMs: 60_000, timerResolutionMs: 1000, segmentIdleMs: 0 });
const keys = new Keys(cfg.keyPrefix);

const USERS = Array.from({ length: 6 }, (_, i) => `owner-${i}`);
const BUYERS = new Set(USERS.slice(0, 3));
/** Pseudonym -> real id: Redis names each test user by its pseudonym only. */
const REAL = new Map(USERS.map((u) => [pseudonymOf(u, cfg), u]));
const P = (u: string) => pseudonymOf(u, cfg);
const T0 = Date.UTC(2011, 5, 1, 10, 0, 0);
let n = 0;
const event = (userId: string, type: 'view' | 'purchase', item: number): UserEvent => ({
  eventId: `e${n}`, userId, type, eventTime: T0 + 1000 * n++, itemId: `thing-${item}`,
  quantity: type === 'purchase' ? 1 : null, price: type === 'purchase' ? 3 : null,
  rating: null, sessionId: null, context: null, properties: {},
});
const input: UserEvent[] = USERS.flatMap((u, i) => [
  event(u, 'view', i % 4), event(u, 'view', (i + 1) % 4),
  ...(BUYERS.has(u) ? [event(u, 'purchase', i % 4), event(u, 'purchase', (i + 2) % 4)] : []),
]);

let pipe: Awaited<ReturnType<typeof openPipeline>>;
let worker: WorkerHandle | undefined;

beforeAll(async () => {
  pipe = await openPipeline(cfg);
  worker = await startWorker(cfg, pipe.kafka);
});
afterAll(async () => {
  await worker?.stop();
  await pipe?.close();
});

/** Every value a key holds that could be a user id, as [what, value]: members, fields, elements, JSON values. */
async function tracesOf(key: string): Promise<{ type: string; members: string[]; fields: Record<string, string> }> {
  const r = pipe.redis;
  const type = await r.type(key);
  if (type === 'set') return { type, members: await r.smembers(key), fields: {} };
  if (type === 'zset') return { type, members: await r.zrange(key, 0, -1), fields: {} };
  if (type === 'list') return { type, members: await r.lrange(key, 0, -1), fields: {} };
  if (type === 'hash') return { type, members: [], fields: await r.hgetall(key) };
  if (type === 'string') return { type, members: [], fields: { '': (await r.get(key)) ?? '' } };
  throw new Error(`${key}: unexpected type ${type}`);
}

describe('what a user owns', () => {
  it('declares every key, membership and mention the stages write for a user, and they all exist', async () => {
    await pipe.producer.send(pipe.topics.events, await Promise.all(input.map(async (e) => ({ key: e.userId, value: await pipe.codec.encodeEvent(e) }))));
    await waitFor(async () => (await caughtUp(pipe.kafka, pipe.redis, cfg)).done, 'every events partition applied');
    await waitFor(async () => (await Promise.all(USERS.map((u) => pipe.redis.exists(keys.userRecommendations(P(u)))))).every((x) => x === 1), 'every list stored');
    // Each user sees the list: an impression carrying its recommendationId (attributed: experiment counts).
    const store = new StateStore(pipe.redis, cfg.keyPrefix);
    const impressions: UserEvent[] = [];
    for (const u of USERS) {
      const list = await store.getRecommendations(P(u));
      expect(list?.recommendationId, u).toMatch(/^owned_ab:[ab]~/);
      impressions.push({ ...event(u, 'view', 0), type: 'impression', itemId: null, recommendationId: list!.recommendationId });
    }
    await pipe.producer.send(pipe.topics.events, await Promise.all(impressions.map(async (e) => ({ key: e.userId, value: await pipe.codec.encodeEvent(e) }))));
    await waitFor(async () => (await caughtUp(pipe.kafka, pipe.redis, cfg)).done, 'the impressions applied');
    expect(Object.values(await pipe.redis.hgetall(keys.experimentCounts())).map(Number).reduce((a, b) => a + b, 0)).toBe(USERS.length);

    const memberSegments = loadSegmentSetup(cfg).rules.segments.filter((s) => s.members).map((s) => s.id);
    expect(memberSegments).toEqual(['buyer']);
    const owned = new Map<string, OwnedInstance[]>();
    for (const u of USERS) {
      const ctx = await readOwnerContext(pipe.redis, keys, P(u), memberSegments);
      // Keyed by user id, so each user's state came from exactly one events partition.
      expect(ctx.partitions.map((p) => p.topic), u).toEqual([pipe.topics.events]);
      expect(ctx.heldItems.length, u).toBeGreaterThan(0);
      owned.set(u, ownedBy(keys, P(u), ctx));
    }
    const id = (key: string, what = '') => `${key}\u0000${what}`;
    const declared = new Set([...owned.values()].flat().map((x) => id(x.key, x.member ?? x.field ?? '')));
    const users = new Set(REAL.keys());

    // 1. Every trace of a test user in the whole prefix is declared.
    const all: string[] = [];
    for await (const batch of scanKeys(pipe.redis, `${cfg.keyPrefix}:*`, 500)) all.push(...batch);
    expect(all.length).toBeGreaterThan(50);
    let traces = 0;
    let rawChecked = 0;
    // No raw user id anywhere: key names, members, field names, values (JSON or not).
    const noRawId = (where: string, text: string) => {
      rawChecked++;
      for (const u of USERS) expect(text.includes(u), `${where} holds the raw user id ${u}`).toBe(false);
    };
    for (const key of all.sort()) {
      noRawId(`key name ${key}`, key);
      const raw = await tracesOf(key);
      for (const m of raw.members) noRawId(`${key} (${raw.type}) member`, m);
      for (const [f, v] of Object.entries(raw.fields)) {
        noRawId(`${key} field name ${f}`, f);
        noRawId(`${key}${f ? ` field ${f}` : ''} value`, v);
      }
      const uid = userOfKey(key);
      if (uid !== null) {
        expect(users.has(uid), `${key}: a key of a user who sent no event`).toBe(true);
        expect(declared.has(id(key)), `${key}: a key of ${uid} the registry does not declare`).toBe(true);
        traces++;
        continue;
      }
      const t = await tracesOf(key);
      for (const m of t.members) {
        if (!users.has(m)) continue;
        expect(declared.has(id(key, m)), `${key} (${t.type}) holds ${m}, undeclared`).toBe(true);
        traces++;
      }
      for (const [f, v] of Object.entries(t.fields)) {
        expect(users.has(f), `${key} has a hash field named after user ${f}, undeclared`).toBe(false);
        for (const u of users) {
          if (!v.includes(JSON.stringify(u))) continue;
          expect(declared.has(id(key, f)), `${key}${f ? ` field ${f}` : ''} names ${u} in its value, undeclared`).toBe(true);
          traces++;
        }
      }
    }
    expect(traces).toBeGreaterThan(USERS.length * 10);
    expect(rawChecked).toBeGreaterThan(all.length);

    // 2. Every instance the stages must have written exists. Entries present only under a condition say which
    //    users have them here; an entry without a rule fails, so a new entry needs one.
    const features = new Map(await Promise.all(USERS.map(async (u) => [u, await pipe.redis.hgetall(keys.userFeatures(P(u)))] as const)));
    const segs = (u: string) => JSON.parse(features.get(u)!.seg ?? '[]') as string[];
    const expectedWhen: Record<string, ((u: string, x: OwnedInstance) => boolean) | null> = {
      recent: () => true, // every event has an item
      purchased: (u) => BUYERS.has(u),
      segments: (u) => segs(u).length > 0,
      recs: () => true, // waited for above, TTL of days
      subject: () => true, // the sealed id and consent of every user with a passing event (all of them here)
      timers: (u) => features.get(u)!.due !== undefined,
      members: (u, x) => segs(u).includes(x.key.slice(x.key.lastIndexOf(':') + 1)),
      'pending-changes': null, // holds the user only if the partition's last micro-batch changed the user's segments
    };
    const seen = new Map<string, number>();
    for (const [u, list] of owned) {
      for (const x of list) {
        const rule = x.entry.presence === 'always' ? () => true : expectedWhen[x.entry.name];
        expect(rule, `${x.entry.name}: no expectation in this test for its condition "${x.entry.presence}"`).not.toBeUndefined();
        if (!rule || !rule(u, x)) continue;
        const exists = x.member === undefined
          ? (await pipe.redis.exists(x.key)) === 1
          : x.entry.type === 'zset' ? (await pipe.redis.zscore(x.key, x.member)) !== null : (await pipe.redis.sismember(x.key, x.member)) === 1;
        expect(exists, `${x.entry.name} of ${u}: ${x.key}${x.member ? ` member ${x.member}` : ''} missing`).toBe(true);
        seen.set(x.entry.name, (seen.get(x.entry.name) ?? 0) + 1);
      }
    }
    // The scenario exercises every non-aggregate entry that has a rule (else the checks above prove little).
    for (const e of USER_OWNED) if (e.kind !== 'aggregate' && expectedWhen[e.name] !== null) expect(seen.get(e.name) ?? 0, e.name).toBeGreaterThan(0);
    expect(seen.get('members')).toBe(BUYERS.size);

    // 3. Aggregates are declared (not asserted on beyond that): each has keys in this run.
    const stripped = all.map((k) => k.slice(cfg.keyPrefix.length + 1));
    for (const e of USER_OWNED.filter((x) => x.kind === 'aggregate')) expect(stripped.some((k) => keyPatternOf(e).test(k)), e.name).toBe(true);
  });
});
