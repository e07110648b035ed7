import { loadRetailDataset } from './src/data/online-retail.js';
import { attuneModel, timelinePrefix } from './src/eval/prequential.js';
const { events, catalog } = await loadRetailDataset('data/online-retail.csv.gz');
const ev = timelinePrefix(events, 0.2);
const m = attuneModel(JSON.parse(process.argv[2]??"{}"), catalog);
let tl=0, ts=0, np=0, nn=0;
const seen=new Set<string>();
for (const e of ev) {
  if (seen.has(e.userId)) { const t0=performance.now(); m.top(e, 20); ts+=performance.now()-t0; const u=m.recommender.users.get(e.userId)!; np+=u.purchases.size; } else seen.add(e.userId);
  const t1=performance.now(); m.learn(e); tl+=performance.now()-t1;
}
console.log('score us/ev', ts*1000/ev.length, 'learn us/ev', tl*1000/ev.length, 'avg purchases', np/ev.length);
const r=m.recommender; let tot=0; for(let i=0;i<r.items.size;i++) tot+=r.collaborative.neighbours.size(i); console.log('avg nb', tot/r.items.size, 'pairs', r.collaborative.state.pairCount);
