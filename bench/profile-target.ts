/** Profiling target: full prequential replay, prints events/s.  node --cpu-prof --import tsx bench/profile-target.ts */
import { loadRetailDataset } from '../src/data/online-retail.js';
import { benchmarkInProcess } from '../src/eval/prequential.js';

const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
const m = benchmarkInProcess(events, catalog);
console.log(`test+learn ${Math.round(m.eventsPerSecond)} events/s; learn only ${Math.round(m.learnOnlyEventsPerSecond)} events/s; HR@10 ${m.hr10}`);
