/**
 * Redis side of the recommender: per-user recommender state (compare-and-set on the applied offset),
 * co-occurrence rows written as combined per-batch deltas, the shared decay epoch, and loading every row
 * back into a worker's in-memory model at start-up.
 */
import { chunkByCost } from '../../chunks.js';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../../stores/redis-client.js';
import { scanKeys } from '../../stores/maintenance.js';
import { Keys } from '../../stores/keys.js';
import { checkScriptResult } from '../../stores/script-errors.js';
import { pairFromKey, type CoocBatchDelta } from './model/deltas.js';

export interface StoredRecUser {
  /** The offset the state reflects (-1: none). */
  offset: number;
  state: string | null;
}

/** A co-occurrence row as read back: the pairs (other item id → count) and the row item's norm. */
export interface CoocRow {
  pairs: Array<[string, number]>;
  norm: number;
  /** The row's applied offsets: `o:<topic>:<partition>` → the last micro-batch of that partition it holds. */
  gates: Array<[string, number]>;
}

/** The fields of a stored row (HGETALL) as a row; unknown fields are skipped. */
export function parseCoocRow(fields: Record<string, string>): CoocRow {
  const row: CoocRow = { pairs: [], norm: 0, gates: [] };
  for (const [f, v] of Object.entries(fields)) {
    const p = Keys.parseCoocField(f);
    if (p.kind === 'pair') row.pairs.push([p.itemId, Number(v)]);
    else if (p.kind === 'norm') row.norm = Number(v);
    else if (p.kind === 'offset') row.gates.push([f, Number(v)]);
  }
  return row;
}

/**
 * A micro-batch's combined deltas in the stored rows' layout: each pair once, in the row of its smaller item id
 * (string order, as includes/cooc-row.lua and the warm-up read them) under its namespaced field
 * (Keys.coocItemField, so that no item id can overwrite the norm or an offset), each norm under COOC_NORM_FIELD.
 */
export function storedRowDeltas(delta: Pick<CoocBatchDelta, 'pairs' | 'norms'>, name: (item: number) => string): Map<string, Array<[string, number]>> {
  const rows = new Map<string, Array<[string, number]>>();
  const add = (row: string, f: string, v: number) => {
    let list = rows.get(row);
    if (!list) rows.set(row, (list = []));
    list.push([f, v]);
  };
  for (const [k, v] of delta.pairs) {
    const [a, b] = pairFromKey(k);
    const sa = name(a);
    const sb = name(b);
    if (sa < sb) add(sa, Keys.coocItemField(sb), v);
    else add(sb, Keys.coocItemField(sa), v);
  }
  for (const [a, v] of delta.norms) add(name(a), Keys.COOC_NORM_FIELD, v);
  return rows;
}

export class RecommenderStore {
  readonly keys: Keys;
  constructor(readonly redis: RedisClient, keyPrefix: string) {
    this.keys = new Keys(keyPrefix);
  }

  async loadUser(userId: string, field: string): Promise<StoredRecUser> {
    const [s, o] = await this.redis.hmget(this.keys.userRecommender(userId), 's', field);
    return { offset: o === null ? -1 : Number(o), state: s };
  }

  async commitUser(userId: string, field: string, expected: number, next: number, state: string): Promise<void> {
    const res = await this.redis.commitRecUser(this.keys.userRecommender(userId), field, expected, next, state);
    checkScriptResult('commitRecUser', Number(res));
  }

