/**
 * Rebalance storm: while purchases stream in at a steady rate, workers join and leave the consumer group 6 times
 * (one worker stays up throughout; each round starts one or two more, waits until they are in the group and
 * micro-batches are in flight, then removes one — alternately with SIGTERM, a graceful leave, and SIGKILL, a member
 * that just vanishes and whose partitions move after the 6 s session timeout).
 *
 * Then 2 zombie rounds: a new worker joins, works for 2 s (so it holds fence tokens for its partitions), a burst of
 * 5000 purchases is produced at once, next in the stream, and as soon as one of its partitions has at least 4
 * micro-batches of lag it is frozen with SIGSTOP (mid-batch, or with that backlog fetched or about to be). It stays
 * frozen past the 6 s session timeout and the rebalance that follows (at least 9.5 s, and until every partition it
 * owned has advanced in Redis, i.e. a new owner took a newer fence token and wrote), then SIGCONT resumes it: it
 * carries on with the batch it was holding, under its old tokens, before it learns that it was revoked, and then
 * rejoins the group. Those writes reach Redis and are refused there: guard.lua returns -50 and the worker logs
 * "fenced: dropping the rest of the batch". A SIGKILLed or SIGTERMed worker never writes again, so only the zombie
 * rounds exercise the fence.
 *
 * Checks: every event applied exactly once (per-user purchase counts and the popularity total equal the input: no
 * duplicate application, nothing lost), every SIGTERM'd worker (the resumed zombies included) exits 0, and no worker
 * dies on its own (1: crash, 3: state lost), and at least one "fenced: dropping the rest of the batch" line over all
 * workers (each zombie round usually gives one per partition the zombie was working on; whether a resumed zombie
 * reaches Redis before it notices the revocation is a race per round, hence >= 1 over the 2 rounds). The exact final
 * state proves that none of a revoked worker's writes was applied; the fenced lines prove that such writes were made
 * and refused by the fence, not merely absent.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { topicNames } from '../../src/config/config.js';
import type { StreamProducer } from '../../src/kafka/port.js';
import type { Codec } from '../../src/stages/decode/codec.js';
import { produceEvents } from '../../src/replay/producer.js';
import type { RedisClient } from '../../src/stores/redis-client.js';
import { StateStore } from '../../src/stores/state-store.js';
import type { UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor, sleep, syntheticPurchases, purchasesCounted, openPipeline, pseudonymOf } from '../support/env.js';
import { spawnWorker, type WorkerProcess } from '../support/worker-process.js';

const cfg = testConfig({ microBatchSize: 50, partitions: 6, kafkaSessionTimeoutMs: 6000 });
const topics = topicNames(cfg);
let pipeline: Awaited<ReturnType<typeof openPipeline>>;

const ROUNDS = 6;
const USERS = 80;
const ITEMS = 97;
const STEADY = 38_000;
const RATE = 350; // events/s: the paced part lasts ~110 s, about as long as the storm and the zombie rounds
const ZOMBIE_ROUNDS = 2;
const BURST = 5_000; // purchases produced at once in each zombie round, on top of the paced ones
const FREEZE_MS = 9_500; // longer than the 6 s session timeout plus a rebalance
const events: UserEvent[] = syntheticPurchases(STEADY + ZOMBIE_ROUNDS * BURST, USERS, ITEMS);
const EVENTS = events.length;

const FENCED_LOG = 'fenced: dropping the rest of the batch';

interface Member {
  name: string;
  proc: WorkerProcess;
  /** How this test ended it, if it did. */
  removedWith?: 'SIGTERM' | 'SIGKILL';
  /** Frozen with SIGSTOP and resumed with SIGCONT by a zombie round. */
  zombie?: boolean;
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

/** The events partitions of the worker's latest assignment, from its last 'partitions assigned' log line. */
function eventPartitions(m: Member): number[] {
  const line = m.proc.output().split('\n').filter((l) => l.includes('"partitions assigned"')).pop();
  if (!line) return [];
  const { assigned } = JSON.parse(line) as { assigned: { topic: string; partitions: number[] }[] };
  return assigned.filter((a) => a.topic === topics.events).flatMap((a) => a.partitions);
}

/**
 * Produces `events` in order, 50 at a time at RATE, except that `burst(n)` has the next n sent at once. Always in
 * order: an event whose time is behind its partition's watermark would be dead-lettered as too late, not counted.
 */
