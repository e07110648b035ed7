/**
 * (c) Erasure latency under load (issue #11: erase event produced → tombstone appended and last key gone, p99 ≤ 1 s
 * under 5,000 events/s). For each rate: fresh topics and keys, the catalog, one `attune worker` process (default
 * settings), then the bundled data set produced at the rate for at most `seconds` while erase events for random
 * users are injected at a steady rate. An erased user is drawn among those whose last event of the load is already
 * produced, so that nothing of theirs follows the erasure (a later event would rightly start a new profile, and
 * then there would be no tombstone last and keys would come back).
 *
 * Per erasure, from the erase record's broker timestamp (the events topic is LogAppendTime; the produce response
 * carries it):
 *   (a) tombstone: the CreateTime of the null-valued record keyed by the user on the recommendations topic whose
 *       `attune.source` header is the erase record's topic:partition:offset (read by a consumer of the bench);
 *   (b) keys gone: the first poll (every POLL_MS) at which none of the user's `{u:<pseudonym>}` keys exists (every
 *       user-key of src/stores/user-owned.ts plus the subject hash), counted only once the worker has been seen to
 *       hold state for the user or its progress has passed the erase offset (before that, "no key" only means "not
 *       applied yet"). Resolution: POLL_MS; one host clock for broker, worker and bench.
 * Also the group's lag on the events topic when the load ends (committed offsets, so up to the 2 s auto-commit
 * interval behind) and after the drain: whether one worker kept up with the rate.
 *
 * Standalone: `npx tsx bench/erasure.ts [--rates 1000,2500,5000] [--seconds 60] [--erasures-per-second 5]
 * [--drain 60] [--write]` prints the table; with --write it replaces the "(c) Erasure latency" section of
 * BENCHMARKS.md (or inserts it before "What limits it"). `npm run bench` runs it too (bench/run.ts, --no-erasure to
 * skip). Services first: bash scripts/services.sh up.
 */
import { benchPseudonymKey } from './pseudonym-key.js';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Kafka, logLevel, Partitioners, CompressionTypes } from 'kafkajs';
import type { CatalogItem, UserEvent } from '../src/domain/events.js';
import { loadConfig, topicNames, type Config } from '../src/config/config.js';
import { KafkajsClient } from '../src/kafka/kafkajs-client.js';
import { ensureTopics } from '../src/kafka/topics.js';
import { groupLag } from '../src/kafka/lag.js';
import { Codec } from '../src/stages/decode/codec.js';
import { produceCatalog, produceEvents } from '../src/replay/producer.js';
import { createRedis } from '../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../src/stores/maintenance.js';
import { Keys } from '../src/stores/keys.js';
import { USER_OWNED } from '../src/stores/user-owned.js';
import { pseudonymizerFor } from '../src/stages/rights/pseudonym.js';
import { spawnWorker, type WorkerProcess } from '../test/support/worker-process.js';
import { waitForSoleOwner } from '../test/support/env.js';
import { freePort } from '../test/support/prometheus.js';
import { fmt, fmtInt } from './stats.js';
import { withSection } from './benchmarks-doc.js';
import { optionOf } from './args.js';

const POLL_MS = 20;

