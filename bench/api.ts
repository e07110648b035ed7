/**
 * (d) The lookup API under load (issue #13: ≥ 5,000 requests/s with p99 ≤ 10 ms for the recommendations endpoint,
 * on loopback). Current lists of real customers of the bundled data (their ids, their purchased items as the
 * listed items, ten per list with a reason each, the size of a real list) are written to Redis under a fresh key
 * prefix, the way the worker stores them (by pseudonym, JSON, with a TTL); `attune api`'s app is started in its own
 * process (bench/api.ts --serve: the load generator must not share its event loop) and autocannon asks
 * GET /v1/users/:id/recommendations over `connections` keep-alive connections, cycling through the customers, every
 * other request with the If-None-Match of the user's current list (→ 304), the others without (→ 200 and the
 * list). Median of `runs` runs of `seconds` each, after a warm-up run. Keys are deleted afterwards.
 *
 * Standalone: `npx tsx bench/api.ts [--runs 3] [--seconds 10] [--connections 10] [--users 1000] [--write]` prints
 * the section; with --write it replaces the "(d) Lookup API" section of BENCHMARKS.md (or inserts it before "What
 * limits it"). `npm run bench` runs it too (bench/run.ts, --no-api to skip). Services first: scripts/services.sh up.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import autocannon, { type Result } from 'autocannon';
import { benchPseudonymKey } from './pseudonym-key.js';
import { fmt, fmtInt, machine, median } from './stats.js';
import { loadConfig, topicNames, type Config } from '../src/config/config.js';
import type { Recommendations, UserEvent } from '../src/domain/events.js';
import { createRedis } from '../src/stores/redis-client.js';
import { deleteKeysWithPrefix } from '../src/stores/maintenance.js';
import { Keys } from '../src/stores/keys.js';
import { pseudonymizerFor } from '../src/stages/rights/pseudonym.js';
import { loadSegmentSetup } from '../src/stages/segments/setup.js';
import { buildApiServer } from '../src/api/server.js';
import { sha256Hex } from '../src/api/auth.js';
import { RedisUserReaders } from '../src/api/redis-readers.js';
import { ServiceUnavailable, type ApiReaders } from '../src/api/readers.js';
import { strongEtag } from '../src/api/routes/users.js';
import { withSection } from './benchmarks-doc.js';
import { optionOf } from './args.js';
import { encodeStoredList } from '../src/stores/stored-list.js';

export const API_HEADING = '## (d) Lookup API under load';
const BENCH_KEY = `bench-${randomBytes(16).toString('hex')}`;

export interface ApiRun { cpuMicrosPerRequest: number; requestsPerSecond: number; p50: number; p99: number; max: number; ok: number; notModified: number; other: number; errors: number }
export interface ApiBench { users: number; connections: number; seconds: number; bodyBytes: number; runs: ApiRun[]; warmup: ApiRun | null; loadBefore: number[]; loadAfter: number[] }

function benchConfig(keyPrefix: string): Config {
  return loadConfig(process.env, { keyPrefix, topicPrefix: keyPrefix, ...benchPseudonymKey() });
}

/** Real customers and their purchased items (most recent first), for lists of realistic ids and sizes. */
function customers(events: readonly UserEvent[], n: number): Array<{ userId: string; items: string[] }> {
  const byUser = new Map<string, string[]>();
  for (const e of events) if (e.itemId) (byUser.get(e.userId) ?? byUser.set(e.userId, []).get(e.userId)!).push(e.itemId);
  return [...byUser].slice(0, n).map(([userId, items]) => ({ userId, items: [...new Set(items.reverse())].slice(0, 11) }));
}

function listOf(pseudonym: string, items: string[], t: number): Recommendations {
  const [seed, ...rest] = items;
  return {
    userId: pseudonym, strategy: 'hybrid', sourceEventId: `bench:${t}`, sourceEventTime: t, generatedAt: t, recommendationId: null, assignments: [],
    items: rest.concat(Array.from({ length: Math.max(0, 10 - rest.length) }, (_, i) => `POP${i}`)).slice(0, 10).map((itemId, i) => ({
      itemId, score: 1 - i / 20, reasons: [{ kind: 'bought_together', text: `bought together with WHITE HANGING HEART T-LIGHT HOLDER (${seed})`, relatedItemId: seed ?? null }],
    })),
  };
}

/** CPU time (user + system) a process has used, in µs, from /proc (Linux; NaN elsewhere). */
function cpuMicros(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // Fields 14 and 15 (utime, stime) in clock ticks; 100 ticks per second on Linux.
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return NaN;
  }
}

function toRun(r: Result, cpuUsed: number): ApiRun {
  const s: Record<string, { count: number }> = r.statusCodeStats ?? {};
  const ok = s['200']?.count ?? 0;
  const notModified = s['304']?.count ?? 0;
  const all = Object.values(s).reduce((a, x) => a + x.count, 0);
  return { cpuMicrosPerRequest: cpuUsed / Math.max(1, all), requestsPerSecond: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, ok, notModified, other: all - ok - notModified, errors: r.errors + r.timeouts };
}

