/**
 * The kill -9 chaos harness, shared by the CI test (test/chaos/chaos.test.ts: ~100k events, 60 s) and the long run
 * (`npm run chaos` → bench/chaos.ts: the full data set, 300 s).
 *
 * 3 `attune worker` processes in one consumer group on the 3-master Redis Cluster replay the bundled data set while a
 * killer SIGKILLs a random worker every uniform(0, maxKillGapMs) ms — one that owns partitions when any does — and
 * starts a new process in its place at once. After the chaos window the killer stops, the workers catch up (every events partition's progress at its end
 * offset), get SIGTERM (each must exit 0), and the verifier (test/support/verifier.ts) checks the state key by key
 * against a fault-free reference run and against the input log, and the output topic for a record per user.
 *
 * The kill schedule comes from a seeded RNG (printed), so `CHAOS_SEED=<seed>` replays the same schedule (the
 * interleaving with the workers' progress still varies: it is a chaos test).
 *
 * Users' rights ride along (`injectRights`, seeded too): consent withdrawals for ~3% of the users at a random point
 * of their history, re-grants later for a third of those, erasures for ~1% (most with later events), identify events
 * for ~1% others (identity stitching: the user's profile so far moves to a known user, half with later events),
 * each an event of the user keyed by the user id; the verifier checks what they must leave (and remove, and move)
 * against an independent oracle.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { topicNames, type Config } from '../../src/config/config.js';
import type { CatalogItem, UserEvent } from '../../src/domain/events.js';
import { PERSONALIZATION } from '../../src/domain/events.js';
import { loadRetailDataset } from '../../src/data/online-retail.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { produceCatalog, produceEvents } from '../../src/replay/producer.js';
import { createRedis } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import { testConfig, sleep } from './env.js';
import { spawnWorker, type WorkerProcess } from './worker-process.js';
import { caughtUp, referenceConfig, verifyDeployment, type VerifyReport } from './verifier.js';
import { injectFeedback, writeFeedbackExperiments, type FeedbackInjected } from './feedback.js';

export const DATA_SET = join(import.meta.dirname, '../../data/online-retail.csv.gz');
export const CLUSTER_NODES = process.env.ATTUNE_REDIS_CLUSTER_NODES || '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002';

export interface ChaosOptions {
  /** Events of the data set (its first N in time order); undefined = all. */
  limit?: number;
  /** The replay is spread over this window (rate = events / window) and the killer runs during it. */
  chaosSeconds: number;
  workers?: number;
  /** The killer waits uniform(0, maxKillGapMs) between kills. */
  maxKillGapMs?: number;
  seed?: number;
  partitions?: number;
  microBatchSize?: number;
  catchUpTimeoutMs?: number;
  referenceTimeoutMs?: number;
  /** Keep topics and keys afterwards (to look at a failure). */
  keep?: boolean;
  log?: (line: string) => void;
  /** Called about every second during the replay and the catch-up. */
  onTick?: (t: ChaosTick) => void;
  /** Already loaded data (the long run shows a spinner meanwhile). */
  data?: { events: UserEvent[]; catalog: CatalogItem[] };
}

export interface ChaosTick {
  phase: 'chaos' | 'catch-up' | 'reference';
  produced: number;
  total: number;
  lag: number;
  kills: number;
}

export interface ChaosFigures {
  seed: number;
  /** Events replayed: the data set's plus the injected rights and feedback events. */
  events: number;
  rights: RightsInjected;
  feedback: FeedbackInjected;
  catalogItems: number;
  partitions: number;
  workers: number;
  microBatchSize: number;
  kills: number;
  /** Kills of a worker that had partitions assigned (the others were still starting up or joining). */
  killsOfMembers: number;
  restarts: number;
  /** Exits nobody asked for (watchdog 2, state lost 3, crash 1...), each restarted like a supervisor would. */
  unexpectedExits: Array<{ slot: number; code: number | null; signal: string | null; tail: string }>;
  chaosSeconds: number;
  produceSeconds: number;
  catchUpSeconds: number;
  /** Exit codes of the final SIGTERM, one per worker. */
  finalExitCodes: Array<number | null>;
  shutdownSeconds: number;
  verifySeconds: number;
  referenceSeconds: number;
  totalSeconds: number;
  logDir: string;
}

export interface ChaosResult {
  figures: ChaosFigures;
  report: VerifyReport;
  cfg: Config;
}

