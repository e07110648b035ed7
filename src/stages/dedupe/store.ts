/**
 * Redis side of the dedupe stage: one script call per micro-batch (dedupeEvents-3.lua) on the partition's keys, all
 * in the partition's slot `{p:<topic>:<partition>}` (its progress key included, which the script reads).
 */
import type { RedisClient } from '../../stores/redis-client.js';
import { Keys } from '../../stores/keys.js';
import { checkScriptResult } from '../../stores/script-errors.js';

export class DedupeStore {
  readonly keys: Keys;
  constructor(readonly redis: RedisClient, keyPrefix: string) {
    this.keys = new Keys(keyPrefix);
  }

  /**
   * The offsets among `records` ([offset, eventId], ascending) that repeat an event id applied at most `window`
   * offsets earlier on the partition; the same answer for a replay of the same records.
   */
  async duplicates(topic: string, partition: number, window: number, batchLast: number, records: Array<[number, string]>): Promise<Set<number>> {
    const k = this.keys;
    const res = await this.redis.dedupeEvents(
      k.partitionDedupe(topic, partition), k.partitionDedupeState(topic, partition), k.partitionProgress(topic, partition),
      window, batchLast, JSON.stringify(records),
    );
    if (!Array.isArray(res)) {
      checkScriptResult('dedupeEvents', Number(res));
      throw new Error(`dedupeEvents answered ${String(res)} instead of an array of offsets`);
    }
    return new Set(res.map(Number));
  }

  /** How many event ids the partition's window holds (for tests and the bound in docs/ARCHITECTURE.md). */
  async windowSize(topic: string, partition: number): Promise<number> {
    return this.redis.zcard(this.keys.partitionDedupe(topic, partition));
  }
}
