/**
 * Changing the rule file and restarting re-evaluates every known user (issue 4), on the real broker, registry and
 * Redis, one partition: rules A → events → stop → rules B (a changed threshold, a removed segment, a segment
 * with a member set) → the enter/exit changes with cause "rules" appear without any new event, counts and member
 * sets are right; a second restart with the same rules B re-evaluates nothing.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { FeatureStore } from '../../src/stages/segments/store.js';
import type { SegmentChange, UserEvent } from '../../src/domain/events.js';
import { loadSegmentSetup } from '../../src/stages/segments/processor.js';
import { testConfig, waitFor, waitForSoleOwner, openPipeline, sleep, pseudonymOf } from '../support/env.js';

/** Member sets hold pseudonyms: the expected members' pseudonyms, in the order the store returns them (sorted). */
const pseudonymsOf = (ids: string[]) => ids.map((id) => pseudonymOf(id)).sort();

const dir = mkdtempSync(join(tmpdir(), 'attune-segrules-'));
const rulesA = join(dir, 'a.yaml');
const rulesB = join(dir, 'b.yaml');
writeFileSync(rulesA, `segments:
  busy:
    when: { count: { type: view, window: 1h }, gte: 3 }
  any_view:
    members: true
    when: { count: { type: view, window: 24h }, gte: 1 }
`);
// busy's threshold drops to 2, any_view is removed, keen (member set) is new.
writeFileSync(rulesB, `segments:
  busy:
    members: true
    when: { count: { type: view, window: 1h }, gte: 2 }
  keen:
    members: true
    when: { count: { type: view, window: 1h }, gte: 3 }
`);

const base = testConfig({ partitions: 1, segmentRules: rulesA, allowedLatenessMs: 60_000, timerResolutionMs: 1000, segmentIdleMs: 0, shutdownTimeoutMs: 2000 });
const T0 = Date.UTC(2011, 5, 1, 10, 0, 0);
let n = 0;
const view = (userId: string, t: number): UserEvent => ({
  eventId: `${userId}-${n++}`, userId, type: 'view', eventTime: t, itemId: 'i1', quantity: null, price: null,
  rating: null, sessionId: null, context: null, properties: {},
});
// alice 3 views, bob 2 views, carol 1 view, all within a minute.
const input = [view('alice', T0), view('bob', T0 + 1000), view('alice', T0 + 2000), view('bob', T0 + 3000), view('alice', T0 + 4000), view('carol', T0 + 5000)];
const W = T0 + 5000;

let pipe: Awaited<ReturnType<typeof openPipeline>>;
let worker: WorkerHandle | undefined;

type Seen = Pick<SegmentChange, 'userId' | 'segmentId' | 'change' | 'cause'> & { eventTime: number };
/** The segment-changes topic once it holds `min` records (40 s: one worker restart plus processing, with margin). */
async function history(min: number): Promise<Seen[]> {
  return waitFor(async () => {
    const recs = await readTopicToEnd(pipe.kafka, pipe.topics.segmentChanges);
    if (recs.length < min) return null;
    const out: Seen[] = [];
    for (const r of recs) {
      const c = (await pipe.codec.decode(r.value, 1e6)) as unknown as SegmentChange;
      out.push({ userId: c.userId, segmentId: c.segmentId, change: c.change, cause: c.cause, eventTime: Number(c.eventTime) });
    }
    return out;
  }, `${min} segment changes`, 40_000);
}

beforeAll(async () => {
  pipe = await openPipeline(base);
});
afterAll(async () => {
  await worker?.stop();
  await pipe.close();
});

