/**
 * The state verifier of the chaos harness: what the final Redis state of a deployment must be, derived offline from
 * the input log, compared key by key with what the workers left in Redis.
 *
 * Two independent references:
 *  1. A reference run (`buildReference`): one in-process worker (`startWorker`, the product's own pipeline, so the
 *     verifier follows the other stages' pure logic as it evolves) with its own key prefix and consumer group but the
 *     SAME events and items topics, no faults, `segmentIdleMs: 0` (no wall-clock punctuation: segment state is a pure
 *     function of the events' times), run until its applied progress reaches the end of every events partition.
 *     `compareDumps` then SCANs every key of both prefixes (every master of a Cluster), strips the prefix and
 *     compares type and value: integers and strings exactly, floats with a relative tolerance, JSON structurally.
 *  2. Direct checks with pure code, independent of the worker's Redis logic (`checkAgainstInput`): per-user event
 *     counts by type (lost = Σ shortfalls, doubled = Σ excesses), item popularity, and every co-occurrence row against
 *     the `Recommender` run offline over the input log; plus the output topics: every user with a valid event has at
 *     least one (non-tombstone) record on the recommendations topic, and the distinct segment changes the workers
 *     emitted (deduplicated by their attune.source header, as consumers do) are exactly those of the reference run.
 *
 * Users' rights (issue #11): both the reference run and the direct checks honour consent and erasure. The direct
 * checks take what consent and erasure leave of the log from an independent oracle (./rights-oracle.ts, not the
 * rights stage's plan); Redis is read by pseudonym (keys, set members), outputs by real id. Users whose last point
 * leaves them without personalization must have no per-user state (an erased user: no key and no membership at all)
 * and a tombstone as their last recommendations record.
 *
 * Identity stitching: the chaos workers produce merge records (identify events keyed by the known user, with the
 * anonymous profile) into the events topic, so the log both runs read holds more than the harness produced. The
 * events topic is read back (`eventsTopicOf`): every input event exactly once, in order per user, and where each
 * merge record landed among its known user's events (the oracle places the merge there). The reference run applies
 * those same records (the known users' state is then compared key by key); its own merge records are diverted from
 * the events topic (it would otherwise append copies, dropped by its dedupe window, and its partitions' bookkeeping
 * would run past the chaos run's) and compared with the chaos workers': the same event ids, the same profiles —
 * each snapshot the chaos workers took under kills equals the fault-free one.
 */
import { Cluster } from 'ioredis';
import type { Config } from '../../src/config/config.js';
import { topicNames } from '../../src/config/config.js';
import { isActivity, type Recommendations, type SegmentChange, type UserEvent } from '../../src/domain/events.js';
import { loadExperimentsFile } from '../../src/experiments/file.js';
import { fixedVariant } from '../../src/experiments/assignment.js';
import { Codec } from '../../src/stages/decode/codec.js';
import type { OutboundRecord, StreamClient } from '../../src/kafka/port.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { DEFAULT_LIMITS, validateEvent } from '../../src/stages/validate/validate.js';
import { Recommender, type UserMerge } from '../../src/stages/recommend/model/recommender.js';
import { loadRecommenderConfig } from '../../src/stages/recommend/model/load-config.js';
import type { RedisClient } from '../../src/stores/redis-client.js';
import { scanKeys } from '../../src/stores/maintenance.js';
import { keyPatternOf, ownedEntry } from '../../src/stores/user-owned.js';
import { StateStore } from '../../src/stores/state-store.js';
import { Keys } from '../../src/stores/keys.js';
import { startWorker } from '../../src/topology/worker.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { log } from '../../src/log.js';
import { pseudonymOf } from './env.js';
import { MERGE_EVENT_PREFIX } from '../../src/domain/profile.js';
import { rightsOutcome, type Ending, type MergeFigures, type MergePlace, type RightsOutcome } from './rights-oracle.js';
import { expectedFeedbackCounts } from './feedback.js';

// ------------------------------------------------------------------------------------------------ exclusions

/** The prefix-stripped key pattern of a user-owned registry entry (src/stores/user-owned.ts), e.g. `^\{u:[^}]*\}:rec$`;
 *  `id` is the regex source standing for the id (a group captures it). */
const owned = (name: string, id?: string) => keyPatternOf(ownedEntry(name), id);

/**
 * What the key-by-key comparison leaves out, each with its reason. Nothing is excluded to make a mismatch go away:
 * each entry is a value that legitimately depends on wall-clock time, on how the partitions' micro-batches
 * interleaved, or on where micro-batches were cut (which kafkajs fetch sizes, kills and rebalances decide) — never on
 * WHICH events were applied how many times. Counts of what each rule skipped are part of the report.
 */
export interface Exclusion {
  /** Normalized key (prefix stripped), e.g. `{u:12345}:rec`. */
  key: RegExp;
  /** Hash fields to skip; absent = the whole key. */
  field?: RegExp;
  /** Compare the field's JSON value without these properties (instead of skipping the field). */
  drop?: string[];
  /** Compare the field as this function of its value, on both sides (instead of skipping the field). */
  compareAs?: (value: string) => string;
  why: string;
}

export const EXCLUSIONS: Exclusion[] = [
  {
    key: owned('rec'),
    field: /^s$/,
    drop: ['lh', 'li', 'x'],
    why: "the user's recommender state is compared (history, purchases, country, last event time, remembered clicks), "
      + "except the last emitted list's hash, items and experiment assignments: the list comes from the model at ask "
      + "time, which holds other partitions' co-occurrence deltas only as far as they interleaved with this one, and a "
      + "bandit's choice from the counts at that time (eligibility from the user's segments at the end of the micro-batch)",
  },
  {
    key: owned('recs'),
    why: "the user's current list: computed from the model at ask time (see :rec) and stamped with generatedAt (wall clock)",
  },
  {
    key: owned('holders'),
    why: 'users whose current list holds the item: derived from the lists (see :recs)',
  },
  {
    key: owned('co-occurrence'),
    field: /^o:/,
    why: "a row's applied offset per partition is the last offset of the last micro-batch that touched the row: it "
      + 'depends on where micro-batches were cut (fetch sizes, kills, recovery cuts), not on what was applied; the '
      + "row's counts and norm are compared (within tolerance) and checked against the offline recommender",
  },
  {
    key: /^\{g\}:expapplied$/,
    why: "the experiments' counts' applied offset per partition is the last offset of the last micro-batch that "
      + 'attributed an event: it depends on where micro-batches were cut; the counts are gated per event offset, '
      + 'compared key by key and, for impressions and clicks, checked against the log',
  },
  {
    key: owned('features'),
    field: /^o:/,
    why: "a user's feature offset is written as the last offset of the micro-batch that last touched the user (see "
      + 'stages/segments/processor.ts): the batch boundary, not the user\'s last event; its state `s`, segments `seg` and timer '
      + '`due` are compared',
  },
  {
    key: owned('features'),
    field: /^lc:/,
    why: "a user's segment changes not yet known to be emitted, kept for a replay to re-emit: the changes of the "
      + "user's steps in the last micro-batch that wrote the user (after the progress offset read at its start), each "
      + 'stamped with emittedAt (wall clock). Which changes fall into that last batch depends on where batches were cut '
      + '(seen: chaos holds 2 changes where the reference holds 1, or none). The changes themselves are checked '
      + 'through `seg`, `{u}:segments`, member sets and `{g}:segcounts` (counted once per source offset)',
  },
  {
    key: /^\{p:[^}]*\}:segstate$/,
    field: /^pending$/,
    why: "the partition's change list of its last micro-batch (progress, o], kept for a replay, with emittedAt (wall "
      + 'clock): depends on where the last batch was cut, like `lc:` above (seen: [] in chaos after a short last batch)',
  },
  {
    key: /^\{p:[^}]*\}:segstate$/,
    field: /^wall$/,
    why: 'the wall clock (ms) when the partition watermark last moved',
  },
  {
    key: /^\{p:[^}]*\}:fence$/,
    why: "the partition's fence counter: one token per assignment of the partition, so it counts the rebalances "
      + '(every kill and restart makes two); the reference run had one assignment per partition',
  },
  {
    key: /^\{g[0-9a-z]*\}:guard$/,
    field: /^f:/,
    why: 'the fence token of the last owner of the partition that wrote in this slot (see :fence)',
  },
];

