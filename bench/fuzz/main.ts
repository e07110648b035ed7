/**
 * `npm run fuzz [-- --records N --valid N --seed S --kinds a,b* --timeout SECONDS --keep --list-kinds]`: the fuzz
 * harness (bench/fuzz/harness.ts) against the running local services, with a progress bar on a terminal (one line
 * per stage otherwise), the records/s figures and a table of kinds × count × DLQ code. Exit code 0 when there was no
 * violation, 1 otherwise (each violation is printed, naming the kind or the check).
 */
import { SingleBar, Presets } from 'cli-progress';
import { Command } from 'commander';
import { log } from '../../src/log.js';
import { loadConfig } from '../../src/config/config.js';
import { runFuzz, type FuzzResult, type FuzzTick } from './harness.js';
import { report } from './report.js';
import { buildKinds, selectKinds } from './kinds.js';

const program = new Command('fuzz')
  .option('--records <n>', 'hostile records', '100000')
  .option('--valid <n>', 'valid events interleaved with them', '20000')
  .option('--seed <n>', 'seed of the generators (default: random, printed)')
  .option('--kinds <patterns>', 'only these kinds (comma-separated, * wildcard), e.g. "bomb-*,item:*"')
  .option('--partitions <n>', 'partitions of the input topics', '3')
  .option('--timeout <seconds>', 'bound on the worker processing everything', '900')
  .option('--stall <seconds>', 'lag without progress for this long is a stall', '60')
  .option('--keep', 'keep topics and keys afterwards')
  .option('--each', 'one small run per kind (--records of that kind alone), then a verdict per kind: which kinds pass')
  .option('--list-kinds', 'print the kinds with their expected codes and exit')
  .parse();
const o = program.opts<{ records: string; valid: string; seed?: string; kinds?: string; partitions: string; timeout: string; stall: string; keep?: boolean; listKinds?: boolean; each?: boolean }>();

if (o.listKinds) {
  for (const k of selectKinds(buildKinds(loadConfig()), o.kinds)) console.log(`${k.name.padEnd(36)} ${k.topic.padEnd(7)} ${`${k.stage}/${k.code}`.padEnd(26)} ${k.what}`);
  process.exit(0);
}

// The harness's own clients and the in-process reference worker log through the product logger: keep output clean.
log.level = process.env.ATTUNE_LOG_LEVEL ?? 'fatal';
const seed = o.seed !== undefined ? Number(o.seed) : Math.floor(Math.random() * 2 ** 31);
const tty = !!process.stdout.isTTY;
const bar = new SingleBar({ format: '{phase} |{bar}| {value}/{total} records | processed {processed} | lag {lag} | {rate} rec/s | {duration_formatted}', hideCursor: true }, Presets.shades_classic);
let barOn = false;
let lastPhase = '';
const say = (s: string) => {
  if (barOn) { bar.stop(); barOn = false; }
  console.log(s);
};
const onTick = (t: FuzzTick) => {
  const payload = { phase: t.phase.padEnd(7), processed: t.processed, lag: t.lag, rate: Math.round(t.recordsPerSecond) };
  if (!tty) {
    if (t.phase !== lastPhase) console.log(`stage ${t.phase}: ${t.produced}/${t.total} produced, ${t.processed} processed, lag ${t.lag}`);
    lastPhase = t.phase;
    return;
  }
  const value = t.phase === 'produce' ? t.produced : t.processed;
  if (!barOn) { bar.start(t.total, value, payload); barOn = true; } else bar.update(value, payload);
  bar.setTotal(t.total);
};

if (o.each) {
  // One run per kind, so that a kind that wedges the worker does not hide the verdict of the others.
  const rows: string[] = ['| kind | expected | count | verdict |', '|---|---|---:|---|'];
  let failures = 0;
  for (const k of selectKinds(buildKinds(loadConfig()), o.kinds)) {
    let verdict: string;
    let count = 0;
    try {
      const r = await runFuzz({
        records: Number(o.records), valid: Number(o.valid), seed, kinds: k.name, partitions: Number(o.partitions),
        catchUpTimeoutMs: Number(o.timeout) * 1000, stallMs: Number(o.stall) * 1000, silentMs: 15_000, log: () => {},
      });
      const row = r.kinds[0]!;
      count = row.count;
      const own = [row.missing ? `${row.missing} missing` : '', ...Object.entries(row.wrongCode).map(([c, n]) => `${n}× ${c}`),
        ...Object.entries(row.wrongStage).map(([st, n]) => `${n}× stage ${st}`), row.duplicates ? `${row.duplicates} twice` : '',
        row.altered ? `${row.altered} altered` : '', row.leaks ? `${row.leaks} leak the user id` : ''].filter(Boolean);
      const live = r.violations.filter((v) => /healthz|exited|stalled|did not process|SIGTERM/.test(v)).map((v) => v.replace(/; stuck at.*/, ''));
      verdict = own.length || live.length ? `FAIL: ${[...live, ...own].join('; ')}` : 'pass';
    } catch (err) {
      verdict = `FAIL: run failed: ${(err as Error).message.split('\n')[0]}`;
    }
    if (verdict !== 'pass') failures++;
    console.log(`${k.name}: ${verdict}`);
    rows.push(`| ${k.name} | ${k.stage}/${k.code} | ${count} | ${verdict} |`);
  }
  console.log(`\n${rows.join('\n')}\n\n${failures} of ${rows.length - 2} kinds fail (valid-side checks are not part of a kind's verdict here)`);
  process.exit(failures ? 1 : 0);
}

let result: FuzzResult | undefined;
try {
  result = await runFuzz({
    records: Number(o.records), valid: Number(o.valid), seed, kinds: o.kinds, partitions: Number(o.partitions),
    catchUpTimeoutMs: Number(o.timeout) * 1000, stallMs: Number(o.stall) * 1000, keep: o.keep, log: say, onTick,
  });
} catch (err) {
  say(`fuzz run failed: ${(err as Error)?.stack ?? err}`);
  process.exit(1);
} finally {
  if (barOn) bar.stop();
}
console.log(`\n${report(result)}`);
process.exit(result.violations.length ? 1 : 0);

