/**
 * The CPU cost of the #13 instrumentation, per unit of work, measured in process (so the shared machine's noise,
 * which swamps a few percent in an end-to-end run, does not hide it):
 *   - one Redis command through the timing hook (src/stores/command-timing.ts) and its histogram observation,
 *     against the same command without the hook;
 *   - the freshness of a micro-batch's lists (src/stages/emit/freshness.ts) and its two observations per list;
 *   - the live-quality check of a user's events (src/stages/recommend/online-quality.ts);
 *   - one scrape of /metrics of a registry holding a worker's series.
 * Usage: npx tsx bench/metrics-overhead.ts [--rounds N]  (median of N rounds, default 5)
 */
import { createMetrics } from '../src/metrics/metrics.js';
import { sha1, timeCommands } from '../src/stores/command-timing.js';
import { listFreshness } from '../src/stages/emit/freshness.js';
import { onlineInteractions } from '../src/stages/recommend/online-quality.js';
import type { InboundRecord, OutboundRecord } from '../src/kafka/port.js';
import type { OffsetEvent } from '../src/stages/ingest/plan.js';
import { median } from './stats.js';

const argv = process.argv.slice(2);
const rounds = Math.max(1, Number(argv[argv.indexOf('--rounds') + 1] ?? 5) || 5);

function timeIt(n: number, fn: (i: number) => void): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(i);
  return Number(process.hrtime.bigint() - t) / n; // ns per call
}

async function redisCommand(hooked: boolean, n: number): Promise<number> {
  const m = createMetrics();
  const client = { sendCommand(c: { promise: Promise<unknown> }) { return c; } };
  const scripts = new Map([[sha1('return 1'), 'applyUserEvents']]);
  if (hooked) timeCommands(client, scripts, (command, s) => m.redisSeconds.observe({ command }, s));
  const settled: Array<() => void> = [];
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => { resolve = r; });
    settled.push(resolve);
    client.sendCommand({ name: i % 2 ? 'evalsha' : 'hgetall', args: [sha1('return 1')], promise } as never);
    if (settled.length === 1000) { for (const s of settled.splice(0)) s(); await Promise.resolve(); }
  }
  for (const s of settled.splice(0)) s();
  await new Promise((r) => setImmediate(r));
  return Number(process.hrtime.bigint() - t) / n;
}

const m = createMetrics();
const records: InboundRecord[] = Array.from({ length: 500 }, (_, i) => ({ offset: String(i), timestamp: String(1e12 + i), key: null, value: null, headers: {} }));
const events: OffsetEvent[] = records.map((_, i) => ({ offset: i, event: { eventId: `e${i}`, userId: `u${i % 100}`, type: 'purchase', eventTime: 1e12 + i, itemId: `i${i}`, quantity: 1, price: 1, rating: null, sessionId: null, context: null, properties: {} } }));
const out: OutboundRecord[] = Array.from({ length: 100 }, (_, k) => ({ key: `u${k}`, value: Buffer.from('x'), headers: { 'attune.source': `ev:0:${400 + k}` } }));
const shown = Array.from({ length: 10 }, (_, k) => `i${k * 7}`);

const rows: Record<string, number[]> = { plain: [], hooked: [], freshness: [], online: [], scrape: [] };
for (let r = 0; r < rounds; r++) {
  rows.plain.push(await redisCommand(false, 200_000));
  rows.hooked.push(await redisCommand(true, 200_000));
  rows.freshness.push(timeIt(2_000, () => {
    for (const f of listFreshness(out, records, events, 1e12 + 1000)) {
      m.freshness.observe({ since: 'event_time' }, f.eventTime);
      m.freshness.observe({ since: 'append_time' }, f.appendTime);
    }
  }) / out.length);
  rows.online.push(timeIt(200_000, (i) => {
    const x = onlineInteractions(events.slice(i % 495, (i % 495) + 5), shown);
    for (const y of x) { m.onlineInteractions.inc({ strategy: 'hybrid-v1', type: y.type }); if (y.hit) m.onlineHits.inc({ strategy: 'hybrid-v1', type: y.type }); }
  }) / 5);
  const t = process.hrtime.bigint();
  const text = await m.registry.metrics();
  rows.scrape.push(Number(process.hrtime.bigint() - t));
  if (r === 0) process.stderr.write(`scrape of this registry: ${text.split('\n').length} lines, ${text.length} bytes\n`);
}
const ns = (x: number[]) => median(x);
process.stdout.write([
  `Redis command, fake client: ${ns(rows.plain).toFixed(0)} ns plain, ${ns(rows.hooked).toFixed(0)} ns timed (+${(ns(rows.hooked) - ns(rows.plain)).toFixed(0)} ns per command)`,
  `freshness: ${ns(rows.freshness).toFixed(0)} ns per emitted list (micro-batch of 500 records, 100 lists)`,
  `live quality: ${ns(rows.online).toFixed(0)} ns per event`,
  `scrape: ${(ns(rows.scrape) / 1e6).toFixed(2)} ms`,
  `(median of ${rounds} rounds, node ${process.version})`,
].join('\n') + '\n');
