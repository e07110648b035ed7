/**
 * The registry of what one user owns in Redis: every key, set membership and index entry that exists because of
 * one user, and how to find it. Erasure (remove all of it) and identity merging (move all of it) need exactly this
 * list; nothing else in the code base enumerates it. A user's state is spread over three stages with their own
 * offset schemes (ingest's `{u}:counts|recent|purchased|applied`, segments' `{u}:features|segments`, recommend's
 * `{u}:rec` and `{u}:recs`) plus entries in per-partition and per-item indexes.
 *
 * Adding a per-user key to `Keys` without declaring it here fails test/unit/user-owned.test.ts; a stage that starts
 * writing a user id somewhere undeclared fails test/functional/user-owned.test.ts.
 *
 * Not declared, because it holds no user id: the dedupe window `{p}:dedupe` (event ids, dropped once they are more
 * than ATTUNE_DEDUPE_WINDOW_RECORDS offsets behind). Producers whose event ids embed user ids should know that an
 * erasure leaves those until the window passes them.
 *
 * `ownedBy` is pure: it computes the concrete keys and members from a context; `readOwnerContext` reads that context
 * from Redis (the only I/O here).
 */
import { Keys } from './keys.js';
import type { RedisClient } from './redis-client.js';

/** Where the user's trace lives. */
export type OwnedKind =
  /** A whole key tagged `{u:<id>}`: every byte of it is the user's. */
  | 'user-key'
  /** The user id as a member of a per-partition set or sorted set (an index of the partition's users). */
  | 'partition-member'
  /** The user id as a member of a per-item set. */
  | 'item-member'
  /** The user id inside a JSON field value of a per-partition hash (transient bookkeeping). */
  | 'partition-mention'
  /** Counted into an aggregate without the user id: nothing of it can be found or removed per user. */
  | 'aggregate';

/** What erasure does with an instance. */
export type Erasure = 'delete' | 'remove-member' | 'leave';

/** Names of the `Keys` methods that build a key (not `prefix`; the static field-name helpers are not on instances). */
export type KeyBuilder = { [K in keyof Keys]: Keys[K] extends (...args: never[]) => string ? K : never }[keyof Keys];

export interface OwnedEntry {
  /** Short stable name of the entry (used by tests and reports). */
  name: string;
  kind: OwnedKind;
  builder: KeyBuilder;
  /** Redis type of the key. */
  type: 'hash' | 'list' | 'zset' | 'set' | 'string';
  /** The stage and script or store method that writes it. */
  writtenBy: string;
  /** How its instances are found for a given user. */
  find: string;
  /** 'always' = exists for every user the stage applied a valid event of; otherwise the condition. */
  presence: 'always' | string;
  erasure: Erasure;
  /** For 'partition-mention': the hash field whose JSON value may hold the user id. */
  field?: string;
  /** Why erasure does what it does, where it is not obvious. */
  why?: string;
}

const FROM_ID = 'from the user id';
const VIA_PARTITIONS = "on each source partition the user's state came from (the `o:<topic>:<partition>` fields of "
  + '`{u}:applied`, `{u}:features` and `{u}:rec`; when producers key events by user id, also the partition the '
  + "default partitioner picks for the id)";

/** A whole `{u:<id>}` key: found from the id, deleted by erasure. */
const userKey = (name: string, builder: KeyBuilder, type: OwnedEntry['type'], writtenBy: string, presence = 'always'): OwnedEntry =>
  ({ name, kind: 'user-key', builder, type, writtenBy, find: FROM_ID, presence, erasure: 'delete' });
/** A count without user ids: nothing to find or remove per user. */
const aggregate = (name: string, builder: KeyBuilder, type: OwnedEntry['type'], writtenBy: string, what: string, presence: string): OwnedEntry =>
  ({ name, kind: 'aggregate', builder, type, writtenBy, find: `none: ${what}, without user ids`, presence, erasure: 'leave', why: 'anonymous aggregate' });