/**
 * Values that name the deployment rather than its content: each state has its own random epoch (a UUID written at
 * bootstrap into `{g}:bootstrap` and every slot's guard hash). Both sides' epochs are replaced by `<epoch>` before
 * comparing, so a guard holding any OTHER epoch (a stale or half-rebuilt state) still shows up as a mismatch.
 */
export function epochOf(dump: Map<string, Dumped>): string | null {
  const b = dump.get('{g}:bootstrap');
  return b && b.type === 'hash' ? ((b.value as Record<string, string>).epoch ?? null) : null;
}

// ------------------------------------------------------------------------------------------------ dump / compare

export interface Dumped {
  type: string;
  value: unknown;
}

/** Every key under `prefix` (all masters of a Cluster) as `key without prefix -> {type, value}`. */
export async function dumpPrefix(redis: RedisClient, prefix: string): Promise<Map<string, Dumped>> {
  const out = new Map<string, Dumped>();
  const strip = `${prefix}:`;
  // A Cluster client lists its masters only once it is ready: SCANning before would silently see no key at all.
  if (redis instanceof Cluster && redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
  for await (const keys of scanKeys(redis, `${prefix}:*`, 1000)) {
    const read = await Promise.all(keys.map(async (key): Promise<[string, Dumped]> => {
      const type = await redis.type(key);
      let value: unknown;
      if (type === 'hash') value = await redis.hgetall(key);
      else if (type === 'string') value = await redis.get(key);
      else if (type === 'list') value = await redis.lrange(key, 0, -1);
      else if (type === 'set') value = (await redis.smembers(key)).sort();
      else if (type === 'zset') {
        const flat = await redis.zrange(key, 0, -1, 'WITHSCORES');
        // Members are input (item and user ids): a prototype-less object keeps a member named `__proto__`.
        const z = Object.create(null) as Record<string, string>;
        for (let i = 0; i < flat.length; i += 2) z[flat[i]] = flat[i + 1];
        value = z;
      } else value = `<${type}>`;
      return [key.slice(strip.length), { type, value }];
    }));
    for (const [k, v] of read) out.set(k, v);
  }
  return out;
}

/** Relative tolerance for non-integer numbers. See `sameNumber`. */
export const FLOAT_TOLERANCE = 1e-9;

const NUMERIC = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

interface CompareStats {
  /** Non-integer numbers that differed in their last bits but agreed within FLOAT_TOLERANCE. */
  floatsWithinTolerance: number;
  maxRelativeError: number;
}

/**
 * Co-occurrence rows are sums of floats (HINCRBYFLOAT) added in whatever order the partitions' batches reached the
 * row, so the last bits differ from run to run: relative error of a sum of n positive terms is at most ~n·2^-53
 * (n ≤ a few 10^5 here → < 1e-10), hence 1e-9. Integers (counts, offsets, times) must be exactly equal.
 */
function sameNumber(a: number, b: number, st: CompareStats): boolean {
  if (a === b) return true;
  if (Number.isInteger(a) && Number.isInteger(b)) return false;
  const rel = Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
  if (rel <= FLOAT_TOLERANCE) {
    st.floatsWithinTolerance++;
    if (rel > st.maxRelativeError) st.maxRelativeError = rel;
    return true;
  }
  return false;
}

/** Structural comparison; returns the path of the first difference, or null when equal. */
function diff(a: unknown, b: unknown, path: string, st: CompareStats): string | null {
  if (typeof a === 'string' && typeof b === 'string') {
    if (a === b) return null;
    if (NUMERIC.test(a) && NUMERIC.test(b)) return sameNumber(Number(a), Number(b), st) ? null : path;
    const ja = tryJson(a);
    const jb = tryJson(b);
    if (ja !== undefined && jb !== undefined) return diff(ja, jb, path, st);
    return path;
  }
  if (typeof a === 'number' && typeof b === 'number') return sameNumber(a, b, st) ? null : path;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}.length`;
    for (let i = 0; i < a.length; i++) {
      const d = diff(a[i], b[i], `${path}[${i}]`, st);
      if (d) return d;
    }
    return null;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.join('\u0000') !== kb.join('\u0000')) {
      const onlyA = ka.filter((k) => !Object.hasOwn(b, k));
      const onlyB = kb.filter((k) => !Object.hasOwn(a, k));
      return `${path}{keys: only chaos ${JSON.stringify(onlyA.slice(0, 5))}, only reference ${JSON.stringify(onlyB.slice(0, 5))}}`;
    }
    for (const k of ka) {
      const d = diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`, st);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : path;
}

function tryJson(s: string): unknown {
  const c = s.trimStart()[0];
  if (c !== '{' && c !== '[') return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** `{u:17850}:features` → `{u:*}:features` (to group mismatches by kind). */
export function keyShape(key: string): string {
  return key.replace(/\{([uip]):[^}]*\}/, '{$1:*}').replace(/^\{g[0-9a-z]+\}:guard$/, '{g*}:guard');
}

export interface ComparisonResult {
  keysCompared: number;
  keysChaos: number;
  keysReference: number;
  fieldsCompared: number;
  mismatches: string[];
  mismatchCount: number;
  /** Mismatch counts per key shape (and field), for a diagnosis at a glance. */
  mismatchesByShape: Record<string, number>;
  excludedKeys: Record<string, number>;
  excludedFields: Record<string, number>;
  floatsWithinTolerance: number;
  maxRelativeError: number;
}

