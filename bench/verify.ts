/**
 * Exactness check for speed-ups: replays the full prequential protocol and prints the metrics at full precision
 * plus a hash of every top-20 list asked and of the final neighbour lists. A pure speed-up leaves all of it equal.
 *   npx tsx bench/verify.ts [--limit N]
 */
import { createHash } from 'node:crypto';
import { loadRetailDataset } from '../src/data/online-retail.js';
import { attuneModel, runPrequential, type PrequentialModel } from '../src/eval/prequential.js';

const argv = process.argv.slice(2);
const li = argv.indexOf('--limit');
const { events: all, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
const events = li >= 0 ? all.slice(0, Number(argv[li + 1])) : all;
const model = attuneModel({}, catalog);
const h = createHash('sha256');
const buf = new Int32Array(21);
const wrapped: PrequentialModel = {
  name: model.name,
  idOf: (x) => model.idOf(x),
  top: (e, n) => {
    const t = model.top(e, n);
    buf.fill(-2);
    buf[0] = t.length;
    for (let i = 0; i < t.length; i++) buf[i + 1] = t[i];
    h.update(new Uint8Array(buf.buffer));
    return t;
  },
  learn: (e) => model.learn(e),
};
const m = runPrequential(events, wrapped);
const rec = model.recommender;
const nh = createHash('sha256');
for (let i = 0; i < rec.items.size; i++) {
  const name = rec.items.name(i);
  nh.update(JSON.stringify([name, rec.neighboursOf(name), rec.contentNeighboursOf(name)]));
}
console.log(
  JSON.stringify(
    { hr10: m.hr10, ndcg10: m.ndcg10, recall20: m.recall20, map10: m.map10, coverage: m.coverage, tested: m.tested, topHash: h.digest('hex').slice(0, 16), neighHash: nh.digest('hex').slice(0, 16) },
    null,
    1,
  ),
);
console.error(`events/s (with hashing): ${Math.round(m.eventsPerSecond)}`);