import { rng } from './rng.js';

/** What `injectRights` added to the log. */
export interface RightsInjected {
  users: number;
  /** Consent events withdrawing personalization (status denied or revoked). */
  withdrawals: number;
  /** Consent events granting it again, later, to a third of the withdrawn users. */
  regrants: number;
  erasures: number;
  /** Erased users with events of theirs after the erasure (their state must restart from those). */
  erasuresWithLaterEvents: number;
  /** Identify events (identity stitching): an anonymous user names a known user, who absorbs its profile so far. */
  identifies: number;
  /** Identifying users with events of theirs after the identify (a new anonymous profile starts from those). */
  identifiesWithLaterEvents: number;
  /** Distinct known users named by the identify events. */
  knownUsers: number;
}

const WITHDRAW_SHARE = 0.03;
const ERASE_SHARE = 0.01;
const IDENTIFY_SHARE = 0.01;

/**
 * The log with rights events of some users inserted, seeded: ~3% of the users withdraw personalization at a random
 * point of their history (before their k-th event, k uniform in 0..n: possibly before the first or after the last),
 * a third of those grant it again at a random later point; ~1% others are erased before their k-th event, k uniform in
 * 1..n (at least one event before it: there is state to remove; most have later events); ~1% others identify (an
 * `identify` event naming a known user, identity stitching) before their k-th event, drawn like an erasure's k (at
 * least one event before it: there is a profile to move; half with later events, which start a new anonymous
 * profile). The known user of each identify is drawn among the users in none of the three groups, so a known user
 * never loses personalization, is never erased and never identifies: it absorbs every profile it is named for, and
 * the oracle needs no chain of merges. The groups are disjoint, and a user is erased or identifies at most once, so
 * how each user must end does not depend on where micro-batches are cut. Each inserted event takes the time of the
 * event before it, so the log stays in time order.
 *
 * The identify group takes the share of `pick` after the other two (users that fell in no group before), and its
 * k and known users come from a stream of their own, drawn after the main loop: the withdrawn and erased users and
 * their points (and event ids) of a seed are the same as without identify events, and so is the kill schedule.
 */
