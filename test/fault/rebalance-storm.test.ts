/**
 * Rebalance storm: while purchases stream in at a steady rate, workers join and leave the consumer group 6 times
 * (one worker stays up throughout; each round starts one or two more, waits until they are in the group and
 * micro-batches are in flight, then removes one — alternately with SIGTERM, a graceful leave, and SIGKILL, a member
 * that just vanishes and whose partitions move after the 6 s session timeout).
 *
 * Checks: every event applied exactly once (per-user purchase counts and the popularity total equal the input: no
 * duplicate application, nothing lost), every SIGTERM'd worker exits 0, and no worker dies on its own (1: crash,
 * 3: state lost). A revoked worker's late write is refused by the fence in every script (guard.lua returns -50 and
 * the worker logs "fenced: dropping the rest of the batch"); how often that happens depends on timing, so it is
 * reported, not required — the exact state is what proves that no such write was applied.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { topicNames } from '../../src/config/config.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { Codec } from '../../src/registry/codec.js';
import { produceEvents } from '../../src/replay/producer.js';
import { createRedis, type RedisClient } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import { StateStore } from '../../src/stores/state-store.js';
import type { UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor, sleep, syntheticPurchases, purchasesCounted } from '../support/env.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';

const cfg = testConfig({ microBatchSize: 50, partitions: 6, kafkaSessionTimeoutMs: 6000 });
const topics = topicNames(cfg);
const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-test');

const ROUNDS = 6;
const USERS = 80;
const ITEMS = 97;
const EVENTS = 24_000;
const RATE = 350; // events/s: the replay lasts ~70 s, about as long as the storm
const events: UserEvent[] = syntheticPurchases(EVENTS, USERS, ITEMS);

const FENCED_LOG = 'fenced: dropping the rest of the batch';

interface Member {
  name: string;
  proc: WorkerProcess;
  /** How this test ended it, if it did. */
  removedWith?: 'SIGTERM' | 'SIGKILL';
  exit?: { code: number | null; signal: NodeJS.Signals | null };
}

const members: Member[] = [];
let redis: RedisClient;
let store: StateStore;

function start(name: string): Member {
  const m: Member = { name, proc: spawnWorker(cfg) };
  void m.proc.exited.then((e) => { m.exit = e; });
  members.push(m);
  return m;
}
const alive = (m: Member) => m.exit === undefined && m.removedWith === undefined;
const count = (text: string, needle: string) => text.split(needle).length - 1;

/** Waits until the worker is in the group (it logs its first assignment) and its signal handlers are installed. */
async function joined(m: Member, timeoutMs = 45_000): Promise<void> {
  await waitFor(() => {
    if (m.exit) throw new Error(`${m.name} exited (${JSON.stringify(m.exit)}) before joining:\n${m.proc.output().slice(-3000)}`);
    const out = m.proc.output();
    return out.includes('worker started') && out.includes('partitions assigned');
  }, `${m.name} to join the group`, timeoutMs, 100).catch((e) => {
    throw new Error(`${e.message}\n${m.name} output:\n${m.proc.output().slice(-3000)}`);
  });
}

function report(): string {
  return members.map((m) => `--- ${m.name} (${m.removedWith ?? 'kept'}; exit ${JSON.stringify(m.exit ?? null)}):\n${m.proc.output().slice(-2500)}`).join('\n');
}

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, cfg);
  await admin.disconnect();
  redis = createRedis(cfg);
  store = new StateStore(redis, cfg.keyPrefix);
});

afterAll(async () => {
  for (const m of members) {
    if (m.exit === undefined) {
      m.proc.child.kill('SIGKILL');
      await m.proc.exited;
    }
  }
  if (!redis) return;
  await deleteKeysWithPrefix(redis, cfg.keyPrefix);
  await redis.quit();
});

