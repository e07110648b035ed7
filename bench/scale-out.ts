/**
 * The scale-out anchor of docs/CAPACITY.md: 1, 2 and 3 `attune worker` processes in one consumer group on the local
 * 3-master Redis Cluster (scripts/services.sh up cluster), over the same events produced once to fresh topics. Each
 * run has its own group and key prefix (fresh state) and is timed from the first worker's start until the group's
 * lag is 0 (the Cluster: ATTUNE_REDIS_CLUSTER_NODES, else the local one); the first-commit time is reported too, since a bigger group spends longer joining.
 *
 *   npx tsx bench/scale-out.ts [--events N] [--workers 1,2,3]
 * On one machine the workers share its cores with Kafka and the Redis masters: the figures say how much of the
 * work is parallel here, not what separate machines would give (docs/CAPACITY.md reads them that way).
 */
process.env.ATTUNE_LOG_LEVEL ??= 'warn';
import { randomBytes } from 'node:crypto';
import { loadConfig, topicNames } from '../src/config/config.js';
import { KafkajsClient } from '../src/kafka/kafkajs-client.js';
import { groupLag } from '../src/kafka/lag.js';
import { createRedis } from '../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../src/stores/maintenance.js';
import { loadRetailDataset } from '../src/data/online-retail.js';
import { fillFreshTopics } from './fresh-topics.js';
import { spawnWorker } from '../test/support/worker-process.js';
import { optionOf } from './args.js';

export interface ScaleOutRun {
  workers: number;
  seconds: number;
  eventsPerSecond: number;
  firstCommitSeconds: number;
  /**
   * The shared model's propagation (#12: every worker applies the others' deltas within 1 s): the changelog records
   * applied by all workers, and the delay from a record's append to its deltas applied, as bucket bounds of
   * attune_model_changelog_delay_seconds summed over the workers (the p50 and p99 lie at or below them).
   */
  changelog: { applied: number; p50: number; p99: number; max: number };
}

/** Cumulative buckets `le → count` of one histogram in a Prometheus text exposition, summed over `texts`. */
export function histogramBuckets(texts: readonly string[], name: string): Array<[number, number]> {
  const sum = new Map<number, number>();
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm');
  for (const t of texts) for (const m of t.matchAll(re)) {
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    sum.set(le, (sum.get(le) ?? 0) + Number(m[2]));
  }
  return [...sum].sort((a, b) => a[0] - b[0]);
}

/** The smallest bucket bound holding the q-quantile of a cumulative histogram (NaN when empty). */
export function bucketQuantile(buckets: ReadonlyArray<[number, number]>, q: number): number {
  const total = buckets.length ? buckets[buckets.length - 1]![1] : 0;
  if (total === 0) return NaN;
  return buckets.find(([, c]) => c >= q * total)![0];
}

/** The workers' ops ports: fixed, so the bench can scrape them before stopping them. */
const HTTP_PORT_BASE = 19_470;

const say = (s: string) => process.stderr.write(`${s}\n`);

/** The local Cluster of scripts/services.sh (`up cluster`), unless ATTUNE_REDIS_CLUSTER_NODES names another. */
export const CLUSTER_NODES = process.env.ATTUNE_REDIS_CLUSTER_NODES ?? '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002';