export function injectRights(events: readonly UserEvent[], seed: number): { events: UserEvent[]; injected: RightsInjected } {
  // Its own stream, so that the kill schedule of a seed is the same with or without rights events.
  const random = rng(seed ^ 0x5eed1e55);
  const byUser = new Map<string, number[]>();
  events.forEach((e, i) => {
    let l = byUser.get(e.userId);
    if (!l) byUser.set(e.userId, (l = []));
    l.push(i);
  });
  // Inserted before events[at] (at = events.length: at the end); `seq` keeps a user's withdrawal before its re-grant.
  const inserts: Array<{ at: number; seq: number; event: UserEvent }> = [];
  const injected: RightsInjected = {
    users: byUser.size, withdrawals: 0, regrants: 0, erasures: 0, erasuresWithLaterEvents: 0, identifies: 0, identifiesWithLaterEvents: 0, knownUsers: 0,
  };
  const timeBefore = (at: number) => events[Math.max(0, at - 1)]!.eventTime;
  const base = (userId: string, type: 'consent' | 'erase' | 'identify', at: number, n: number): UserEvent => ({
    eventId: `chaos-rights-${type}-${n}`, userId, type, eventTime: timeBefore(at), itemId: null, quantity: null, price: null,
    rating: null, sessionId: null, context: null, properties: {},
  });
  let seq = 0;
  const atOf = (idx: readonly number[], k: number) => (k < idx.length ? idx[k]! : events.length);
  const identifying: string[] = [];
  const eligibleKnown: string[] = [];
  for (const [userId, idx] of byUser) {
    const pick = random();
    const at = (k: number) => atOf(idx, k);
    if (pick < WITHDRAW_SHARE) {
      const k = Math.floor(random() * (idx.length + 1));
      const status = random() < 0.5 ? 'denied' : 'revoked';
      inserts.push({ at: at(k), seq: seq++, event: { ...base(userId, 'consent', at(k), seq), consent: [{ purpose: PERSONALIZATION, status }] } });
      injected.withdrawals++;
      if (random() < 1 / 3) {
        const k2 = k + Math.floor(random() * (idx.length - k + 1));
        inserts.push({ at: at(k2), seq: seq++, event: { ...base(userId, 'consent', at(k2), seq), consent: [{ purpose: PERSONALIZATION, status: 'granted' }] } });
        injected.regrants++;
      }
    } else if (pick < WITHDRAW_SHARE + ERASE_SHARE) {
      // Half the erasures come after the user's last event (the user ends erased: nothing of theirs may remain),
      // half at a random point (later events start a new profile); uniform alone made the first kind rare for
      // active users, and a run could have none of it.
      const k = random() < 0.5 ? idx.length : 1 + Math.floor(random() * idx.length);
      inserts.push({ at: at(k), seq: seq++, event: base(userId, 'erase', at(k), seq) });
      injected.erasures++;
      if (k < idx.length) injected.erasuresWithLaterEvents++;
    } else if (pick < WITHDRAW_SHARE + ERASE_SHARE + IDENTIFY_SHARE) {
      identifying.push(userId);
    } else {
      eligibleKnown.push(userId);
    }
  }
  // Identify events: their own stream (see above), in the users' first-appearance order, after every other insert.
  const more = rng(seed ^ 0x1de471f7);
  const known = new Set<string>();
  let n = 0;
  for (const userId of eligibleKnown.length ? identifying : []) {
    const idx = byUser.get(userId)!;
    // As for erasures: half after the user's last event (the user ends erased: nothing of theirs may remain),
    // half at a random point after the first.
    const k = more() < 0.5 ? idx.length : 1 + Math.floor(more() * idx.length);
    const knownUserId = eligibleKnown[Math.floor(more() * eligibleKnown.length)]!;
    known.add(knownUserId);
    inserts.push({ at: atOf(idx, k), seq: seq++, event: { ...base(userId, 'identify', atOf(idx, k), n++), knownUserId } });
    injected.identifies++;
    if (k < idx.length) injected.identifiesWithLaterEvents++;
  }
  injected.knownUsers = known.size;
  inserts.sort((a, b) => a.at - b.at || a.seq - b.seq);
  const out: UserEvent[] = [];
  let j = 0;
  for (let i = 0; i <= events.length; i++) {
    while (j < inserts.length && inserts[j]!.at === i) out.push(inserts[j++]!.event);
    if (i < events.length) out.push(events[i]!);
  }
  return { events: out, injected };
}

interface Slot {
  proc: WorkerProcess;
  /** Set right before the harness kills or stops it, so its exit is not counted as unexpected. */
  expectingExit: boolean;
  generation: number;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const say = opts.log ?? ((s: string) => console.log(s));
  const seed = opts.seed ?? (Number(process.env.CHAOS_SEED) || Math.floor(Math.random() * 2 ** 31));
  const workers = opts.workers ?? 3;
  const maxGap = opts.maxKillGapMs ?? 6_000;
  const partitions = opts.partitions ?? 6;
  const microBatchSize = opts.microBatchSize ?? 250;
  const t0 = Date.now();
  const random = rng(seed);

  const loaded = opts.data ?? await loadRetailDataset(DATA_SET, { limit: opts.limit });
  const { catalog } = loaded;
  const withRights = injectRights(loaded.events, seed);
  const experimentsDir = join(tmpdir(), `attune-chaos-experiments-${process.pid}-${seed}`);
  mkdirSync(experimentsDir, { recursive: true });
  const cfg = testConfig({
    // Experiments ride along too: the workers assign lists and attribute the feedback inserted below.
    experiments: writeFeedbackExperiments(join(experimentsDir, 'experiments.yaml')),
    partitions,
    microBatchSize,
    redisClusterNodes: CLUSTER_NODES,
    // Segment state must be a pure function of event time: no wall-clock punctuation.
    segmentIdleMs: 0,
    // Dead members leave the group quickly, so their partitions move on after a kill.
    kafkaSessionTimeoutMs: 6_000,
    shutdownTimeoutMs: 30_000,
  });
  const { injected } = withRights;
  // Its own stream, so that the kill schedule of a seed is the same with or without feedback.
  const { events, injected: feedback } = injectFeedback(withRights.events, seed, cfg, rng(seed ^ 0xfeed));
  const topics = topicNames(cfg);
  const logDir = join(tmpdir(), `attune-chaos-${cfg.keyPrefix}`);
  mkdirSync(logDir, { recursive: true });
  const rate = events.length / opts.chaosSeconds;
  say(`chaos: seed ${seed} (CHAOS_SEED=${seed} replays the kill schedule and the rights events); ${events.length} events `
    + `(${injected.withdrawals} consent withdrawals, ${injected.regrants} re-grants, ${injected.erasures} erasures of which `
    + `${injected.erasuresWithLaterEvents} with later events, ${injected.identifies} identifies (of which ${injected.identifiesWithLaterEvents} with later `
    + `events) naming ${injected.knownUsers} known users, among ${injected.users} users; ${feedback.impressions} impressions `
    + `(+${feedback.forged} with forged ids) and ${feedback.clicks} clicks of ${feedback.users} users), ${catalog.length} items, `
    + `${partitions} partitions, ${workers} workers, micro-batch ${microBatchSize}, replay at ${Math.round(rate)} events/s over `
    + `${opts.chaosSeconds} s, a kill every uniform(0, ${maxGap / 1000}) s; prefix ${cfg.keyPrefix}; worker logs in ${logDir}`);