describe('rebalance storm', () => {
  it('adds and removes workers 6 times under load: no duplicate application, no write from a revoked worker', async () => {
    const t0 = Date.now();
    const codec = new Codec(cfg.registryUrl, topics);
    await codec.registerAll();
    const producer = kafka.producer();
    await producer.connect();

    const base = start('w0');
    await joined(base);
    // Steady load in the background for the whole storm.
    let produced = 0;
    const producing = produceEvents(producer, codec, topics, events, { rate: RATE, batchSize: 50, onProgress: (d) => { produced = d; } });
    await waitFor(async () => (await purchasesCounted(store, USERS)) > 300, 'w0 to apply some events', 60_000);

    let sigterms = 0;
    let sigkills = 0;
    let next = 1;
    const extras: Member[] = [];
    const rounds: string[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      // Start one worker, or two on alternate rounds while at most one extra is up (so the group has 2-4 members).
      const adding = r % 2 === 1 && extras.filter(alive).length <= 1 ? 2 : 1;
      const added = Array.from({ length: adding }, () => start(`w${next++}`));
      extras.push(...added);
      for (const m of added) await joined(m);
      // A couple of seconds into the rebalance: partitions have moved, micro-batches are in flight.
      await sleep(2000);
      const how: 'SIGTERM' | 'SIGKILL' = r % 2 === 1 ? 'SIGTERM' : 'SIGKILL';
      const candidates = extras.filter(alive);
      // Alternate between removing the newest member (its partitions were just handed to it) and the oldest extra.
      const victim = r % 3 === 0 ? candidates[0] : candidates[candidates.length - 1];
      victim.removedWith = how;
      victim.proc.child.kill(how);
      if (how === 'SIGTERM') sigterms++;
      else sigkills++;
      const counted = await purchasesCounted(store, USERS);
      rounds.push(`round ${r}: +${added.map((m) => m.name).join(',+')} ${how} ${victim.name}; live ${[base, ...extras].filter(alive).map((m) => m.name).join(',')}; produced ${produced}, counted ${counted}, t=${((Date.now() - t0) / 1000).toFixed(1)}s`);
      console.log(rounds[rounds.length - 1]);
      // No worker may have died on its own.
      for (const m of members) {
        if (m.exit && m.removedWith === undefined) throw new Error(`${m.name} exited on its own: ${JSON.stringify(m.exit)}\n${report()}`);
      }
      if (how === 'SIGKILL') await sleep(1000);
    }

    const { seconds: produceSeconds } = await producing;
    await producer.disconnect();
    const total = await waitFor(async () => {
      const n = await purchasesCounted(store, USERS);
      return n >= EVENTS ? n : null;
    }, 'all events applied', 120_000, 500).catch(async (e) => {
      throw new Error(`${e.message}\n${report()}`);
    });
    await sleep(2000); // let any late duplicate (a revoked worker's write) show up before we look

    // Exactly the input: no duplicate application, nothing lost.
    const off: string[] = [];
    for (let u = 0; u < USERS; u++) {
      const want = events.filter((e) => e.userId === `user${u}`).length;
      const got = Number((await store.userCounts(`user${u}`)).purchase ?? 0);
      if (got !== want) off.push(`user${u}: ${got} (want ${want}, ${got > want ? '+' : ''}${got - want})`);
    }
    const finalCount = await purchasesCounted(store, USERS);
    const popularity = await store.topPopular(1000);
    const popularityTotal = popularity.reduce((a, p) => a + p.count, 0);

    // Graceful stop of the rest: each must drain and exit 0.
    const kept = members.filter(alive);
    for (const m of kept) {
      m.removedWith = 'SIGTERM';
      m.proc.child.kill('SIGTERM');
    }
    for (const m of members) m.exit = await m.proc.exited;

    const fencedDrops = members.reduce((a, m) => a + count(m.proc.output(), FENCED_LOG), 0);
    const fencedBy = members.map((m) => `${m.name}:${count(m.proc.output(), FENCED_LOG)}`).join(' ');
    const seconds = (Date.now() - t0) / 1000;
    console.log([
      `rebalance storm: ${ROUNDS} rounds, ${members.length} workers started, ${sigterms} SIGTERMs, ${sigkills} SIGKILLs (+${kept.length} SIGTERM at the end)`,
      `  events ${EVENTS} produced in ${produceSeconds.toFixed(1)} s, counted ${finalCount} (first reached ${total}), popularity total ${popularityTotal}`,
      `  fenced batch drops observed: ${fencedDrops} (${fencedBy})`,
      `  total time ${seconds.toFixed(1)} s`,
    ].join('\n'));

    expect(off, `per-user purchase counts differ from the input:\n${off.join('\n')}\n${report()}`).toEqual([]);
    expect(finalCount).toBe(EVENTS);
    expect(total).toBe(EVENTS);
    expect(popularityTotal).toBe(EVENTS);
    expect(popularity.find((p) => p.itemId === 'item0')?.count).toBe(events.filter((e) => e.itemId === 'item0').length);

    for (const m of members) {
      const why = `${m.name} (${m.removedWith}) exit ${JSON.stringify(m.exit)}\n${m.proc.output().slice(-2500)}`;
      if (m.removedWith === 'SIGTERM') expect(m.exit, why).toEqual({ code: 0, signal: null });
      else expect(m.exit, why).toEqual({ code: null, signal: 'SIGKILL' });
      expect([1, 3], why).not.toContain(m.exit!.code);
    }
  }, 300_000);
});
