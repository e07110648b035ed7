/**
 * Experiments end to end on the real broker, registry and Redis (docs/experiments.md): a closed loop of synthetic
 * users whose click probability depends only on their variant (CTR 6% / 4% / 3%). Each round produces one view per
 * new user, waits until the worker has applied the round (progress at the end of every partition), reads each
 * user's emitted list, and produces the impression of that list and, with the variant's probability, a click on its
 * first item, both carrying the list's recommendationId. Users and the pseudonymisation key are fixed and clicks
 * are drawn from a generator keyed by the user (experiments/prng.ts), so the A/B figures are the same in every run.
 *
 *  - A/B (fixed allocation, 3 variants × ~5,000 users): the counts in Redis equal the impressions and clicks
 *    produced, exactly; every user's variant is the offline fixedVariant of its pseudonym (stable across workers and
 *    restarts: checked again after a restart); the shares match the configuration within 3 binomial sd; the report's
 *    statistics name the 6% variant better than both others at p < 0.01; an A/A experiment in another layer (the
 *    same users, split independently) finds no difference.
 *  - Thompson sampling over the same three arms: ≥ 80% of the last 1,000 impressions go to the best arm within
 *    the budget, and the cumulative regret stays below uniform allocation's.
 *  - Attribution: a purchase without an id after a click on the item is a conversion of that click's variant.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { topicNames, type Config } from '../../src/config/config.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { StateStore } from '../../src/stores/state-store.js';
import { Keys } from '../../src/stores/keys.js';
import type { Recommendations, UserEvent } from '../../src/domain/events.js';
import { loadExperimentsFile } from '../../src/experiments/file.js';
import { fixedVariant } from '../../src/experiments/assignment.js';
import { parseCounts, variantCounts } from '../../src/experiments/counts.js';
import { summariseExperiment } from '../../src/experiments/report.js';
import { Prng } from '../../src/experiments/prng.js';
import type { ExperimentsReport } from '../../src/experiments/report-format.js';
import { testConfig, waitFor, openPipeline, pseudonymOf, uniqueName } from '../support/env.js';
import { configEnv } from '../support/worker-process.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/attune.js');

const dir = mkdtempSync(join(tmpdir(), 'attune-experiments-'));
const CTR: Record<string, number> = { best: 0.06, mid: 0.04, low: 0.03 };
const PARTITIONS = 2;

function experimentsFile(name: string, body: string): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `version: 1\nexperiments:\n${body}`);
  return path;
}

const AB = experimentsFile('ab', `  three_way:
    layer: home
    variants:
      best: { strategy: hybrid, share: 0.3334 }
      mid: { strategy: collaborative, share: 0.3333 }
      low: { strategy: trending, share: 0.3333 }
  same_same:
    layer: aa
    variants:
      a: { strategy: hybrid, share: 0.5 }
      b: { strategy: hybrid, share: 0.5 }
`);
const BANDIT = experimentsFile('bandit', `  bandit:
    layer: home
    allocation: thompson
    bandit: { min_exploration: 0.1, bucket: 1h }
    variants:
      best: { strategy: hybrid }
      mid: { strategy: collaborative }
      low: { strategy: trending }
`);

type Pipeline = Awaited<ReturnType<typeof openPipeline>>;
const T0 = Date.UTC(2011, 5, 1, 10, 0, 0);

/** One deployment: its worker, its topics, the produced feedback and the lists read back. */
class Loop {
  readonly topics;
  readonly keys;
  readonly store: StateStore;
  worker: WorkerHandle | undefined;
  seq = 0;
  readonly produced = new Map<string, { impressions: number; clicks: number }>();
  constructor(readonly cfg: Config, readonly pipe: Pipeline, readonly tag: string) {
    this.topics = topicNames(cfg);
    this.keys = new Keys(cfg.keyPrefix);
    this.store = new StateStore(pipe.redis, cfg.keyPrefix);
  }
  static async open(file: string): Promise<Loop> {
    const cfg = testConfig({ partitions: PARTITIONS, experiments: file, segmentIdleMs: 0, microBatchSize: 500 });
    const loop = new Loop(cfg, await openPipeline(cfg), uniqueName('x'));
    loop.worker = await startWorker(cfg, loop.pipe.kafka);
    return loop;
  }

  event(userId: string, type: UserEvent['type'], extra: Partial<UserEvent> = {}): UserEvent {
    const i = this.seq++;
    return {
      eventId: `${this.tag}-${i}`, userId, type, eventTime: T0 + i, itemId: null, quantity: null, price: null, rating: null,
      sessionId: null, context: null, properties: {}, recommendationId: null, ...extra,
    };
  }

  async send(events: UserEvent[]): Promise<void> {
    for (let k = 0; k < events.length; k += 2000) {
      await this.pipe.producer.send(this.topics.events, await Promise.all(events.slice(k, k + 2000).map(async (e) => ({ key: e.userId, value: await this.pipe.codec.encodeEvent(e) }))));
    }
  }

