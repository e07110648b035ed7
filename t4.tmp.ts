import { loadRetailDataset } from './src/data/online-retail.js';
import { attuneModel, timelinePrefix } from './src/eval/prequential.js';
const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
const ev = timelinePrefix(events, 0.2);
const m = attuneModel(JSON.parse(process.argv[2]??"{}"), catalog);
for (const e of ev) m.learn(e);
const users=[...m.recommender.users.keys()];
let t0=performance.now();
for(let r=0;r<100000;r++){ m.recommender.recommendRaw(users[r%users.length], 20, {now: ev[ev.length-1].eventTime}); }
console.log('score us', (performance.now()-t0)*10/1000);
t0=performance.now();
for(let r=0;r<100000;r++){ m.recommender.recommendRaw(users[0], 20, {now: ev[ev.length-1].eventTime}); }
console.log('score same user us', (performance.now()-t0)*10/1000);