export interface Latencies {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface ErasureRateRun {
  rate: number;
  /** Events produced and seconds of load (≤ the bound). */
  events: number;
  loadSeconds: number;
  erasures: number;
  tombstone: Latencies;
  keysGone: Latencies;
  /** Every list emitted fresh (not re-emitted): its record's timestamp − its source event record's append time. */
  freshness: Latencies;
  /** Erasures without a tombstone / without their keys gone by the end of the drain. */
  tombstoneMissing: number;
  keysMissing: number;
  lagAtEnd: number;
  lagAfterDrain: number;
  drainSeconds: number;
  /** Where a micro-batch's time went during the load: the worker's own attune_stage_duration_seconds. */
  stages?: StageBreakdown;
  error?: string;
}

/** Mean ms per micro-batch of each step of the chain (in chain order), the mean micro-batch and its records. */
export interface StageBreakdown {
  batches: number;
  meanRecords: number;
  meanBatchMs: number;
  stages: Array<[string, number]>;
  /** Redis round trips (by script or command) and producer sends (by topic kind): [name, per micro-batch, mean ms]. */
  calls: Array<[string, number, number]>;
}

/** The breakdown from a worker's /metrics text (prom-client's exposition format). */
export function stageBreakdown(metrics: string): StageBreakdown {
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const m of metrics.matchAll(/^attune_stage_duration_seconds_(sum|count)\{stage="([^"]+)"\} (\S+)$/gm)) {
    (m[1] === 'sum' ? sums : counts).set(m[2]!, Number(m[3]));
  }
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
  const batches = value('attune_batch_duration_seconds_count');
  const calls: Array<[string, number, number]> = [];
  for (const [metric, label, prefix] of [['attune_redis_command_duration_seconds', 'command', 'redis '], ['attune_produce_duration_seconds', 'topic', 'produce ']] as const) {
    const sum = new Map<string, number>();
    for (const m of metrics.matchAll(new RegExp(`^${metric}_(sum|count)\\{${label}="([^"]+)"\\} (\\S+)$`, 'gm'))) {
      if (m[1] === 'sum') sum.set(m[2]!, Number(m[3]));
      else calls.push([prefix + m[2]!, Number(m[3]), 0]);
    }
    for (const c of calls) if (c[0].startsWith(prefix)) c[2] = ((sum.get(c[0].slice(prefix.length)) ?? 0) / (c[1] || 1)) * 1000;
  }
  for (const c of calls) c[1] /= batches;
  calls.sort((x, y) => y[1] - x[1]);
  return {
    batches,
    meanRecords: value('attune_batch_records_sum') / value('attune_batch_records_count'),
    meanBatchMs: (value('attune_batch_duration_seconds_sum') / batches) * 1000,
    stages: [...sums].map(([stage, sum]) => [stage, (sum / (counts.get(stage) || 1)) * 1000]),
    calls,
  };
}

export interface ErasureBench {
  partitions: number;
  microBatch: number;
  erasuresPerSecond: number;
  seconds: number;
  runs: ErasureRateRun[];
}

export interface ErasureOptions {
  rates: number[];
  /** Seconds of load per rate (at most 60). */
  seconds: number;
  erasuresPerSecond: number;
  /** Wall-clock bound on waiting for the last erasures after the load, ms. */
  drainMs: number;
  log: (s: string) => void;
}

/** Nearest-rank percentiles of `xs` (ms). */
export function latencies(xs: readonly number[]): Latencies {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] : NaN);
  return { count: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s.length ? s[s.length - 1] : NaN };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bench's config for one rate: fresh names, default worker settings, a pseudonym key (the env's, or a random one). */
function rateConfig(id: string): Config {
  return loadConfig(process.env, { topicPrefix: id, keyPrefix: id, groupId: `${id}-g`, httpPort: 0, shutdownTimeoutMs: 5000, ...benchPseudonymKey() });
}

interface Pending {
  userId: string;
  pseudonym: string;
  partition: number;
  offset: number;
  /** The erase record's timestamp (broker append time), ms. */
  ts: number;
  keys: string[];
  seenState: boolean;
  tombstoneMs?: number;
  goneMs?: number;
}

