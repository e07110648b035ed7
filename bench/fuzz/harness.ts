/**
 * The fuzz harness (`npm run fuzz`, bench/fuzz/main.ts; the CI version test/fuzz/fuzz.test.ts): hostile records of
 * every kind in kinds.ts, interleaved with the valid traffic of a generated shop (shop.ts), produced as raw bytes with
 * a kafkajs producer to both input topics while one `attune worker` child process consumes them. Then:
 *
 *  1. liveness, throughout: /healthz must answer (a CPU-bound decoder leaves it silent), the process must not exit,
 *     and progress must move while there is lag; a failure stops the run and names the micro-batch it is stuck on;
 *  2. the DLQ, by source topic/partition/offset: every hostile record there exactly once with its kind's code and
 *     stage, an unaltered copy of its value (or a truncated one with `attune.value.truncated`), no user id in the
 *     message; no valid record there;
 *  3. the state: a reference run (the product's own worker, in process, no hostile input) over clean topics that hold
 *     the same valid records in the same order per partition, compared key by key (test/support/verifier.ts, plus the
 *     exclusions below for what differs only because the fuzzed topics also hold hostile records at other offsets);
 *     and, by pure code, every user's counts, popularity and every co-occurrence row against the valid input log
 *     (checkAgainstInput: lost and doubled events), and no NaN or Infinity anywhere in the state.
 * Nasty-but-legal ids (shop.ts) are ordinary valid traffic there, so (3) shows that they reach only their own state.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, Partitioners, logLevel, type Producer } from 'kafkajs';
import { topicNames, type Config } from '../../src/config/config.js';
import type { UserEvent } from '../../src/domain/events.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { readTopicToEnd, type ReadRecord } from '../../src/output/read-topic.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { createRedis, type RedisClient } from '../../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../../src/stores/maintenance.js';
import { StateStore } from '../../src/stores/state-store.js';
import { startWorker } from '../../src/topology/worker.js';
import { log } from '../../src/log.js';
import { DLQ_CODES as CONTRACT_CODES } from '../../src/errors.js';
import { testConfig, sleep } from '../../test/support/env.js';
import { spawnWorker, type WorkerProcess } from '../../test/support/worker-process.js';
import { EXCLUSIONS, checkAgainstInput, compareDumps, dumpPrefix, type Dumped, type Exclusion } from '../../test/support/verifier.js';
import { encodeEventBody, encodeItemBody, frame } from './avro.js';
import { buildKinds, selectKinds, type Kind, type KindContext, type FuzzRecord, type SourceTopic } from './kinds.js';
import { Shop, rng } from './shop.js';

/** The DLQ codes of the contract (src/errors.ts): anything else in `attune.error.code` is an unbounded code. */
export const DLQ_CODES: ReadonlySet<string> = new Set(CONTRACT_CODES);
export const DLQ_STAGES = new Set(['decode', 'validate', 'process', 'produce']);

/**
 * What the key-by-key comparison with the reference run leaves out on top of the verifier's EXCLUSIONS: the fuzzed
 * topics hold hostile records between the valid ones, so every offset differs from the clean topics' (the valid
 * records are the same, in the same order per partition). Item ids that imitate an offset field (`o:<topic>:<n>`) are
 * still checked: by the pure co-occurrence check against the input log.
 */
