/**
 * `npm run chaos`: the long kill -9 chaos run — the whole bundled data set (386,354 events) replayed over a 300 s
 * chaos window into 3 worker processes on the 3-master Redis Cluster, a random worker SIGKILLed every 0–6 s and
 * restarted at once; then catch-up, SIGTERM, and the verifier (state key by key against a fault-free reference run,
 * counts against the input log, a recommendation record per user). Same harness as the CI test
 * (test/support/chaos.ts); this file only sizes it, starts the services, draws progress and writes CHAOS.md.
 *
 * Options (environment): CHAOS_SEED (kill schedule), CHAOS_EVENTS (default: all), CHAOS_SECONDS (default 300),
 * CHAOS_KEEP=1 (keep topics and keys), CHAOS_NO_SERVICES=1 (do not run scripts/services.sh up).
 * Exit code 0 when the verification passed, 1 otherwise.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, openSync, closeSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { log } from '../src/log.js';
import { loadRetailDataset } from '../src/data/online-retail.js';
import { DATA_SET, runChaos, summary, type ChaosResult } from '../test/support/chaos.js';

const ROOT = join(import.meta.dirname, '..');
const limit = Number(process.env.CHAOS_EVENTS) || undefined;
const chaosSeconds = Number(process.env.CHAOS_SECONDS) || 300;
// The harness's own Kafka/Redis clients log through the product logger: keep the progress bar clean.
log.level = process.env.ATTUNE_LOG_LEVEL ?? 'fatal';

if (process.env.CHAOS_NO_SERVICES !== '1') {
  const svcLog = join(tmpdir(), 'attune-chaos-services.log');
  const fd = openSync(svcLog, 'w');
  process.stdout.write(`starting services (kafka registry cluster), log in ${svcLog} ... `);
  try {
    execFileSync('bash', [join(ROOT, 'scripts/services.sh'), 'up', 'kafka', 'registry', 'cluster'], { stdio: ['ignore', fd, fd] });
  } catch {
    closeSync(fd);
    console.error(`failed:\n${readFileSync(svcLog, 'utf8').slice(-3000)}`);
    process.exit(1);
  }
  closeSync(fd);
  console.log('ready');
}

const loadStart = Date.now();
process.stdout.write('loading data/online-retail.csv.gz ... ');
const data = await loadRetailDataset(DATA_SET, { limit });
console.log(`${data.events.length} events, ${data.catalog.length} items in ${((Date.now() - loadStart) / 1000).toFixed(1)} s`);

const bar = new SingleBar({
  format: '{phase} |{bar}| {value}/{total} events | lag {lag} | kills {kills} | {duration_formatted}',
  hideCursor: true,
  etaBuffer: 50,
}, Presets.shades_classic);
let barOn = false;
const lines: string[] = [];
const say = (s: string) => {
  lines.push(s);
  if (barOn) bar.stop();
  barOn = false;
  console.log(s);
};

const startedAt = new Date();
let lastPlain = 0;
let lastPhase = '';
const loadBefore = loadavg();
let result: ChaosResult | undefined;
let failure: unknown;
try {
  result = await runChaos({
    data,
    chaosSeconds,
    catchUpTimeoutMs: 900_000,
    referenceTimeoutMs: 1_200_000,
    log: say,
    onTick: (t) => {
      if (!process.stdout.isTTY) {
        // No terminal (a log file, CI): a plain progress line every 15 s instead of the bar.
        if (Date.now() - lastPlain >= 15_000 || (t.phase === 'reference' && lastPhase !== 'reference')) {
          lastPlain = Date.now();
          console.log(`${t.phase}: ${t.produced}/${t.total} events produced, lag ${t.lag}, ${t.kills} kills, ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s`);
        }
        lastPhase = t.phase;
        return;
      }
      const value = t.phase === 'chaos' ? t.produced : Math.max(0, t.total - (Number.isFinite(t.lag) ? t.lag : t.total));
      const payload = { phase: t.phase.padEnd(9), lag: Number.isFinite(t.lag) ? t.lag : '?', kills: t.kills };
      if (!barOn) {
        bar.start(t.total, value, payload);
        barOn = true;
      } else bar.update(value, payload);
      if (t.phase === 'reference') {
        bar.stop();
        barOn = false;
        console.log('reference run and verification (no faults, in process) ...');
      }
    },
  });
} catch (err) {
  failure = err;
} finally {
  if (barOn) bar.stop();
}
const loadAfter = loadavg();

const passed = !!result && result.report.mismatchCount === 0 && result.report.lost === 0 && result.report.doubled === 0
  && result.report.usersWithoutRecs === 0 && result.figures.finalExitCodes.every((c) => c === 0);
const machine = [
  `${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? '?'}); ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory (${(freemem() / 2 ** 30).toFixed(1)} free at the end); Node ${process.version}; ${redisVersion()}`,
  `load average ${loadBefore.map((x) => x.toFixed(2)).join(' / ')} at start, ${loadAfter.map((x) => x.toFixed(2)).join(' / ')} at the end (1/5/15 min); Kafka, the Redis Cluster, the 3 workers and the harness share the machine`,
];
const md: string[] = [];
if (!existsSync(join(ROOT, 'CHAOS.md'))) {
  md.push('# kill -9 chaos runs', '',
    'Written by `npm run chaos` (bench/chaos.ts; harness test/support/chaos.ts, verifier test/support/verifier.ts). Each run',
    'replays the bundled data set into 3 `attune worker` processes in one consumer group on the local 3-master Redis Cluster',
    'while a random worker is SIGKILLed every uniform(0, 6) s and restarted at once; afterwards the workers catch up, get',
    'SIGTERM, and the state is compared key by key with a fault-free reference run (exclusions and their reasons: `EXCLUSIONS`',
    'in test/support/verifier.ts), counts and co-occurrence rows with the input log, the recommendations topic is checked for a',
    'record per user, and the distinct segment changes emitted (deduplicated by source, as consumers do) with the reference run\'s.',
    'Consent withdrawals (~3% of users, a third re-granted later) and erasures (~1%) are injected into the replayed log,',
    'seeded; the input checks apply them by an independent oracle (test/support/rights-oracle.ts).',
    'The CI version (`npx vitest run test/chaos/chaos.test.ts`, part of `npm test`) runs the first 100,000 events over 60 s.', '');
}
md.push(`## ${startedAt.toISOString()} — ${failure ? 'FAILED TO RUN' : passed ? 'passed' : 'VERIFICATION FAILED'}`, '');
md.push(`Command: \`npm run chaos\`${limit ? ` (CHAOS_EVENTS=${limit})` : ''}${process.env.CHAOS_SECONDS ? ` (CHAOS_SECONDS=${chaosSeconds})` : ''}`, '');
md.push(...machine.map((m) => `- ${m}`), '');
if (result) {
  const f = result.figures;
  const r = result.report;
  const c = r.comparison;
  md.push('| figure | value |', '|---|---|',
    `| events replayed (users, catalog items) | ${f.events.toLocaleString('en')} (${r.users.toLocaleString('en')}, ${f.catalogItems.toLocaleString('en')}) |`,
    `| partitions, workers, micro-batch | ${f.partitions}, ${f.workers}, ${f.microBatchSize} |`,
    `| rights events injected: consent withdrawals, re-grants, erasures (with later events) | ${f.rights.withdrawals}, ${f.rights.regrants}, ${f.rights.erasures} (${f.rights.erasuresWithLaterEvents}) |`,
    `| users ending erased / withdrawn, checked in the state; tombstones; contradicting records / segment changes | ${r.input.rights.erasedChecked} / ${r.input.rights.withdrawnChecked}; ${r.recommendations.tombstones}; **${r.recommendations.wrong.length}** / **${r.segmentChanges.rights.length}** |`,
    `| chaos window (replay at ${Math.round(f.events / chaosSeconds)} events/s) | ${f.chaosSeconds.toFixed(1)} s |`,
    `| SIGKILLs (of group members; the others were still starting) / restarts (seed ${f.seed}) | ${f.kills} (${f.killsOfMembers}) / ${f.restarts} |`,
    `| unexpected exits | ${f.unexpectedExits.length}${f.unexpectedExits.length ? ` (${f.unexpectedExits.map((u) => `code ${u.code}`).join(', ')})` : ''} |`,
    `| catch-up after the window (lag 0) | ${f.catchUpSeconds.toFixed(1)} s |`,
    `| SIGTERM exit codes | ${f.finalExitCodes.join(', ')} (${f.shutdownSeconds.toFixed(1)} s) |`,
    `| reference run (1 worker in process, no faults) | ${f.referenceSeconds.toFixed(1)} s |`,
    `| verification | ${f.verifySeconds.toFixed(1)} s |`,
    `| keys compared (chaos / reference keys) | ${r.keysCompared.toLocaleString('en')} (${c.keysChaos.toLocaleString('en')} / ${c.keysReference.toLocaleString('en')}), ${c.fieldsCompared.toLocaleString('en')} fields/values |`,
    `| floats equal only within 1e-9 relative (max relative error) | ${c.floatsWithinTolerance.toLocaleString('en')} (${c.maxRelativeError.toExponential(2)}) |`,
    `| co-occurrence fields checked against the offline recommender | ${r.input.coocFieldsChecked.toLocaleString('en')} |`,
    `| distinct segment changes emitted (records; re-emitted) / reference run | ${r.segmentChanges.chaosDistinct.toLocaleString('en')} (${r.segmentChanges.chaosRecords.toLocaleString('en')}; ${r.segmentChanges.chaosDuplicates.toLocaleString('en')}) / ${r.segmentChanges.referenceDistinct.toLocaleString('en')} |`,
    `| mismatches | **${r.mismatchCount}** |`,
    `| lost events / double-counted events | **${r.lost}** / **${r.doubled}** |`,
    `| users without a recommendation record (records read; re-emitted by replays) | **${r.usersWithoutRecs}** (${r.recommendationRecords.toLocaleString('en')}; ${r.reEmittedRecords.toLocaleString('en')}) |`,
    `| total wall time | ${f.totalSeconds.toFixed(1)} s |`, '');
  if (r.mismatches.length) md.push('First mismatches:', '', '```', ...r.mismatches, '```', '');
} else {
  md.push('```', String((failure as Error)?.stack ?? failure), '```', '');
}
appendFileSync(join(ROOT, 'CHAOS.md'), `${md.join('\n')}\n`);
writeFileSync(join(tmpdir(), 'attune-chaos-last.log'), lines.join('\n'));
if (result) console.log(`\n${summary(result)}`);
if (failure) console.error(`chaos run failed: ${(failure as Error)?.stack ?? failure}`);
console.log(`\n${passed ? 'PASSED' : 'FAILED'}; figures appended to CHAOS.md`);
process.exit(passed ? 0 : 1);

function redisVersion(): string {
  try {
    const info = execFileSync('redis-cli', ['-p', (process.env.ATTUNE_REDIS_CLUSTER_NODES ?? '127.0.0.1:7000').split(',')[0].split(':')[1] ?? '7000', 'info', 'server'], { encoding: 'utf8', timeout: 5000 });
    return `Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'} (Cluster, 3 masters)`;
  } catch {
    return 'Redis ?';
  }
}
