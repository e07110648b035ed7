/**
 * (b) The worker end to end with Redis state: the events are produced once into a fresh topic prefix, then each
 * run starts a worker in process (`startWorker`, as `attune worker` does) with its own consumer group and Redis
 * key prefix (fresh state), and is timed from start until the group's lag on the events topic is 0.
 *
 * Redis commands per event are counted two ways:
 *   - sent: every command the worker's ioredis clients send (a hook on `sendCommand`; pipelined and MULTI'd
 *     commands count one each, a script call counts one) — exact, and what the issue's budget is about;
 *   - server: the delta of `total_commands_processed` in `INFO stats` around the run (includes any other client
 *     of a shared Redis, so it is an upper bound; the bench's own INFO calls are subtracted).
 * Redis's own cost: its CPU time (INFO cpu, user + system) per event, and the commands that took longer than
 * 5 ms inside Redis (SLOWLOG with slowlog-log-slower-than 5000 for the run; a script counts as one command),
 * as #12 bounds them.
 *
 * The baseline (#12: Attune ≥ 30 % of it): the same records consumed and produced again with no processing, by
 * the same Kafka port (kafkajs consumer and producer as the worker configures them) — each fetched batch's
 * records sent on to a scratch topic, key and value unchanged — timed from start until every record is
 * produced. It runs once, before the worker runs.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { CatalogItem, UserEvent } from '../src/domain/events.js';
import { loadConfig, topicNames, type Config } from '../src/config/config.js';
import { KafkajsClient } from '../src/kafka/kafkajs-client.js';
import { groupLag } from '../src/kafka/lag.js';
import { createRedis } from '../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../src/stores/maintenance.js';
import { startWorker } from '../src/topology/worker.js';
import { readScripts } from '../src/stores/scripts.js';
import { commandLabel, sha1 } from '../src/stores/command-timing.js';
import { fillFreshTopics } from './fresh-topics.js';
import { benchPseudonymKey } from './pseudonym-key.js';

export interface WorkerRun {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Seconds from start until the first offsets were committed (group join, catalog, warm-up). */
  startupSeconds: number;
  /** Events/s from the first commit to lag 0 (steady state). */
  steadyEventsPerSecond: number;
  commandsSent: number;
  commandsPerEvent: number;
  serverCommandsPerEvent: number;
  topCommands: Array<[string, number]>;
  /** Redis server CPU (user + system) per event, µs. */
  redisCpuMicrosPerEvent: number;
  /** Commands (a script call is one) that ran longer than 5 ms inside Redis, and the longest, ms. */
  slowCommands: number;
  slowestCommandMs: number;
  /** Of those, the script calls (#12: no script blocks Redis longer than 5 ms), and the longest, ms. */
  slowScripts: number;
  slowestScriptMs: number;
  /** Every slow entry by label (slowlogLabel), with its count and longest, ms, longest first. */
  slowByLabel: Array<[string, number, number]>;
}

export interface RawPipeRun {
  events: number;
  seconds: number;
  eventsPerSecond: number;
}

export interface WorkerBench {
  prefix: string;
  partitions: number;
  microBatch: number;
  produceSeconds: number;
  runs: WorkerRun[];
  raw: RawPipeRun | null;
  errors: string[];
}

// Count every command sent by ioredis clients other than the bench's own INFO client.
const counted = new Map<string, number>();
let countingOn = false;
const ignored = new WeakSet<object>();
const proto = Redis.prototype as unknown as { sendCommand(cmd: { name: string }, stream?: unknown): unknown };
const original = proto.sendCommand;
proto.sendCommand = function (this: object, cmd: { name: string }, stream?: unknown) {
  if (countingOn && !ignored.has(this)) counted.set(cmd.name, (counted.get(cmd.name) ?? 0) + 1);
  return original.call(this, cmd, stream);
};

async function redisCpuSeconds(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const f = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? NaN);
  return f('used_cpu_user') + f('used_cpu_sys');
}

/** A SLOWLOG entry: how long it ran (µs) and what it was (slowlogLabel). */
interface SlowEntry {
  micros: number;
  label: string;
  script: boolean;
}

const SCRIPTS_BY_SHA = new Map(readScripts().map((s) => [sha1(s.lua), s.name]));

/**
 * What a slow entry was: a script by its name (EVALSHA/EVAL of a known script), a command a script called by
 * `<command> in a script` (Redis logs those too, with the client address `?:0`), any other command by its name.
 * A plain O(1) command over 5 ms (HSET of one small hash, say) did not block Redis by its own work: the host
 * took the CPU from Redis (two cores shared with the broker, the registry and the worker), and its script
 * neighbours were stretched as much. Telling them apart keeps the scripts' own cost readable.
 */
