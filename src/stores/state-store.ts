/**
 * The worker's Redis state store: the I/O side of the ingest and recommend processors. Each method is one
 * Redis round trip (or one script) on keys of one hash slot, so it works on a single Redis and on a Cluster.
 */
import type { RedisClient } from './redis-client.js';
import { Keys } from './keys.js';
import { checkScriptResult } from './script-errors.js';
import { fenceField } from './guard.js';
import type { Recommendations } from '../domain/events.js';
import { encodeStoredList, readStoredList } from './stored-list.js';
import type { UserRecordDelta, PopularityDelta } from '../stages/ingest/plan.js';

export class StateStore {
  readonly keys: Keys;
  constructor(readonly redis: RedisClient, keyPrefix: string) {
    this.keys = new Keys(keyPrefix);
  }

  /**
   * Applies one user's records (the user by pseudonym; resets as RESET_RECORD records, see ingest/plan.ts);
   * returns how many were new (the rest were replays).
   */
  async applyUser(userId: string, field: string, recentCap: number, records: UserRecordDelta[]): Promise<number> {
    const k = this.keys;
    const res = await this.redis.applyUserEvents(
      k.userCounts(userId), k.userRecent(userId), k.userPurchased(userId), k.userApplied(userId),
      field, recentCap, JSON.stringify(records),
    );
    return checkScriptResult('applyUserEvents', Number(res));
  }

  async applyPopularity(field: string, batchLastOffset: number, deltas: PopularityDelta[]): Promise<number> {
    const res = await this.redis.applyPopularity(
      this.keys.popularity(), this.keys.globalApplied(), field, batchLastOffset, JSON.stringify(deltas),
    );
    return checkScriptResult('applyPopularity', Number(res));
  }

  /** n items of the popularity ranking from rank `from` on, with their counts, most popular first. */
  async topPopular(n: number, from = 0): Promise<{ itemId: string; count: number }[]> {
    const flat = await this.redis.zrevrange(this.keys.popularity(), from, from + n - 1, 'WITHSCORES');
    const out: { itemId: string; count: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ itemId: flat[i], count: Number(flat[i + 1]) });
    return out;
  }

  /** For each item, whether the user purchased it. */
  async purchasedFlags(userId: string, itemIds: string[]): Promise<boolean[]> {
    if (itemIds.length === 0) return [];
    const scores = await this.redis.zmscore(this.keys.userPurchased(userId), ...itemIds);
    return scores.map((s) => s !== null);
  }

  async userCounts(userId: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.userCounts(userId));
  }

  async recentItems(userId: string): Promise<string[]> {
    return this.redis.lrange(this.keys.userRecent(userId), 0, -1);
  }

  async saveRecommendations(recs: Recommendations, ttlSeconds: number): Promise<void> {
    await this.redis.set(this.keys.userRecommendations(recs.userId), encodeStoredList(recs), 'EX', ttlSeconds);
  }

  async getRecommendations(userId: string): Promise<Recommendations | null> {
    return readStoredList(this.redis, this.keys.userRecommendations(userId));
  }

  async upsertItem(itemId: string, fields: Record<string, string>): Promise<void> {
    await this.redis.hset(this.keys.item(itemId), fields);
  }

  async readProgress(topic: string, partition: number): Promise<number | null> {
    const v = await this.redis.get(this.keys.partitionProgress(topic, partition));
    return v === null ? null : Number(v);
  }

  /**
   * Records a fully applied micro-batch. Only moves forward (a zombie's late write cannot take progress back),
   * and fails with StateLostError when `expected` (what this worker wrote last, -1 for none) is gone.
   */
  async writeProgress(topic: string, partition: number, offset: number, expected = -1): Promise<void> {
    const res = await this.redis.advanceProgress(this.keys.partitionProgress(topic, partition), expected, offset);
    checkScriptResult('advanceProgress', Number(res));
  }

  /** A new fence token for a partition this worker was just assigned (see guard.ts). */
  async acquireFence(topic: string, partition: number): Promise<number> {
    return checkScriptResult('acquireFence', Number(await this.redis.acquireFence(this.keys.partitionFence(topic, partition), fenceField(topic, partition))));
  }

  /** The stage's last dead-lettered source offset of a partition, and the offset of a produce announced but not done. */
  /** `pendingAt`: when the pending produce began (ms, the producer's clock), null when unknown or none. */
  async deadLetterMarks(topic: string, partition: number, stage: string): Promise<{ done: number; pending: number | null; pendingAt: number | null }> {
    const [done, pending, at] = await this.redis.hmget(this.keys.partitionDeadLetters(topic, partition), stage, `pending:${stage}`, `pending:${stage}:at`);
    return { done: done === null ? -1 : Number(done), pending: pending === null ? null : Number(pending), pendingAt: at === null ? null : Number(at) };
  }

  /** `at` (begin only): the time the produce begins, so that a read-back after a crash can start there. */
  async markDeadLetters(topic: string, partition: number, mode: 'begin' | 'end', stage: string, offset: number, at?: number): Promise<void> {
    const key = this.keys.partitionDeadLetters(topic, partition);
    const res = at === undefined ? await this.redis.markDeadLetters(key, mode, stage, offset) : await this.redis.markDeadLetters(key, mode, stage, offset, at);
    checkScriptResult('markDeadLetters', Number(res));
  }
}