  const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-chaos');
  const redis = createRedis(cfg);
  const admin = kafka.admin();
  await admin.connect();
  const slots: Slot[] = [];
  const unexpected: ChaosFigures['unexpectedExits'] = [];
  let closing = false;

  const saveLog = (slot: number, gen: number, p: WorkerProcess) => {
    try { writeFileSync(join(logDir, `worker${slot}-${gen}.log`), p.output()); } catch { /* best effort */ }
  };
  const start = (i: number, generation: number): Slot => {
    const proc = spawnWorker(cfg, { ATTUNE_LOG_LEVEL: process.env.CHAOS_WORKER_LOG_LEVEL ?? 'info' });
    const slot: Slot = { proc, expectingExit: false, generation };
    void proc.exited.then((exit) => {
      saveLog(i, generation, proc);
      if (slot.expectingExit || closing) return;
      // Nobody asked it to stop: record it and restart it, as a supervisor (systemd, Kubernetes) would.
      unexpected.push({ slot: i, code: exit.code, signal: exit.signal, tail: proc.output().slice(-1500) });
      say(`chaos: worker ${i}.${generation} exited on its own (code ${exit.code}, signal ${exit.signal}); restarting it`);
      if (slots[i] === slot) slots[i] = start(i, generation + 1);
    });
    return slot;
  };