export function slowlogLabel(args: readonly unknown[], client: unknown): { label: string; script: boolean } {
  const [name, ...rest] = args.map(String);
  const label = commandLabel(name ?? '?', rest, SCRIPTS_BY_SHA);
  const n = (name ?? '').toLowerCase();
  if (n === 'evalsha' || n === 'eval') return { label, script: true };
  return { label: String(client).startsWith('?') ? `${label} in a script` : label, script: false };
}

/** The SLOWLOG entries (SLOWLOG GET -1: all of them). */
async function slowlogEntries(r: Redis): Promise<SlowEntry[]> {
  const entries = (await r.call('SLOWLOG', 'GET', '-1')) as Array<[number, number, number, unknown[], unknown, unknown]>;
  return entries.map((e) => ({ micros: Number(e[2]), ...slowlogLabel(e[3] ?? [], e[4]) }));
}

/** Count and longest (ms) of each label, longest first. */
function slowSummary(slow: readonly SlowEntry[]): Array<[string, number, number]> {
  const by = new Map<string, [number, number]>();
  for (const e of slow) {
    const [c, m] = by.get(e.label) ?? [0, 0];
    by.set(e.label, [c + 1, Math.max(m, e.micros / 1000)]);
  }
  return [...by].map(([l, [c, m]]): [string, number, number] => [l, c, m]).sort((a, b) => b[2] - a[2]);
}

/** The no-processing baseline: consume the events topic, produce every record on unchanged; see the header. */
async function rawPipe(kafka: KafkajsClient, admin: ReturnType<KafkajsClient['admin']>, cfg: Config, topic: string, n: number, timeoutMs: number): Promise<RawPipeRun> {
  const sink = `${cfg.topicPrefix}.raw-pipe`;
  await admin.ensureTopics([{ topic: sink, partitions: cfg.partitions }]);
  const consumer = kafka.consumer({ groupId: `${cfg.groupId}-raw` });
  const producer = kafka.producer();
  await Promise.all([consumer.connect(), producer.connect()]);
  let done = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => { finish = r; });
  const t0 = performance.now();
  try {
    await consumer.subscribe([topic]);
    await consumer.run(async (batch) => {
      await producer.send(sink, batch.records.map((r) => ({ key: r.key, value: r.value })));
      batch.resolveOffset(batch.records[batch.records.length - 1]!.offset);
      done += batch.records.length;
      if (done >= n) finish();
    }, { partitionsConsumedConcurrently: cfg.partitionsConsumedConcurrently, commitOffsets: false });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`raw pipe timed out with ${done} of ${n}`)), timeoutMs); })]);
    clearTimeout(timer);
    const seconds = (performance.now() - t0) / 1000;
    return { events: done, seconds, eventsPerSecond: done / seconds };
  } finally {
    await consumer.stop().catch(() => {});
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await admin.deleteTopics([sink]).catch(() => []);
  }
}

async function totalCommands(r: Redis): Promise<number> {
  const info = await r.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN);
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

