/**
 * A crash at the worst moments, injected (ATTUNE_CRASH_AT, src/topology/crash-points.ts), then a restart:
 *   after-dlq      dead letters produced but not recorded as produced  → each written once (read back)
 *   after-apply    every state applied in Redis, outputs not produced  → outputs not lost (re-emitted)
 *   after-produce  outputs produced, progress and offset not committed → state not doubled
 * Each case checks: every purchase counted exactly once; every poison record in the dead-letter topic exactly
 * once; every user has a recommendation record, and the last one emitted is the list Redis holds as current.
 */
import { describe, it, expect } from 'vitest';
import { openPipeline, testConfig, waitFor, syntheticPurchases, purchasesCounted, sleep } from '../support/env.js';
import { spawnWorker } from '../support/worker-process.js';
import { StateStore } from '../../src/stores/state-store.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import type { Recommendations } from '../../src/domain/events.js';
import type { CrashPoint } from '../../src/topology/crash-points.js';

const USERS = 30;
const EVENTS = 900;

async function crashAndRecover(point: CrashPoint, pass: number) {
  const cfg = testConfig({ microBatchSize: 20 });
  const p = await openPipeline(cfg);
  const store = new StateStore(p.redis, cfg.keyPrefix);
  try {
    const events = syntheticPurchases(EVENTS, USERS, 41);
    const records: { key: string; value: Buffer }[] = [];
    let poison = 0;
    for (let i = 0; i < events.length; i++) {
      records.push({ key: events[i].userId, value: await p.codec.encodeEvent(events[i]) });
      if (i % 100 === 50) {
        records.push({ key: events[i].userId, value: Buffer.from(`poison ${i}`) }); // not Avro: dead-lettered
        poison++;
      }
    }
    await p.producer.send(p.topics.events, records);

    const crashed = spawnWorker(cfg, { ATTUNE_CRASH_AT: `${point}:${pass}` });
    const exit = await crashed.exited;
    expect(exit.signal, crashed.output().slice(-2000)).toBe('SIGKILL');
    expect(crashed.output()).toContain(`crashing at ${point}`);
    const atCrash = await purchasesCounted(store, USERS);
    expect(atCrash).toBeLessThan(EVENTS); // the crash left work to do

    const worker = spawnWorker(cfg);
    const admin = p.kafka.admin();
    await admin.connect();
    const ends = await admin.endOffsets(p.topics.events);
    await admin.disconnect();
    await waitFor(async () => {
      for (const [partition, end] of ends) if (((await store.readProgress(p.topics.events, partition)) ?? -1) < Number(end) - 1) return false;
      return true;
    }, 'every partition applied to its end', 90_000).catch((e) => { throw new Error(`${e.message}\n${worker.output().slice(-3000)}`); });
    await sleep(1000);
    // After a crash between produce and bookkeeping the worker read the dead-letter topic back and skipped what landed.
    if (point === 'after-dlq') expect(worker.output()).toMatch(/"alreadyWritten":[1-9]\d*,"msg":"dead letters read back after a crash"/);

    // State: every purchase exactly once.
    expect(await purchasesCounted(store, USERS)).toBe(EVENTS);
    for (let u = 0; u < USERS; u++) {
      expect(Number((await store.userCounts(`user${u}`)).purchase)).toBe(events.filter((e) => e.userId === `user${u}`).length);
    }

    // Dead letters: every poison record once.
    const dlq = await readTopicToEnd(p.kafka, p.topics.dlq);
    const bySource = new Map<string, number>();
    for (const r of dlq) {
      const k = `${r.headers['attune.source.partition']}:${r.headers['attune.source.offset']}`;
      bySource.set(k, (bySource.get(k) ?? 0) + 1);
    }
    expect(bySource.size).toBe(poison);
    expect([...bySource.values()].every((n) => n === 1), JSON.stringify([...bySource])).toBe(true);

    // Outputs: the last list emitted for each user is the one Redis holds as current.
    const last = new Map<string, Recommendations>();
    for (const r of await readTopicToEnd(p.kafka, p.topics.recommendations)) {
      last.set(r.key!, (await p.codec.decode(r.value, 1e6)) as unknown as Recommendations);
    }
    for (let u = 0; u < USERS; u++) {
      const id = `user${u}`;
      const current = await store.getRecommendations(id);
      expect(current, id).not.toBeNull();
      expect(last.get(id)?.items.map((i) => i.itemId), id).toEqual(current!.items.map((i) => i.itemId));
    }
    console.log(`crash ${point}:${pass}: ${atCrash} of ${EVENTS} purchases applied at the crash; after recovery ${EVENTS} exact, ${dlq.length} dead letters for ${poison} poison records, ${last.size} users with a current list emitted`);

    worker.child.kill('SIGTERM');
    expect((await worker.exited).code, worker.output().slice(-2000)).toBe(0);
  } finally {
    await p.close();
  }
}

describe('injected crash points', () => {
  it('between the dead-letter produce and its bookkeeping: each dead letter once', () => crashAndRecover('after-dlq', 2), 150_000);
  it('between the Redis apply and the produce: no output lost', () => crashAndRecover('after-apply', 4), 150_000);
  it('between the produce and the commit: nothing applied twice', () => crashAndRecover('after-produce', 4), 150_000);
});