function short(v: unknown, n = 300): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Compares every key of `chaos` with `reference` (both dumps of `dumpPrefix`), honouring `exclusions`. */
export function compareDumps(chaos: Map<string, Dumped>, reference: Map<string, Dumped>, exclusions: Exclusion[] = EXCLUSIONS): ComparisonResult {
  const st: CompareStats = { floatsWithinTolerance: 0, maxRelativeError: 0 };
  const res: ComparisonResult = {
    keysCompared: 0, keysChaos: chaos.size, keysReference: reference.size, fieldsCompared: 0, mismatches: [], mismatchCount: 0,
    mismatchesByShape: {}, excludedKeys: {}, excludedFields: {}, floatsWithinTolerance: 0, maxRelativeError: 0,
  };
  const miss = (shape: string, msg: string) => {
    res.mismatchCount++;
    res.mismatchesByShape[shape] = (res.mismatchesByShape[shape] ?? 0) + 1;
    if (res.mismatches.length < 20) res.mismatches.push(msg);
  };
  const epochs = [epochOf(chaos), epochOf(reference)];
  const norm = (side: 0 | 1, v: string | undefined) => (v !== undefined && v === epochs[side] ? '<epoch>' : v);
  const keys = new Set([...chaos.keys(), ...reference.keys()]);
  for (const key of [...keys].sort()) {
    const whole = exclusions.find((x) => !x.field && x.key.test(key));
    if (whole) {
      res.excludedKeys[whole.key.source] = (res.excludedKeys[whole.key.source] ?? 0) + 1;
      continue;
    }
    const shape = keyShape(key);
    const a = chaos.get(key);
    const b = reference.get(key);
    if (!a || !b) {
      miss(shape, `${key}: only in the ${a ? 'chaos' : 'reference'} state (${a ? a.type : b!.type} ${short((a ?? b)!.value)})`);
      continue;
    }
    res.keysCompared++;
    if (a.type !== b.type) {
      miss(shape, `${key}: type ${a.type} (chaos) vs ${b.type} (reference)`);
      continue;
    }
    if (a.type === 'hash') {
      const fieldRules = exclusions.filter((x) => x.field && x.key.test(key));
      const ha = Object.fromEntries(Object.entries(a.value as Record<string, string>).map(([f, v]) => [f, norm(0, v)!]));
      const hb = Object.fromEntries(Object.entries(b.value as Record<string, string>).map(([f, v]) => [f, norm(1, v)!]));
      for (const f of new Set([...Object.keys(ha), ...Object.keys(hb)])) {
        const rule = fieldRules.find((x) => x.field!.test(f));
        if (rule?.drop && Object.hasOwn(ha, f) && Object.hasOwn(hb, f)) {
          ha[f] = dropJson(ha[f], rule.drop);
          hb[f] = dropJson(hb[f], rule.drop);
        } else if (rule?.compareAs && Object.hasOwn(ha, f) && Object.hasOwn(hb, f)) {
          ha[f] = rule.compareAs(ha[f]);
          hb[f] = rule.compareAs(hb[f]);
        } else if (rule) {
          const id = `${rule.key.source} ${rule.field!.source}`;
          res.excludedFields[id] = (res.excludedFields[id] ?? 0) + 1;
          continue;
        }
        res.fieldsCompared++;
        // Own fields only: an id such as `constructor` or `toString` is a field of every plain object's prototype.
        if (!Object.hasOwn(ha, f) || !Object.hasOwn(hb, f)) {
          miss(`${shape} ${fieldShape(f)}`, `${key} field ${f}: only in the ${Object.hasOwn(ha, f) ? 'chaos' : 'reference'} state (${short(Object.hasOwn(ha, f) ? ha[f] : hb[f])})`);
          continue;
        }
        const d = diff(ha[f], hb[f], f, st);
        if (d) miss(`${shape} ${fieldShape(f)}`, `${key} at ${d}: chaos ${short(ha[f])} vs reference ${short(hb[f])}`);
      }
      continue;
    }
    res.fieldsCompared++;
    const va = typeof a.value === 'string' ? norm(0, a.value) : a.value;
    const vb = typeof b.value === 'string' ? norm(1, b.value) : b.value;
    const d = diff(va, vb, '', st);
    if (d) miss(shape, `${key}${d ? ` at ${d}` : ''}: chaos ${short(a.value)} vs reference ${short(b.value)}`);
  }
  res.floatsWithinTolerance = st.floatsWithinTolerance;
  res.maxRelativeError = st.maxRelativeError;
  return res;
}

/** A JSON object without the given properties (the value itself when it is not a JSON object). */
function dropJson(v: string, drop: string[]): string {
  try {
    const o = JSON.parse(v) as Record<string, unknown>;
    if (o === null || typeof o !== 'object') return v;
    for (const k of drop) delete o[k];
    return JSON.stringify(o);
  } catch {
    return v;
  }
}

/** Item-id fields of co-occurrence rows are grouped as `<item>`; bookkeeping fields keep their names. */
function fieldShape(f: string): string {
  return /^(o|lc|t|r|f):/.test(f) ? `${f.split(':')[0]}:*` : /^[A-Za-z_]{1,8}$/.test(f) ? f : '<item>';
}

// ------------------------------------------------------------------------------------------------ reference run

/**
 * The setting that names the erasure ledger topic on its own (ATTUNE_TOPIC_ERASURES; default `<prefix>.erasures`).
 * The reference run reads the deployment's events topic, so it cannot take another topic prefix, but it must not
 * share the deployment's ledger: loaded at start-up, the chaos workers' entries would make it skip every event of an
 * erased user before the erasure — events the chaos run did count into the anonymous aggregates (popularity,
 * co-occurrence) before the erasure — and its own appends would land in the deployment's ledger.
 */
export const ERASURES_TOPIC_SETTING = 'erasuresTopic';

/** The config of the reference run: same events and items topics, own key prefix, group and erasure ledger, no
 *  wall-clock punctuation. */
export function referenceConfig(cfg: Config): Config {
  const ref: Config = { ...cfg, keyPrefix: `${cfg.keyPrefix}ref`, groupId: `${cfg.groupId}-ref`, segmentIdleMs: 0, httpPort: 0, watchdogMs: 0 };
  (ref as unknown as Record<string, unknown>)[ERASURES_TOPIC_SETTING] = `${topicNames(cfg).erasures}-ref`;
  if (topicNames(ref).erasures === topicNames(cfg).erasures) {
    throw new Error(`the reference run needs its own erasure ledger: topicNames(cfg).erasures must honour the ${ERASURES_TOPIC_SETTING} setting (ATTUNE_TOPIC_ERASURES)`);
  }
  return ref;
}

/** True when every events partition's applied progress under `prefix` reached the partition's end offset. */
export async function caughtUp(kafka: StreamClient, redis: RedisClient, cfg: Config): Promise<{ done: boolean; lag: number }> {
  const topic = topicNames(cfg).events;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.endOffsets(topic);
    const store = new StateStore(redis, cfg.keyPrefix);
    let lag = 0;
    for (const [p, end] of ends) {
      const progress = (await store.readProgress(topic, p)) ?? -1;
      lag += Math.max(0, Number(end) - 1 - progress);
    }
    return { done: lag === 0, lag };
  } finally {
    await admin.disconnect();
  }
}

/**
 * `kafka` with every produce to `topic` kept in `sink` instead of sent (consumers, admin and the other topics as is).
 * The reference run's merge records (the only records a worker produces to the events topic, rights/merge.ts): the
 * log already holds the chaos workers' ones, which the reference run applies like any record.
 */
function divertingProduces(kafka: StreamClient, topic: string, sink: OutboundRecord[]): StreamClient {
  return {
    consumer: (o) => kafka.consumer(o),
    admin: () => kafka.admin(),
    producer: (o) => {
      const p = kafka.producer(o);
      return {
        connect: () => p.connect(),
        disconnect: () => p.disconnect(),
        send: async (t, records) => {
          if (t !== topic) return p.send(t, records);
          sink.push(...records);
        },
      };
    },
  };
}

/**
 * Runs one in-process worker over the deployment's topics into `referenceConfig(cfg).keyPrefix` until it caught up,
 * then stops it. NB: it also writes to the deployment's output topics, so read those before calling this. Its merge
 * records are not produced but returned (`merges`, see divertingProduces): the events topic stays as the chaos run left it.
 */
