/**
 * `npm run bench` — the recommender benchmark of the recommender issue; writes BENCHMARKS.md.
 *   (a) in process: events/s on the full prequential replay, learn only and test + learn (median of --runs);
 *   (b) the worker with Redis state, end to end: events/s until the group's lag is 0 and Redis commands per event
 *       (median of --worker-runs, at most 3 full replays);
 *   (c) erasure latency under a paced load (bench/erasure.ts): erase produced → tombstone, → last key gone, at
 *       1,000, 2,500 and 5,000 events/s on one worker process, 5 erasures/s, ≤ 60 s of load per rate.
 *   (d) the lookup API (bench/api.ts): requests/s and p50/p99 latency of GET /v1/users/:id/recommendations on
 *       loopback, with and without If-None-Match (median of 3 runs of 10 s; --quick: 1 run of 5 s).
 *   (e) memory (bench/memory.ts) on generated data: the model in process at 1M users × 100k items × 20M events,
 *       and the worker end to end at 40k users × 10k items × 400k events — RSS, Redis bytes per user and per item,
 *       the largest keys (--quick: a tenth of each);
 *   (f) scale-out (bench/scale-out.ts): 1, 2 and 3 worker processes on the local Redis Cluster
 *       (scripts/services.sh up cluster) over 100,000 events.
 * Options: --events N (worker replay length; default all 386,354), --runs N (in-process runs, default 3),
 * --worker-runs N (default 3), --quick (1 in-process run, 1 worker run of 50,000 events, 20 s of erasure load
 * per rate), --no-worker, --no-inprocess, --no-erasure, --no-api, --no-memory, --no-scale-out, --erasure-rates A,B,C, --erasure-seconds S (≤ 60),
 * --out FILE (default BENCHMARKS.md), --timeout S (per worker run, default 600).
 */
process.env.ATTUNE_LOG_LEVEL ??= 'warn';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { withSections } from './benchmarks-doc.js';
import { loadRetailDataset } from '../src/data/online-retail.js';
import { inProcessRun, type InProcessRun } from './inprocess.js';
import { fmt, fmtInt, machine, median } from './stats.js';
import { HISTORY, LIMITS } from './limits.js';
import type { WorkerBench } from './worker.js';
import { optionOf } from './args.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const opt = (name: string, def: string) => optionOf(argv, name, def);
const quick = flag('--quick');
const runs = Math.max(1, Number(opt('--runs', quick ? '1' : '3')));
const workerRuns = Math.min(3, Math.max(1, Number(opt('--worker-runs', quick ? '1' : '3'))));
const out = opt('--out', 'BENCHMARKS.md');
const timeoutMs = Number(opt('--timeout', '600')) * 1000;
const log = (s: string) => process.stderr.write(`${s}\n`);

const m0 = machine();
const started = new Date();
log('loading data/online-retail.csv.gz ...');
const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
const workerEvents = Math.min(events.length, Number(opt('--events', quick ? '50000' : String(events.length))));

const inproc: InProcessRun[] = [];
if (!flag('--no-inprocess')) {
  log(`(a) in process, full replay of ${events.length} events, ${runs} run(s)`);
  for (let r = 0; r < runs; r++) {
    const x = inProcessRun(events, catalog);
    inproc.push(x);
    log(`  run ${r + 1}: learn only ${fmtInt(x.learnOnlyEventsPerSecond)} events/s, test+learn ${fmtInt(x.testLearnEventsPerSecond)} events/s, HR@10 ${x.hr10.toFixed(4)}`);
  }
}

let wb: WorkerBench | null = null;
if (!flag('--no-worker')) {
  log(`(b) worker with Redis state, ${workerEvents} events, ${workerRuns} run(s)`);
  const { benchWorker } = await import('./worker.js');
  try {
    wb = await benchWorker(events.slice(0, workerEvents), catalog, { runs: workerRuns, timeoutMs, log });
  } catch (err) {
    log(`  worker bench failed: ${(err as Error).stack ?? err}`);
    wb = { prefix: '-', partitions: NaN, microBatch: NaN, produceSeconds: NaN, runs: [], raw: null, errors: [String((err as Error).message ?? err)] };
  }
}