  /** Waits until every partition's progress is at the end of its log. */
  async settle(): Promise<void> {
    const admin = this.pipe.kafka.admin();
    await admin.connect();
    let ends: Map<number, number>;
    try {
      ends = new Map([...(await admin.endOffsets(this.topics.events))].map(([p, o]) => [Number(p), Number(o)]));
    } finally {
      await admin.disconnect().catch(() => {});
    }
    await waitFor(async () => {
      for (const [p, end] of ends) if (end > 0 && ((await this.store.readProgress(this.topics.events, p)) ?? -1) < end - 1) return false;
      return true;
    }, 'progress at the end of every partition', 120_000);
  }

  /** The last list emitted to each of `users` since `sinceMs`. */
  async listsOf(users: ReadonlySet<string>, sinceMs: number): Promise<Map<string, Recommendations>> {
    const out = new Map<string, Recommendations>();
    for (const r of await readTopicToEnd(this.pipe.kafka, this.topics.recommendations, 60_000, { sinceMs })) {
      if (r.key === null || !users.has(r.key) || r.value === null) continue;
      out.set(r.key, (await this.pipe.codec.decode(r.value, 1e6)) as unknown as Recommendations);
    }
    return out;
  }

  /**
   * One round: a view for each user, then each list's impression and (with its variant's CTR, drawn per user) a
   * click on its first item. `variantOf` names the list's variant of the experiment under test. Returns the lists.
   */
  async round(users: string[], experiment: string): Promise<Map<string, Recommendations>> {
    const since = Date.now() - 1000;
    await this.send(users.map((u, i) => this.event(u, 'view', { itemId: `i${i % 40}` })));
    await this.settle();
    const lists = await this.listsOf(new Set(users), since);
    expect(lists.size, 'every user of the round got a list').toBe(users.length);
    const feedback: UserEvent[] = [];
    for (const u of users) {
      const list = lists.get(u)!;
      const variant = list.assignments.find((a) => a.experiment === experiment)?.variant;
      expect(variant, `the list of ${u} names its ${experiment} variant`).toBeDefined();
      const counted = this.produced.get(variant!) ?? { impressions: 0, clicks: 0 };
      this.produced.set(variant!, counted);
      feedback.push(this.event(u, 'impression', { recommendationId: list.recommendationId }));
      counted.impressions++;
      if (Prng.fromKey('experiments-test-click', u).next() < CTR[variant!]) {
        feedback.push(this.event(u, 'click', { itemId: list.items[0]?.itemId ?? 'i0', recommendationId: list.recommendationId }));
        counted.clicks++;
      }
    }
    await this.send(feedback);
    await this.settle();
    return lists;
  }

  async counts() {
    return parseCounts(await this.pipe.redis.hgetall(this.keys.experimentCounts()));
  }

  async close(): Promise<void> {
    await this.worker?.stop();
    await this.pipe.close();
  }
}

const loops: Loop[] = [];
afterAll(async () => {
  for (const l of loops) await l.close().catch(() => {});
});