export async function benchScaleOut(events: number, counts: readonly number[]): Promise<{ runs: ScaleOutRun[]; partitions: number }> {
  // The workers' Redis is the Cluster, set here rather than in the environment, so that the other benches of the
  // same `npm run bench` keep their single Redis.
  const redisClusterNodes = CLUSTER_NODES;
  const id = `scale${randomBytes(3).toString('hex')}`;
  const key = randomBytes(32).toString('base64');
  const base = loadConfig(process.env, { topicPrefix: id, keyPrefix: id, groupId: `${id}-g`, httpPort: 0, pseudonymKey: key });
  const topics = topicNames(base);
  const kafka = new KafkajsClient(base.kafkaBrokers, 'attune-bench-scale-out');
  const admin = kafka.admin();
  await admin.connect();
  const runs: ScaleOutRun[] = [];
  try {
    const data = await loadRetailDataset('data/online-retail.csv.gz');
    await fillFreshTopics(kafka, admin, base, data.catalog, data.events.slice(0, events), 2000);
    const n = Math.min(events, data.events.length);
    say(`  produced ${n} events to ${topics.events} (${base.partitions} partitions)`);
    for (const w of counts) {
      const prefix = `${id}w${w}`;
      const group = `${id}-g${w}`;
      const cfg = loadConfig(process.env, { topicPrefix: id, keyPrefix: prefix, groupId: group, httpPort: 0, pseudonymKey: key, shutdownTimeoutMs: 5000, redisClusterNodes });
      const t0 = performance.now();
      const children = Array.from({ length: w }, (_, i) => spawnWorker(cfg, { ATTUNE_LOG_LEVEL: 'warn', ATTUNE_HTTP_PORT: String(HTTP_PORT_BASE + i) }).child);
      let changelog: ScaleOutRun['changelog'] = { applied: 0, p50: NaN, p99: NaN, max: NaN };
      let firstCommit = NaN;
      try {
        for (;;) {
          if (children.some((c) => c.exitCode !== null)) throw new Error('a worker exited before the lag reached 0');
          const { lag } = await groupLag(admin, group, topics.events);
          if (lag < n && Number.isNaN(firstCommit)) firstCommit = (performance.now() - t0) / 1000;
          if (lag === 0) break;
          if (performance.now() - t0 > 900_000) throw new Error(`timed out with lag ${lag}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      } finally {
        const seconds = (performance.now() - t0) / 1000;
        // The last records reach the other workers' models after the lag is 0: a second for them, then the metrics.
        await new Promise((r) => setTimeout(r, 1_000));
        const texts = await Promise.all(children.map((_, i) => fetch(`http://127.0.0.1:${HTTP_PORT_BASE + i}/metrics`).then((x) => x.text()).catch(() => '')));
        const buckets = histogramBuckets(texts, 'attune_model_changelog_delay_seconds');
        const applied = texts.reduce((n, t) => n + Number(/attune_model_changelog_records_total\{outcome="applied"\} (\S+)/.exec(t)?.[1] ?? 0), 0);
        changelog = { applied, p50: bucketQuantile(buckets, 0.5), p99: bucketQuantile(buckets, 0.99), max: bucketQuantile(buckets, 1) };
        await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : (c.on('exit', r), c.kill('SIGTERM'))))));
        runs.push({ workers: w, seconds, eventsPerSecond: n / seconds, firstCommitSeconds: firstCommit, changelog });
        const redis = createRedis(cfg);
        await deleteKeysWithPrefix(redis, prefix).catch(() => 0);
        await redis.quit().catch(() => {});
      }
      const r = runs[runs.length - 1];
      say(`  ${w} worker(s): ${r.eventsPerSecond.toFixed(0)} events/s (${r.seconds.toFixed(1)} s, first commit ${r.firstCommitSeconds.toFixed(1)} s); `
        + `changelog records applied ${r.changelog.applied}, delay p50 ≤ ${r.changelog.p50} s, p99 ≤ ${r.changelog.p99} s, max ≤ ${r.changelog.max} s`);
    }
  } finally {
    await admin.deleteTopics(Object.values(topics)).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
  return { runs, partitions: base.partitions };
}

export function scaleOutSection(r: { runs: ScaleOutRun[]; partitions: number }, command: string): string[] {
  const one = r.runs.find((x) => x.workers === 1);
  const lines = ['| workers | events/s, start to lag 0 | × one worker | first commit, s | shared model: records applied, delay p50 / p99 / max ≤ s |', '| --- | --- | --- | --- | --- |'];
  const delay = (c: ScaleOutRun['changelog']) => (c.applied ? `${c.applied}: ${c.p50} / ${c.p99} / ${c.max}` : '–');
  for (const x of r.runs) lines.push(`| ${x.workers} | ${x.eventsPerSecond.toFixed(0)} | ${one ? (x.eventsPerSecond / one.eventsPerSecond).toFixed(2) : '–'} | ${x.firstCommitSeconds.toFixed(1)} | ${delay(x.changelog)} |`);
  return [`Workers as child processes in one group on the local 3-master Redis Cluster, ${r.partitions} partitions; \`${command}\`.`, '', ...lines];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const events = Number(optionOf(argv, '--events', '100000'));
  const counts = optionOf(argv, '--workers', '1,2,3').split(',').map(Number);
  const r = await benchScaleOut(events, counts);
  console.log(scaleOutSection(r, `npx tsx bench/scale-out.ts ${argv.join(' ')}`.trim()).join('\n'));
  process.exit(0);
}