  /** The experiments' counts (experiments/counts.ts), HGETALL of one hash. */
  async experimentCounts(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.experimentCounts());
  }

  /** Adds attributed counts ([offset, field, delta], ascending), exactly once per source offset (applyCounts-2.lua). */
  async applyExperimentCounts(field: string, last: number, deltas: Array<[number, string, number]>): Promise<number> {
    const res = await this.redis.applyCounts(this.keys.experimentCounts(), this.keys.experimentCountsApplied(), field, last, JSON.stringify(deltas));
    return checkScriptResult('applyCounts', Number(res));
  }

  /** Deltas of one row: [field, increment] pairs, field `Keys.coocItemField(other item)` or `Keys.COOC_NORM_FIELD`. */
  async applyRow(itemId: string, field: string, batchLast: number, deltas: Array<[string, number]>): Promise<number> {
    const res = await this.redis.applyCoocRow(this.keys.itemCooc(itemId), field, batchLast, JSON.stringify(deltas));
    return checkScriptResult('applyCoocRow', Number(res));
  }

  /**
   * All rows of a micro-batch: one call per row on a Redis Cluster (rows live in different slots), multi-row
   * calls on a single Redis, where the per-call overhead would otherwise dominate. The calls go out together
   * (each row is gated on its own, so their order does not matter), each bounded by `rowChunks` so that no
   * script keeps Redis from the other clients for long.
   */
  async applyRows(rows: Map<string, Array<[string, number]>>, field: string, batchLast: number): Promise<number> {
    if ((this.redis as unknown) instanceof Cluster) {
      const res = await Promise.all([...rows].map(([item, deltas]) => this.applyRow(item, field, batchLast, deltas)));
      return res.reduce((a, b) => a + b, 0);
    }
    const res = await Promise.all(rowChunks([...rows], RecommenderStore.FIELDS_PER_CALL).map(async (chunk) => {
      const keys = chunk.map(([item]) => this.keys.itemCooc(item));
      const n = await this.redis.applyCoocRows(keys.length, ...keys, field, batchLast, JSON.stringify(chunk.map(([, d]) => d)));
      return checkScriptResult('applyCoocRows', Number(n));
    }));
    return res.reduce((a, b) => a + b, 0);
  }
  /**
   * Fields (increments) per multi-row call. A field costs Redis 3–8 µs in the script (HINCRBYFLOAT, the more in a
   * listpack-encoded hash, up to hash-max-listpack-entries fields) and each row ~2 more (its gate): 500 fields
   * took 5–7 ms here; 250 near 3 ms, but 4 of its ~6,200 calls per 100k events ran 5.0–6.5 ms on the busy host
   * (bench/profile-worker.ts, SLOWLOG by script); 150: 0 and 1 call (5.5 ms) in two runs, as often as the
   * sub-millisecond scripts the host stretched, for 0.05 more commands sent per event (#12: no script blocks Redis
   * longer than 5 ms).
   */
  static readonly FIELDS_PER_CALL = 150;

  /**
   * The holders index: for each item, the users whose current list holds it, so a catalog change can find
   * the lists to correct. Sets, so a repeated update is harmless; one command per changed item.
   */
  async updateHolders(userId: string, before: string[], after: string[]): Promise<void> {
    const was = new Set(before);
    const now = new Set(after);
    await Promise.all([
      ...after.filter((i) => !was.has(i)).map((i) => this.redis.sadd(this.keys.itemHolders(i), userId)),
      ...before.filter((i) => !now.has(i)).map((i) => this.redis.srem(this.keys.itemHolders(i), userId)),
    ]);
  }

  /**
   * Withdraws a user's list (a rights reset): the user leaves the holders of its items and the stored list
   * ({u}:recs) is deleted. Idempotent, so a replay may repeat it.
   */
  async clearList(userId: string, items: string[]): Promise<void> {
    await Promise.all([
      ...[...new Set(items)].map((i) => this.redis.srem(this.keys.itemHolders(i), userId)),
      this.redis.del(this.keys.userRecommendations(userId)),
    ]);
  }

  async holders(itemId: string): Promise<string[]> {
    return this.redis.smembers(this.keys.itemHolders(itemId));
  }

  /** The source partition a user's recommender state belongs to (from its applied-offset field), or null. */
  async userPartition(userId: string, topic: string): Promise<number | null> {
    const fields = await this.redis.hkeys(this.keys.userRecommender(userId));
    const prefix = `o:${topic}:`;
    const f = fields.find((x) => x.startsWith(prefix));
    return f === undefined ? null : Number(f.slice(prefix.length));
  }

  /** The deployment's decay epoch: the first worker to ask sets it, every later one reads the same value. */
  async decayEpoch(candidate: number): Promise<number> {
    await this.redis.hsetnx(this.keys.meta(), 'decayEpoch', String(candidate));
    return Number(await this.redis.hget(this.keys.meta(), 'decayEpoch'));
  }

  /**
   * Adds the micro-batch's cut (its last offset) to the partition's in-flight cuts before it writes anything,
   * pruning the cuts below its first offset (already applied). See raiseInflight-1.lua.
   */
  async markInflight(topic: string, partition: number, lastOffset: number, firstOffset: number = lastOffset): Promise<void> {
    checkScriptResult('raiseInflight', Number(await this.redis.raiseInflight(this.keys.partitionInflight(topic, partition), lastOffset, firstOffset)));
  }

  /**
   * The in-flight cuts above `progress`, ascending: the last offsets of attempts that may have written in part
   * and that a replay must not cross. A marker left as a string by an older deployment counts as one cut.
   */
  async readInflight(topic: string, partition: number, progress: number): Promise<number[]> {
    const key = this.keys.partitionInflight(topic, partition);
    if ((await this.redis.type(key)) === 'string') {
      const v = Number(await this.redis.get(key));
      return v > progress ? [v] : [];
    }
    return (await this.redis.zrangebyscore(key, `(${progress}`, '+inf')).map(Number);
  }

  /**
   * Streams every co-occurrence row: (item, its parsed row) — pairs by the other item's id, the norm (0 when the
   * row has none); applied-offset fields and fields of an unknown form are left out. SCAN per master, so Redis
   * stays responsive while a worker warms up.
   */
  async forEachRow(fn: (itemId: string, row: CoocRow) => void): Promise<number> {
    const prefix = `${this.keys.prefix}:{i:`;
    let rows = 0;
    for await (const keys of scanKeys(this.redis, this.keys.itemCoocPattern(), 500)) {
      const all = await Promise.all(keys.map((k) => this.redis.hgetall(k)));
      keys.forEach((k, i) => fn(k.slice(prefix.length, k.length - '}:co'.length), parseCoocRow(all[i])));
      rows += keys.length;
    }
    return rows;
  }

}

/**
 * Cuts rows into consecutive chunks of at most `maxFields` fields in all (a row's gate counts as one); a row
 * larger than that on its own is a chunk of its own (a row is never split: its gate covers all its fields).
 */
export function rowChunks<T>(rows: ReadonlyArray<[string, readonly T[]]>, maxFields: number): Array<Array<[string, readonly T[]]>> {
  return chunkByCost(rows, (row) => row[1].length + 1, maxFields);
}