  let produced = 0;
  let kills = 0;
  let killsOfMembers = 0;
  let restarts = 0;
  let result: ChaosResult | undefined;
  try {
    await ensureTopics(admin, cfg);
    const codec = new Codec(cfg.registryUrl, topics);
    await codec.registerAll();
    const producer = kafka.producer();
    await producer.connect();
    await produceCatalog(producer, codec, topics, catalog);

    for (let i = 0; i < workers; i++) slots.push(start(i, 0));

    // The chaos window: the replay in the background, the killer in the foreground until the replay ended.
    const chaosStart = Date.now();
    let replayDone = false;
    const replay = produceEvents(producer, codec, topics, events, { rate, batchSize: 250, onProgress: (d) => (produced = d) })
      .finally(() => (replayDone = true));
    let lastTick = 0;
    const tick = async (phase: ChaosTick['phase']) => {
      if (Date.now() - lastTick < 1_000 || !opts.onTick) return;
      lastTick = Date.now();
      const { lag } = await caughtUp(kafka, redis, cfg).catch(() => ({ lag: NaN }));
      opts.onTick({ phase, produced, total: events.length, lag, kills });
    };
    const schedule: string[] = [];
    while (!replayDone) {
      const gap = random() * maxGap;
      const pick = random();
      const until = Date.now() + gap;
      while (Date.now() < until && !replayDone) {
        await sleep(Math.min(250, until - Date.now()));
        await tick('chaos');
      }
      if (replayDone) break;
      // A random worker among those that own partitions (a kill during start-up hurts little). When none does
      // (all three starting: start-up takes 5-15 s on a loaded machine, longer than the mean gap), the kill waits
      // up to 15 s for one to join, so that the kills keep hitting members whatever the machine's speed; only then
      // does it take a starting one.
      const membersNow = () => slots.map((sl, j) => (sl.proc.output().includes('partitions assigned') ? j : -1)).filter((j) => j >= 0);
      const waitUntil = Date.now() + 15_000;
      while (membersNow().length === 0 && Date.now() < waitUntil && !replayDone) {
        await sleep(250);
        await tick('chaos');
      }
      if (replayDone) break;
      const members = membersNow();
      const i = members.length ? members[Math.floor(pick * members.length)] : Math.floor(pick * workers);
      const victim = slots[i];
      const member = members.includes(i);
      if (member) killsOfMembers++;
      victim.expectingExit = true;
      victim.proc.child.kill('SIGKILL');
      await victim.proc.exited;
      kills++;
      slots[i] = start(i, victim.generation + 1);
      restarts++;
      schedule.push(`${((Date.now() - chaosStart) / 1000).toFixed(1)}s:w${i}${member ? '' : '(starting)'}`);
    }
    await replay;
    await producer.disconnect();
    const chaosSeconds = (Date.now() - chaosStart) / 1000;
    const produceSeconds = chaosSeconds;
    say(`chaos: window over after ${chaosSeconds.toFixed(1)} s: ${kills} kills (${schedule.join(' ')}), ${unexpected.length} unexpected exits`);

    // Catch-up: no more kills; every events partition's progress must reach its end offset.
    const catchStart = Date.now();
    const catchUpTimeout = opts.catchUpTimeoutMs ?? 240_000;
    for (;;) {
      const { done, lag } = await caughtUp(kafka, redis, cfg);
      opts.onTick?.({ phase: 'catch-up', produced, total: events.length, lag, kills });
      if (done) break;
      if (Date.now() - catchStart > catchUpTimeout) throw new Error(`the workers did not catch up within ${catchUpTimeout / 1000} s (lag ${lag}); logs in ${logDir}`);
      await sleep(500);
    }
    const catchUpSeconds = (Date.now() - catchStart) / 1000;
    say(`chaos: caught up in ${catchUpSeconds.toFixed(1)} s`);

    // Graceful stop: SIGTERM, each worker drains and exits 0.
    const stopStart = Date.now();
    closing = true;
    const finalExitCodes = await Promise.all(slots.map(async (s, i) => {
      s.expectingExit = true;
      s.proc.child.kill('SIGTERM');
      const exit = await Promise.race([s.proc.exited, sleep(60_000).then(() => ({ code: null, signal: 'timeout' as NodeJS.Signals }))]);
      saveLog(i, s.generation, s.proc);
      return exit.code;
    }));
    const shutdownSeconds = (Date.now() - stopStart) / 1000;
    say(`chaos: SIGTERM → exit codes ${JSON.stringify(finalExitCodes)} in ${shutdownSeconds.toFixed(1)} s`);

    opts.onTick?.({ phase: 'reference', produced, total: events.length, lag: 0, kills });
    const report = await verifyDeployment(cfg, kafka, redis, events, { referenceTimeoutMs: opts.referenceTimeoutMs ?? 300_000, log: say });
    const figures: ChaosFigures = {
      seed, events: events.length, rights: injected, feedback, catalogItems: catalog.length, partitions, workers, microBatchSize, kills, killsOfMembers, restarts,
      unexpectedExits: unexpected, chaosSeconds, produceSeconds, catchUpSeconds, finalExitCodes, shutdownSeconds,
      verifySeconds: report.verifySeconds, referenceSeconds: report.referenceSeconds, totalSeconds: (Date.now() - t0) / 1000, logDir,
    };
    result = { figures, report, cfg };
    say(summary(result));
    return result;
  } finally {
    closing = true;
    for (const s of slots) {
      if (s.proc.child.exitCode === null && s.proc.child.signalCode === null) {
        s.expectingExit = true;
        s.proc.child.kill('SIGKILL');
      }
    }
    if (!opts.keep && process.env.CHAOS_KEEP !== '1') {
      await deleteKeysWithPrefix(redis, cfg.keyPrefix).catch(() => 0);
      await deleteKeysWithPrefix(redis, referenceConfig(cfg).keyPrefix).catch(() => 0);
      // With the reference run's own erasure ledger (verifier.ts referenceConfig).
      const refLedger = (() => { try { return [topicNames(referenceConfig(cfg)).erasures]; } catch { return []; } })();
      await admin.deleteTopics([...Object.values(topics), ...refLedger]).catch(() => []);
    }
    await admin.disconnect().catch(() => {});
    await redis.quit().catch(() => {});
  }
}

