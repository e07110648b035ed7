/**
 * The only place Redis key names are built. Every key of one user carries the hash tag `{u:<id>}`, so a user's
 * keys share one Redis Cluster slot and one Lua script can touch them all; global keys share `{g}`;
 * per-partition progress keys carry `{p:<topic>:<partition>}`.
 *
 * What one user owns (its `{u:<id>}` keys, its entries in partition and item indexes, the aggregates it counts
 * into) is declared in user-owned.ts: a new per-user key or index must be added there too, or
 * test/unit/user-owned.test.ts and test/functional/user-owned.test.ts fail.
 */
export class Keys {
  constructor(readonly prefix: string) {}

  private user(userId: string, what: string): string {
    return `${this.prefix}:{u:${userId}}:${what}`;
  }
  /** Hash: event counts by type, plus lastSeen/firstSeen. */
  userCounts(userId: string) { return this.user(userId, 'counts'); }
  /** List: the user's distinct recent items, newest first, capped. */
  userRecent(userId: string) { return this.user(userId, 'recent'); }
  /** Sorted set: items the user purchased, scored by the last purchase time. */
  userPurchased(userId: string) { return this.user(userId, 'purchased'); }
  /** Hash: the last applied offset of each source partition (field `o:<topic>:<partition>`). */
  userApplied(userId: string) { return this.user(userId, 'applied'); }
  /** String (JSON): the user's current recommendation list, with a TTL, for lookups. */
  userRecommendations(userId: string) { return this.user(userId, 'recs'); }

  /** Hash: the user's recommender state (JSON under "s") and its applied offset per source partition. */
  userRecommender(userId: string) { return this.user(userId, 'rec'); }
  /** Hash: the data subject behind the pseudonym: `id` (the real id, sealed) and `consent` (status and history JSON). */
  userSubject(userId: string) { return this.user(userId, 'subject'); }
  /** Hash: an item's co-occurrence row: `i:<other item>` (pairs with greater item ids), its norm `_n`, applied
   *  offsets `o:<topic>:<partition>` (field names: `coocItemField`, `COOC_NORM_FIELD`, `parseCoocField`). */
  itemCooc(itemId: string) { return `${this.prefix}:{i:${itemId}}:co`; }
  /** Set: users whose current recommendation list holds the item (to correct them when it goes away). */
  itemHolders(itemId: string) { return `${this.prefix}:{i:${itemId}}:holders`; }
  /** Pattern matching every co-occurrence row (for loading the model at start-up). */
  itemCoocPattern() { return `${this.prefix}:{i:*}:co`; }
  /** String: the last offset of the micro-batch being applied (a write-ahead marker for exact replays). */
  partitionInflight(topic: string, partition: number) { return `${this.prefix}:{p:${topic}:${partition}}:inflight`; }
  /** Hash: the partition's dead-letter bookkeeping (markDeadLetters-1.lua). */
  partitionDeadLetters(topic: string, partition: number) { return `${this.prefix}:{p:${topic}:${partition}}:dlq`; }
  /** String: the partition's fence counter (a new token for each assignment, see guard.ts). */
  partitionFence(topic: string, partition: number) { return `${this.prefix}:{p:${topic}:${partition}}:fence`; }
  /** Hash: one slot's guard (epoch, highest fence token per partition); `tag` hashes to that slot (guard.ts). */
  slotGuard(tag: string) { return `${this.prefix}:{${tag}}:guard`; }
  /** String: the lock of a state rebuild — outside `<prefix>:*`, so the rebuild's wipe does not delete it. */
  rebuildLock() { return `${this.prefix}.rebuild-lock`; }
  /** Hash: the deployment's state epoch and layout (written once, when its state starts empty; see bootstrap.ts). */
  bootstrap() { return `${this.prefix}:{g}:bootstrap`; }
  /** Hash: the deployment's decay epoch and other settings every worker must share. */
  meta() { return `${this.prefix}:{g}:meta`; }

  /** Sorted set: item popularity (purchase count) across all users. */
  popularity() { return `${this.prefix}:{g}:popularity`; }
  /** Hash: last applied offset per source partition for the global keys. */
  globalApplied() { return `${this.prefix}:{g}:applied`; }
  /** Hash: item catalog record (title, categories, available, deleted...). */
  item(itemId: string) { return `${this.prefix}:{i:${itemId}}:item`; }
  /** String: the last offset whose whole micro-batch is applied, for seeking on assignment. */
  partitionProgress(topic: string, partition: number) { return `${this.prefix}:{p:${topic}:${partition}}:progress`; }

