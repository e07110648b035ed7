/**
 * The shared model (#12, stages/recommend/changelog.ts) on the real broker and Redis: three workers in one group
 * each learn only their own partitions, and apply the others' deltas from the changelog. Once all have caught up,
 * each worker's co-occurrence model — every pair count, every norm, and the neighbour lists they give — equals that
 * of one worker alone over the same input (another deployment: its own group and key prefix, so its own epoch).
 */
import { describe, it, expect, afterAll } from 'vitest';
import { startWorker, type WorkerHandle } from '../../src/topology/worker.js';
import { topicNames, type Config } from '../../src/config/config.js';
import { StateStore } from '../../src/stores/state-store.js';
import type { Recommender } from '../../src/stages/recommend/model/recommender.js';
import type { UserEvent } from '../../src/domain/events.js';
import { testConfig, waitFor, openPipeline, uniqueName, waitForMembers } from '../support/env.js';

const T0 = Date.UTC(2011, 5, 1, 10, 0, 0);
/** A small shop: users who view and buy items of a few neighbourhoods, spread over every partition. */
function shop(n: number): UserEvent[] {
  const out: UserEvent[] = [];
  for (let i = 0; i < n; i++) {
    const u = (i * 7) % 60;
    const item = `it-${(u % 6) * 5 + ((i * 13) % 9)}`;
    out.push({
      eventId: `sm-${i}`, userId: `sm-user-${u}`, type: i % 5 === 0 ? 'purchase' : 'view', eventTime: T0 + i * 1000, itemId: item,
      quantity: i % 5 === 0 ? 1 : null, price: i % 5 === 0 ? 3 : null, rating: null, sessionId: null, context: null, properties: {},
    });
  }
  return out;
}

/** The model's counts by item name: `a|b` (a < b) → pair count, `a` → norm. */
function countsOf(m: Recommender): Map<string, number> {
  const out = new Map<string, number>();
  const state = m.collaborative.state;
  for (const [a, b, c] of state.entries()) {
    const [x, y] = [m.items.name(a), m.items.name(b)].sort();
    out.set(`${x}|${y}`, c);
  }
  for (let a = 0; a < m.items.size; a++) if (state.normOf(a) !== 0) out.set(m.items.name(a), state.normOf(a));
  return out;
}

/** Each item's 5 most similar items by the model's similarity (ties by name): what its neighbour lists rank. */
function topNeighbours(m: Recommender): Map<string, string[]> {
  const names = Array.from({ length: m.items.size }, (_, i) => m.items.name(i));
  const out = new Map<string, string[]>();
  for (let a = 0; a < names.length; a++) {
    const scored = names.map((n, b) => [n, b === a ? 0 : m.collaborative.sim(a, b)] as const).filter(([, s]) => s > 0);
    scored.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
    out.set(names[a]!, scored.slice(0, 5).map(([n]) => n));
  }
  return out;
}

function expectSameModel(got: Recommender, want: Recommender, who: string) {
  const g = countsOf(got);
  const w = countsOf(want);
  expect([...g.keys()].sort(), `${who}: the same pairs and norms`).toEqual([...w.keys()].sort());
  for (const [k, v] of w) expect(Math.abs(g.get(k)! - v), `${who}: ${k}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(v)));
  expect(topNeighbours(got), `${who}: the same neighbours`).toEqual(topNeighbours(want));
}

async function settle(cfg: Config, store: StateStore, kafka: Awaited<ReturnType<typeof openPipeline>>['kafka']) {
  const topics = topicNames(cfg);
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.endOffsets(topics.events);
  await admin.disconnect();
  for (const [p, end] of ends) {
    await waitFor(async () => ((await store.readProgress(topics.events, p)) ?? -1) >= Number(end) - 1, `partition ${p} at ${end}`, 120_000);
  }
}

describe('the shared model', () => {
  const workers: WorkerHandle[] = [];
  const closers: Array<() => Promise<void>> = [];
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    for (const c of closers) await c();
  });

  it('three workers of one group each hold the model one worker alone learns from the same input', async () => {
    const cfg = testConfig({ partitions: 3, microBatchSize: 50 });
    const pipe = await openPipeline(cfg);
    closers.push(() => pipe.close());
    for (let i = 0; i < 3; i++) workers.push(await startWorker(cfg, pipe.kafka));
    const topics = topicNames(cfg);
    // A partition each: every worker learns a third of the input itself and the rest from the changelog.
    await waitForMembers(cfg, topics.events, 3);
    const events = shop(3_000);
    for (let k = 0; k < events.length; k += 500) {
      await pipe.producer.send(topics.events, await Promise.all(events.slice(k, k + 500).map(async (e) => ({ key: e.userId, value: await pipe.codec.encodeEvent(e) }))));
    }
    await settle(cfg, new StateStore(pipe.redis, cfg.keyPrefix), pipe.kafka);

    // One worker alone, over the same topic, into its own state.
    const alone = { ...cfg, groupId: uniqueName('alone-workers'), keyPrefix: uniqueName('alone') };
    const alonePipe = await openPipeline(alone);
    closers.push(() => alonePipe.close());
    const single = await startWorker(alone, alonePipe.kafka);
    workers.push(single);
    await settle(alone, new StateStore(alonePipe.redis, alone.keyPrefix), alonePipe.kafka);

    // Every worker has read the changelog to its end (the others' last deltas included).
    for (const [i, w] of workers.slice(0, 3).entries()) {
      // Waited on, then asserted: the wait ends as soon as the model matches (or after 30 s, and the assertion says how not).
      await waitFor(() => { try { expectSameModel(w.model, single.model, `worker ${i}`); return true; } catch { return null; } }, `worker ${i}'s model`, 30_000).catch(() => {});
      expectSameModel(w.model, single.model, `worker ${i}`);
    }
    // And the deltas did travel: each worker applied records of the others (none of them learned everything).
    for (const w of workers.slice(0, 3)) {
      expect(await w.metrics.registry.getSingleMetricAsString('attune_model_changelog_records_total')).toMatch(/outcome="applied"\} [1-9]/);
    }
    expect(await single.metrics.registry.getSingleMetricAsString('attune_model_changelog_records_total')).not.toMatch(/outcome="applied"\} [1-9]/);
  });
});
