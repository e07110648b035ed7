/**
 * Exploration for the quality issue's matrix-factorisation item: is an incremental MF worth building into the
 * worker (state in Redis, exact under replay)? Measures, on the prequential harness of `attune eval`:
 *   - isgd: incremental SGD for positive-only feedback (Vinagre, Jorge, Gama, UMAP 2014): per event
 *     err = 1 − p_u·q_i; p_u += η(err·q_i − λp_u); q_i += η(err·p_u − λq_i); a list is the top p_u·q_j over every
 *     item (a full scan: fine here, unbounded in a worker);
 *   - attune+isgd: Attune's top 50 re-ranked by (1 − α)·score/max + α·(normalised p_u·q_j).
 * Factors start from a deterministic hash of the id, so runs are reproducible.
 *
 *   npx tsx bench/isgd.ts [--fraction 0.5] [--protocol repeat|discovery] [--k 10] [--eta 0.05] [--lambda 0.01] [--alpha 0.2]
 */
import { loadRetailDataset } from '../src/data/online-retail.js';
import type { UserEvent } from '../src/domain/events.js';
import { IdInterner } from '../src/stages/recommend/model/interner.js';
import { attuneModel, runPrequential, timelinePrefix, type EvalProtocol, type PrequentialModel } from '../src/eval/prequential.js';
import { optionOf } from './args.js';

const opt = (name: string, def: string): string => optionOf(process.argv, name, def);

const fraction = Number(opt('--fraction', '0.5'));
const protocol = opt('--protocol', 'repeat') as EvalProtocol;
const K = Number(opt('--k', '10'));
const ETA = Number(opt('--eta', '0.05'));
const LAMBDA = Number(opt('--lambda', '0.01'));
const ALPHA = Number(opt('--alpha', '0.2'));

function initVector(name: string): Float64Array {
  let h = 2166136261;
  for (let c = 0; c < name.length; c++) h = Math.imul(h ^ name.charCodeAt(c), 16777619);
  const v = new Float64Array(K);
  for (let f = 0; f < K; f++) {
    h = (Math.imul(h, 1664525) + 1013904223) >>> 0;
    v[f] = (h / 2 ** 32 - 0.5) * 0.2;
  }
  return v;
}

class Isgd {
  readonly items = new IdInterner();
  readonly q: Float64Array[] = [];
  readonly p = new Map<string, Float64Array>();

  learn(e: UserEvent): void {
    if (e.itemId === null) return;
    const i = this.items.intern(e.itemId);
    if (i === this.q.length) this.q.push(initVector(`i:${e.itemId}`));
    let pu = this.p.get(e.userId);
    if (!pu) this.p.set(e.userId, (pu = initVector(`u:${e.userId}`)));
    const qi = this.q[i];
    let dot = 0;
    for (let f = 0; f < K; f++) dot += pu[f] * qi[f];
    const err = 1 - dot;
    for (let f = 0; f < K; f++) {
      const a = pu[f];
      const b = qi[f];
      pu[f] = a + ETA * (err * b - LAMBDA * a);
      qi[f] = b + ETA * (err * a - LAMBDA * b);
    }
  }

  score(userId: string, j: number): number {
    const pu = this.p.get(userId);
    if (!pu) return 0;
    const qj = this.q[j];
    let s = 0;
    for (let f = 0; f < K; f++) s += pu[f] * qj[f];
    return s;
  }
}

function isgdModel(): PrequentialModel {
  const m = new Isgd();
  return {
    name: 'isgd',
    idOf: (id) => m.items.lookup(id),
    top: (e, n, exclude) => {
      const scored: Array<[number, number]> = [];
      for (let j = 0; j < m.q.length; j++) if (!exclude?.(j)) scored.push([m.score(e.userId, j), j]);
      scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      return scored.slice(0, n).map((x) => x[1]);
    },
    learn: (e) => m.learn(e),
  };
}

function rerankedModel(): PrequentialModel {
  const a = attuneModel();
  const m = new Isgd();
  return {
    name: `attune+isgd(α=${ALPHA})`,
    idOf: (id) => a.idOf(id),
    top: (e, n, exclude) => {
      const raw = a.recommender.recommendRaw(e.userId, 50, { now: e.eventTime, country: e.context?.country ?? null, explain: false });
      const cands = exclude ? raw.filter((c) => !exclude(c.item)) : raw;
      if (cands.length === 0) return [];
      const smax = cands[0].score || 1;
      const mf = cands.map((c) => {
        const j = m.items.lookup(a.recommender.items.name(c.item));
        return j < 0 ? 0 : m.score(e.userId, j);
      });
      const lo = Math.min(...mf);
      const hi = Math.max(...mf);
      const span = hi - lo || 1;
      return cands
        .map((c, x) => ({ id: c.item, s: (1 - ALPHA) * (c.score / smax) + ALPHA * ((mf[x] - lo) / span) }))
        .sort((p, q) => q.s - p.s || p.id - q.id)
        .slice(0, n)
        .map((x) => x.id);
    },
    learn: (e) => {
      a.learn(e);
      m.learn(e);
    },
  };
}

const { events: all } = await loadRetailDataset('data/online-retail.csv.gz');
const events = timelinePrefix(all, fraction);
for (const model of [isgdModel(), rerankedModel()]) {
  const r = runPrequential(events, model, { protocol });
  console.log(`${protocol} fraction ${fraction} k ${K} η ${ETA} λ ${LAMBDA}: ${r.model.padEnd(20)} HR@10 ${r.hr10.toFixed(4)} NDCG@10 ${r.ndcg10.toFixed(4)} cold HR@10 ${r.cold.hr10.toFixed(4)} ${Math.round(r.eventsPerSecond)} ev/s`);
}