  /** Sorted set: the dedupe window of a partition: member = event id, score = offset of its last applied record
   *  (dedupeEvents-3.lua; ids older than ATTUNE_DEDUPE_WINDOW_RECORDS offsets are removed). */
  partitionDedupe(topic: string, partition: number) { return `${this.prefix}:{p:${topic}:${partition}}:dedupe`; }
  /** Hash: the dedupe window's bookkeeping: `o` (last offset decided), `dups` (duplicate offsets after progress). */
  partitionDedupeState(topic: string, partition: number) { return `${this.prefix}:{p:${topic}:${partition}}:dedupe-state`; }

  /** Hash: rolling features and segments of a user: `s` (state JSON), `seg` (segments JSON), `due` (next timer),
   *  `o:<topic>:<partition>` (last applied source offset), `lc:<topic>:<partition>` (changes not yet known emitted). */
  userFeatures(userId: string) { return this.user(userId, 'features'); }
  /** Set: the segments the user is in (for readers; the hash's `seg` is what the worker computes from). */
  userSegments(userId: string) { return this.user(userId, 'segments'); }
  /** Hash: a partition's segment state: `wm` (event-time watermark), `o` (last offset), `wall`, `late`, `pending`,
   *  `rules` (fingerprint of the rules the state was last evaluated with), `rgen` (re-evaluations done), `msets`. */
  partitionSegmentState(topic: string, partition: number) { return `${this.prefix}:{p:${topic}:${partition}}:segstate`; }
  /** Sorted set: the partition's timer index, member = user id, score = due event time. */
  partitionTimers(topic: string, partition: number) { return `${this.prefix}:{p:${topic}:${partition}}:timers`; }
  /** Set: the partition's known users (ids of users whose feature state the partition wrote), for re-evaluations. */
  partitionUsers(topic: string, partition: number) { return `${this.prefix}:{p:${topic}:${partition}}:users`; }
  /** Prefix of the partition's member sets (`members: true` segments): `<prefix><segmentId>` is a set of user ids. */
  partitionMembersPrefix(topic: string, partition: number) { return `${this.prefix}:{p:${topic}:${partition}}:members:`; }
  /** Set: the members of one segment among the partition's users (a segment's members = union over partitions). */
  partitionMembers(topic: string, partition: number, segmentId: string) { return `${this.partitionMembersPrefix(topic, partition)}${segmentId}`; }
  /** Hash: segment id -> member count, over all partitions. */
  segmentCounts() { return `${this.prefix}:{g}:segcounts`; }
  /** Hash: last applied offset (`o:<topic>:<partition>`) or punctuation (`t:...`) of the segment counts. */
  segmentCountsApplied() { return `${this.prefix}:{g}:segapplied`; }
  /** Hash: the experiments' counts, `<experiment>|<variant>|<segment or *>|<i, c or v>` -> impressions, clicks, conversions. */
  experimentCounts() { return `${this.prefix}:{g}:experiments`; }
  /** Hash: last applied offset (`o:<topic>:<partition>`) of the experiments' counts. */
  experimentCountsApplied() { return `${this.prefix}:{g}:expapplied`; }
  /** Field of a user's pending (not yet known emitted) segment changes from one source partition. */
  static pendingField(topic: string, partition: number) { return `lc:${topic}:${partition}`; }
  /** Field of the segment counts' last applied rules re-evaluation step of one partition. */
  static rulesField(topic: string, partition: number) { return `r:${topic}:${partition}`; }
  /** Field of the segment counts' last applied punctuation of one partition. */
  static punctuationField(topic: string, partition: number) { return `t:${topic}:${partition}`; }

  /** Field name used in the applied-offset hashes. */
  static partitionField(topic: string, partition: number) { return `o:${topic}:${partition}`; }

  /**
   * Field of the pair (row item, `itemId`) in a co-occurrence row. Item ids are input: a raw id next to the
   * reserved fields could be `_n` (the norm) or `o:attune.events:3` (a partition's applied offset, which would
   * make the row skip that partition's later batches). Every item field starts with `i:` and no reserved field
   * does, so no item id can take a reserved field's name.
   */
  static coocItemField(itemId: string) { return `i:${itemId}`; }
  /** Field of the row item's norm in its co-occurrence row. */
  static readonly COOC_NORM_FIELD = '_n';
  /** What a co-occurrence row field is: a pair (with the other item's id), the norm, an applied offset, or unknown. */
  static parseCoocField(field: string): { kind: 'pair'; itemId: string } | { kind: 'norm' } | { kind: 'offset' } | { kind: 'unknown' } {
    if (field.startsWith('i:')) return { kind: 'pair', itemId: field.slice(2) };
    if (field === Keys.COOC_NORM_FIELD) return { kind: 'norm' };
    if (field.startsWith('o:')) return { kind: 'offset' };
    return { kind: 'unknown' };
  }
}