/** The server side (`--serve <prefix>`): the API's app on the Redis reader, on a free loopback port. */
async function serve(prefix: string): Promise<void> {
  const cfg = benchConfig(prefix);
  const redis = createRedis(cfg);
  const users = new RedisUserReaders({ redis, keyPrefix: prefix, eventsTopic: topicNames(cfg).events, pseudonymizer: pseudonymizerFor(cfg), segments: loadSegmentSetup(cfg) });
  const away = async (): Promise<never> => { throw new ServiceUnavailable('not part of the bench'); };
  const readers: ApiReaders = {
    recommendations: (u) => users.recommendations(u), segments: (u) => users.segments(u), features: (u) => users.features(u),
    events: (u, n) => users.events(u, n), segmentSizes: () => users.segmentSizes(), similar: away, deadLetters: away, live: away, experiments: away,
  };
  const app = await buildApiServer({ readers, keys: [{ name: 'bench', digest: Buffer.from(sha256Hex(process.env.BENCH_API_KEY!), 'hex'), rateLimitPerMinute: 100_000_000 }], maxIdLength: cfg.maxIdLength });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`LISTENING ${address}\n`);
  // A clean exit on SIGTERM, so that --cpu-prof (NODE_OPTIONS) writes its profile.
  process.once('SIGTERM', () => void app.close().then(() => redis.quit()).then(() => process.exit(0)));
}

export async function benchApi(events: readonly UserEvent[], opts: { runs: number; seconds: number; connections: number; users: number; log: (s: string) => void }): Promise<ApiBench> {
  const prefix = `benchapi${randomBytes(4).toString('hex')}`;
  const cfg = benchConfig(prefix);
  const redis = createRedis(cfg);
  const keys = new Keys(prefix);
  const p = pseudonymizerFor(cfg);
  const people = customers(events, opts.users);
  const etags = new Map<string, string>();
  let bodyBytes = 0;
  // The tag the API computes, of the body it sends: read through the API's own reader, so that a field added to
  // the answer cannot leave the bench with tags that never match (it did: no 304 at all for a while).
  const reader = new RedisUserReaders({ redis, keyPrefix: prefix, eventsTopic: topicNames(cfg).events, pseudonymizer: p, segments: loadSegmentSetup(cfg) });
  for (const c of people) {
    const list = listOf(p.pseudonym(c.userId), c.items, Date.UTC(2011, 11, 9));
    await redis.set(keys.userRecommendations(p.pseudonym(c.userId)), encodeStoredList(list), 'EX', 3600);
    const body = JSON.stringify(await reader.recommendations(c.userId));
    bodyBytes += body.length;
    etags.set(c.userId, strongEtag(body));
  }
  // BENCH_API_PROFILE=<dir>: the API process writes a CPU profile there (where its time goes).
  const profile = process.env.BENCH_API_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_API_PROFILE] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'bench/api.ts', '--serve', prefix], {
    env: { ...process.env, ...(cfg.pseudonymKey && !process.env.ATTUNE_PSEUDONYM_KEY ? { ATTUNE_PSEUDONYM_KEY: cfg.pseudonymKey } : {}), BENCH_API_KEY: BENCH_KEY, ATTUNE_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => { out += d; const m = /LISTENING (\S+)/.exec(out); if (m) resolve(m[1]!); });
      child.on('exit', (code) => reject(new Error(`the API process exited with ${code} before listening`)));
    });
    const requests = people.flatMap((c, i) => {
      const path = `/v1/users/${encodeURIComponent(c.userId)}/recommendations`;
      return [i % 2 === 0 ? { path, headers: { 'if-none-match': etags.get(c.userId)! } } : { path }];
    });
    const fire = async (seconds: number) => {
      const cpu0 = cpuMicros(child.pid!);
      const r = await autocannon({ url, connections: opts.connections, duration: seconds, requests, headers: { authorization: `Bearer ${BENCH_KEY}` } });
      return toRun(r, cpuMicros(child.pid!) - cpu0);
    };
    opts.log(`  warm-up, ${Math.min(5, opts.seconds)} s`);
    const loadBefore = machine().loadAvg;
    const warmup = await fire(Math.min(5, opts.seconds));
    if (warmup.notModified === 0) throw new Error(`no If-None-Match was answered 304 in the warm-up (${warmup.ok} answers 200): the bench's tags are not the API's`);
    const runs: ApiRun[] = [];
    for (let r = 0; r < opts.runs; r++) {
      const x = await fire(opts.seconds);
      runs.push(x);
      opts.log(`  run ${r + 1}: ${fmtInt(x.requestsPerSecond)} req/s, p50 ${x.p50} ms, p99 ${x.p99} ms, API CPU ${fmt(x.cpuMicrosPerRequest, 0)} µs/request (200: ${x.ok}, 304: ${x.notModified}, other: ${x.other}, errors: ${x.errors})`);
    }
    return { users: people.length, connections: opts.connections, seconds: opts.seconds, bodyBytes: bodyBytes / people.length, runs, warmup, loadBefore, loadAfter: machine().loadAvg };
  } finally {
    child.kill('SIGTERM');
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
}