let erasureLines: string[] = [];
if (!flag('--no-erasure')) {
  const rates = opt('--erasure-rates', '1000,2500,5000').split(',').map(Number).filter((x) => x > 0);
  const seconds = Math.min(60, Number(opt('--erasure-seconds', quick ? '20' : '60')));
  log(`(c) erasure latency at ${rates.join(', ')} events/s, ${seconds} s of load each`);
  const { benchErasure, erasureSection } = await import('./erasure.js');
  try {
    const eb = await benchErasure(events, catalog, { rates, seconds, erasuresPerSecond: 5, drainMs: 60_000, log });
    erasureLines = erasureSection(eb, `npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}`);
  } catch (err) {
    log(`  erasure bench failed: ${(err as Error).stack ?? err}`);
    erasureLines = ['## (c) Freshness and erasure latency under load', '', `Failed: ${(err as Error).message ?? err}`, ''];
  }
}

let apiLines: string[] = [];
if (!flag('--no-api')) {
  log('(d) lookup API, GET /v1/users/:id/recommendations on loopback');
  const { benchApi, apiSection } = await import('./api.js');
  try {
    const ab = await benchApi(events, { runs: quick ? 1 : 3, seconds: quick ? 5 : 10, connections: 10, users: 1000, log });
    apiLines = apiSection(ab, `npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}`);
  } catch (err) {
    log(`  API bench failed: ${(err as Error).stack ?? err}`);
    apiLines = ['## (d) Lookup API under load', '', `Failed: ${(err as Error).message ?? err}`, ''];
  }
}

let memoryLines: string[] = [];
if (!flag('--no-memory')) {
  const { modelMemory, workerMemory, memorySection } = await import('./memory.js');
  const f = quick ? 10 : 1;
  const model = { users: 1_000_000 / f, items: 100_000 / f, events: 20_000_000 / f, seed: 1 };
  const worker = { users: 40_000 / f, items: 10_000 / f, events: 400_000 / f, seed: 1 };
  log(`(e) memory: the model at ${model.users} users × ${model.items} items × ${model.events} events, the worker at ${worker.events} events`);
  memoryLines = ['## (e) Memory on generated data', '', `\`bench/memory.ts\` (generator: bench/synthetic-events.ts, seeded), in \`npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}\`; standalone: \`node --import tsx bench/memory.ts\`. The model part runs in the bench's own process, after (a)–(d): its RSS includes what they left (the heap figures are taken after a full collection).`, ''];
  try {
    const m = await modelMemory(model);
    const w = await workerMemory(worker);
    memoryLines.push(memorySection(m, w), '');
  } catch (err) {
    log(`  memory bench failed: ${(err as Error).stack ?? err}`);
    memoryLines.push(`Failed: ${(err as Error).message ?? err}`, '');
  }
}

let scaleLines: string[] = [];
if (!flag('--no-scale-out')) {
  log('(f) scale-out: 1, 2 and 3 workers on the Redis Cluster');
  const { benchScaleOut, scaleOutSection } = await import('./scale-out.js');
  scaleLines = ['## (f) Scale-out on the local Redis Cluster', ''];
  try {
    scaleLines.push(...scaleOutSection(await benchScaleOut(quick ? 30_000 : 100_000, [1, 2, 3]), `npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}`), '');
  } catch (err) {
    log(`  scale-out bench failed: ${(err as Error).stack ?? err}`);
    scaleLines.push(`Failed: ${(err as Error).message ?? err}`, '');
  }
}

function redisVersion(): string {
  try {
    const s = execFileSync('redis-cli', ['-u', process.env.ATTUNE_REDIS_URL ?? 'redis://127.0.0.1:6379', 'INFO', 'server'], { encoding: 'utf8', timeout: 5000 });
    return /redis_version:(\S+)/.exec(s)?.[1] ?? 'unknown';
  } catch {
    return 'unknown (redis-cli not available)';
  }
}

