import { loadRetailDataset } from '/work/main/src/data/online-retail.js';
import { Recommender } from '/work/main/src/recommender/recommender.js';
const { events, catalog } = await loadRetailDataset('/work/main/data/online-retail.csv.gz');
const rec = new Recommender({});
for (const c of catalog) rec.upsertItem(c);
const seen = new Set<string>(); let req = 0, touched = 0, purch = 0; let tS = 0, tL = 0;
const buf = new Int32Array(20);
for (const e of events) {
  if (seen.has(e.userId)) {
    const t0 = process.hrtime.bigint();
    rec.recommendIds(e.userId, buf, { n: 20, now: e.eventTime, country: e.context?.country ?? null });
    tS += Number(process.hrtime.bigint() - t0);
    req++; touched += (rec as any).scorer.nTouched; purch += rec.users.get(e.userId)!.purchases.size;
  } else seen.add(e.userId);
  const t1 = process.hrtime.bigint();
  rec.learn(e);
  tL += Number(process.hrtime.bigint() - t1);
}
console.log({ req, avgTouched: touched / req, avgPurchases: purch / req, scoreUs: tS / req / 1000, learnUs: tL / events.length / 1000, pairs: rec.collaborative.state.pairCount, cats: rec.categories.size, items: rec.items.size });