describe('rule file changes', () => {
  it('re-evaluates every known user at the watermark on restart, once', async () => {
    worker = await startWorker(base, pipe.kafka);
    await pipe.producer.send(pipe.topics.events, await Promise.all(input.map(async (e) => ({ key: e.userId, value: await pipe.codec.encodeEvent(e) }))));
    const first = await history(4); // alice busy; alice, bob, carol any_view
    expect(first.filter((c) => c.segmentId === 'busy')).toEqual([{ userId: 'alice', segmentId: 'busy', change: 'enter', cause: input[4]!.eventId, eventTime: T0 + 4000 }]);
    const storeA = new FeatureStore(pipe.redis, base.keyPrefix);
    await waitFor(async () => (await storeA.loadPartition(pipe.topics.events, 0)).offset === 5, 'partition at offset 5');
    expect(await storeA.segmentCounts()).toEqual({ busy: 1, any_view: 3 });
    expect(await storeA.segmentMembers('any_view')).toEqual(pseudonymsOf(['alice', 'bob', 'carol']));
    expect(await storeA.knownUsers(pipe.topics.events, 0)).toEqual(pseudonymsOf(['alice', 'bob', 'carol']));
    await worker.stop();
    worker = undefined;

    // Restart with rules B: no new events.
    const cfgB = { ...base, segmentRules: rulesB };
    worker = await startWorker(cfgB, pipe.kafka);
    await waitForSoleOwner(base, pipe.topics.events); // the stopped worker may hold the partition for a moment
    const all = await history(first.length + 5);
    const rules = all.slice(first.length);
    const sorted = [...rules].sort((a, b) => (a.userId + a.segmentId < b.userId + b.segmentId ? -1 : 1));
    expect(sorted).toEqual([
      { userId: 'alice', segmentId: 'any_view', change: 'exit', cause: 'rules', eventTime: W },
      { userId: 'alice', segmentId: 'keen', change: 'enter', cause: 'rules', eventTime: W },
      { userId: 'bob', segmentId: 'any_view', change: 'exit', cause: 'rules', eventTime: W },
      { userId: 'bob', segmentId: 'busy', change: 'enter', cause: 'rules', eventTime: W },
      { userId: 'carol', segmentId: 'any_view', change: 'exit', cause: 'rules', eventTime: W },
    ]);
    const { featureConfig, rules: compiledB } = loadSegmentSetup(cfgB);
    const store = new FeatureStore(pipe.redis, base.keyPrefix, featureConfig);
    await waitFor(async () => (await store.loadPartition(pipe.topics.events, 0)).rules === compiledB.fingerprint, 'the fingerprint of rules B stored');
    expect(await store.segmentCounts()).toEqual({ busy: 2, any_view: 0, keen: 1 });
    expect(await store.readSegments(pseudonymOf('alice'))).toEqual(['busy', 'keen']);
    expect(await store.readSegments(pseudonymOf('bob'))).toEqual(['busy']);
    expect(await store.readSegments(pseudonymOf('carol'))).toEqual([]);
    expect(await store.segmentMembers('busy')).toEqual(pseudonymsOf(['alice', 'bob']));
    expect(await store.segmentMembers('busy', { topic: pipe.topics.events, count: 1 })).toEqual(pseudonymsOf(['alice', 'bob']));
    expect(await store.segmentMembers('keen')).toEqual(pseudonymsOf(['alice']));
    expect(await store.segmentMembers('any_view')).toEqual([]); // no member set any more
    // bob's timer follows rules B: busy (2 views in 1h) ends when his first view's minute bucket leaves the window.
    expect((await store.loadUser(pseudonymOf('bob'), pipe.topics.events, 0)).due).toBe(T0 + 60 * 60_000);
    const metrics = await (await fetch(`http://127.0.0.1:${worker.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/attune_segment_members\{segment="busy"\} 2/);
    await worker.stop();
    worker = undefined;

    // Same rules B again: nothing to re-evaluate.
    worker = await startWorker(cfgB, pipe.kafka);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${worker!.httpPort}/readyz`)).ok, 'worker ready', 30_000);
    // Ready means joined, not owning the events partition: until it does, "nothing re-evaluated" proves nothing.
    await waitForSoleOwner(base, pipe.topics.events);
    await sleep(3000);
    expect(await readTopicToEnd(pipe.kafka, pipe.topics.segmentChanges)).toHaveLength(all.length);
    expect(await store.segmentCounts()).toEqual({ busy: 2, any_view: 0, keen: 1 });

    // Event time moves on (another user's event): bob's busy exit fires from the rescheduled timer.
    await pipe.producer.send(pipe.topics.events, [{ key: 'dave', value: await pipe.codec.encodeEvent(view('dave', T0 + 61 * 60_000)) }]);
    const after = await history(all.length + 3); // the three timed exits asserted below
    expect(after.slice(all.length).filter((c) => c.cause === 'time').map((c) => `${c.userId}:${c.segmentId}:${c.change}`).sort())
      .toEqual(['alice:busy:exit', 'alice:keen:exit', 'bob:busy:exit']);
    await waitFor(async () => (await store.segmentMembers('busy')).length === 0, 'busy members empty');
    expect(await store.segmentCounts()).toEqual({ busy: 0, any_view: 0, keen: 0 });
  }, 60_000);
});