export function apiSection(b: ApiBench, command: string): string[] {
  const lines = [API_HEADING, ''];
  lines.push(`\`${command}\`: the current lists of ${fmtInt(b.users)} real customers of the bundled data (10 items with a reason each, ${fmtInt(b.bodyBytes)} bytes of JSON on average) in Redis as the worker stores them; the API's app (\`buildApiServer\` on the Redis reader, API key check and per-key rate limit included) in its own process on 127.0.0.1; autocannon in the bench process, ${b.connections} keep-alive connections, GET /v1/users/:id/recommendations cycling through the customers, every other request with the list's If-None-Match (304) and the others without (200 with the list). ${b.runs.length} runs of ${b.seconds} s after a warm-up; medians. Aim (#13): ≥ 5,000 requests/s with p99 ≤ 10 ms.`, '');
  const m = machine();
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  lines.push(`Machine: ${m.cpus} CPUs, ${m.cpuModel}, Node ${m.node}; Redis on the same machine. Load average (1/5/15 min) ${load(b.loadBefore)} before the runs, ${load(b.loadAfter)} after: API process, load generator and Redis share these CPUs with whatever else runs.`, '');
  lines.push('| figure | median | all runs |', '|---|---|---|');
  const all = (f: (r: ApiRun) => number, d = 0) => b.runs.map((r) => (d ? fmt(f(r), d) : fmtInt(f(r)))).join(', ');
  lines.push(`| requests/s | **${fmtInt(median(b.runs.map((r) => r.requestsPerSecond)))}** | ${all((r) => r.requestsPerSecond)} |`);
  lines.push(`| latency p50, ms | ${fmt(median(b.runs.map((r) => r.p50)), 1)} | ${all((r) => r.p50, 1)} |`);
  lines.push(`| latency p99, ms | **${fmt(median(b.runs.map((r) => r.p99)), 1)}** | ${all((r) => r.p99, 1)} |`);
  lines.push(`| API process CPU (user + system) per request, µs | ${fmt(median(b.runs.map((r) => r.cpuMicrosPerRequest)), 0)} | ${all((r) => r.cpuMicrosPerRequest)} |`);
  lines.push(`| requests/s one free core could serve (10⁶ / CPU µs per request) | ${fmtInt(1e6 / median(b.runs.map((r) => r.cpuMicrosPerRequest)))} | |`);
  lines.push(`| latency max, ms | ${fmt(median(b.runs.map((r) => r.max)), 1)} | ${all((r) => r.max, 1)} |`);
  lines.push(`| answers 200 / 304 / other, errors (all runs) | ${b.runs.reduce((a, r) => a + r.ok, 0)} / ${b.runs.reduce((a, r) => a + r.notModified, 0)} / ${b.runs.reduce((a, r) => a + r.other, 0)}, ${b.runs.reduce((a, r) => a + r.errors, 0)} | |`);
  const rps = median(b.runs.map((r) => r.requestsPerSecond));
  const p99 = median(b.runs.map((r) => r.p99));
  const met = rps >= 5000 && p99 <= 10;
  lines.push('', `Aim ${met ? 'met' : 'not met'} in this run (${fmtInt(rps)} requests/s, p99 ${fmt(p99, 1)} ms).${b.loadBefore[0]! > m.cpus ? ` The load average (${b.loadBefore[0]!.toFixed(1)}) was above the CPU count (${m.cpus}) when the runs began: the API process waited for a CPU behind other work, which shows in the p99 and the spread between runs; rerun on a quiet machine for the API's own figures.` : ''}`);
  lines.push('');
  return lines;
}

/** Replaces this bench's section of a BENCHMARKS.md text (benchmarks-doc.ts). */
export function withApiSection(doc: string, section: string[]): string {
  return withSection(doc, API_HEADING, section);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.env.ATTUNE_LOG_LEVEL ??= 'warn';
  const argv = process.argv.slice(2);
  const opt = (name: string, def: string) => optionOf(argv, name, def);
  if (argv[0] === '--serve') {
    await serve(argv[1]!);
  } else {
    const log = (s: string) => process.stderr.write(`${s}\n`);
    const { loadRetailPurchaseEvents } = await import('../src/data/online-retail.js');
    log('loading data/online-retail.csv.gz ...');
    const events = await loadRetailPurchaseEvents('data/online-retail.csv.gz');
    const result = await benchApi(events, {
      runs: Number(opt('--runs', '3')), seconds: Number(opt('--seconds', '10')), connections: Number(opt('--connections', '10')), users: Number(opt('--users', '1000')), log,
    });
    const section = apiSection(result, `npx tsx bench/api.ts${argv.length ? ' ' + argv.join(' ') : ''}`);
    console.log(section.join('\n'));
    if (argv.includes('--write')) {
      const file = opt('--out', 'BENCHMARKS.md');
      writeFileSync(file, withApiSection(existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n', section));
      log(`wrote the API section of ${file}`);
    }
    process.exit(0);
  }
}
