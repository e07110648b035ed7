/**
 * The memory bench of #12: how much memory Attune needs as users, items and events grow, on generated data of a
 * realistic shape (bench/synthetic-events.ts: power-law items and users, sessions; seeded).
 *
 *   (m) the model, in process, at the issue's full size (1M users × 100k items × 20M events by default): the
 *       recommender learns every event as the worker does and reports, as it goes, its co-occurrence pairs, heap
 *       and RSS; at the end the per-user states are dropped (the worker keeps only the users of the micro-batches
 *       in flight: stages/recommend/processor.ts `hold`/`release`) and what stays is the model a worker holds —
 *       the same for every worker, whatever its partitions (each worker's model covers every item);
 *   (w) the worker end to end at a smaller size (40k users × 10k items × 400k events by default, a few minutes
 *       here): `attune worker` as a child process over the generated events, its peak RSS (VmHWM), then every
 *       Redis key of its prefix measured with MEMORY USAGE and summed by kind (the key with its id taken out of the
 *       hash tag: `{u}:features`, `{i}:co`, …) — bytes per user with state, per item, and the largest keys.
 *
 *   node --import tsx bench/memory.ts [--part model|worker|both] [--users N] [--items N] [--events N]
 *     [--worker-users N] [--worker-items N] [--worker-events N] [--seed N] [--max-pairs N]
 *   (--max-pairs: the model's limits.maxPairs, default the recommender's)
 * Needs the services (scripts/services.sh up kafka registry redis) for (w). Prints a Markdown section.
 */
process.env.ATTUNE_LOG_LEVEL ??= 'warn';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { loadConfig, topicNames } from '../src/config/config.js';
import { KafkajsClient } from '../src/kafka/kafkajs-client.js';
import { groupLag } from '../src/kafka/lag.js';
import { deleteKeysWithPrefix } from '../src/stores/maintenance.js';
import { Recommender } from '../src/stages/recommend/model/recommender.js';
import { fillFreshTopics } from './fresh-topics.js';
import { spawnWorker } from '../test/support/worker-process.js';
import { optionOf } from './args.js';
import { syntheticCatalog, syntheticEvents, type SyntheticShape } from './synthetic-events.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => Number(optionOf(argv, name, def));
const part = optionOf(argv, '--part', 'both');
const seed = opt('--seed', '1');
const MB = 1024 * 1024;
const say = (s: string) => process.stderr.write(`${s}\n`);
const mb = (b: number) => `${(b / MB).toFixed(0)} MB`;

export interface ModelMemory {
  shape: SyntheticShape;
  usersSeen: number;
  pairs: number;
  /** limits.maxPairs, and the prunes it took (cooc-state.ts) with the pairs they dropped. */
  maxPairs: number;
  prunes: number;
  prunedPairs: number;
  seconds: number;
  /** With every user's state still in memory (what an in-process eval holds). */
  withUsers: { heap: number; rss: number; external: number };
  /** After the users' states are dropped: what a worker holds. */
  modelOnly: { heap: number; rss: number; external: number };
}

/** A full collection before each reading; `--expose-gc` is switched on at run time when node was not given it. */
function gc(): void {
  let f = (globalThis as { gc?: () => void }).gc;
  if (!f) {
    v8.setFlagsFromString('--expose-gc');
    f = runInNewContext('gc') as () => void;
  }
  f();
}

function usage() {
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss, external: m.arrayBuffers };
}

/**
 * Full collections a second apart until RSS stops falling: right after a collection V8 still holds the pages it freed
 * (the users' states, ~0.9 GB at the full size), and its memory reducer gives them back over the next seconds.
 */
