/**
 * Similar items as the recommender scores them. A co-occurrence row in Redis holds only the pairs with greater
 * item ids, so an item's neighbours cannot be read from one key: like a worker at start-up (RecommendStage.warmUp),
 * the API loads every row into the recommender's own model (model/collaborative.ts: its similarity, its bounded
 * neighbour lists) and answers from it. The model is reloaded every ATTUNE_API_MODEL_REFRESH_SECONDS into a new
 * instance, swapped in when complete, so answers never come from a half-loaded model.
 */
import type { RedisClient } from '../stores/redis-client.js';
import { Keys } from '../stores/keys.js';
import { RecommenderStore } from '../stages/recommend/store.js';
import { Recommender } from '../stages/recommend/model/recommender.js';
import { loadStoredRows } from '../stages/recommend/warm-up.js';
import type { RecommenderConfig } from '../stages/recommend/model/config.js';
import { ServiceUnavailable, type SimilarItems } from './readers.js';

export interface SimilarDeps {
  redis: RedisClient;
  keyPrefix: string;
  recommender: RecommenderConfig;
  /** The deployment's decay epoch (ATTUNE_DECAY_EPOCH); the stored one wins, as in the worker. */
  decayEpoch: number;
}

/** Loads every stored row into a fresh model (loadStoredRows, as a worker's warm-up does, without its epoch write). */
export async function loadModel(d: SimilarDeps): Promise<Recommender> {
  const store = new RecommenderStore(d.redis, d.keyPrefix);
  const rec = new Recommender(d.recommender);
  // Read, never set: the API must not fix a deployment's epoch before its first worker does.
  const epoch = await d.redis.hget(new Keys(d.keyPrefix).meta(), 'decayEpoch');
  rec.collaborative.setEpoch(epoch === null ? d.decayEpoch : Number(epoch));
  await loadStoredRows(rec, store);
  return rec;
}

export class SimilarItemsReader {
  private model: { rec: Recommender; loadedAt: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private loading: Promise<void> | null = null;
  private readonly keys: Keys;

  constructor(private readonly d: SimilarDeps, private readonly onError: (err: Error) => void = () => {}) {
    this.keys = new Keys(d.keyPrefix);
  }

  /** Loads now and then every `refreshMs`; a failed reload keeps the previous model. */
  start(refreshMs: number): Promise<void> {
    const first = this.reload();
    this.timer = setInterval(() => void this.reload(), refreshMs);
    this.timer.unref();
    return first;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  reload(): Promise<void> {
    this.loading ??= loadModel(this.d)
      .then((rec) => { this.model = { rec, loadedAt: Date.now() }; })
      .catch((err: Error) => this.onError(err))
      .finally(() => { this.loading = null; });
    return this.loading;
  }

  async similar(itemId: string, limit: number): Promise<SimilarItems | null> {
    const m = this.model;
    if (!m) throw new ServiceUnavailable('the similar-items model is still loading from Redis: retry in a few seconds');
    if (m.rec.items.lookup(itemId) < 0) return null;
    const neighbours = m.rec.neighboursOf(itemId, limit);
    const ids = [itemId, ...neighbours.map((n) => n.itemId)];
    const rows = await Promise.all(ids.map((id) => this.d.redis.hmget(this.keys.item(id), 'title', 'available', 'deleted')));
    const title = (i: number) => (rows[i]![0] ? rows[i]![0] : null);
    const available = (i: number) => {
      const [t, a, del] = rows[i]!;
      if (t === null && a === null && del === null) return null; // not in the catalog
      return a === '1' && del !== '1';
    };
    return {
      itemId,
      title: title(0),
      similarity: m.rec.cfg.collaborative.similarity,
      modelLoadedAt: m.loadedAt,
      items: neighbours.map((n, k) => ({ itemId: n.itemId, title: title(k + 1), score: n.score, available: available(k + 1) })),
    };
  }
}
