/**
 * (a) The in-process recommender on the full prequential replay: learn only, and test + learn (the `attune eval`
 * protocol: top 20 asked before each event of a returning customer, then the event learned). Data loading is
 * excluded from the timings; every run builds a fresh Recommender from the catalog. Standalone:
 *   npx tsx bench/inprocess.ts
 */
import { pathToFileURL } from 'node:url';
import type { CatalogItem, UserEvent } from '../src/domain/events.js';
import { attuneModel, runPrequential } from '../src/eval/prequential.js';
import { Recommender } from '../src/stages/recommend/model/recommender.js';

export interface InProcessRun {
  learnOnlyEventsPerSecond: number;
  testLearnEventsPerSecond: number;
  /** µs per event spent asking (test + learn time minus learn-only time, per tested event). */
  scoreMicrosPerRequest: number;
  learnMicrosPerEvent: number;
  hr10: number;
  ndcg10: number;
  recall20: number;
  map10: number;
  coverage: number;
  tested: number;
}

export function learnOnly(events: readonly UserEvent[], catalog: readonly CatalogItem[]): number {
  const rec = new Recommender({});
  for (const c of catalog) rec.upsertItem(c);
  const t0 = performance.now();
  for (let i = 0; i < events.length; i++) rec.learn(events[i]);
  return (performance.now() - t0) / 1000;
}

export function inProcessRun(events: readonly UserEvent[], catalog: readonly CatalogItem[]): InProcessRun {
  const learnSeconds = learnOnly(events, catalog);
  const m = runPrequential(events, attuneModel({}, catalog));
  return {
    learnOnlyEventsPerSecond: events.length / learnSeconds,
    testLearnEventsPerSecond: m.eventsPerSecond,
    scoreMicrosPerRequest: ((m.seconds - learnSeconds) * 1e6) / Math.max(1, m.tested),
    learnMicrosPerEvent: (learnSeconds * 1e6) / events.length,
    hr10: m.hr10,
    ndcg10: m.ndcg10,
    recall20: m.recall20,
    map10: m.map10,
    coverage: m.coverage,
    tested: m.tested,
  };
}

// Standalone: `npx tsx bench/inprocess.ts` — one in-process run on the bundled data set, as JSON.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { loadRetailDataset } = await import('../src/data/online-retail.js');
  const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
  console.log(JSON.stringify(inProcessRun(events, catalog), null, 1));
}