describe('experiments on the real broker and Redis', () => {
  it('A/B: exact counts, stable assignment, shares within binomial error, the best arm named at p < 0.01', async () => {
    const loop = await Loop.open(AB);
    loops.push(loop);
    const config = loadExperimentsFile(AB);
    const e = config.experiments[0];
    const users = Array.from({ length: 15_000 }, (_, i) => `ab-user-${i}`);
    const variantOfUser = new Map<string, string>();
    for (let k = 0; k < users.length; k += 5000) {
      const lists = await loop.round(users.slice(k, k + 5000), e.id);
      for (const [u, l] of lists) {
        variantOfUser.set(u, l.assignments[0].variant);
        expect(l.recommendationId).toMatch(/^three_way:(best|mid|low),same_same:(a|b)~\d+\.\d+~[\w-]{16}$/);
      }
    }
    // Every user's variant is the offline assignment of its pseudonym: the same on any worker and in any replay.
    for (const [u, v] of variantOfUser) expect(v, u).toBe(fixedVariant(e, pseudonymOf(u, loop.cfg)).id);
    // Shares within 3 binomial standard deviations of the configuration.
    for (const v of e.variants) {
      const n = [...variantOfUser.values()].filter((x) => x === v.id).length;
      expect(Math.abs(n - users.length * v.share)).toBeLessThan(3 * Math.sqrt(users.length * v.share * (1 - v.share)));
    }
    // Counted exactly once: Redis holds what was produced.
    const counts = variantCounts(e, await loop.counts());
    for (const c of counts) {
      expect({ variant: c.variant, impressions: c.impressions, clicks: c.clicks }).toEqual({ variant: c.variant, ...loop.produced.get(c.variant) });
    }
    const s = summariseExperiment(counts);
    const [best, mid, low] = s.variants;
    expect(best.ctr.rate).toBeGreaterThan(mid.ctr.rate);
    expect(mid.ctr.vsControl!.pValue).toBeLessThan(0.01);
    expect(low.ctr.vsControl!.pValue).toBeLessThan(0.01);
    expect(s.ctrChiSquare!.pValue).toBeLessThan(0.01);
    // An A/A experiment in another layer: the same users, split independently of three_way (other key), so its
    // variants see the same mix of click rates and the test finds no difference. (The false-positive rate over many
    // seeded A/A runs is checked on the pure simulation: test/unit/experiments-simulation.test.ts.)
    const aaCounts = variantCounts(config.experiments[1], await loop.counts());
    expect(aaCounts.reduce((n, c) => n + c.impressions, 0)).toBe(users.length);
    const aa = summariseExperiment(aaCounts);
    expect(aa.variants[1].ctr.vsControl!.pValue).toBeGreaterThan(0.05);
    // The report command reads the same counts and names the same best arm.
    const svgPath = join(dir, 'report.svg');
    const { stdout } = await run(process.execPath, [BIN, 'experiments', 'report', '--json', '--svg', svgPath], { env: { ...process.env, ...configEnv(loop.cfg), ATTUNE_EXPERIMENTS: AB } });
    const report = JSON.parse(stdout) as ExperimentsReport;
    expect(report.experiments[0].variants.map((v) => [v.id, v.impressions, v.clicks])).toEqual(counts.map((c) => [c.variant, c.impressions, c.clicks]));
    expect(report.experiments[0].ctrChiSquare!.p).toBeCloseTo(s.ctrChiSquare!.pValue, 12);
    expect(readFileSync(svgPath, 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    console.log(`A/A: ${aaCounts.map((c) => `${c.variant} ${c.clicks}/${c.impressions}`).join(', ')}, p ${aa.variants[1].ctr.vsControl!.pValue.toFixed(3)}`);
    console.log(`A/B: ${counts.map((c) => `${c.variant} ${c.clicks}/${c.impressions}`).join(', ')}; p(best vs mid) ${mid.ctr.vsControl!.pValue.toExponential(2)}, p(best vs low) ${low.ctr.vsControl!.pValue.toExponential(2)}, chi-square p ${s.ctrChiSquare!.pValue.toExponential(2)}`);

    // After a restart, a new event of a user gets a list of the same variant.
    await loop.worker!.stop();
    loop.worker = await startWorker(loop.cfg, loop.pipe.kafka);
    const again = users.filter((_, i) => i % 50 === 0);
    const since = Date.now() - 1000;
    await loop.send(again.map((u) => loop.event(u, 'purchase', { itemId: 'i1', quantity: 1, price: 1 })));
    await loop.settle();
    const lists = await loop.listsOf(new Set(again), since);
    for (const [u, l] of lists) expect(l.assignments[0].variant, u).toBe(variantOfUser.get(u));
    expect(lists.size).toBeGreaterThan(again.length / 2);
  }, 600_000);

  it('Thompson sampling: ≥ 80% of the last 1,000 impressions on the best arm within the budget, regret below uniform', async () => {
    const loop = await Loop.open(BANDIT);
    loops.push(loop);
    const ROUND = 400;
    const BUDGET = 12_000;
    const shown: string[] = [];
    let reached: number | null = null;
    for (let r = 0; shown.length < BUDGET && reached === null; r++) {
      const users = Array.from({ length: ROUND }, (_, i) => `bandit-user-${r}-${i}`);
      const lists = await loop.round(users, 'bandit');
      for (const u of users) shown.push(lists.get(u)!.assignments[0].variant);
      const last = shown.slice(-1000);
      if (last.length === 1000 && last.filter((v) => v === 'best').length >= 800) reached = shown.length;
    }
    const regret = shown.reduce((acc, v) => acc + (CTR.best - CTR[v]), 0);
    const uniform = shown.length * (CTR.best - (CTR.best + CTR.mid + CTR.low) / 3);
    console.log(`bandit: 80% of the last 1,000 on the best arm after ${reached ?? 'never'} impressions (rounds of ${ROUND}); expected regret ${regret.toFixed(1)} vs uniform ${uniform.toFixed(1)} clicks`);
    expect(reached, `80% of the last 1,000 impressions on the best arm within ${BUDGET}`).not.toBeNull();
    expect(regret).toBeLessThan(uniform);
    // The bandit's state is the counts: they equal what was produced.
    const counts = await loop.counts();
    for (const [v, c] of loop.produced) expect(counts.get('bandit')?.get(v)?.get('*')).toEqual({ i: c.impressions, c: c.clicks, v: 0 });

    // Attribution of a purchase without an id: the click before it on the same item converts, once.
    const u = 'bandit-user-0-0';
    const list = (await loop.listsOf(new Set([u]), 0)).get(u)!;
    const variant = list.assignments[0].variant;
    const before = (await loop.counts()).get('bandit')?.get(variant)?.get('*')?.v ?? 0;
    await loop.send([
      loop.event(u, 'click', { itemId: 'i7', recommendationId: list.recommendationId }),
      loop.event(u, 'purchase', { itemId: 'i7', quantity: 1, price: 1 }),
      loop.event(u, 'purchase', { itemId: 'i7', quantity: 1, price: 1 }),
    ]);
    await loop.settle();
    expect((await loop.counts()).get('bandit')?.get(variant)?.get('*')?.v).toBe(before + 1);
  }, 900_000);
});