export const FUZZ_EXCLUSIONS: Exclusion[] = [
  { key: /^\{p:[^}]*\}:(progress|inflight|dlq)$/, why: "a partition's offsets and dead-letter bookkeeping: offsets of the fuzzed topic, which also holds the hostile records" },
  { key: /^\{p:[^}]*\}:dedupe(-state)?$/, why: 'the dedupe window: event id → offset of its record (offsets of the fuzzed topic) and the duplicates after progress; it also holds the ids of hostile too-late events, which passed validation. What it decides is checked record by record: every duplicate-event in the DLQ, no valid event in it' },
  { key: /^\{p:[^}]*\}:segstate$/, why: "a partition's segment bookkeeping: its last offset, its count of too-late events (the hostile side sends some), its wall clock" },
  // The verifier's patterns for these stop at the first `}` of the user or item id; nasty ids contain braces
  // (`a}b{c`), so the same exclusions, for any id (reasons: EXCLUSIONS in test/support/verifier.ts).
  { key: /^\{u:.*\}:rec$/, field: /^s$/, drop: ['lh', 'li'], why: "the last emitted list's hash and items of a user (see the verifier's :rec rule)" },
  { key: /^\{u:.*\}:recs$/, why: "a user's current list: from the model at ask time, stamped with the wall clock (see the verifier's :recs rule)" },
  { key: /^\{i:.*\}:holders$/, why: 'users whose current list holds the item: derived from the lists (see the verifier)' },
  {
    key: /^\{u:.*\}:features$/, field: /^since$/, compareAs: causesOnly,
    why: 'a segment entry\'s time is the partition watermark at the entry (batch.ts: the later of the watermark and the event time), which depends on the other records of the partition and on their Kafka timestamps (the watermark clamp): the fuzzed topics also hold hostile records, and the reference\'s topics were written at another time. The segments entered and their causes are compared, not the times (the chaos test, same topics on both sides, compares those exactly)',
  },
  { key: /.*/, field: /^(o|lc|r|t|f):/, why: 'applied offsets (and pending changes keyed by source partition): offsets of the fuzzed topics' },
];

/** A stored `since` field as segment → cause (the entry times left out); the value itself when it does not parse. */
function causesOnly(v: string): string {
  try {
    return JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(v) as Record<string, [number, string]>).map(([k, e]) => [k, e[1]])));
  } catch {
    return v;
  }
}

export interface FuzzOptions {
  records: number;
  valid: number;
  seed: number;
  /** Comma-separated kind names or patterns (`bomb-*`); all when empty. */
  kinds?: string;
  partitions?: number;
  microBatchSize?: number;
  /** Lag without progress for this long = stalled (ms). */
  stallMs?: number;
  /** No /healthz answer for this long = silent (ms). */
  silentMs?: number;
  /** Bound on waiting for the worker to process everything (ms). */
  catchUpTimeoutMs?: number;
  keep?: boolean;
  log?: (line: string) => void;
  onTick?: (t: FuzzTick) => void;
}

export interface FuzzTick {
  phase: 'produce' | 'process' | 'verify';
  produced: number;
  total: number;
  processed: number;
  lag: number;
  recordsPerSecond: number;
}

export interface KindResult {
  kind: Kind;
  count: number;
  ok: number;
  missing: number;
  duplicates: number;
  wrongCode: Record<string, number>;
  wrongStage: Record<string, number>;
  altered: number;
  leaks: number;
}

export interface FuzzResult {
  cfg: Config;
  seed: number;
  kinds: KindResult[];
  hostile: number;
  validEvents: number;
  validItems: number;
  violations: string[];
  figures: {
    produceSeconds: number;
    produceRate: number;
    processSeconds: number;
    processRate: number;
    /** Records/s per 5 s window while there was lag: min, median, max. */
    windowRates: { min: number; median: number; max: number };
    dlqRecords: number;
    keysCompared: number;
    fieldsCompared: number;
    coocFieldsChecked: number;
    referenceSeconds: number;
    totalSeconds: number;
    logDir: string;
  };
}

interface Meta {
  /** Index into the kinds, or -1 for a valid event, -2 for a valid catalog item. */
  kind: number;
  len: number;
  key: string | null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function httpOk(port: number, path: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2_000) });
    await res.text();
    return res.ok;
  } catch {
    return false;
  }
}

/** Progress (last applied offset) of every partition of the input topics under a key prefix, and their lag. */
async function progressOf(store: StateStore, admin: ReturnType<KafkajsClient['admin']>, topics: string[]) {
  let processed = 0;
  let lag = 0;
  const at = new Map<string, number>();
  for (const topic of topics) {
    for (const [p, end] of await admin.endOffsets(topic)) {
      const done = (await store.readProgress(topic, p)) ?? -1;
      at.set(`${topic}:${p}`, done);
      processed += done + 1;
      lag += Math.max(0, Number(end) - 1 - done);
    }
  }
  return { processed, lag, at };
}

const DEFAULT_PARTITIONER = Partitioners.DefaultPartitioner();