export async function buildReference(cfg: Config, kafka: StreamClient, redis: RedisClient, opts: { timeoutMs: number; onLag?: (lag: number) => void }): Promise<{ cfg: Config; seconds: number; merges: OutboundRecord[] }> {
  const ref = referenceConfig(cfg);
  const t0 = Date.now();
  // Its own erasure ledger (see referenceConfig) must exist before the worker loads it.
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, ref);
  } finally {
    await admin.disconnect();
  }
  const level = log.level;
  // Its info lines would drown the harness's output: at most warnings (never more verbose than the caller's level).
  if (process.env.ATTUNE_REFERENCE_LOG_LEVEL) log.level = process.env.ATTUNE_REFERENCE_LOG_LEVEL;
  else if (log.levelVal < log.levels.values.warn) log.level = 'warn';
  const merges: OutboundRecord[] = [];
  const worker = await startWorker(ref, divertingProduces(kafka, topicNames(ref).events, merges));
  let stopped: number | null = null;
  void worker.done.then((code) => (stopped = code));
  try {
    for (;;) {
      if (stopped !== null) throw new Error(`the reference worker stopped on its own (exit code ${stopped})`);
      const { done, lag } = await caughtUp(kafka, redis, ref);
      opts.onLag?.(lag);
      if (done) break;
      if (Date.now() - t0 > opts.timeoutMs) throw new Error(`the reference worker did not catch up within ${opts.timeoutMs / 1000} s (lag ${lag})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await worker.stop();
    log.level = level;
  }
  return { cfg: ref, seconds: (Date.now() - t0) / 1000, merges };
}

// ------------------------------------------------------------------------------------------------ the events topic

/** A merge record on the events topic: an identify event keyed by the known user, with the anonymous profile. */
export interface MergeCopy {
  partition: number;
  offset: number;
  knownUserId: string;
  /** The identify event (input) whose merge record this is. */
  identify: string;
  profile: string;
}

export interface EventsTopic {
  /** Records on the events topic: the input log's and the merge records. */
  records: number;
  /** Per identify event id: where the first copy of its merge record landed among the known user's valid events. */
  places: Map<string, MergePlace>;
  /** Per merge event id, its copies in offset order (more than one: a crash between its ack and the ledger entry's). */
  merges: Map<string, MergeCopy[]>;
  problems: string[];
}

/** The identify event's place `attune:merge:<topic>:<partition>:<offset>` names, or null. */
function parseMergeId(id: string): { topic: string; partition: number; offset: number } | null {
  const m = /^(.*):(\d+):(\d+)$/.exec(id.slice(MERGE_EVENT_PREFIX.length));
  return id.startsWith(MERGE_EVENT_PREFIX) && m ? { topic: m[1]!, partition: Number(m[2]), offset: Number(m[3]) } : null;
}

/**
 * The events topic read back, against the input log as produced (`events`; `valid`: those the worker applies): apart
 * from merge records, each user's records are the user's input events, each once and in log order; each merge record
 * names an identify event of the input, at the offset its id says, keyed (and addressed) to the identify's known
 * user; copies of one id hold the same profile. `places` tells the oracle where each merge happened.
 */
export async function eventsTopicOf(kafka: StreamClient, cfg: Config, events: readonly UserEvent[], valid: readonly UserEvent[]): Promise<EventsTopic> {
  const topics = topicNames(cfg);
  const codec = new Codec(cfg.registryUrl, topics);
  const recs = (await readTopicToEnd(kafka, topics.events, 300_000)).sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  const problems: string[] = [];
  const problem = (m: string) => { if (problems.length < 1000) problems.push(m); };
  // One at a time: the codec caches each writer schema after its first lookup (100k lookups at once would not).
  const decoded: Array<{ partition: number; offset: number; key: string | null; event: UserEvent | null; error?: string }> = [];
  for (const r of recs) {
    const d: (typeof decoded)[number] = { partition: r.partition, offset: Number(r.offset), key: r.key, event: null };
    try {
      d.event = await codec.decodeEvent(r.value, 1e7);
    } catch (err) {
      d.error = err instanceof Error ? err.message : String(err);
    }
    decoded.push(d);
  }
  const at = new Map(decoded.map((d) => [`${d.partition}:${d.offset}`, d]));
  const isValid = new Set(valid);
  const input = new Map<string, UserEvent[]>();
  for (const e of events) {
    let l = input.get(e.userId);
    if (!l) input.set(e.userId, (l = []));
    l.push(e);
  }
  // Per user: how many of the user's records (input events) were read so far, and how many of those are valid.
  const read = new Map<string, number>();
  const validRead = new Map<string, number>();
  const places = new Map<string, MergePlace>();
  const merges = new Map<string, MergeCopy[]>();
  for (const d of decoded) {
    const e = d.event;
    if (!e || d.key === null) {
      problem(`events topic ${d.partition}:${d.offset}: ${e ? 'a record without a key' : `a record that does not decode (${d.error})`}`);
      continue;
    }
    if (e.type === 'identify' && e.profile) {
      const src = parseMergeId(e.eventId);
      const identify = src && src.topic === topics.events ? at.get(`${src.partition}:${src.offset}`)?.event : undefined;
      if (!identify || identify.type !== 'identify' || identify.profile || identify.knownUserId !== d.key || e.userId !== d.key) {
        problem(`events topic ${d.partition}:${d.offset}: merge record ${e.eventId} for ${d.key} names no identify event of the input naming that user`);
        continue;
      }
      const copy: MergeCopy = { partition: d.partition, offset: d.offset, knownUserId: d.key, identify: identify.eventId, profile: e.profile };
      const copies = merges.get(e.eventId);
      if (copies) {
        if (copies[0]!.profile !== e.profile) problem(`merge record ${e.eventId}: the copy at ${d.partition}:${d.offset} holds another profile than the first at ${copies[0]!.partition}:${copies[0]!.offset}`);
        copies.push(copy);
      } else {
        merges.set(e.eventId, [copy]);
        places.set(identify.eventId, { knownEventsBefore: validRead.get(d.key) ?? 0, offset: d.offset });
      }
      continue;
    }
    const k = read.get(d.key) ?? 0;
    const want = input.get(d.key)?.[k];
    read.set(d.key, k + 1);
    if (!want || want.eventId !== e.eventId) {
      problem(`events topic ${d.partition}:${d.offset}: event ${e.eventId} of ${d.key} is not the user's input event ${k + 1} (${want?.eventId ?? 'none'})`);
      continue;
    }
    if (isValid.has(want)) validRead.set(d.key, (validRead.get(d.key) ?? 0) + 1);
  }
  for (const [u, l] of input) if ((read.get(u) ?? 0) !== l.length) problem(`user ${u}: ${read.get(u) ?? 0} records on the events topic, the input log has ${l.length}`);
  return { records: recs.length, places, merges, problems };
}

export interface MergeRecordCheck {
  /** Records on the events topic at the chaos run's end: the input log's plus every merge record copy. */
  topicRecords: number;
  /** Merge records the chaos workers produced, copies included, and their distinct event ids. */
  records: number;
  distinct: number;
  /** The reference run's merge records (diverted, see buildReference). */
  referenceRecords: number;
  /** Distinct merge records whose profile equals the reference run's (floats within FLOAT_TOLERANCE). */
  profilesEqual: number;
  /** The events topic's problems (eventsTopicOf), then the merge records against the reference run's. */
  problems: string[];
}

