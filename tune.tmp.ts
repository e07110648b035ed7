import { loadRetailDataset } from './src/data/online-retail.js';
import { runPrequential, attuneModel, timelinePrefix } from './src/eval/prequential.js';
const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
const ev = timelinePrefix(events, 0.5);
const cfgs: Record<string, any> = JSON.parse(process.argv[2]);
for (const [name, cfg] of Object.entries(cfgs)) {
  const m = runPrequential(ev, attuneModel(cfg, catalog));
  console.log(name.padEnd(28), 'HR', m.hr10.toFixed(4), 'NDCG', m.ndcg10.toFixed(4), 'R20', m.recall20.toFixed(4), 'ev/s', Math.round(m.eventsPerSecond));
}