export const USER_OWNED: readonly OwnedEntry[] = [
  userKey('counts', 'userCounts', 'hash', 'ingest: applyUserEvents-4.lua (StateStore.applyUser)'),
  userKey('recent', 'userRecent', 'list', 'ingest: applyUserEvents-4.lua', 'when an event had an item'),
  userKey('purchased', 'userPurchased', 'zset', 'ingest: applyUserEvents-4.lua', 'when the user purchased'),
  userKey('applied', 'userApplied', 'hash', 'ingest: applyUserEvents-4.lua'),
  userKey('features', 'userFeatures', 'hash', 'segments: commitSegmentUser-2.lua (FeatureStore.commitUser)'),
  userKey('segments', 'userSegments', 'set', 'segments: commitSegmentUser-2.lua', 'when the user is in a segment'),
  userKey('rec', 'userRecommender', 'hash', 'recommend: commitRecUser-1.lua (RecommenderStore.commitUser)'),
  userKey('recs', 'userRecommendations', 'string', 'recommend: StateStore.saveRecommendations (SET with TTL)', 'when a list was emitted, until its TTL'),
  userKey('subject', 'userSubject', 'hash', 'rights: writeSubject-1.lua (SubjectStore.write)',
    'when the user had a personalized event (field `id`, the sealed real id) or made a consent choice (field `consent`)'),

  { name: 'known-users', kind: 'partition-member', builder: 'partitionUsers', type: 'set', writtenBy: 'segments: commitSegmentPartition-3.lua',
    find: VIA_PARTITIONS, presence: 'always', erasure: 'remove-member' },
  { name: 'timers', kind: 'partition-member', builder: 'partitionTimers', type: 'zset', writtenBy: 'segments: commitSegmentPartition-3.lua',
    find: VIA_PARTITIONS, presence: 'when the user has a due timer (field `due` of `{u}:features`)', erasure: 'remove-member' },
  { name: 'members', kind: 'partition-member', builder: 'partitionMembers', type: 'set', writtenBy: 'segments: commitSegmentPartition-3.lua',
    find: `${VIA_PARTITIONS}, for each compiled segment with \`members: true\` (or listed in the partition's \`segstate.msets\`)`,
    presence: 'for each such segment the user is in', erasure: 'remove-member' },
  { name: 'holders', kind: 'item-member', builder: 'itemHolders', type: 'set', writtenBy: 'recommend: RecommenderStore.updateHolders',
    find: 'for each item of the last emitted list, field `li` of the `{u}:rec` state JSON `s`', presence: 'always', erasure: 'remove-member',
    why: 'holders ⊆ `li` at every point, crashes included (header of stages/recommend/processor.ts, (3)): a changed list '
      + 'leaves the holders of its dropped items before `li` is committed and joins those of its items after, and a replayed '
      + "user's holders are added from the stored `li`, never from the recomputed list; so removing the holders of `li` "
      + 'removes them all. Exceptions: a `{u}:rec` state that does not parse names no items (a reset reads it as empty, its '
      + 'old holders stay); a holder correction (RecommendStage.correct) follows the same order' },

  { name: 'pending-changes', kind: 'partition-mention', builder: 'partitionSegmentState', type: 'hash', field: 'pending',
    writtenBy: 'segments: commitSegmentPartition-3.lua', find: VIA_PARTITIONS, presence: "when the partition's last micro-batch changed the user's segments",
    erasure: 'leave', why: "the segment changes of the partition's last micro-batch, kept so a replay re-emits them; the next "
      + 'micro-batch of the partition replaces the list (rewriting it would break the exactly-once re-emission)' },

  aggregate('popularity', 'popularity', 'zset', 'ingest: applyPopularity-2.lua', 'purchases per item', 'when the user purchased'),
  aggregate('segment-counts', 'segmentCounts', 'hash', 'segments: applyCounts-2.lua', 'members per segment', 'when the user is in a segment'),
  aggregate('experiment-counts', 'experimentCounts', 'hash', 'recommend: applyCounts-2.lua', 'impressions, clicks and conversions per experiment variant',
    'when the user saw, clicked or bought from an attributed list'),
  aggregate('co-occurrence', 'itemCooc', 'hash', 'recommend: applyCoocRow-1.lua / applyCoocRows-n.lua', 'decayed item-pair counts',
    'when the user interacted with two items'),
];

/** The entry named `name` (throws on an unknown name: a typo must not silently match nothing). */
export function ownedEntry(name: string): OwnedEntry {
  const e = USER_OWNED.find((x) => x.name === name);
  if (!e) throw new Error(`no user-owned entry named ${name}`);
  return e;
}

export interface SourcePartition {
  topic: string;
  partition: number;
}

/** What `ownedBy` needs besides the user id to find the user's index entries. */
export interface OwnerContext {
  /** The source partitions the user's state came from. */
  partitions: readonly SourcePartition[];
  /** Segments that keep member sets (compiled segments with `members: true`). */
  memberSegments: readonly string[];
  /** Items of the user's last emitted list (`li` of `{u}:rec`). */
  heldItems: readonly string[];
}

/** One concrete trace of a user: a whole key, a member of a set/zset, or a field whose JSON may name the user. */
export interface OwnedInstance {
  entry: OwnedEntry;
  key: string;
  /** For set/zset memberships: the member (the user id). */
  member?: string;
  /** For mentions: the hash field. */
  field?: string;
}

/**
 * Every concrete key, membership and mention of `userId` for the given context, in registry order. Aggregates give
 * none (they hold nothing per user). Member sets are listed for every member segment on every partition: removing
 * a member that is not there is harmless, and the user's current segments may be stale.
 */