export async function runFuzz(opts: FuzzOptions): Promise<FuzzResult> {
  const say = opts.log ?? ((s: string) => console.log(s));
  const t0 = Date.now();
  const partitions = opts.partitions ?? 3;
  const httpPort = await freePort();
  const cfg = testConfig({
    partitions, microBatchSize: opts.microBatchSize ?? 250, httpPort,
    // Segment state must be a pure function of event time (the reference runs later): no wall-clock punctuation.
    segmentIdleMs: 0,
  });
  const ref: Config = { ...cfg, topicPrefix: `${cfg.topicPrefix}ref`, keyPrefix: `${cfg.keyPrefix}ref`, groupId: `${cfg.groupId}-ref`, httpPort: 0, watchdogMs: 0 };
  const topics = topicNames(cfg);
  const refTopics = topicNames(ref);
  const logDir = join(tmpdir(), `attune-fuzz-${cfg.keyPrefix}`);
  mkdirSync(logDir, { recursive: true });
  const kinds = selectKinds(buildKinds(cfg), opts.kinds);
  const violations: string[] = [];
  const violate = (v: string) => { violations.push(v); say(`VIOLATION: ${v}`); };
  say(`fuzz: seed ${opts.seed}; ${opts.records} hostile records of ${kinds.length} kinds, ${opts.valid} valid events; ${partitions} partitions, `
    + `micro-batch ${cfg.microBatchSize}; topics ${cfg.topicPrefix}.*, keys ${cfg.keyPrefix}:*; worker log in ${logDir}`);

  const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-fuzz');
  const raw = new Kafka({ brokers: cfg.kafkaBrokers, clientId: 'attune-fuzz-producer', logLevel: logLevel.NOTHING });
  const redis = createRedis(cfg);
  const admin = kafka.admin();
  await admin.connect();
  let producer: Producer | undefined;
  let worker: WorkerProcess | undefined;
  const exitOf = { value: null as { code: number | null; signal: NodeJS.Signals | null } | null };
  const metas = new Map<string, Meta>();
  const kindCounts = new Array<number>(kinds.length).fill(0);
  const validEvents: UserEvent[] = [];
  let validItems = 0;
  let hostile = 0;

  try {
    await ensureTopics(admin, cfg);
    await ensureTopics(admin, ref);
    const codec = new Codec(cfg.registryUrl, topics);
    const ids = await codec.registerAll();
    const refIds = await new Codec(ref.registryUrl, refTopics).registerAll();
    const foreignRecommendations = await codec.encodeRecommendations({
      userId: 'c10000', items: [{ itemId: '84000B', score: 1, reasons: [{ kind: 'popular', text: 'popular', relatedItemId: null }] }],
      strategy: 'fuzz', sourceEventId: null, sourceEventTime: null, generatedAt: Date.now(), recommendationId: null, assignments: [],
    });
    producer = raw.producer({ allowAutoTopicCreation: false, idempotent: false });
    await producer.connect();

    // The worker, a real child process, before any record: it consumes while the records arrive.
    worker = spawnWorker(cfg, { ATTUNE_LOG_LEVEL: process.env.FUZZ_WORKER_LOG_LEVEL ?? 'info' });
    void worker.exited.then((e) => { exitOf.value = e; });
    const readyBy = Date.now() + 120_000;
    while (!(await httpOk(httpPort, '/readyz'))) {
      if (exitOf.value) throw new Error(`the worker exited during start-up (code ${exitOf.value.code}, signal ${exitOf.value.signal}):\n${worker.output().slice(-3000)}`);
      if (Date.now() > readyBy) throw new Error(`the worker was not ready within 120 s:\n${worker.output().slice(-3000)}`);
      await sleep(250);
    }
    say(`fuzz: worker ready after ${((Date.now() - t0) / 1000).toFixed(1)} s (pid ${worker.child.pid}, http ${httpPort})`);

    // ---------------------------------------------------------------- liveness monitor, from now to the end
    const store = new StateStore(redis, cfg.keyPrefix);
    const inputTopics = [topics.events, topics.items];
    let lastHealthy = Date.now();
    let lastProcessed = -1;
    let lastMove = Date.now();
    let current = { processed: 0, lag: 0, at: new Map<string, number>() };
    let produced = 0;
    let total = opts.records + opts.valid;
    let phase: FuzzTick['phase'] = 'produce';
    let failed: string | null = null;
    const samples: Array<{ t: number; processed: number; lag: number }> = [];
    let monitoring = true;
    const stallMs = opts.stallMs ?? 60_000;
    const silentMs = opts.silentMs ?? 15_000;
    /** Where each lagging partition is stuck: the kinds of the records of its next micro-batch. */
    const stuckAt = (): string => {
      const parts: string[] = [];
      for (const [tp, done] of current.at) {
        const [topic, p] = [tp.slice(0, tp.lastIndexOf(':')), tp.slice(tp.lastIndexOf(':') + 1)];
        const src: SourceTopic = topic === topics.events ? 'events' : 'items';
        const next: Record<string, number> = {};
        for (let o = done + 1; o < done + 1 + cfg.microBatchSize; o++) {
          const m = metas.get(`${src}:${p}:${o}`);
          if (!m) break;
          const name = m.kind >= 0 ? kinds[m.kind]!.name : m.kind === -1 ? 'valid event' : 'valid item';
          next[name] = (next[name] ?? 0) + 1;
        }
        if (Object.keys(next).length) parts.push(`${src}/${p} after offset ${done}: next micro-batch holds ${Object.entries(next).map(([k, n]) => `${k}×${n}`).join(', ')}`);
      }
      return parts.length ? `; stuck at ${parts.join('; ')}` : '';
    };

    const monitor = (async () => {
      while (monitoring) {
        const healthy = await httpOk(httpPort, '/healthz');
        const now = Date.now();
        if (healthy) lastHealthy = now;
        try {
          current = await progressOf(store, admin, inputTopics);
        } catch { /* a slow poll is not the worker's fault */ }
        samples.push({ t: now, processed: current.processed, lag: current.lag });
        if (current.processed !== lastProcessed) { lastProcessed = current.processed; lastMove = now; }
        if (!failed) {
          if (exitOf.value) failed = `the worker exited (code ${exitOf.value.code}, signal ${exitOf.value.signal})`;
          else if (now - lastHealthy > silentMs) failed = `healthz silent for ${Math.round((now - lastHealthy) / 1000)} s`;
          else if (current.lag > 0 && now - lastMove > stallMs) failed = `progress stalled for ${Math.round((now - lastMove) / 1000)} s with lag ${current.lag}`;
          if (failed) violate(`${failed}${stuckAt()}`);
        }
        const w = samples.filter((s) => s.t >= now - 5_000);
        const rate = w.length > 1 ? ((w[w.length - 1]!.processed - w[0]!.processed) * 1000) / Math.max(1, w[w.length - 1]!.t - w[0]!.t) : 0;
        opts.onTick?.({ phase, produced, total, processed: current.processed, lag: current.lag, recordsPerSecond: rate });
        await sleep(1_000);
      }
    })();
    // ---------------------------------------------------------------- produce
    const produceStart = Date.now();
    const shop = new Shop({ seed: opts.seed, eventsTopic: topics.events, skewMs: Math.min(23 * 3_600_000, cfg.maxFutureMs - 600_000) });
    const r = rng(opts.seed ^ 0x5eed);
    let hostileId = 0;
    const recentValid: FuzzRecord[] = [];
    const ctx: KindContext = { r, shop, cfg, ids, foreignRecommendations, recentValid, nextId: () => `hx-${opts.seed}-${++hostileId}` };
    const weights = kinds.map((k) => k.weight / (k.burst ?? 1));
    const wsum = weights.reduce((a, b) => a + b, 0);
    const pickKind = () => {
      let x = r() * wsum;
      for (let i = 0; i < kinds.length; i++) if ((x -= weights[i]!) < 0) return i;
      return kinds.length - 1;
    };
    // The producer's own partitioner (murmur2 of the key, as the Java client), applied here to know each offset.
    const partitionMetadata = Array.from({ length: partitions }, (_, p) => ({ partitionId: p, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
    type Out = { src: SourceTopic; record: FuzzRecord; meta: Meta; clean?: Buffer };
    const send = async (out: Out[]) => {
      // Per topic (the two in parallel), produces in order, chunked well below the broker's 1 MB; offsets from each
      // partition's base offset in the produce response.
      await Promise.all((['events', 'items'] as const).map(async (src) => {
        const mine = out.filter((o) => o.src === src);
        for (let i = 0; i < mine.length;) {
          const chunk: Out[] = [];
          let bytes = 0;
          while (i < mine.length && chunk.length < 2000 && (chunk.length === 0 || bytes + (mine[i]!.record.value?.length ?? 0) < 800_000)) {
            bytes += mine[i]!.record.value?.length ?? 0;
            chunk.push(mine[i++]!);
          }
          const topic = src === 'events' ? topics.events : topics.items;
          const withPartition = chunk.map((o) => ({ o, partition: DEFAULT_PARTITIONER({ topic, partitionMetadata, message: { key: o.record.key, value: o.record.value } }) }));
          const partitionOf = new Map(withPartition.map(({ o, partition }) => [o, partition]));
          // The clean copy (valid records only) for the reference run: same keys, so the same partitions and order.
          const clean = chunk.filter((o) => o.clean);
          const cleanSent = clean.length
            ? producer!.send({ topic: src === 'events' ? refTopics.events : refTopics.items, acks: -1, messages: clean.map((o) => ({ key: o.record.key, value: o.clean!, partition: partitionOf.get(o)! })) })
            : Promise.resolve([]);
          const [res] = await Promise.all([
            producer!.send({ topic, acks: -1, messages: withPartition.map(({ o, partition }) => ({ key: o.record.key, value: o.record.value, partition })) }),
            cleanSent,
          ]);
          const base = new Map(res.map((m) => [m.partition, Number(m.baseOffset)]));
          const seen = new Map<number, number>();
          for (const { o, partition } of withPartition) {
            const k = seen.get(partition) ?? 0;
            seen.set(partition, k + 1);
            metas.set(`${src}:${partition}:${base.get(partition)! + k}`, o.meta);
          }
          produced += chunk.length;
        }
      }));
    };
    const keyString = (k: FuzzRecord['key']) => (k === null ? null : typeof k === 'string' ? k : k.toString('utf8'));
    const validEvent = (): Out => {
      const e = shop.next();
      validEvents.push(e);
      const body = encodeEventBody(e).body;
      const record = { key: e.userId, value: frame(ids.events, body) };
      recentValid.push(record);
      if (recentValid.length > 256) recentValid.shift();
      return { src: 'events', record, meta: { kind: -1, len: record.value.length, key: e.userId }, clean: frame(refIds.events, body) };
    };
    const validItem = (item = shop.update()): Out => {
      validItems++;
      const body = encodeItemBody(item).body;
      return { src: 'items', record: { key: item.itemId, value: frame(ids.items, body) }, meta: { kind: -2, len: body.length + 5, key: item.itemId }, clean: frame(refIds.items, body) };
    };

    // The catalog first (titles known before the events that name the items), then the interleaved stream.
    const catalogOut = shop.catalog.map((i) => validItem(i));
    total += catalogOut.length;
    await send(catalogOut);
    let hostileLeft = opts.records;
    let validLeft = opts.valid;
    const itemUpdateEvery = 20;
    while (hostileLeft > 0 || validLeft > 0) {
      const out: Out[] = [];
      while (out.length < 2000 && (hostileLeft > 0 || validLeft > 0)) {
        let k = -1;
        let made: FuzzRecord[] = [];
        if (r() * (hostileLeft + validLeft) < hostileLeft) {
          // A kind that cannot make a record yet (a duplicate before any valid event) is drawn again.
          for (let tries = 0; tries < 20 && !made.length; tries++) {
            k = pickKind();
            const m = kinds[k]!.make(ctx);
            made = Array.isArray(m) ? m : [m];
          }
          if (!made.length && validLeft === 0) throw new Error(`kinds ${kinds.map((x) => x.name).join(', ')} made no record: they need valid events (--valid > 0)`);
        }
        if (made.length) {
          for (const rec of made) {
            out.push({ src: kinds[k]!.topic, record: rec, meta: { kind: k, len: rec.value?.length ?? -1, key: keyString(rec.key) } });
            kindCounts[k]!++;
            hostile++;
            hostileLeft--;
          }
        } else {
          out.push(validEvent());
          validLeft--;
          if (validLeft % itemUpdateEvery === 0) { out.push(validItem()); total++; }
        }
      }
      await send(out);
    }
    total = produced;
    const produceSeconds = (Date.now() - produceStart) / 1000;
    say(`fuzz: produced ${produced} records (${hostile} hostile, ${validEvents.length} valid events, ${validItems} valid catalog records) in ${produceSeconds.toFixed(1)} s (${Math.round(produced / produceSeconds)} records/s)`);

    // ---------------------------------------------------------------- wait until everything is processed
    phase = 'process';
    const catchUpBy = Date.now() + (opts.catchUpTimeoutMs ?? 900_000);
    for (;;) {
      if (failed) break;
      if (current.lag === 0 && samples.length && samples[samples.length - 1]!.t > produceStart && current.processed >= produced) break;
      if (Date.now() > catchUpBy) { violate(`the worker did not process everything within ${(opts.catchUpTimeoutMs ?? 900_000) / 1000} s (lag ${current.lag})${stuckAt()}`); failed = 'timeout'; break; }
      await sleep(500);
    }
    const processSeconds = (Date.now() - produceStart) / 1000;
    monitoring = false;
    await monitor;
    const windows: number[] = [];
    for (let i = 0; i < samples.length; i++) {
      const j = samples.findIndex((s) => s.t >= samples[i]!.t + 5_000);
      if (j < 0) break;
      if (samples[i]!.lag > 0) windows.push(((samples[j]!.processed - samples[i]!.processed) * 1000) / (samples[j]!.t - samples[i]!.t));
    }
    windows.sort((a, b) => a - b);
    const windowRates = windows.length ? { min: windows[0]!, median: windows[Math.floor(windows.length / 2)]!, max: windows[windows.length - 1]! } : { min: 0, median: 0, max: 0 };
    if (!failed) say(`fuzz: worker processed every record ${processSeconds.toFixed(1)} s after the first was produced (${Math.round(produced / processSeconds)} records/s overall)`);

    // ---------------------------------------------------------------- stop the worker: SIGTERM must exit 0
    if (!exitOf.value) {
      worker.child.kill(failed ? 'SIGKILL' : 'SIGTERM');
      const exit = await Promise.race([worker.exited, sleep(60_000).then(() => null)]);
      if (!exit) {
        violate('the worker did not exit within 60 s of SIGTERM');
        worker.child.kill('SIGKILL');
        await worker.exited;
      } else if (!failed && exit.code !== 0) violate(`the worker exited with code ${exit.code} (signal ${exit.signal}) on SIGTERM`);
    }
    writeFileSync(join(logDir, 'worker.log'), worker.output());

    // ---------------------------------------------------------------- the DLQ, record by record
    phase = 'verify';
    const dlq = await readTopicToEnd(kafka, topics.dlq, 300_000);
    const results = checkDlq(dlq, metas, kinds, kindCounts, topics, violate);
    for (const k of results) {
      const name = k.kind.name;
      if (k.missing) violate(`${name}: ${k.missing} of ${k.count} not in the DLQ (expected ${k.kind.code})`);
      for (const [code, n] of Object.entries(k.wrongCode)) violate(`${name}: ${n} of ${k.count} dead-lettered as ${code}, expected ${k.kind.code}`);
      for (const [stage, n] of Object.entries(k.wrongStage)) violate(`${name}: ${n} of ${k.count} with stage ${stage}, expected ${k.kind.stage}`);
      if (k.duplicates) violate(`${name}: ${k.duplicates} records dead-lettered more than once`);
      if (k.altered) violate(`${name}: ${k.altered} DLQ copies whose value differs from the original without an attune.value.truncated header`);
      if (k.leaks) violate(`${name}: ${k.leaks} DLQ messages contain the record's user id`);
    }

    // ---------------------------------------------------------------- the state (only when the worker got through)
    let keysCompared = 0;
    let fieldsCompared = 0;
    let coocFieldsChecked = 0;
    let referenceSeconds = 0;
    if (!failed) {
      say('fuzz: reference run over the clean topics (valid records only, in process) ...');
      const rt = Date.now();
      await referenceRun(ref, kafka, redis, 600_000);
      referenceSeconds = (Date.now() - rt) / 1000;
      const [fuzzDump, refDump] = await Promise.all([dumpPrefix(redis, cfg.keyPrefix), dumpPrefix(redis, ref.keyPrefix)]);
      const renamed = renameTopics(refDump, ref.topicPrefix, cfg.topicPrefix);
      const cmp = compareDumps(fuzzDump, renamed, [...EXCLUSIONS, ...FUZZ_EXCLUSIONS]);
      keysCompared = cmp.keysCompared;
      fieldsCompared = cmp.fieldsCompared;
      if (cmp.mismatchCount) violate(`state: ${cmp.mismatchCount} differences from the reference run (by kind ${JSON.stringify(cmp.mismatchesByShape)}); first: ${cmp.mismatches.slice(0, 8).join(' | ')}`);
      // The offline checks learn each user's events in time order: every user's own events are (shop.ts).
      const inOrder = [...validEvents].sort((a, b) => a.eventTime - b.eventTime);
      const input = await checkAgainstInput(cfg, redis, inOrder, fuzzDump);
      coocFieldsChecked = input.coocFieldsChecked;
      if (input.lost || input.doubled) violate(`state: valid events lost ${input.lost}, counted twice ${input.doubled} (against the input log)`);
      if (input.mismatchCount) violate(`state: ${input.mismatchCount} differences from the input log; first: ${input.mismatches.slice(0, 8).join(' | ')}`);
      const bad = nonFinite(fuzzDump);
      if (bad.length) violate(`state: NaN or Infinity in ${bad.length} keys: ${bad.slice(0, 5).join(', ')}`);
      say(`fuzz: state compared: ${keysCompared} keys (${fieldsCompared} fields/values) against the reference run, ${input.users} users' counts and ${coocFieldsChecked} co-occurrence fields against the input log`);
    } else {
      say('fuzz: state not verified (the worker did not get through the input)');
    }

    const count = results.reduce((a, k) => a + k.count, 0);
    if (count !== hostile) violate(`internal: ${count} hostile records counted by kind, ${hostile} produced`);
    return {
      cfg, seed: opts.seed, kinds: results, hostile, validEvents: validEvents.length, validItems, violations,
      figures: {
        produceSeconds, produceRate: produced / produceSeconds, processSeconds, processRate: failed ? current.processed / processSeconds : produced / processSeconds,
        windowRates, dlqRecords: dlq.length, keysCompared, fieldsCompared, coocFieldsChecked, referenceSeconds, totalSeconds: (Date.now() - t0) / 1000, logDir,
      },
    };
  } finally {
    if (worker && !exitOf.value) {
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    if (worker) try { writeFileSync(join(logDir, 'worker.log'), worker.output()); } catch { /* best effort */ }
    await producer?.disconnect().catch(() => {});
    if (!opts.keep) {
      await deleteKeysWithPrefix(redis, cfg.keyPrefix).catch(() => 0);
      await deleteKeysWithPrefix(redis, ref.keyPrefix).catch(() => 0);
      await admin.deleteTopics([...Object.values(topics), ...Object.values(refTopics)]).catch(() => []);
    }
    await admin.disconnect().catch(() => {});
    await redis.quit().catch(() => {});
  }
}

/** Matches every DLQ record to the hostile record it came from (source topic/partition/offset). */
export function checkDlq(dlq: ReadRecord[], metas: Map<string, Meta>, kinds: Kind[], counts: number[], topics: { events: string; items: string }, violate: (v: string) => void): KindResult[] {
  const res: KindResult[] = kinds.map((kind, i) => ({ kind, count: counts[i]!, ok: 0, missing: 0, duplicates: 0, wrongCode: {}, wrongStage: {}, altered: 0, leaks: 0 }));
  const seen = new Set<string>();
  const validDead: Record<string, number> = {};
  let unknown = 0;
  const codesOutside = new Set<string>();
  for (const d of dlq) {
    const h = d.headers;
    const src = h['attune.source.topic'] === topics.events ? 'events' : h['attune.source.topic'] === topics.items ? 'items' : null;
    const id = `${src}:${h['attune.source.partition']}:${h['attune.source.offset']}`;
    const m = src ? metas.get(id) : undefined;
    const code = h['attune.error.code'] ?? '<none>';
    const stage = h['attune.error.stage'] ?? '<none>';
    if (!DLQ_CODES.has(code)) codesOutside.add(code);
    if (!DLQ_STAGES.has(stage)) codesOutside.add(`stage ${stage}`);
    if (!m) { unknown++; continue; }
    if (m.kind < 0) { validDead[code] = (validDead[code] ?? 0) + 1; continue; }
    const k = res[m.kind]!;
    if (seen.has(id)) { k.duplicates++; continue; }
    seen.add(id);
    if (code !== k.kind.code) k.wrongCode[code] = (k.wrongCode[code] ?? 0) + 1;
    else if (stage !== k.kind.stage) k.wrongStage[stage] = (k.wrongStage[stage] ?? 0) + 1;
    else k.ok++;
    const len = d.value?.length ?? 0;
    const orig = Math.max(0, m.len);
    const truncatedTo = h['attune.value.truncated'];
    if (len !== orig && !(truncatedTo !== undefined && Number(truncatedTo) === orig && len < orig)) k.altered++;
    // Regular user ids (c1xxxx) are long enough that finding one in a message is not a coincidence.
    if (m.key && /^c1\d{4}$/.test(m.key) && (h['attune.error.message'] ?? '').includes(m.key)) k.leaks++;
  }
  const found = new Map<number, number>();
  for (const id of seen) {
    const m = metas.get(id)!;
    found.set(m.kind, (found.get(m.kind) ?? 0) + 1);
  }
  for (let i = 0; i < res.length; i++) res[i]!.missing = res[i]!.count - (found.get(i) ?? 0);
  const vd = Object.entries(validDead);
  if (vd.length) violate(`valid records dead-lettered: ${vd.map(([c, n]) => `${n} as ${c}`).join(', ')}`);
  if (unknown) violate(`${unknown} DLQ records whose source is no record of this run`);
  if (codesOutside.size) violate(`DLQ headers outside the contract: ${[...codesOutside].join(', ')}`);
  return res;
}

/** Runs the product's worker in process over the clean topics until both input topics are applied to their end. */
async function referenceRun(ref: Config, kafka: KafkajsClient, redis: RedisClient, timeoutMs: number): Promise<void> {
  const level = log.level;
  if (log.levelVal < log.levels.values.warn) log.level = 'warn';
  const w = await startWorker(ref, kafka);
  let stopped: number | null = null;
  void w.done.then((c) => (stopped = c));
  const admin = kafka.admin();
  await admin.connect();
  const t0 = Date.now();
  try {
    const store = new StateStore(redis, ref.keyPrefix);
    const t = topicNames(ref);
    for (;;) {
      if (stopped !== null) throw new Error(`the reference worker stopped on its own (exit code ${stopped})`);
      const { lag } = await progressOf(store, admin, [t.events, t.items]);
      if (lag === 0) break;
      if (Date.now() - t0 > timeoutMs) throw new Error(`the reference worker did not catch up within ${timeoutMs / 1000} s (lag ${lag})`);
      await sleep(500);
    }
  } finally {
    await admin.disconnect().catch(() => {});
    await w.stop();
    log.level = level;
  }
}

/** The reference's partition keys and offset fields name its own topics: rename them to the fuzzed topics'. */
function renameTopics(dump: Map<string, Dumped>, from: string, to: string): Map<string, Dumped> {
  const out = new Map<string, Dumped>();
  const tag = `{p:${from}.`;
  for (const [k, v] of dump) out.set(k.startsWith(tag) ? `{p:${to}.${k.slice(tag.length)}` : k, v);
  return out;
}

/**
 * Keys holding a number that is not finite: a hash field or string that is exactly NaN/Infinity (what JavaScript's
 * String(NaN) or Redis's HINCRBYFLOAT overflow leaves: an item's price from a NaN), or a sorted-set score that is.
 * Sets and lists hold ids, and `NaN` is one of the nasty ids, so they are not looked at (no shop title is NaN).
 */
function nonFinite(dump: Map<string, Dumped>): string[] {
  const bad: string[] = [];
  const re = /^-?(nan|inf|infinity)$/i;
  for (const [k, v] of dump) {
    let vals: string[] = [];
    if (v.type === 'string') vals = [v.value as string];
    else if (v.type === 'hash' || v.type === 'zset') vals = Object.values(v.value as Record<string, string>);
    if (vals.some((x) => re.test(String(x)))) bad.push(k);
  }
  return bad;
}