const med = (f: (x: InProcessRun) => number) => median(inproc.map(f));
const all = (xs: number[], d = 0) => xs.map((x) => (d ? fmt(x, d) : fmtInt(x))).join(', ');
const lines: string[] = [];
lines.push('## Machine', '');
lines.push(`Last written by \`npm run bench\` (bench/run.ts) on ${started.toISOString()}, command \`npm run bench${argv.length ? ' -- ' + argv.join(' ') : ''}\`; a section this run did not produce keeps its earlier figures (each names its own command).`, '');
lines.push(`- ${m0.cpus} CPUs (\`nproc\`), ${m0.cpuModel}; ${m0.memoryGiB.toFixed(1)} GiB memory; ${m0.platform}`);
lines.push(`- Node ${m0.node}; Redis ${redisVersion()}; Kafka and Redis on the same machine (scripts/services.sh)`);
lines.push(`- load average at start ${m0.loadAvg.map((x) => x.toFixed(2)).join(' / ')} (1/5/15 min), at end ${machine().loadAvg.map((x) => x.toFixed(2)).join(' / ')} — the machine may be shared, so figures are medians and ratios are taken within one run`, '');
if (inproc.length) {
  lines.push('## (a) In process, full prequential replay', '');
  lines.push(`UCI Online Retail, ${fmtInt(events.length)} purchase events, ${fmtInt(inproc[0].tested)} tested (top 20 asked before each event of a returning customer), default configuration; data loading excluded; a fresh recommender per run. ${inproc.length} run(s).`, '');
  lines.push('| figure | median | all runs |', '|---|---|---|');
  lines.push(`| learn only, events/s | **${fmtInt(med((x) => x.learnOnlyEventsPerSecond))}** | ${all(inproc.map((x) => x.learnOnlyEventsPerSecond))} |`);
  lines.push(`| test + learn (the eval protocol), events/s | **${fmtInt(med((x) => x.testLearnEventsPerSecond))}** | ${all(inproc.map((x) => x.testLearnEventsPerSecond))} |`);
  lines.push(`| learn, µs/event | ${fmt(med((x) => x.learnMicrosPerEvent))} | ${all(inproc.map((x) => x.learnMicrosPerEvent), 2)} |`);
  lines.push(`| ask (top 20), µs/request | ${fmt(med((x) => x.scoreMicrosPerRequest))} | ${all(inproc.map((x) => x.scoreMicrosPerRequest), 2)} |`);
  lines.push(`| test+learn / learn-only throughput (same run) | ${fmt(med((x) => x.testLearnEventsPerSecond / x.learnOnlyEventsPerSecond), 3)} | ${all(inproc.map((x) => x.testLearnEventsPerSecond / x.learnOnlyEventsPerSecond), 3)} |`);
  const x = inproc[0];
  lines.push('', `Metrics of the replay (identical in every run): HR@10 ${x.hr10.toFixed(4)}, NDCG@10 ${x.ndcg10.toFixed(4)}, Recall@20 ${x.recall20.toFixed(4)}, MAP@10 ${x.map10.toFixed(4)}, coverage ${x.coverage.toFixed(4)}.`, '');
}
if (wb) {
  lines.push('## (b) Worker with Redis state, end to end', '');
  const rs = wb.runs;
  lines.push(`${fmtInt(workerEvents)} events (+ ${fmtInt(catalog.length)} catalog items) produced once to fresh topics (prefix \`${wb.prefix}\`, ${wb.partitions} partitions, produced in ${fmt(wb.produceSeconds, 1)} s); each run starts one worker in process (\`startWorker\`, default settings: micro-batch ${wb.microBatch}) with its own consumer group and Redis key prefix, timed from start until the group's lag is 0. Topics and keys are deleted afterwards.`, '');
  if (rs.length) {
    lines.push('| figure | median | all runs |', '|---|---|---|');
    lines.push(`| events/s, start to lag 0 | **${fmtInt(median(rs.map((r) => r.eventsPerSecond)))}** | ${all(rs.map((r) => r.eventsPerSecond))} |`);
    lines.push(`| events/s after the first commit | ${fmtInt(median(rs.map((r) => r.steadyEventsPerSecond)))} | ${all(rs.map((r) => r.steadyEventsPerSecond))} |`);
    lines.push(`| start-up until the first commit, s | ${fmt(median(rs.map((r) => r.startupSeconds)), 1)} | ${all(rs.map((r) => r.startupSeconds), 1)} |`);
    lines.push(`| Redis commands per event, sent by the worker | **${fmt(median(rs.map((r) => r.commandsPerEvent)), 3)}** | ${all(rs.map((r) => r.commandsPerEvent), 3)} |`);
    lines.push(`| Redis commands per event, server-side delta (upper bound on a shared Redis) | ${fmt(median(rs.map((r) => r.serverCommandsPerEvent)), 3)} | ${all(rs.map((r) => r.serverCommandsPerEvent), 3)} |`);
    lines.push(`| Redis CPU per event, µs (INFO cpu) | ${fmtInt(median(rs.map((r) => r.redisCpuMicrosPerEvent)))} | ${all(rs.map((r) => r.redisCpuMicrosPerEvent))} |`);
    lines.push(`| Redis commands over 5 ms (SLOWLOG), longest ms | ${fmtInt(median(rs.map((r) => r.slowCommands)))}, ${fmt(median(rs.map((r) => r.slowestCommandMs)), 1)} | ${rs.map((r) => `${r.slowCommands} (${fmt(r.slowestCommandMs, 1)})`).join(', ')} |`);
    lines.push(`| of them script calls (#12: none over 5 ms), longest ms | ${fmtInt(median(rs.map((r) => r.slowScripts)))}, ${fmt(median(rs.map((r) => r.slowestScriptMs)), 1)} | ${rs.map((r) => `${r.slowScripts} (${fmt(r.slowestScriptMs, 1)})`).join(', ')} |`);
    if (wb.raw) {
      lines.push(`| raw kafkajs consume + produce of the same records, no processing, events/s (one run) | ${fmtInt(wb.raw.eventsPerSecond)} | |`);
      lines.push(`| worker / raw consume + produce | **${fmt(median(rs.map((r) => r.eventsPerSecond)) / wb.raw.eventsPerSecond, 3)}** | |`);
    }
    if (inproc.length) {
      const ratio = median(rs.map((r) => r.eventsPerSecond)) / med((x) => x.learnOnlyEventsPerSecond);
      lines.push(`| worker / in-process learn-only throughput | ${fmt(ratio, 3)} | |`);
    }
    const medianRun = rs[Math.floor(rs.length / 2)];
    lines.push('', `Commands sent in the median run, by name: ${medianRun.topCommands.map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ')}.`);
    if (medianRun.slowByLabel.length) {
      lines.push(`Slow entries of that run by what they were (count, longest ms): ${medianRun.slowByLabel.map(([l, c, m]) => `${l} ${c} (${fmt(m, 1)})`).join(', ')}. A plain O(1) command over 5 ms did not block Redis by its own work: the host took the CPU from Redis, and the scripts around it were stretched as much.`);
    }
    lines.push('');
  }
  if (wb.errors.length) lines.push('Errors:', '', ...wb.errors.map((e) => `- ${e}`), '');
}
if (erasureLines.length) lines.push(...erasureLines);
if (apiLines.length) lines.push(...apiLines);
if (memoryLines.length) lines.push(...memoryLines);
if (scaleLines.length) lines.push(...scaleLines);
lines.push('## What limits it', '', LIMITS, '');
lines.push('## History', '', HISTORY, '');
// Only the sections this run produced are replaced: a partial run (--no-api, --quick --no-memory, …) keeps the rest.
const previous = existsSync(out) ? readFileSync(out, 'utf8').replace(/^# Benchmarks\n\nWritten by [^\n]*\n\n/, '# Benchmarks\n\n') : '# Benchmarks\n';
writeFileSync(out, withSections(previous, lines));
log(`wrote ${out}`);
process.exit(0);