export async function benchWorker(
  events: UserEvent[],
  catalog: CatalogItem[],
  opts: { runs: number; timeoutMs: number; log: (s: string) => void },
): Promise<WorkerBench> {
  const id = `bench${randomBytes(3).toString('hex')}`;
  const base = loadConfig(process.env, { topicPrefix: id, keyPrefix: id, groupId: `${id}-g`, httpPort: 0, ...benchPseudonymKey() });
  const topics = topicNames(base);
  const kafka = new KafkajsClient(base.kafkaBrokers, 'attune-bench');
  const admin = kafka.admin();
  await admin.connect();
  const info = new Redis(base.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
  ignored.add(info);
  const errors: string[] = [];
  const runs: WorkerRun[] = [];
  let raw: RawPipeRun | null = null;
  let produceSeconds = NaN;
  try {
    produceSeconds = await fillFreshTopics(kafka, admin, base, catalog, events);
    opts.log(`  produced ${events.length} events (+ ${catalog.length} items) to ${topics.events} in ${produceSeconds.toFixed(1)} s`);
    try {
      raw = await rawPipe(kafka, admin, base, topics.events, events.length, opts.timeoutMs);
      opts.log(`  raw consume + produce (no processing): ${raw.eventsPerSecond.toFixed(0)} events/s (${raw.seconds.toFixed(1)} s)`);
    } catch (err) {
      errors.push(`raw pipe: ${(err as Error).message}`);
    }
    for (let r = 0; r < opts.runs; r++) {
      // a short shutdown budget: stopping is not timed, and a run should not wait out the default 30 s drain
      const cfg: Config = loadConfig(process.env, { topicPrefix: id, keyPrefix: `${id}r${r}`, groupId: `${id}-g${r}`, httpPort: 0, shutdownTimeoutMs: 5000, ...benchPseudonymKey() });
      try {
        runs.push(await oneRun(cfg, kafka, admin, info, topics.events, events.length, opts.timeoutMs));
        const x = runs[runs.length - 1];
        opts.log(`  worker run ${r + 1}: ${x.eventsPerSecond.toFixed(0)} events/s (${x.seconds.toFixed(1)} s, start-up ${x.startupSeconds.toFixed(1)} s), ${x.commandsPerEvent.toFixed(3)} Redis commands/event sent, ${x.serverCommandsPerEvent.toFixed(3)} server-side, Redis CPU ${x.redisCpuMicrosPerEvent.toFixed(0)} µs/event, ${x.slowCommands} commands > 5 ms (longest ${x.slowestCommandMs.toFixed(1)} ms), of them ${x.slowScripts} scripts (longest ${x.slowestScriptMs.toFixed(1)} ms)${x.slowByLabel.length ? `: ${x.slowByLabel.map(([l, c, m]) => `${l} ${c}× ≤ ${m.toFixed(1)} ms`).join(', ')}` : ''}`);
      } catch (err) {
        errors.push(`run ${r + 1}: ${(err as Error).message}`);
        opts.log(`  worker run ${r + 1} failed: ${(err as Error).message}`);
      } finally {
        const redis = createRedis(cfg);
        ignored.add(redis);
        await deleteKeysWithPrefix(redis, cfg.keyPrefix).catch(() => 0);
        await redis.quit().catch(() => {});
      }
    }
  } finally {
    await admin.deleteTopics(Object.values(topics)).catch((err) => errors.push(`deleting topics: ${(err as Error).message}`));
    await admin.disconnect().catch(() => {});
    await info.quit().catch(() => {});
  }
  return { prefix: id, partitions: base.partitions, microBatch: base.microBatchSize, produceSeconds, runs, raw, errors };
}

async function oneRun(
  cfg: Config,
  kafka: KafkajsClient,
  admin: ReturnType<KafkajsClient['admin']>,
  info: Redis,
  topic: string,
  n: number,
  timeoutMs: number,
): Promise<WorkerRun> {
  counted.clear();
  const slowThreshold = (await info.config('GET', 'slowlog-log-slower-than')) as string[];
  const slowMaxLen = (await info.config('GET', 'slowlog-max-len')) as string[];
  await info.config('SET', 'slowlog-log-slower-than', '5000');
  await info.config('SET', 'slowlog-max-len', '100000');
  await info.call('SLOWLOG', 'RESET');
  const cpuBefore = await redisCpuSeconds(info);
  const before = await totalCommands(info);
  countingOn = true;
  const t0 = performance.now();
  const worker = await startWorker(cfg, kafka);
  let firstCommit = NaN;
  let lagAtFirst = n;
  let failed: number | null = null;
  void worker.done.then((code) => (failed = code));
  let seconds = 0;
  try {
    for (;;) {
      if (failed !== null) throw new Error(`the worker stopped on its own (exit code ${failed})`);
      const { lag } = await groupLag(admin, cfg.groupId, topic);
      const t = performance.now();
      if (lag < n && Number.isNaN(firstCommit)) {
        firstCommit = t;
        lagAtFirst = lag;
      }
      if (lag === 0) break;
      if (t - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s with lag ${lag}`);
      await sleep(200);
    }
  } finally {
    seconds = (performance.now() - t0) / 1000;
    countingOn = false;
    await worker.stop().catch(() => {});
  }
  const after = await totalCommands(info);
  const cpuAfter = await redisCpuSeconds(info);
  const slow = await slowlogEntries(info);
  const slowScripts = slow.filter((e) => e.script);
  await info.config('SET', 'slowlog-log-slower-than', slowThreshold[1] ?? '10000');
  await info.config('SET', 'slowlog-max-len', slowMaxLen[1] ?? '128');
  const sent = [...counted.values()].reduce((a, b) => a + b, 0);
  const startupSeconds = (firstCommit - t0) / 1000;
  return {
    events: n,
    seconds,
    eventsPerSecond: n / seconds,
    startupSeconds,
    steadyEventsPerSecond: lagAtFirst / Math.max(1e-9, seconds - startupSeconds),
    commandsSent: sent,
    commandsPerEvent: sent / n,
    // the INFO stats call after the run counts once on the server
    serverCommandsPerEvent: (after - before - 1) / n,
    redisCpuMicrosPerEvent: ((cpuAfter - cpuBefore) * 1e6) / n,
    slowCommands: slow.length,
    slowestCommandMs: Math.max(0, ...slow.map((e) => e.micros)) / 1000,
    slowScripts: slowScripts.length,
    slowestScriptMs: Math.max(0, ...slowScripts.map((e) => e.micros)) / 1000,
    slowByLabel: slowSummary(slow),
    topCommands: [...counted].sort((a, b) => b[1] - a[1]).slice(0, 8),
  };
}