export async function benchErasure(events: readonly UserEvent[], catalog: readonly CatalogItem[], opts: ErasureOptions): Promise<ErasureBench> {
  const seconds = Math.min(60, Math.max(1, opts.seconds));
  const runs: ErasureRateRun[] = [];
  let partitions = NaN;
  let microBatch = NaN;
  for (const rate of opts.rates) {
    const id = `erase${randomBytes(3).toString('hex')}`;
    const cfg = rateConfig(id);
    partitions = cfg.partitions;
    microBatch = cfg.microBatchSize;
    opts.log(`  rate ${fmtInt(rate)} events/s: ${seconds} s of load, ${opts.erasuresPerSecond} erasures/s (prefix ${id})`);
    try {
      const r = await oneRate(cfg, events.slice(0, Math.min(events.length, Math.round(rate * seconds))), catalog, rate, opts);
      runs.push(r);
      opts.log(`    ${fmtInt(r.freshness.count)} lists; freshness p50/p95/p99/max ${fmt(r.freshness.p50, 0)}/${fmt(r.freshness.p95, 0)}/${fmt(r.freshness.p99, 0)}/${fmt(r.freshness.max, 0)} ms`);
      opts.log(`    ${r.erasures} erasures; tombstone p50/p99/max ${fmt(r.tombstone.p50, 0)}/${fmt(r.tombstone.p99, 0)}/${fmt(r.tombstone.max, 0)} ms; `
        + `keys gone p50/p99/max ${fmt(r.keysGone.p50, 0)}/${fmt(r.keysGone.p99, 0)}/${fmt(r.keysGone.max, 0)} ms; lag at end ${fmtInt(r.lagAtEnd)}, after drain ${fmtInt(r.lagAfterDrain)}`);
    } catch (err) {
      opts.log(`    failed: ${(err as Error).stack ?? err}`);
      runs.push({
        rate, events: 0, loadSeconds: NaN, erasures: 0, tombstone: latencies([]), keysGone: latencies([]), freshness: latencies([]), tombstoneMissing: 0, keysMissing: 0,
        lagAtEnd: NaN, lagAfterDrain: NaN, drainSeconds: NaN, error: String((err as Error).message ?? err),
      });
    }
  }
  return { partitions, microBatch, erasuresPerSecond: opts.erasuresPerSecond, seconds, runs };
}