/** The figures as printed lines. */
export function summary({ figures: f, report: r }: ChaosResult): string {
  const c = r.comparison;
  return [
    `chaos figures (seed ${f.seed}):`,
    `  events ${f.events} (${r.users} users, ${f.catalogItems} catalog items), ${f.partitions} partitions, ${f.workers} workers, micro-batch ${f.microBatchSize}`,
    `  rights events injected: ${f.rights.withdrawals} consent withdrawals, ${f.rights.regrants} re-grants, ${f.rights.erasures} erasures `
      + `(${f.rights.erasuresWithLaterEvents} with later events); the oracle: ${r.input.rights.dropped} events dropped without consent, `
      + `resets ${JSON.stringify(r.input.rights.resets)}, users ending ${JSON.stringify(r.input.rights.endings)}; `
      + `${r.input.rights.erasedChecked} erased and ${r.input.rights.withdrawnChecked} withdrawn users checked in the state, `
      + `${r.recommendations.tombstones} tombstones, ${r.recommendations.wrong.length} records and ${r.segmentChanges.rights.length} segment changes against them`,
    `  identity stitching: ${f.rights.identifies} identifies injected (${f.rights.identifiesWithLaterEvents} with later events) naming ${f.rights.knownUsers} known users; `
      + `the oracle: ${r.input.rights.merges.erasing} erased their anonymous profile, ${r.input.rights.merges.applied} merged into the known user, ${r.input.rights.merges.dropped} dropped; `
      + `events topic ${r.merges.topicRecords} records (${r.merges.records} merge records, ${r.merges.distinct} distinct, ${r.merges.records - r.merges.distinct} copies); `
      + `reference run ${r.merges.referenceRecords} merge records, ${r.merges.profilesEqual} profiles equal; ${r.merges.problems.length} problems`,
    `  experiment feedback injected: ${f.feedback.impressions} impressions (+${f.feedback.forged} with forged ids) and ${f.feedback.clicks} clicks of ${f.feedback.users} users; `
      + `${r.input.experimentFieldsChecked} impression and click counts checked against the log; `
      + `${r.recommendations.assignmentsChecked} A/B assignments of emitted lists checked against the offline assignment`,
    `  chaos window ${f.chaosSeconds.toFixed(1)} s: ${f.kills} kills (SIGKILL; ${f.killsOfMembers} of group members, the others still starting), ${f.restarts} restarts, ${f.unexpectedExits.length} unexpected exits`
      + (f.unexpectedExits.length ? ` (${f.unexpectedExits.map((u) => `w${u.slot}: code ${u.code} signal ${u.signal}`).join(', ')})` : ''),
    `  catch-up ${f.catchUpSeconds.toFixed(1)} s, SIGTERM exit codes ${JSON.stringify(f.finalExitCodes)} (${f.shutdownSeconds.toFixed(1)} s)`,
    `  reference run ${f.referenceSeconds.toFixed(1)} s, verify ${f.verifySeconds.toFixed(1)} s, total ${f.totalSeconds.toFixed(1)} s`,
    `  keys compared ${r.keysCompared} (chaos ${c.keysChaos}, reference ${c.keysReference}; ${c.fieldsCompared} fields/values; `
      + `${c.floatsWithinTolerance} floats equal only within ${1e-9} relative, max relative error ${c.maxRelativeError.toExponential(2)})`,
    `  excluded keys ${JSON.stringify(c.excludedKeys)}`,
    `  excluded fields ${JSON.stringify(c.excludedFields)}`,
    `  co-occurrence fields checked against the offline recommender: ${r.input.coocFieldsChecked}`,
    `  segment changes emitted: ${r.segmentChanges.chaosDistinct} distinct (${r.segmentChanges.chaosRecords} records, ${r.segmentChanges.chaosDuplicates} re-emitted), `
      + `reference ${r.segmentChanges.referenceDistinct}, missing ${r.segmentChanges.missing.length}, extra ${r.segmentChanges.extra.length}`,
    `  mismatches ${r.mismatchCount}${r.mismatchCount ? ` by kind ${JSON.stringify(c.mismatchesByShape)}` : ''}, lost ${r.lost}, doubled ${r.doubled}, `
      + `users without a recommendation record ${r.usersWithoutRecs} (${r.recommendationRecords} records, ${r.reEmittedRecords} re-emitted by replays)`,
    ...r.mismatches.map((m) => `    ${m}`),
  ].join('\n');
}