async function settle(): Promise<void> {
  let last = Infinity;
  for (let k = 0; k < 10; k++) {
    gc();
    const rss = process.memoryUsage().rss;
    if (rss > last * 0.98) return;
    last = rss;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function modelMemory(shape: SyntheticShape, maxPairs?: number): Promise<ModelMemory> {
  const rec = new Recommender(maxPairs === undefined ? {} : { limits: { maxPairs } });
  for (const c of syntheticCatalog(shape)) rec.upsertItem(c);
  const t0 = performance.now();
  let n = 0;
  const step = Math.max(1, Math.floor(shape.events / 10));
  for (const e of syntheticEvents(shape)) {
    rec.learn(e);
    if (++n % step === 0) {
      const u = usage();
      say(`  (m) ${n.toLocaleString('en')} events, ${rec.collaborative.state.pairCount.toLocaleString('en')} pairs, ${rec.users.size.toLocaleString('en')} users, heap ${mb(u.heap)}, RSS ${mb(u.rss)}, ${(n / ((performance.now() - t0) / 1000)).toFixed(0)} events/s`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  gc();
  const withUsers = usage();
  const usersSeen = rec.users.size;
  rec.users.clear();
  await settle();
  const modelOnly = usage();
  const st = rec.collaborative.state;
  return { shape, usersSeen, pairs: st.pairCount, maxPairs: st.maxPairs, prunes: st.prunes, prunedPairs: st.prunedPairs, seconds, withUsers, modelOnly };
}

export interface KeyKind {
  kind: string;
  keys: number;
  bytes: number;
}

export interface WorkerMemory {
  shape: SyntheticShape;
  seconds: number;
  peakRss: number;
  redisUsedDelta: number;
  kinds: KeyKind[];
  usersWithState: number;
  itemsWithRows: number;
  largest: Array<{ kind: string; bytes: number }>;
}

/** `a:{u:Xyz}:features` → `{u}:features` (the id is personal data, and the kind is what sums). */
function kindOf(key: string, prefix: string): string {
  return key.slice(prefix.length + 1).replace(/\{([a-z]):[^}]*\}/, '{$1}');
}

function procStatus(pid: number): { rss: number; hwm: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: 0, hwm: 0 };
  }
}

async function usedMemory(r: Redis): Promise<number> {
  const info = await r.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

export async function workerMemory(shape: SyntheticShape): Promise<WorkerMemory> {
  // MEMORY USAGE over one SCAN measures one Redis: a worker on a Cluster would write where this does not look.
  if (process.env.ATTUNE_REDIS_CLUSTER_NODES) throw new Error('the memory bench measures the single Redis of ATTUNE_REDIS_URL: unset ATTUNE_REDIS_CLUSTER_NODES');
  const id = `mem${randomBytes(3).toString('hex')}`;
  const key = randomBytes(32).toString('base64');
  const cfg = loadConfig(process.env, { topicPrefix: id, keyPrefix: id, groupId: `${id}-g`, httpPort: 0, pseudonymKey: key });
  const topics = topicNames(cfg);
  const kafka = new KafkajsClient(cfg.kafkaBrokers, 'attune-bench-memory');
  const admin = kafka.admin();
  await admin.connect();
  const redis = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 2 });
  try {
    const events = [...syntheticEvents(shape)];
    await fillFreshTopics(kafka, admin, cfg, syntheticCatalog(shape), events, 2000);
    say(`  (w) produced ${events.length.toLocaleString('en')} events and ${shape.items.toLocaleString('en')} items`);
    const before = await usedMemory(redis);
    const t0 = performance.now();
    const { child, output } = spawnWorker(cfg, { ATTUNE_LOG_LEVEL: 'warn' });
    let exited = false;
    child.on('exit', () => (exited = true));
    let peak = 0;
    let lastSay = 0;
    try {
      for (;;) {
        if (exited) throw new Error(`the worker exited before the lag reached 0: ${output().slice(-2000)}`);
        peak = Math.max(peak, procStatus(child.pid!).rss);
        const { lag } = await groupLag(admin, cfg.groupId, topics.events);
        if (lag === 0) break;
        if (performance.now() - lastSay > 15_000) {
          lastSay = performance.now();
          say(`  (w) lag ${lag.toLocaleString('en')}, worker RSS ${mb(procStatus(child.pid!).rss)}`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      peak = Math.max(peak, procStatus(child.pid!).hwm);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (exited ? r(null) : child.on('exit', r)));
    }
    const seconds = (performance.now() - t0) / 1000;
    const after = await usedMemory(redis);
    const kinds = new Map<string, KeyKind>();
    const largest: Array<{ kind: string; bytes: number }> = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${id}:*`, 'COUNT', 2000);
      cursor = next;
      const p = redis.pipeline();
      for (const k of keys) p.memory('USAGE', k, 'SAMPLES', '0');
      const sizes = ((await p.exec()) ?? []).map(([, v]) => Number(v ?? 0));
      keys.forEach((k, i) => {
        const kind = kindOf(k, id);
        const e = kinds.get(kind) ?? { kind, keys: 0, bytes: 0 };
        e.keys++;
        e.bytes += sizes[i];
        kinds.set(kind, e);
        largest.push({ kind, bytes: sizes[i] });
        if (largest.length > 64) largest.sort((a, b) => b.bytes - a.bytes).splice(10);
      });
    } while (cursor !== '0');
    largest.sort((a, b) => b.bytes - a.bytes).splice(10);
    return {
      shape, seconds, peakRss: peak, redisUsedDelta: after - before,
      kinds: [...kinds.values()].sort((a, b) => b.bytes - a.bytes),
      usersWithState: kinds.get('{u}:applied')?.keys ?? 0,
      itemsWithRows: kinds.get('{i}:co')?.keys ?? 0,
      largest,
    };
  } finally {
    await deleteKeysWithPrefix(redis, id).catch(() => 0);
    await admin.deleteTopics(Object.values(topics)).catch(() => {});
    await admin.disconnect().catch(() => {});
    await redis.quit().catch(() => {});
  }
}

export function memorySection(m: ModelMemory | null, w: WorkerMemory | null): string {
  const lines: string[] = [];
  const int = (x: number) => Math.round(x).toLocaleString('en');
  const shape = (s: SyntheticShape) => `${int(s.users)} users × ${int(s.items)} items × ${int(s.events)} events (seed ${s.seed ?? 1})`;
  if (m) {
    lines.push(`**(m) The model in process**, ${shape(m.shape)}: ${int(m.usersSeen)} users had events, ${int(m.pairs)} co-occurrence pairs held (bound ${int(m.maxPairs)}: ${int(m.prunes)} prunes dropped ${int(m.prunedPairs)} pairs), learned in ${m.seconds.toFixed(0)} s.`);
    lines.push('', '| | heap | typed arrays | RSS |', '| --- | --- | --- | --- |');
    lines.push(`| with every user's state (in-process eval) | ${mb(m.withUsers.heap)} | ${mb(m.withUsers.external)} | ${mb(m.withUsers.rss)} |`);
    lines.push(`| the model only (what a worker holds) | ${mb(m.modelOnly.heap)} | ${mb(m.modelOnly.external)} | ${mb(m.modelOnly.rss)} |`);
    lines.push('', `Bytes per pair (typed arrays / pairs): ${(m.modelOnly.external / Math.max(1, m.pairs)).toFixed(1)}; per item (heap / items): ${int(m.modelOnly.heap / m.shape.items)}; per user state (heap difference / users): ${int((m.withUsers.heap - m.modelOnly.heap) / Math.max(1, m.usersSeen))}.`);
  }
  if (w) {
    const userBytes = w.kinds.filter((k) => k.kind.startsWith('{u}')).reduce((a, k) => a + k.bytes, 0);
    const itemBytes = w.kinds.filter((k) => k.kind.startsWith('{i}')).reduce((a, k) => a + k.bytes, 0);
    const total = w.kinds.reduce((a, k) => a + k.bytes, 0);
    lines.push('', `**(w) The worker end to end**, ${shape(w.shape)}, in ${w.seconds.toFixed(0)} s: peak RSS of \`attune worker\` ${mb(w.peakRss)}; Redis used_memory +${mb(w.redisUsedDelta)}; keys ${mb(total)} by MEMORY USAGE.`);
    lines.push(`${int(w.usersWithState)} users with state: **${int(userBytes / Math.max(1, w.usersWithState))} bytes per user** (all \`{u}\` keys) → ${(userBytes / Math.max(1, w.usersWithState) * 1e6 / 1024 ** 3).toFixed(2)} GiB per 1M users; ${int(w.itemsWithRows)} items with rows: ${int(itemBytes / Math.max(1, w.itemsWithRows))} bytes per item (all \`{i}\` keys).`);
    lines.push('', '| key kind | keys | bytes | bytes per key |', '| --- | --- | --- | --- |');
    for (const k of w.kinds.slice(0, 16)) lines.push(`| \`${k.kind}\` | ${int(k.keys)} | ${int(k.bytes)} | ${int(k.bytes / k.keys)} |`);
    lines.push('', `Largest keys: ${w.largest.map((l) => `\`${l.kind}\` ${int(l.bytes)}`).join(', ')}.`);
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const model: SyntheticShape = { users: opt('--users', '1000000'), items: opt('--items', '100000'), events: opt('--events', '20000000'), seed };
  const worker: SyntheticShape = { users: opt('--worker-users', '40000'), items: opt('--worker-items', '10000'), events: opt('--worker-events', '400000'), seed };
  const maxPairs = optionOf(argv, '--max-pairs', '');
  const m = part === 'worker' ? null : await modelMemory(model, maxPairs === '' ? undefined : Number(maxPairs));
  const w = part === 'model' ? null : await workerMemory(worker);
  console.log(memorySection(m, w));
  process.exit(0);
}