async function oneRate(cfg: Config, load: UserEvent[], catalog: readonly CatalogItem[], rate: number, opts: ErasureOptions): Promise<ErasureRateRun> {
  const topics = topicNames(cfg);
  const client = new KafkajsClient(cfg.kafkaBrokers, 'attune-bench');
  const admin = client.admin();
  await admin.connect();
  const raw = new Kafka({ brokers: cfg.kafkaBrokers, clientId: 'attune-bench-erasure', logLevel: logLevel.NOTHING });
  // The erase producer is kafkajs itself: its produce response gives the record's partition, offset and append time.
  const eraseProducer = raw.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  const tombstones = raw.consumer({ groupId: `${cfg.groupId}-tombstones`, maxWaitTimeInMs: 100 });
  // The events topic read back for its records' append times: the source times of the lists' freshness.
  const sources = raw.consumer({ groupId: `${cfg.groupId}-sources`, maxWaitTimeInMs: 100 });
  const sourceTs = new Map<string, number>();
  const emitted: Array<[string, number]> = [];
  const redis = createRedis(cfg);
  const keys = new Keys(cfg.keyPrefix);
  const pseudonyms = pseudonymizerFor(cfg);
  const userKeysOf = (p: string) => [
    ...USER_OWNED.filter((e) => e.kind === 'user-key').map((e) => (keys[e.builder] as (id: string) => string).call(keys, p)),
    keys.userSubject(p),
  ];
  let worker: WorkerProcess | undefined;
  const producer = client.producer();
  try {
    await ensureTopics(admin, cfg);
    const codec = new Codec(cfg.registryUrl, topics);
    await codec.registerAll();
    await producer.connect();
    await eraseProducer.connect();
    if (catalog.length) await produceCatalog(producer, codec, topics, [...catalog]);

    const metricsPort = await freePort();
    worker = spawnWorker(cfg, { ATTUNE_LOG_LEVEL: 'warn', ATTUNE_HTTP_PORT: String(metricsPort) });
    const w = worker;
    void w.exited.then(({ code }) => { if (code !== 0) opts.log(`    worker exited with ${code}:\n${w.output().slice(-2000)}`); });
    await waitForSoleOwner(cfg, topics.events, 120_000);
    // A probe through the whole pipeline, so that the load starts on a warm worker (start-up is not erasure latency).
    const probe: UserEvent = { ...load[0]!, eventId: `probe-${cfg.keyPrefix}`, userId: `probe-${cfg.keyPrefix}` };
    await produceEvents(producer, codec, topics, [probe], { batchSize: 1 });
    const probeKey = keys.userCounts(pseudonyms.pseudonym(probe.userId));
    const t0 = Date.now();
    while (!(await redis.exists(probeKey))) {
      if (w.child.exitCode !== null) throw new Error(`the worker exited (${w.child.exitCode}): ${w.output().slice(-1500)}`);
      if (Date.now() - t0 > 180_000) throw new Error('the worker did not apply the probe event within 180 s');
      await sleep(200);
    }

    const pending = new Map<string, Pending>();
    const bySource = new Map<string, Pending>();
    const early = new Map<string, { key: string | undefined; ts: number }>();
    const matchTombstone = (p: Pending, key: string | undefined, ts: number) => {
      if (p.userId === key && p.tombstoneMs === undefined) p.tombstoneMs = ts - p.ts;
    };
    await tombstones.connect();
    await tombstones.subscribe({ topic: topics.recommendations, fromBeginning: true });
    await tombstones.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (m.value !== null) {
            const src = m.headers?.['attune.source']?.toString();
            if (src && m.headers?.['attune.reemitted'] === undefined) emitted.push([src, Number(m.timestamp)]);
            continue;
          }
          const src = m.headers?.['attune.source']?.toString();
          if (!src) continue;
          const p = bySource.get(src);
          if (p) matchTombstone(p, m.key?.toString(), Number(m.timestamp));
          // The worker can answer before the erase's produce response reaches this process: kept until it does.
          else early.set(src, { key: m.key?.toString(), ts: Number(m.timestamp) });
        }
      },
    });

    await sources.connect();
    await sources.subscribe({ topic: topics.events, fromBeginning: true });
    await sources.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) sourceTs.set(`${topics.events}:${batch.partition}:${m.offset}`, Number(m.timestamp));
      },
    });

    // Who may be erased: users whose last event of the load is produced (nothing of theirs follows the erasure).
    const lastIndex = new Map<string, number>();
    load.forEach((e, i) => lastIndex.set(e.userId, i));
    const byLast = [...lastIndex].sort((a, b) => a[1] - b[1]);
    let nextLast = 0;
    const candidates: string[] = [];
    let produced = 0;
    let seq = 0;
    let injecting = true;
    const injections: Promise<void>[] = [];
    let seed = 0x2545f491;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);

    const inject = async () => {
      while (nextLast < byLast.length && byLast[nextLast]![1] < produced) candidates.push(byLast[nextLast++]![0]);
      if (!candidates.length || produced === 0) return;
      const k = Math.floor(random() * candidates.length);
      const userId = candidates[k]!;
      candidates[k] = candidates[candidates.length - 1]!;
      candidates.pop();
      const pseudonym = pseudonyms.pseudonym(userId);
      const uk = userKeysOf(pseudonym);
      const held = (await redis.exists(...uk)) > 0;
      const e: UserEvent = {
        eventId: `erase-${cfg.keyPrefix}-${seq++}`, userId, type: 'erase', eventTime: load[produced - 1]!.eventTime, itemId: null,
        quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {},
      };
      const sentAt = Date.now();
      const [meta] = await eraseProducer.send({
        topic: topics.events, acks: -1, compression: CompressionTypes.None,
        messages: [{ key: userId, value: await codec.encodeEvent(e), timestamp: String(sentAt) }],
      });
      const appended = Number(meta!.logAppendTime);
      const p: Pending = {
        userId, pseudonym, partition: meta!.partition, offset: Number(meta!.baseOffset), ts: appended > 0 ? appended : sentAt, keys: uk, seenState: held,
      };
      pending.set(userId, p);
      const src = `${topics.events}:${p.partition}:${p.offset}`;
      bySource.set(src, p);
      const seen = early.get(src);
      if (seen) matchTombstone(p, seen.key, seen.ts);
    };
    const timer = setInterval(() => { if (injecting) injections.push(inject().catch((err) => opts.log(`    erase not produced: ${(err as Error).message}`))); }, 1000 / opts.erasuresPerSecond);

    let polling = true;
    const poller = (async () => {
      while (polling) {
        const open = [...pending.values()].filter((p) => p.goneMs === undefined);
        if (open.length) {
          const pipe = redis.pipeline();
          for (const p of open) pipe.exists(...p.keys);
          const parts = [...new Set(open.map((p) => p.partition))];
          for (const part of parts) pipe.get(keys.partitionProgress(topics.events, part));
          const res = (await pipe.exec()) ?? [];
          const now = Date.now();
          const progress = new Map(parts.map((part, i) => [part, Number(res[open.length + i]?.[1] ?? -1)]));
          open.forEach((p, i) => {
            const n = Number(res[i]?.[1] ?? 1);
            if (n > 0) p.seenState = true;
            else if (p.seenState || (progress.get(p.partition) ?? -1) >= p.offset) p.goneMs = now - p.ts;
          });
        }
        await sleep(POLL_MS);
      }
    })();

    const loadStart = Date.now();
    await produceEvents(producer, codec, topics, load, { rate, batchSize: Math.max(10, Math.round(rate / 20)), onProgress: (done) => { produced = done; } });
    const loadSeconds = (Date.now() - loadStart) / 1000;
    injecting = false;
    clearInterval(timer);
    await Promise.all(injections);
    const lagAtEnd = (await groupLag(admin, cfg.groupId, topics.events)).lag;
    const stages = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text()).then(stageBreakdown, () => undefined);

    const drainStart = Date.now();
    const open = () => [...pending.values()].filter((p) => p.tombstoneMs === undefined || p.goneMs === undefined).length;
    while (open() > 0 && Date.now() - drainStart < opts.drainMs) await sleep(100);
    const drainSeconds = (Date.now() - drainStart) / 1000;
    polling = false;
    await poller;
    const lagAfterDrain = (await groupLag(admin, cfg.groupId, topics.events)).lag;
    const all = [...pending.values()];
    const fresh = emitted.flatMap(([src, ts]) => { const t = sourceTs.get(src); return t === undefined ? [] : [ts - t]; });
    return {
      rate, events: load.length, loadSeconds, erasures: all.length,
      tombstone: latencies(all.flatMap((p) => (p.tombstoneMs === undefined ? [] : [p.tombstoneMs]))),
      keysGone: latencies(all.flatMap((p) => (p.goneMs === undefined ? [] : [p.goneMs]))),
      freshness: latencies(fresh),
      tombstoneMissing: all.filter((p) => p.tombstoneMs === undefined).length,
      keysMissing: all.filter((p) => p.goneMs === undefined).length,
      lagAtEnd, lagAfterDrain, drainSeconds, stages,
    };
  } finally {
    if (worker && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
    await tombstones.disconnect().catch(() => {});
    await sources.disconnect().catch(() => {});
    await eraseProducer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await deleteKeysWithPrefix(redis, cfg.keyPrefix).catch(() => 0);
    await redis.quit().catch(() => {});
    await admin.deleteTopics(Object.values(topics)).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

export const ERASURE_HEADING = '## (c) Freshness and erasure latency under load';
/** The heading this section had before it reported freshness too (replaced on --write). */
const OLD_ERASURE_HEADING = '## (c) Erasure latency under load';

/** The BENCHMARKS.md section (heading included) for a result. */
export function erasureSection(b: ErasureBench, command: string): string[] {
  const lines = [ERASURE_HEADING, ''];
  lines.push(`\`${command}\`: per rate, fresh topics and keys, one \`attune worker\` process (default settings: ${b.partitions} partitions, micro-batch ${b.microBatch}), `
    + `the bundled data set produced at the rate for at most ${b.seconds} s, erase events for random users (among those with no later event in the load) `
    + `at ${b.erasuresPerSecond}/s. Latency from the erase record's broker timestamp to (a) the tombstone's timestamp on the recommendations topic `
    + `(the null record keyed by the user whose \`attune.source\` is the erase record), (b) the first poll (every ${POLL_MS} ms) with none of the user's `
    + '`{u:<pseudonym>}` keys left. Freshness: every list emitted for a fresh event (not a re-emission), its record\'s timestamp − the append time '
    + 'of its source event record (read back from the events topic), what a consumer of the recommendations topic sees. '
    + 'Lag: the group\'s committed lag on the events topic when the load ends / after the drain. Aims: erasure p99 ≤ 1 s at 5,000 events/s (#11); '
    + 'freshness p99 ≤ 50 ms at 500 events/s and ≤ 100 ms at 5,000 events/s (#12).', '');
  lines.push('| events/s | events (load s) | lists: freshness p50 / p95 / p99 / max, ms | erasures | tombstone p50 / p95 / p99 / max, ms | keys gone p50 / p95 / p99 / max, ms | not done (tombstone / keys) | lag at end / after drain (drain s) |');
  lines.push('|---|---|---|---|---|---|---|---|');
  const q = (l: Latencies) => `${fmt(l.p50, 0)} / ${fmt(l.p95, 0)} / **${fmt(l.p99, 0)}** / ${fmt(l.max, 0)}`;
  for (const r of b.runs) {
    if (r.error) { lines.push(`| ${fmtInt(r.rate)} | failed: ${r.error.replace(/\|/g, '\\|').slice(0, 200)} | | | | | | |`); continue; }
    lines.push(`| ${fmtInt(r.rate)} | ${fmtInt(r.events)} (${fmt(r.loadSeconds, 1)}) | ${fmtInt(r.freshness.count)}: ${q(r.freshness)} | ${r.erasures} | ${q(r.tombstone)} | ${q(r.keysGone)} | ${r.tombstoneMissing} / ${r.keysMissing} | ${fmtInt(r.lagAtEnd)} / ${fmtInt(r.lagAfterDrain)} (${fmt(r.drainSeconds, 1)}) |`);
  }
  lines.push('');
  const withStages = b.runs.filter((r) => r.stages && !r.error);
  if (withStages.length) {
    const names = [...new Set(withStages.flatMap((r) => r.stages!.stages.map(([n]) => n)))];
    lines.push('Where a micro-batch\'s time went during the load (the worker\'s own `attune_stage_duration_seconds` and `attune_batch_duration_seconds`, mean ms per micro-batch):', '');
    lines.push(`| events/s | micro-batches | records each | micro-batch, ms | ${names.join(' | ')} |`);
    lines.push(`|---|---|---|---|${names.map(() => '---|').join('')}`);
    for (const r of withStages) {
      const st = new Map(r.stages!.stages);
      lines.push(`| ${fmtInt(r.rate)} | ${fmtInt(r.stages!.batches)} | ${fmt(r.stages!.meanRecords, 1)} | ${fmt(r.stages!.meanBatchMs, 1)} | ${names.map((n) => fmt(st.get(n) ?? NaN, 2)).join(' | ')} |`);
    }
    lines.push('');
    lines.push('Round trips per micro-batch during the load (`attune_redis_command_duration_seconds`, `attune_produce_duration_seconds`; calls per micro-batch × mean ms; the worker\'s other work — start-up, punctuation, the changelog tail — included):', '');
    for (const r of withStages) {
      const top = r.stages!.calls.filter(([, n]) => n >= 0.05).map(([name, n, ms]) => `${name} ${fmt(n, 2)} × ${fmt(ms, 2)}`);
      lines.push(`- ${fmtInt(r.rate)} events/s: ${top.join(', ')}`);
    }
    lines.push('');
  }
  return lines;
}

/** Replaces this bench's section of a BENCHMARKS.md text (benchmarks-doc.ts). */
export function withErasureSection(doc: string, section: string[]): string {
  return withSection(doc.replace(OLD_ERASURE_HEADING + '\n', ERASURE_HEADING + '\n'), ERASURE_HEADING, section);
}

// Standalone run.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.env.ATTUNE_LOG_LEVEL ??= 'warn';
  const argv = process.argv.slice(2);
  const opt = (name: string, def: string) => optionOf(argv, name, def);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const { loadRetailDataset } = await import('../src/data/online-retail.js');
  log('loading data/online-retail.csv.gz ...');
  const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
  const result = await benchErasure(events, catalog, {
    rates: opt('--rates', '1000,2500,5000').split(',').map(Number).filter((x) => x > 0),
    seconds: Number(opt('--seconds', '60')),
    erasuresPerSecond: Number(opt('--erasures-per-second', '5')),
    drainMs: Number(opt('--drain', '60')) * 1000,
    log,
  });
  const section = erasureSection(result, `npx tsx bench/erasure.ts${argv.length ? ' ' + argv.join(' ') : ''}`);
  console.log(section.join('\n'));
  if (argv.includes('--write')) {
    const file = opt('--out', 'BENCHMARKS.md');
    writeFileSync(file, withErasureSection(existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n', section));
    log(`wrote the erasure section of ${file}`);
  }
  process.exit(result.runs.every((r) => !r.error) ? 0 : 1);
}
