/**
 * The Redis store of rolling features and segments: the I/O side of the segment processor, and the one typed
 * read interface (`readFeatureView`, `readSegments`) for the recommender. Every call touches keys of one hash
 * slot ({u:<id>}, {p:<topic>:<partition>} or {g}), so it works on a single Redis and on a Cluster.
 *
 * Exactly-once layout (see the header of processor.ts for the reasoning):
 *  - `{u:<id>}:features` hash: `s` state JSON, `seg` segments JSON, `since` their entries, `due` next timer, `o:<topic>:<partition>` the
 *    last partition offset whose processing the user's state reflects, `lc:<topic>:<partition>` the user's changes
 *    after the partition's progress offset (not yet known to be emitted). Written by commitSegmentUser (CAS on o).
 *  - `{u:<id>}:segments` set: the user's segments, rewritten in the same script.
 *  - `{p:<topic>:<partition>}:segstate` hash: `wm`, `o`, `wall`, `late`, `pending`, `rules` (fingerprint), `rgen`,
 *    `msets`; `{p:...}:timers` zset; `{p:...}:users` set (known users, for rule re-evaluations);
 *    `{p:...}:members:<segment>` sets (segments with `members: true`; a segment's members = the union over
 *    partitions). All written by commitSegmentPartition (CAS on o and wm) after every user write succeeded.
 *  - `{g}:segcounts` hash with `{g}:segapplied`: counts applied once per source offset (applyCounts).
 */
import type { RedisClient } from '../../stores/redis-client.js';
import { scanKeys } from '../../stores/maintenance.js';
import { Keys } from '../../stores/keys.js';
import { checkScriptResult } from '../../stores/script-errors.js';
import { createFeatureView, type FeatureView } from './features/view.js';
import { emptyFeatureState, parseFeatureState, serializeFeatureState } from './features/state.js';
import type { FeatureConfig } from './features/config.js';
import { parseSince, type PendingChange, type StoredUser } from './stored.js';

// The stored shapes stay importable from here, where they are read and written.
export type { PendingChange, StoredUser } from './stored.js';

export interface StoredPartition {
  watermark: number | null;
  offset: number;
  wall: number | null;
  late: number[];
  pending: PendingChange[];
  /** Fingerprint of the rules the partition's users were last evaluated with; null when never stored. */
  rules: string | null;
  /** Number of completed rule re-evaluations (sequence base of their count deltas). */
  rgen: number;
  /** The raw values the CAS compares against. */
  raw: { offset: string; watermark: string };
}

/** What commitPartition writes besides the partition state and the timers. */
export interface PartitionExtras {
  /** Users to add to the partition's known-users index (users with feature state). */
  knownUsers?: string[];
  /** Member set states [segmentId, userId, 1 | 0] (segments with `members: true`). */
  members?: Array<[string, string, 0 | 1]>;
  /** Store this rules fingerprint (end of a re-evaluation) and keep member sets only for `memberSegments`. */
  fingerprint?: string;
  memberSegments?: string[];
}

const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&');

export class FeatureStore {
  readonly keys: Keys;
  constructor(readonly redis: RedisClient, keyPrefix: string, private readonly featureConfig?: FeatureConfig) {
    this.keys = new Keys(keyPrefix);
  }

  // ---- reads for the recommender and other consumers -------------------------------------------------------

  /** The user's features through the typed view (reads take `now`: pass the current event time). Null if unknown. */
  async readFeatureView(userId: string, cfg: FeatureConfig | undefined = this.featureConfig): Promise<FeatureView | null> {
    if (!cfg) throw new Error('readFeatureView needs the feature configuration');
    const raw = await this.redis.hget(this.keys.userFeatures(userId), 's');
    return raw ? createFeatureView(parseFeatureState(raw), cfg) : null;
  }