/** The chaos workers' merge records against the reference run's: the same ids, each with the same profile. */
export async function checkMergeRecords(cfg: Config, topic: EventsTopic, reference: readonly OutboundRecord[]): Promise<MergeRecordCheck> {
  const codec = new Codec(cfg.registryUrl, topicNames(cfg));
  const problems = [...topic.problems];
  const ref = new Map<string, UserEvent>();
  for (const r of reference) {
    const e = await codec.decodeEvent(r.value, 1e7);
    if (!ref.has(e.eventId)) ref.set(e.eventId, e);
  }
  const st: CompareStats = { floatsWithinTolerance: 0, maxRelativeError: 0 };
  let profilesEqual = 0;
  for (const [id, e] of ref) {
    const chaos = topic.merges.get(id)?.[0];
    if (!chaos) {
      problems.push(`merge record ${id} (into ${e.userId}): produced by the reference run, never by the chaos workers`);
      continue;
    }
    if (chaos.knownUserId !== e.userId) problems.push(`merge record ${id}: into ${chaos.knownUserId} by the chaos workers, into ${e.userId} by the reference run`);
    const d = diff(JSON.parse(chaos.profile), JSON.parse(e.profile ?? 'null'), 'profile', st);
    if (d) problems.push(`merge record ${id} (into ${e.userId}) at ${d}: chaos ${short(chaos.profile)} vs reference ${short(e.profile)}`);
    else profilesEqual++;
  }
  for (const [id, copies] of topic.merges) if (!ref.has(id)) problems.push(`merge record ${id} (into ${copies[0]!.knownUserId}): produced by the chaos workers, not by the reference run`);
  const records = [...topic.merges.values()].reduce((n, c) => n + c.length, 0);
  return { topicRecords: topic.records, records, distinct: topic.merges.size, referenceRecords: reference.length, profilesEqual, problems };
}

// ------------------------------------------------------------------------------------------------ input checks

/** The events the worker must apply: the validator's verdict, as in the events processor. */
export function validEvents(events: UserEvent[], cfg: Config, now = Date.now()): UserEvent[] {
  const limits = { ...DEFAULT_LIMITS, maxIdLength: cfg.maxIdLength, maxFutureMs: cfg.maxFutureMs, minEventTime: cfg.minEventTime };
  return events.filter((e) => {
    try {
      validateEvent(e, limits, now);
      return true;
    } catch {
      return false;
    }
  });
}

export interface InputCheck {
  events: number;
  users: number;
  lost: number;
  doubled: number;
  mismatches: string[];
  mismatchCount: number;
  coocFieldsChecked: number;
  /** Impression and click count fields of `{g}:experiments` checked against the log (./feedback.ts). */
  experimentFieldsChecked: number;
  /** What consent and erasure did to the log, by the oracle (./rights-oracle.ts). */
  rights: RightsFigures;
}

export interface RightsFigures {
  consentEvents: number;
  eraseEvents: number;
  /** Identify events of upstream (identity stitching), and what the oracle made of them (the merges). */
  identifyEvents: number;
  merges: Omit<MergeFigures, 'problems'>;
  /** Ordinary events of users not personalized at the time: counted nowhere per user. */
  dropped: number;
  resets: { erasure: number; consent: number };
  /** Users by how they end (personalized, erased, withdrawn, never). */
  endings: Record<Ending, number>;
  /** Users that must have no trace at all / no per-user content, checked in the state. */
  erasedChecked: number;
  withdrawnChecked: number;
}

/** The rights settings of a config (the oracle's only inputs besides the log and where merge records landed,
 *  `merges`: EventsTopic.places; without it each merge is placed right after its identify). */
export function rightsOf(cfg: Config, events: readonly UserEvent[], merges?: ReadonlyMap<string, MergePlace>): RightsOutcome {
  return rightsOutcome(events, { consentDefault: cfg.consentDefault, consentAnonymousAggregates: cfg.consentAnonymousAggregates }, merges);
}

/** The offline recommender's state of a user as a merge record carries it (domain/profile.ts RecommenderSnapshot). */
function offlineProfile(rec: Recommender, userId: string): UserMerge['state'] | null {
  const u = rec.users.get(userId);
  if (!u) return null;
  return {
    h: { i: u.history.items.map((x) => rec.items.name(x)), w: [...u.history.weights], t: [...u.history.times] },
    p: [...u.purchases].map(([item, e]) => [rec.items.name(item), e.count, e.last]),
    c: u.country,
    lt: u.lastTime,
  };
}

/** Pseudonym -> real id of every user of the log (state is keyed by pseudonym). */
function pseudonymsOf(cfg: Config, events: readonly UserEvent[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of events) if (!out.has(e.userId)) out.set(e.userId, pseudonymOf(e.userId, cfg));
  return new Map([...out].map(([u, p]) => [p, u]));
}

/**
 * Per-user counts, popularity and co-occurrence rows of `cfg.keyPrefix` against the input log, by pure code, with
 * consent, erasure and identity stitching applied by the independent oracle (`merges`: where the merge records
 * landed, see rightsOf); plus the state of users that end without personalization.
 */
