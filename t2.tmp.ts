import { loadRetailDataset } from './src/data/online-retail.js';
import { runPrequential, attuneModel, popularityModel, timelinePrefix } from './src/eval/prequential.js';
const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
const frac = Number(process.argv[2] ?? 0.5);
const ev = timelinePrefix(events, frac);
const cfg = process.argv[3] ? JSON.parse(process.argv[3]) : {};
console.log(JSON.stringify(runPrequential(ev, popularityModel())));
console.log(JSON.stringify(runPrequential(ev, attuneModel(cfg, catalog))));