  /** The user's current segments, sorted. */
  async readSegments(userId: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.userSegments(userId))).sort();
  }

  /**
   * Members of a segment configured with `members: true`, sorted: the union of the per-partition member sets.
   * With `partitions` (the events topic and its partition count) it reads exactly those sets; without, it finds
   * them with SCAN on every master (a Cluster spreads them over slots).
   */
  async segmentMembers(segmentId: string, partitions?: { topic: string; count: number }): Promise<string[]> {
    let keys: string[];
    if (partitions) {
      keys = Array.from({ length: partitions.count }, (_, p) => this.keys.partitionMembers(partitions.topic, p, segmentId));
    } else {
      const pattern = `${globEscape(this.keys.prefix)}:{p:*}:members:${globEscape(segmentId)}`;
      const found = new Set<string>();
      for await (const batch of scanKeys(this.redis, pattern)) for (const k of batch) found.add(k);
      keys = [...found];
    }
    const sets = await Promise.all(keys.map((k) => this.redis.smembers(k)));
    return [...new Set(sets.flat())].sort();
  }

  /** Member count per segment (all partitions). */
  async segmentCounts(): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(this.keys.segmentCounts());
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }

  // ---- the segment processor's side -------------------------------------------------------------------------

  /**
   * The user's stored state; throws when a field does not parse. With `unreadableAsEmpty` (a user about to be reset:
   * the processor's loading rule) a field that does not parse reads as empty instead, each field on its own, so what
   * is readable (segments to exit, pending changes to re-emit, the offset gate) is kept; `unreadable` tells it happened.
   */
  async loadUser(userId: string, topic: string, partition: number, unreadableAsEmpty = false): Promise<StoredUser & { unreadable?: true }> {
    const [s, seg, due, o, lc, since] = await this.redis.hmget(
      this.keys.userFeatures(userId), 's', 'seg', 'due', Keys.partitionField(topic, partition), Keys.pendingField(topic, partition), 'since',
    );
    if (!unreadableAsEmpty) {
      return {
        features: parseFeatureState(s),
        segments: seg ? (JSON.parse(seg) as string[]) : [],
        due: due ? Number(due) : null,
        offset: o === null ? -1 : Number(o),
        pending: lc ? (JSON.parse(lc) as PendingChange[]) : [],
        since: parseSince(since),
      };
    }
    let unreadable = false;
    const read = <T>(parse: () => T, empty: T): T => {
      try {
        return parse();
      } catch {
        unreadable = true;
        return empty;
      }
    };
    const u: StoredUser = {
      features: read(() => parseFeatureState(s), emptyFeatureState()),
      segments: read(() => stringList(seg), []),
      due: due && Number.isFinite(Number(due)) ? Number(due) : null,
      offset: o === null ? -1 : Number(o),
      pending: read(() => pendingList(lc), []),
      since: read(() => parseSince(since), {}),
    };
    return unreadable ? { ...u, unreadable: true } : u;
  }

  async loadPartition(topic: string, partition: number): Promise<StoredPartition> {
    const [wm, o, wall, late, pending, rules, rgen] = await this.redis.hmget(
      this.keys.partitionSegmentState(topic, partition), 'wm', 'o', 'wall', 'late', 'pending', 'rules', 'rgen',
    );
    return {
      rules: rules ?? null,
      rgen: rgen ? Number(rgen) : 0,
      watermark: wm ? Number(wm) : null,
      offset: o === null ? -1 : Number(o),
      wall: wall ? Number(wall) : null,
      late: late ? (JSON.parse(late) as number[]) : [],
      pending: pending ? (JSON.parse(pending) as PendingChange[]) : [],
      raw: { offset: o ?? '-1', watermark: wm ?? '' },
    };
  }

  /** The events processor's progress offset (same slot as the partition's segment keys); -1 when none. */
  async readProgress(topic: string, partition: number): Promise<number> {
    const v = await this.redis.get(this.keys.partitionProgress(topic, partition));
    return v === null ? -1 : Number(v);
  }

  /** The partition's known users (users whose feature state it wrote), sorted; SSCAN, so any size works. */
  async knownUsers(topic: string, partition: number): Promise<string[]> {
    const key = this.keys.partitionUsers(topic, partition);
    const out = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.sscan(key, cursor, 'COUNT', 1000);
      cursor = next;
      for (const id of batch) out.add(id);
    } while (cursor !== '0');
    return [...out].sort();
  }

  /** Each user's last offset of the partition reflected in its state (-1 when none). */
  async userOffsets(userIds: string[], topic: string, partition: number): Promise<number[]> {
    const field = Keys.partitionField(topic, partition);
    const raw = await Promise.all(userIds.map((id) => this.redis.hget(this.keys.userFeatures(id), field)));
    return raw.map((v) => (v === null ? -1 : Number(v)));
  }

  /**
   * Users whose timer is due at or before `upTo`, read in pages of DUE_TIMERS_PAGE (ZRANGEBYSCORE … LIMIT), so
   * that no single reply — and no single command keeping Redis busy — grows with the number of due timers.
   */
  async dueTimers(topic: string, partition: number, upTo: number): Promise<string[]> {
    const key = this.keys.partitionTimers(topic, partition);
    const out: string[] = [];
    for (let offset = 0; ; offset += FeatureStore.DUE_TIMERS_PAGE) {
      const page = await this.redis.zrangebyscore(key, '-inf', upTo, 'LIMIT', offset, FeatureStore.DUE_TIMERS_PAGE);
      out.push(...page);
      if (page.length < FeatureStore.DUE_TIMERS_PAGE) return out;
    }
  }
  static readonly DUE_TIMERS_PAGE = 1000;

  /** Item categories from the catalog (items processor), for events without properties.category. */
  async itemCategories(itemIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const raw = await Promise.all(itemIds.map((id) => this.redis.hget(this.keys.item(id), 'categories')));
    itemIds.forEach((id, i) => {
      const v = raw[i];
      if (!v) return;
      try {
        const list = JSON.parse(v) as unknown;
        if (Array.isArray(list)) out.set(id, list.filter((c): c is string => typeof c === 'string'));
      } catch { /* not JSON: ignore */ }
    });
    return out;
  }

  /** CAS write of one user; throws a retriable SEGMENT_USER_CONFLICT when the stored offset moved. */
  async commitUser(userId: string, topic: string, partition: number, expectedOffset: number, newOffset: number, u: StoredUser): Promise<void> {
    const res = await this.redis.commitSegmentUser(
      this.keys.userFeatures(userId), this.keys.userSegments(userId),
      Keys.partitionField(topic, partition), Keys.pendingField(topic, partition),
      expectedOffset, newOffset, serializeFeatureState(u.features), u.due === null ? '' : String(u.due),
      JSON.stringify(u.segments), JSON.stringify(u.pending), JSON.stringify(u.since),
    );
    checkScriptResult('commitSegmentUser', Number(res));
  }

  /** CAS write of the partition; throws a retriable SEGMENT_PARTITION_CONFLICT when offset or watermark moved. */
  async commitPartition(
    topic: string, partition: number, expected: StoredPartition['raw'],
    next: { offset: number; watermark: number | null; wall: number; late: number[]; pending: PendingChange[] },
    timers: Array<[string, number | false]>,
    extra: PartitionExtras = {},
  ): Promise<void> {
    const res = await this.redis.commitSegmentPartition(
      this.keys.partitionSegmentState(topic, partition), this.keys.partitionTimers(topic, partition), this.keys.partitionUsers(topic, partition),
      expected.offset, expected.watermark, next.offset, next.watermark === null ? '' : String(next.watermark),
      next.wall, JSON.stringify(next.late), JSON.stringify(next.pending), JSON.stringify(timers),
      JSON.stringify(extra.knownUsers ?? []), JSON.stringify(extra.members ?? []), this.keys.partitionMembersPrefix(topic, partition),
      extra.fingerprint ?? '', JSON.stringify(extra.memberSegments ?? []),
    );
    checkScriptResult('commitSegmentPartition', Number(res));
  }

  /** Applies count deltas [seq, segment, ±1] once per seq for `field`; returns how many were new. */
  async applyCounts(field: string, last: number, deltas: Array<[number, string, number]>): Promise<number> {
    const res = await this.redis.applyCounts(this.keys.segmentCounts(), this.keys.segmentCountsApplied(), field, last, JSON.stringify(deltas));
    return checkScriptResult('applyCounts', Number(res));
  }
}

/** A stored JSON list of segment ids; throws unless it is one (the lenient load then reads it as none). */
function stringList(json: string | null): string[] {
  if (!json) return [];
  const v = JSON.parse(json) as unknown;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error('not a list of segment ids');
  return v as string[];
}

/** A stored JSON list of pending changes; throws unless it is a list of objects. */
function pendingList(json: string | null): PendingChange[] {
  if (!json) return [];
  const v = JSON.parse(json) as unknown;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'object' && x !== null)) throw new Error('not a list of changes');
  return v as PendingChange[];
}