export async function checkAgainstInput(cfg: Config, redis: RedisClient, events: UserEvent[], dump?: Map<string, Dumped>, merges?: ReadonlyMap<string, MergePlace>): Promise<InputCheck> {
  // Events are replayed in time order (the loader sorts them), so no record is behind its partition's watermark:
  // none may be dead-lettered as TOO_LATE, and every valid event must be applied.
  for (let i = 1; i < events.length; i++) {
    if (events[i].eventTime < events[i - 1].eventTime) throw new Error('checkAgainstInput expects events in time order (no TOO_LATE records)');
  }
  const mismatches: string[] = [];
  let mismatchCount = 0;
  const miss = (m: string) => { mismatchCount++; if (mismatches.length < 20) mismatches.push(m); };
  const state = dump ?? await dumpPrefix(redis, cfg.keyPrefix);
  const rights = rightsOf(cfg, events, merges);
  const realOf = pseudonymsOf(cfg, events);
  // Merge records that are missing, or that should not exist (the oracle against the events topic).
  for (const m of rights.merges.problems) miss(m);
  // Mismatch lines name users by real id where known (a test log, not a production log), else by pseudonym.
  const who = (p: string) => realOf.get(p) ?? `<pseudonym ${p} of no input user>`;

  // Per-user counts by type, of the events since the user's last reset: lost = Σ shortfalls, doubled = Σ excesses
  // (users that should not exist count too). Consent, erase and identify events are never counted; a known user's
  // survivors hold the events its merges brought (ingest adds the anonymous counts).
  const want = new Map<string, Map<string, number>>();
  for (const [u, list] of rights.survivors) {
    const m = new Map<string, number>();
    // Impressions are attributed, not counted as activity (domain/events.ts isActivity).
    for (const e of list) if (isActivity(e.type)) m.set(e.type, (m.get(e.type) ?? 0) + 1);
    if (m.size) want.set(u, m);
  }
  let lost = 0;
  let doubled = 0;
  const countKey = owned('counts', '(.*)');
  const seen = new Set<string>();
  for (const [key, v] of state) {
    const m = countKey.exec(key);
    if (!m) continue;
    const user = who(m[1]);
    seen.add(user);
    const h = v.value as Record<string, string>;
    const w = want.get(user) ?? new Map<string, number>();
    for (const t of new Set([...w.keys(), ...Object.keys(h).filter((f) => f !== 'firstSeen' && f !== 'lastSeen')])) {
      const got = Number((Object.hasOwn(h, t) ? h[t] : undefined) ?? 0);
      const exp = w.get(t) ?? 0;
      if (got < exp) lost += exp - got;
      if (got > exp) doubled += got - exp;
      if (got !== exp) miss(`user ${user} ${t}: counted ${got}, input has ${exp} (since the user's last reset)`);
    }
  }
  for (const [user, w] of want) {
    if (seen.has(user)) continue;
    for (const [t, n] of w) {
      lost += n;
      miss(`user ${user} ${t}: no counts in Redis, input has ${n}`);
    }
  }

  // Popularity: purchases per item, of every passing event (an aggregate: a later reset leaves it), plus those of
  // users without personalization when anonymous aggregates are allowed.
  const pop = new Map<string, number>();
  for (const e of [...rights.passing, ...rights.anonymous]) if (e.type === 'purchase' && e.itemId) pop.set(e.itemId, (pop.get(e.itemId) ?? 0) + 1);
  const popGot = (state.get('{g}:popularity')?.value ?? Object.create(null)) as Record<string, string>;
  for (const item of new Set([...pop.keys(), ...Object.keys(popGot)])) {
    const got = Number(Object.hasOwn(popGot, item) ? popGot[item] : 0);
    const exp = pop.get(item) ?? 0;
    if (got !== exp) miss(`popularity of ${item}: ${got} in Redis, input has ${exp}`);
  }

  // Co-occurrence rows: the recommender run offline over the passing events, with the deployment's decay epoch; a
  // reset forgets the user's history (later events pair only with later items), the pairs already counted stay. A
  // merge adds no pair, but the known user's later events pair with the merged history: the anonymous user's
  // offline state just before its identify is merged at the merge's place (the product's merge, recommender.ts).
  const rec = new Recommender(loadRecommenderConfig(cfg));
  rec.collaborative.setEpoch(cfg.decayEpoch);
  const moved = new Map<string, UserMerge['state'] | null>();
  for (const s of rights.steps) {
    if (s.kind === 'reset') {
      if (s.identify) moved.set(s.identify, offlineProfile(rec, s.userId));
      rec.users.delete(s.userId);
    } else if (s.kind === 'merge') {
      const state = moved.get(s.identify);
      if (state) rec.learnBatch([{ merge: true, userId: s.userId, state }]);
    } else rec.learnBatch([s.event]);
  }
  const expected = new Map<string, Map<string, number>>();
  const put = (row: string, field: string, v: number) => {
    let m = expected.get(row);
    if (!m) expected.set(row, (m = new Map()));
    m.set(field, v);
  };
  const cs = rec.collaborative.state;
  for (const [a, b, c] of cs.entries()) {
    const na = rec.items.name(a);
    const nb = rec.items.name(b);
    // A pair lives once, in the row of the smaller item id (string order).
    // Fields are namespaced (Keys.coocItemField), so an item id can never be read as the norm or an offset.
    if (na < nb) put(na, Keys.coocItemField(nb), c); else put(nb, Keys.coocItemField(na), c);
  }
  for (let i = 0; i < rec.items.size; i++) if (cs.normOf(i) !== 0) put(rec.items.name(i), Keys.COOC_NORM_FIELD, cs.normOf(i));
  const coKey = owned('co-occurrence', '(.*)');
  let checked = 0;
  const st: CompareStats = { floatsWithinTolerance: 0, maxRelativeError: 0 };
  const rows = new Set<string>();
  for (const [key, v] of state) {
    const m = coKey.exec(key);
    if (!m) continue;
    rows.add(m[1]);
    const want = expected.get(m[1]) ?? new Map<string, number>();
    const h = v.value as Record<string, string>;
    for (const f of new Set([...want.keys(), ...Object.keys(h).filter((x) => Keys.parseCoocField(x).kind !== 'offset')])) {
      checked++;
      const hf = Object.hasOwn(h, f) ? h[f] : undefined;
      const got = Number(hf ?? 0);
      const exp = want.get(f) ?? 0;
      if (!sameNumber(got, exp, st)) miss(`co-occurrence ${m[1]} / ${f}: ${hf ?? 'missing'} in Redis, ${exp} offline`);
    }
  }
  for (const [row, fields] of expected) if (!rows.has(row)) miss(`co-occurrence row ${row} missing in Redis (${fields.size} fields offline)`);

  // Experiments: impressions and clicks per variant, counted once each, against the log (conversions, which
  // depend on the click each purchase follows, are compared with the reference run key by key).
  const expWant = expectedFeedbackCounts(cfg, rights.passing);
  const expGot = (state.get('{g}:experiments')?.value ?? {}) as Record<string, string>;
  let experimentFieldsChecked = 0;
  for (const f of new Set([...expWant.keys(), ...Object.keys(expGot).filter((x) => x.endsWith('|i') || x.endsWith('|c'))])) {
    experimentFieldsChecked++;
    const got = Number(Object.hasOwn(expGot, f) ? expGot[f] : 0);
    const exp = expWant.get(f) ?? 0;
    if (got !== exp) miss(`experiment count ${f}: ${got} in Redis, the log has ${exp}`);
  }

  const ended = checkEndedUsers(state, rights, realOf, miss);
  const endings = { personalized: 0, erased: 0, withdrawn: 0, never: 0 } as Record<Ending, number>;
  for (const e of rights.endings.values()) endings[e]++;
  return {
    events: events.length, users: rights.endings.size, lost, doubled, mismatches, mismatchCount, coocFieldsChecked: checked, experimentFieldsChecked,
    rights: {
      consentEvents: events.filter((e) => e.type === 'consent').length,
      eraseEvents: events.filter((e) => e.type === 'erase').length,
      identifyEvents: events.filter((e) => e.type === 'identify').length,
      merges: { identifies: rights.merges.identifies, erasing: rights.merges.erasing, applied: rights.merges.applied, dropped: rights.merges.dropped },
      dropped: rights.dropped, resets: rights.resets, endings, ...ended,
    },
  };
}

/** `{u:<P>}:<what>` (prefix stripped) → [P, what]; null for other keys. */
const USER_KEY = /^\{u:(.*)\}:([a-z-]+)$/;

/**
 * Users that end without personalization, in the state: an erased user (or one of whom nothing ever passed) has no
 * key and no membership at all; a withdrawn user no counts, recent items, purchases, current list or segment
 * content, no timer, no segment membership and holds no item list. (A withdrawn user may keep bookkeeping: applied
 * offsets, the subject hash with the consent history, offsets in the features and recommender hashes.)
 */