function streamEvents(producer: StreamProducer, codec: Codec) {
  let sent = 0;
  let paced = 0;
  let burstWanted = 0;
  const started = Date.now();
  const done = (async () => {
    while (sent < events.length) {
      const burst = Math.min(burstWanted, events.length - sent);
      const n = burst > 0 ? burst : Math.min(50, events.length - sent);
      await produceEvents(producer, codec, topics, events.slice(sent, sent + n), { batchSize: burst > 0 ? 500 : 50 });
      sent += n;
      if (burst > 0) {
        burstWanted -= burst;
        continue;
      }
      paced += n;
      const due = started + (paced / RATE) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    return { seconds: (Date.now() - started) / 1000 };
  })();
  return {
    done,
    sent: () => sent,
    /** Sends the next n events at once; resolves when they are produced. */
    burst: async (n: number) => {
      const target = Math.min(events.length, sent + burstWanted + n);
      burstWanted += n;
      await waitFor(() => sent >= target, 'the burst to be produced', 60_000, 20);
    },
  };
}

function report(): string {
  return members.map((m) => `--- ${m.name} (${m.removedWith ?? 'kept'}${m.zombie ? ', zombie' : ''}; exit ${JSON.stringify(m.exit ?? null)}):\n${m.proc.output().slice(-2500)}`).join('\n');
}

beforeAll(async () => {
  pipeline = await openPipeline(cfg);
  redis = pipeline.redis;
  store = new StateStore(redis, cfg.keyPrefix);
});

afterAll(async () => {
  for (const m of members) {
    if (m.exit === undefined) {
      m.proc.child.kill('SIGKILL');
      await m.proc.exited;
    }
  }
  await pipeline?.close();
});

describe('rebalance storm', () => {
  it('adds and removes workers 6 times and resumes 2 frozen workers under load: no duplicate application, no write from a revoked worker', async () => {
    const t0 = Date.now();
    const { codec, producer, kafka } = pipeline;
    const admin = kafka.admin();
    await admin.connect();

    const base = start('w0');
    await joined(base);
    // Steady load in the background for the whole storm.
    const stream = streamEvents(producer, codec);
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
      rounds.push(`round ${r}: +${added.map((m) => m.name).join(',+')} ${how} ${victim.name}; live ${[base, ...extras].filter(alive).map((m) => m.name).join(',')}; produced ${stream.sent()}, counted ${counted}, t=${((Date.now() - t0) / 1000).toFixed(1)}s`);
      console.log(rounds[rounds.length - 1]);
      // No worker may have died on its own.
      for (const m of members) {
        if (m.exit && m.removedWith === undefined) throw new Error(`${m.name} exited on its own: ${JSON.stringify(m.exit)}\n${report()}`);
      }
      if (how === 'SIGKILL') await sleep(1000);
    }

    // Zombie rounds: freeze a worker that owns partitions and has lag, past its session, then let it resume.
    const zombieNotes: string[] = [];
    for (let z = 1; z <= ZOMBIE_ROUNDS; z++) {
      const zombie = start(`w${next++}`);
      zombie.zombie = true;
      extras.push(zombie);
      await joined(zombie);
      await sleep(2000); // it has taken fence tokens for its partitions and written under them
      const owned = eventPartitions(zombie);
      if (owned.length === 0) throw new Error(`${zombie.name} owns no events partition\n${report()}`);
      const bursting = stream.burst(BURST);
      // Freeze it as soon as the burst has given it lag: at least 4 micro-batches to do on one of its partitions.
      const lagAtFreeze = await waitFor(async () => {
        const ends = await admin.endOffsets(topics.events);
        const lag = [];
        for (const p of owned) lag.push(Number(ends.get(p) ?? 0) - ((await store.readProgress(topics.events, p)) ?? -1) - 1);
        return Math.max(...lag) >= 4 * cfg.microBatchSize ? lag : null;
      }, `the burst of zombie round ${z} to reach ${zombie.name}`, 30_000, 10);
      const assignments = count(zombie.proc.output(), '"partitions assigned"');
      const fencedBefore = count(zombie.proc.output(), FENCED_LOG);
      zombie.proc.child.kill('SIGSTOP');
      const frozenAt = Date.now();
      await bursting;
      // What it had sent before the freeze has been applied by now: from here on, progress is a new owner's.
      await sleep(500);
      const progressAtFreeze = new Map<number, number>();
      for (const p of owned) progressAtFreeze.set(p, (await store.readProgress(topics.events, p)) ?? -1);
      await sleep(Math.max(0, FREEZE_MS - (Date.now() - frozenAt)));
      // Until every partition it owned has moved and been written by its new owner (or 15 s more at most).
      const taken = await waitFor(async () => {
        for (const p of owned) if (((await store.readProgress(topics.events, p)) ?? -1) <= progressAtFreeze.get(p)!) return false;
        return true;
      }, `the partitions of ${zombie.name} to be written by a new owner`, 15_000, 200).catch(() => false);
      const frozenMs = Date.now() - frozenAt;
      zombie.proc.child.kill('SIGCONT');
      // It resumes, is refused by the fence, notices that it was revoked and rejoins the group.
      await waitFor(() => {
        if (zombie.exit) throw new Error(`${zombie.name} exited after SIGCONT: ${JSON.stringify(zombie.exit)}`);
        return count(zombie.proc.output(), '"partitions assigned"') > assignments;
      }, `${zombie.name} to rejoin after SIGCONT`, 60_000, 100).catch((e) => {
        throw new Error(`${e.message}\n${report()}`);
      });
      await sleep(1000);
      const fencedNow = count(zombie.proc.output(), FENCED_LOG) - fencedBefore;
      const afterResume = zombie.proc.output().split('\n').flatMap((l) => {
        try {
          const j = JSON.parse(l) as { time: number; msg: string; err?: string; error?: string };
          return j.time >= frozenAt ? [`    ${j.msg}${j.err || j.error ? ` (${String(j.err ?? j.error).slice(0, 70)})` : ''}`] : [];
        } catch {
          return [];
        }
      });
      const counted = await purchasesCounted(store, USERS);
      rounds.push(`zombie round ${z}: +${zombie.name}, owning events partitions [${owned.join(',')}] with lag [${lagAtFreeze.join(',')}] when SIGSTOPped, frozen ${(frozenMs / 1000).toFixed(1)} s (partitions ${taken ? '' : 'NOT all '}written by a new owner), SIGCONT; fenced lines of ${zombie.name} after resuming: ${fencedNow}; live ${[base, ...extras].filter(alive).map((m) => m.name).join(',')}; produced ${stream.sent()}, counted ${counted}, t=${((Date.now() - t0) / 1000).toFixed(1)}s`);
      zombieNotes.push(`${zombie.name}:${fencedNow}`);
      console.log(`${rounds[rounds.length - 1]}\n  ${zombie.name} after SIGCONT:\n${afterResume.slice(0, 12).join('\n')}`);
      for (const m of members) {
        if (m.exit && m.removedWith === undefined) throw new Error(`${m.name} exited on its own: ${JSON.stringify(m.exit)}\n${report()}`);
      }
    }
    await admin.disconnect();

    const { seconds: produceSeconds } = await stream.done;
    await producer.disconnect();
    let lastCounted = 0;
    const total = await waitFor(async () => {
      const n = (lastCounted = await purchasesCounted(store, USERS));
      return n >= EVENTS ? n : null;
    }, 'all events applied', 120_000, 500).catch(async (e) => {
      throw new Error(`${e.message} (counted ${lastCounted} of ${EVENTS})\n${report()}`);
    });
    await sleep(2000); // let any late duplicate (a revoked worker's write) show up before we look

    // Exactly the input: no duplicate application, nothing lost.
    const off: string[] = [];
    for (let u = 0; u < USERS; u++) {
      const want = events.filter((e) => e.userId === `user${u}`).length;
      const got = Number((await store.userCounts(pseudonymOf(`user${u}`))).purchase ?? 0);
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
      `rebalance storm: ${ROUNDS} rounds + ${ZOMBIE_ROUNDS} zombie rounds, ${members.length} workers started, ${sigterms} SIGTERMs, ${sigkills} SIGKILLs, ${ZOMBIE_ROUNDS} SIGSTOP/SIGCONT (+${kept.length} SIGTERM at the end)`,
      `  events ${EVENTS} (${ZOMBIE_ROUNDS}×${BURST} of them in bursts) produced in ${produceSeconds.toFixed(1)} s, counted ${finalCount} (first reached ${total}), popularity total ${popularityTotal}`,
      `  fenced batch drops observed: ${fencedDrops} (${fencedBy}; by the zombies right after resuming: ${zombieNotes.join(' ')})`,
      `  total time ${seconds.toFixed(1)} s`,
    ].join('\n'));

    expect(off, `per-user purchase counts differ from the input:\n${off.join('\n')}\n${report()}`).toEqual([]);
    expect(finalCount).toBe(EVENTS);
    expect(total).toBe(EVENTS);
    expect(popularityTotal).toBe(EVENTS);
    expect(popularity.find((p) => p.itemId === 'item0')?.count).toBe(events.filter((e) => e.itemId === 'item0').length);

    // The zombies did write after their partitions had moved, and the fence refused it.
    expect(fencedDrops, `no fenced write in the zombie rounds:\n${rounds.join('\n')}\n${report()}`).toBeGreaterThanOrEqual(1);

    for (const m of members) {
      const why = `${m.name} (${m.removedWith}) exit ${JSON.stringify(m.exit)}\n${m.proc.output().slice(-2500)}`;
      if (m.removedWith === 'SIGTERM') expect(m.exit, why).toEqual({ code: 0, signal: null });
      else expect(m.exit, why).toEqual({ code: null, signal: 'SIGKILL' });
      expect([1, 3], why).not.toContain(m.exit!.code);
    }
  }, 300_000);
});