export function ownedBy(keys: Keys, userId: string, ctx: OwnerContext): OwnedInstance[] {
  const out: OwnedInstance[] = [];
  const build = (e: OwnedEntry, ...args: Array<string | number>) => (keys[e.builder] as (...a: Array<string | number>) => string).apply(keys, args);
  for (const e of USER_OWNED) {
    switch (e.kind) {
      case 'user-key':
        out.push({ entry: e, key: build(e, userId) });
        break;
      case 'partition-member':
        for (const p of ctx.partitions) {
          if (e.builder === 'partitionMembers') {
            for (const s of ctx.memberSegments) out.push({ entry: e, key: build(e, p.topic, p.partition, s), member: userId });
          } else out.push({ entry: e, key: build(e, p.topic, p.partition), member: userId });
        }
        break;
      case 'item-member':
        for (const item of ctx.heldItems) out.push({ entry: e, key: build(e, item), member: userId });
        break;
      case 'partition-mention':
        for (const p of ctx.partitions) out.push({ entry: e, key: build(e, p.topic, p.partition), field: e.field });
        break;
      case 'aggregate':
        break;
    }
  }
  return out;
}

/** The user id of a key tagged `{u:<id>}` (with or without the key prefix), or null. */
export function userOfKey(key: string): string | null {
  const s = key.indexOf('{u:');
  const e = key.lastIndexOf('}');
  return s >= 0 && e > s ? key.slice(s + 3, e) : null;
}

/** The source partitions named by applied-offset fields `o:<topic>:<partition>` (and `lc:`), deduplicated. */
export function partitionsOfFields(fields: Iterable<string>): SourcePartition[] {
  const seen = new Map<string, SourcePartition>();
  for (const f of fields) {
    const m = /^(?:o|lc):(.+):(\d+)$/.exec(f);
    if (m) seen.set(`${m[1]}:${m[2]}`, { topic: m[1], partition: Number(m[2]) });
  }
  return [...seen.values()];
}

/** The item ids of the last emitted list in a `{u}:rec` state JSON (field `s`); [] when none or unreadable. */
export function heldItemsOfState(state: string | null | undefined): string[] {
  const li = (parseOrNull(state) as { li?: unknown } | null)?.li;
  return Array.isArray(li) ? li.filter((x): x is string => typeof x === 'string') : [];
}

/** The segment ids of a partition's `segstate.msets` JSON; [] when absent or not a list. */
export function memberSegmentsOfMsets(msets: string | null | undefined): string[] {
  const v = parseOrNull(msets);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * A stored JSON value, or null when absent or not JSON. Reading a context must not throw on a damaged value: the
 * sweep that uses it deletes the user's keys whatever they hold, and a throw would leave all of them (a value that
 * does not parse names no held item or segment: what only it named cannot be found).
 */
function parseOrNull(json: string | null | undefined): unknown {
  if (!json) return null;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return null;
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A RegExp matching every instance of the entry's key with the key prefix stripped (e.g. `^\{u:.*\}:rec$`):
 * the builder is called with a placeholder for each id, which then stands for `id` (regex source; by default any
 * id, braces and colons included — ids are input, and every key ends in its fixed suffix, so `.*` cannot reach
 * into another entry's keys; pass a group such as `(.*)` to capture the id).
 */
export function keyPatternOf(entry: OwnedEntry, id = '.*'): RegExp {
  const keys = new Keys('p');
  const ph = '\u0001';
  const key = (keys[entry.builder] as (...a: string[]) => string).call(keys, ph, ph, ph).slice('p:'.length);
  return new RegExp(`^${escapeRegExp(key).split(ph).join(id)}$`);
}

/**
 * Reads the context of `ownedBy` from Redis: the user's source partitions from the offset fields of its three
 * states, the held items from `{u}:rec`, and the member segments as given (the compiled rules) plus those each of
 * the user's partitions last stored in `segstate.msets` (member sets of segments since dropped from the rules are
 * deleted at the re-evaluation that stores msets, so the union covers every member set that may name the user).
 */
export async function readOwnerContext(redis: RedisClient, keys: Keys, userId: string, memberSegments: readonly string[] = []): Promise<OwnerContext> {
  const [applied, features, rec, state] = await Promise.all([
    redis.hkeys(keys.userApplied(userId)), redis.hkeys(keys.userFeatures(userId)), redis.hkeys(keys.userRecommender(userId)),
    redis.hget(keys.userRecommender(userId), 's'),
  ]);
  const partitions = partitionsOfFields([...applied, ...features, ...rec]);
  const stored = await Promise.all(partitions.map((p) => redis.hget(keys.partitionSegmentState(p.topic, p.partition), 'msets')));
  const segments = new Set(memberSegments);
  for (const m of stored) for (const s of memberSegmentsOfMsets(m)) segments.add(s);
  return { partitions, memberSegments: [...segments].sort(), heldItems: heldItemsOfState(state) };
}