function checkEndedUsers(state: Map<string, Dumped>, rights: RightsOutcome, realOf: Map<string, string>, miss: (m: string) => void): { erasedChecked: number; withdrawnChecked: number } {
  const ending = (p: string): Ending | undefined => {
    const u = realOf.get(p);
    return u === undefined ? undefined : rights.endings.get(u);
  };
  const gone = (e: Ending | undefined) => e === 'erased' || e === 'never';
  let erasedChecked = 0;
  let withdrawnChecked = 0;
  for (const e of rights.endings.values()) {
    if (gone(e)) erasedChecked++;
    else if (e === 'withdrawn') withdrawnChecked++;
  }
  for (const [key, v] of state) {
    const m = USER_KEY.exec(key);
    if (m) {
      const [, p, what] = m;
      const e = ending(p);
      if (gone(e)) {
        miss(`${e} user ${realOf.get(p)}: ${key} still exists (${v.type})`);
      } else if (e === 'withdrawn') {
        if (['counts', 'recent', 'purchased', 'recs', 'segments'].includes(what)) miss(`withdrawn user ${realOf.get(p)}: ${key} still exists (${short(v.value, 120)})`);
        if (what === 'features') {
          const h = v.value as Record<string, string>;
          for (const f of ['s', 'due']) if (Object.hasOwn(h, f)) miss(`withdrawn user ${realOf.get(p)}: ${key} field ${f} still set (${short(h[f], 120)})`);
          if (Object.hasOwn(h, 'seg') && h.seg !== '[]') miss(`withdrawn user ${realOf.get(p)}: ${key} still in segments ${short(h.seg, 120)}`);
          if (Object.hasOwn(h, 'since') && h.since !== '{}') miss(`withdrawn user ${realOf.get(p)}: ${key} still holds segment entries ${short(h.since, 120)}`);
        }
      }
      continue;
    }
    // Memberships: partition indexes (users, timers, member sets) and item holders name users by pseudonym.
    if (v.type !== 'set' && v.type !== 'zset') continue;
    const members = v.type === 'set' ? (v.value as string[]) : Object.keys(v.value as Record<string, string>);
    const holders = /^\{i:.*\}:holders$/.test(key);
    const partitionIndex = /^\{p:[^}]*\}:(users|timers|members:.*)$/.exec(key);
    if (!holders && !partitionIndex) continue;
    for (const p of members) {
      const e = ending(p);
      if (gone(e)) miss(`${e} user ${realOf.get(p)}: still a member of ${key}`);
      else if (e === 'withdrawn' && (holders || partitionIndex![1] !== 'users')) miss(`withdrawn user ${realOf.get(p)}: still a member of ${key}`);
    }
  }
  return { erasedChecked, withdrawnChecked };
}

export interface RecommendationCheck {
  /** Users whose state holds personalization at the end but who have no list record (non-tombstone) at all. */
  missing: string[];
  /** Users whose last record contradicts how they end (a list after their last reset, or a list where a tombstone
   *  must be last), and records under a key that is no input user id (a pseudonym leaked out, say). */
  wrong: string[];
  records: number;
  usersWithRecs: number;
  reEmitted: number;
  tombstones: number;
  /** Lists whose fixed-allocation assignments were checked against the offline assignment of the user. */
  assignmentsChecked: number;
}

/**
 * The recommendations topic against the log: every user who ends personalized has a list record (non-tombstone),
 * and the last record of one who had a reset is a list; every user who ends erased or withdrawn has a tombstone as
 * last record (a consumer that keeps the latest record per key then holds no list of theirs); a user of whom
 * nothing ever passed has no record; every record is keyed by an input user's real id.
 */
export async function usersWithoutRecommendations(kafka: StreamClient, cfg: Config, events: UserEvent[], merges?: ReadonlyMap<string, MergePlace>): Promise<RecommendationCheck> {
  const recs = await readTopicToEnd(kafka, topicNames(cfg).recommendations, 300_000);
  const rights = rightsOf(cfg, events, merges);
  // Assignment is stable on every worker and across kills: a fixed allocation's variant in any list is the offline
  // assignment of the user's pseudonym.
  const fixed = cfg.experiments ? loadExperimentsFile(cfg.experiments).experiments.filter((e) => e.allocation === 'fixed') : [];
  const codec = fixed.length > 0 ? new Codec(cfg.registryUrl, topicNames(cfg)) : null;
  let assignmentsChecked = 0;
  const have = new Set<string>();
  // Records of one key are on one partition, in order: the last one read is the last one written.
  const lastIsList = new Map<string, boolean>();
  // A record whose (user, attune.source) was emitted before: a list re-emitted by the replay of a micro-batch that a
  // kill cut short between its apply and its commit — evidence that kills did land mid-batch.
  const sources = new Set<string>();
  const wrong: string[] = [];
  let reEmitted = 0;
  let tombstones = 0;
  for (const r of recs) {
    const list = r.value !== null && r.value.length > 0;
    if (r.key !== null && list) have.add(r.key);
    if (!list) tombstones++;
    if (r.key !== null) lastIsList.set(r.key, list);
    if (r.key === null || !rights.endings.has(r.key)) {
      if (wrong.length < 1000) wrong.push(`a recommendations record keyed ${JSON.stringify(r.key)}: no input user has that id`);
    }
    if (codec && list && r.key !== null) {
      const l = (await codec.decode(r.value!, 1e6)) as unknown as Recommendations;
      for (const a of l.assignments ?? []) {
        const e = fixed.find((x) => x.id === a.experiment);
        if (!e) continue;
        assignmentsChecked++;
        const want = fixedVariant(e, pseudonymOf(r.key, cfg)).id;
        if (a.variant !== want && wrong.length < 1000) wrong.push(`user ${r.key}: a list assigned to ${e.id}/${a.variant}, the offline assignment is ${want}`);
      }
    }
    const id = `${r.key}\u0000${r.headers['attune.source'] ?? ''}`;
    if (sources.has(id)) reEmitted++;
    else sources.add(id);
  }
  const hadReset = new Set(rights.steps.filter((s) => s.kind === 'reset').map((s) => (s as { userId: string }).userId));
  const missing: string[] = [];
  for (const [u, end] of rights.endings) {
    const last = lastIsList.get(u);
    if (end === 'personalized') {
      if (!have.has(u)) missing.push(u);
      else if (hadReset.has(u) && last !== true) wrong.push(`user ${u} ends personalized after a reset, but the last recommendations record is a tombstone`);
    } else if (end === 'never') {
      if (last !== undefined) wrong.push(`user ${u}: nothing of the user ever passed (no consent), but the recommendations topic has a record`);
    } else if (last !== false) {
      wrong.push(`user ${u} ends ${end}: the last recommendations record must be a tombstone, it is ${last === undefined ? 'absent' : 'a list'}`);
    }
  }
  return { missing, wrong, records: recs.length, usersWithRecs: have.size, reEmitted, tombstones, assignmentsChecked };
}

/** End offset of every partition of a topic (to tell the chaos workers' records from the reference run's). */
async function endOffsets(kafka: StreamClient, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return new Map([...(await admin.endOffsets(topic))].map(([p, o]) => [p, Number(o)]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * The distinct segment changes on the segment-changes topic, in a window of offsets per partition: identity = user,
 * segment, enter/exit, event time, cause and the attune.source header (emittedAt is wall clock, left out). A record
 * whose identity was already seen is a re-emission by a replay, which consumers drop by the source header.
 */
async function segmentChangesOf(kafka: StreamClient, cfg: Config, from: Map<number, number> | null, to: Map<number, number> | null): Promise<{ distinct: Set<string>; records: number; duplicates: number }> {
  const topics = topicNames(cfg);
  const codec = new Codec(cfg.registryUrl, topics);
  const distinct = new Set<string>();
  let records = 0;
  let duplicates = 0;
  for (const r of await readTopicToEnd(kafka, topics.segmentChanges, 300_000)) {
    const o = Number(r.offset);
    if (from && o < (from.get(r.partition) ?? 0)) continue;
    if (to && o >= (to.get(r.partition) ?? Infinity)) continue;
    records++;
    const c = (await codec.decode(r.value, 1e6)) as unknown as SegmentChange;
    const id = JSON.stringify([c.userId, c.segmentId, c.change, Number(c.eventTime), c.cause, r.headers['attune.source'] ?? '']);
    if (distinct.has(id)) duplicates++;
    else distinct.add(id);
  }
  return { distinct, records, duplicates };
}

/**
 * The distinct segment changes (identities of `segmentChangesOf`) against how users end: every change names an input
 * user by real id (never a pseudonym); a user who ends erased or withdrawn has left every segment it entered (as many
 * exits as enters per segment: changes alternate), and one of whom nothing ever passed has no change.
 */
export function checkSegmentChangesOfEndedUsers(distinct: Iterable<string>, rights: RightsOutcome): string[] {
  const wrong: string[] = [];
  const balance = new Map<string, number>();
  for (const id of distinct) {
    const [user, segment, change] = JSON.parse(id) as [string, string, string];
    const end = rights.endings.get(user);
    if (end === undefined) {
      wrong.push(`a segment change of ${JSON.stringify(user)}: no input user has that id (${id})`);
      continue;
    }
    if (end === 'never') wrong.push(`user ${user}: nothing of the user ever passed, but a segment change was emitted (${id})`);
    if (end !== 'erased' && end !== 'withdrawn') continue;
    const k = JSON.stringify([user, segment]);
    balance.set(k, (balance.get(k) ?? 0) + (change === 'enter' ? 1 : -1));
  }
  for (const [k, n] of balance) {
    const [user, segment] = JSON.parse(k) as [string, string];
    if (n !== 0) wrong.push(`user ${user} ends ${rights.endings.get(user)} but is still in segment ${segment} (${n > 0 ? `${n} more enters than exits` : `${-n} more exits than enters`})`);
  }
  return wrong;
}

export interface SegmentChangeCheck {
  chaosRecords: number;
  chaosDistinct: number;
  /** Re-emitted by replays (same identity and source): dropped by consumers, not a double count. */
  chaosDuplicates: number;
  referenceDistinct: number;
  /** In the reference run's output but never emitted by the chaos workers. */
  missing: string[];
  /** Emitted by the chaos workers but not by the reference run (a change that did not happen). */
  extra: string[];
  /** Against the oracle: changes of unknown users, users ending erased/withdrawn still in a segment. */
  rights: string[];
}

// ------------------------------------------------------------------------------------------------ the report

export interface VerifyReport {
  events: number;
  users: number;
  keysCompared: number;
  /** First 20 mismatches: key-by-key against the reference run, then against the input log. */
  mismatches: string[];
  mismatchCount: number;
  lost: number;
  doubled: number;
  usersWithoutRecs: number;
  /** Recommendation records against consent and erasure (see usersWithoutRecommendations). */
  recommendations: RecommendationCheck;
  comparison: ComparisonResult;
  input: InputCheck;
  segmentChanges: SegmentChangeCheck;
  /** The events topic read back and the merge records of identity stitching against the reference run's. */
  merges: MergeRecordCheck;
  recommendationRecords: number;
  /** Recommendation records re-emitted with a source already emitted (replays after kills). */
  reEmittedRecords: number;
  verifySeconds: number;
  referenceSeconds: number;
}

/**
 * The whole verification of a deployment whose workers are stopped: output topic first (the reference run writes to
 * it too), then the reference run, then both comparisons. `events` is the input log as produced (time order).
 */
export async function verifyDeployment(cfg: Config, kafka: StreamClient, redis: RedisClient, events: UserEvent[], opts: { referenceTimeoutMs: number; log?: (s: string) => void }): Promise<VerifyReport> {
  const say = opts.log ?? (() => {});
  const t0 = Date.now();
  const valid = validEvents(events, cfg);
  // The log as the workers read it: the input plus the merge records they produced, and where those landed.
  const topic = await eventsTopicOf(kafka, cfg, events, valid);
  say(`verify: events topic read back: ${topic.records} records (${events.length} of the input, ${topic.records - events.length} merge records `
    + `of ${topic.merges.size} identifies; ${topic.problems.length} problems${topic.problems.length ? `, first: ${topic.problems.slice(0, 3).join('; ')}` : ''})`);
  const out = await usersWithoutRecommendations(kafka, cfg, valid, topic.places);
  say(`verify: ${out.records} recommendation records for ${out.usersWithRecs} users read back (${out.reEmitted} re-emitted by replays, `
    + `${out.tombstones} tombstones; ${out.wrong.length} contradict consent or erasure)`);
  // The reference run writes to the same output topics: what is there now is the chaos workers' output.
  const changesEnd = await endOffsets(kafka, topicNames(cfg).segmentChanges);
  const chaosChanges = await segmentChangesOf(kafka, cfg, null, changesEnd);
  const ref = await buildReference(cfg, kafka, redis, { timeoutMs: opts.referenceTimeoutMs });
  say(`verify: reference run caught up in ${ref.seconds.toFixed(1)} s`);
  const refChanges = await segmentChangesOf(kafka, cfg, changesEnd, null);
  const segmentChanges: SegmentChangeCheck = {
    chaosRecords: chaosChanges.records,
    chaosDistinct: chaosChanges.distinct.size,
    chaosDuplicates: chaosChanges.duplicates,
    referenceDistinct: refChanges.distinct.size,
    missing: [...refChanges.distinct].filter((x) => !chaosChanges.distinct.has(x)),
    extra: [...chaosChanges.distinct].filter((x) => !refChanges.distinct.has(x)),
    rights: checkSegmentChangesOfEndedUsers(chaosChanges.distinct, rightsOf(cfg, valid, topic.places)),
  };
  const merges = await checkMergeRecords(cfg, topic, ref.merges);
  say(`verify: merge records: ${merges.distinct} distinct by the chaos workers (${merges.records} records), ${merges.referenceRecords} by the reference run, `
    + `${merges.profilesEqual} profiles equal; ${merges.problems.length} problems`);
  say(`verify: segment changes: ${segmentChanges.chaosDistinct} distinct emitted (${segmentChanges.chaosDuplicates} re-emitted), `
    + `reference ${segmentChanges.referenceDistinct}; missing ${segmentChanges.missing.length}, extra ${segmentChanges.extra.length}, `
    + `against consent and erasure ${segmentChanges.rights.length}`);
  const t1 = Date.now();
  const [chaosDump, refDump] = await Promise.all([dumpPrefix(redis, cfg.keyPrefix), dumpPrefix(redis, ref.cfg.keyPrefix)]);
  if (chaosDump.size === 0 || refDump.size === 0) throw new Error(`nothing to compare: ${chaosDump.size} chaos keys, ${refDump.size} reference keys`);
  const comparison = compareDumps(chaosDump, refDump);
  const input = await checkAgainstInput(cfg, redis, valid, chaosDump, topic.places);
  const verifySeconds = (Date.now() - t0) / 1000 - ref.seconds;
  say(`verify: ${comparison.keysCompared} keys (${comparison.fieldsCompared} fields/values) compared in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  return {
    events: valid.length,
    users: input.users,
    keysCompared: comparison.keysCompared,
    mismatches: [
      ...comparison.mismatches, ...input.mismatches,
      ...segmentChanges.missing.map((x) => `segment change emitted by the reference run only: ${x}`),
      ...segmentChanges.extra.map((x) => `segment change emitted by the chaos workers only: ${x}`),
      ...segmentChanges.rights,
      ...out.wrong,
      ...merges.problems,
    ].slice(0, 20),
    mismatchCount: comparison.mismatchCount + input.mismatchCount + segmentChanges.missing.length + segmentChanges.extra.length
      + segmentChanges.rights.length + out.wrong.length + merges.problems.length,
    lost: input.lost,
    doubled: input.doubled,
    usersWithoutRecs: out.missing.length,
    recommendations: out,
    comparison,
    input,
    segmentChanges,
    merges,
    recommendationRecords: out.records,
    reEmittedRecords: out.reEmitted,
    verifySeconds,
    referenceSeconds: ref.seconds,
  };
}
