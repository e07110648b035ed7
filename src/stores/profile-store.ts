/**
 * Reads the snapshot of an anonymous profile that identity stitching re-keys to the known user (domain/profile.ts).
 * Which of the user's keys (user-owned.ts) move and which do not is declared here, once: a per-user key added to the
 * registry without a decision fails test/unit/profile-store.test.ts.
 */
import type { ActivitySnapshot, ProfileSnapshot, RecommenderSnapshot } from '../domain/profile.js';
import type { RedisClient } from './redis-client.js';
import { Keys } from './keys.js';

/** The `{u}` keys whose content moves to the known user, by registry name. */
export const MOVED_KEYS = ['counts', 'recent', 'purchased', 'features', 'rec'] as const;

/** The `{u}` keys that do not move, and why. */
export const NOT_MOVED_KEYS: Readonly<Record<string, string>> = {
  applied: "offsets of the anonymous user's partition: the merge record is gated by its own offset on the known user's",
  segments: "the known user's segments are re-evaluated from the merged features",
  recs: "the known user's list is recomputed after the merge",
  subject: "the known user's own consent decides what is kept of the merge (no consent: nothing)",
};

export class ProfileStore {
  readonly keys: Keys;
  constructor(private readonly redis: RedisClient, keyPrefix: string) {
    this.keys = new Keys(keyPrefix);
  }

  /**
   * The profile of `pseudonym` as stored now. A part that does not parse reads as absent (and is counted in
   * `unreadable`): the identify must still go through, since the anonymous profile is erased after it either way.
   */
  async snapshot(pseudonym: string): Promise<{ profile: ProfileSnapshot; unreadable: number }> {
    const k = this.keys;
    const [counts, recent, purchased, features, rec] = await Promise.all([
      this.redis.hgetall(k.userCounts(pseudonym)),
      this.redis.lrange(k.userRecent(pseudonym), 0, -1),
      this.redis.zrange(k.userPurchased(pseudonym), 0, -1, 'WITHSCORES'),
      this.redis.hget(k.userFeatures(pseudonym), 's'),
      this.redis.hget(k.userRecommender(pseudonym), 's'),
    ]);
    let unreadable = 0;
    const json = (s: string | null): Record<string, unknown> | null => {
      if (!s) return null;
      try {
        const v = JSON.parse(s) as unknown;
        if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
      } catch { /* counted below */ }
      unreadable++;
      return null;
    };
    return { profile: { v: 1, activity: activityOf(counts, recent, purchased), features: json(features), recommender: recommenderOf(json(rec)) }, unreadable };
  }
}

/** Ingest's keys as a snapshot; null when the user has no activity stored. */
export function activityOf(counts: Record<string, string>, recent: string[], purchased: string[]): ActivitySnapshot | null {
  const c: Record<string, number> = {};
  let firstSeen: number | null = null;
  let lastSeen: number | null = null;
  for (const [f, v] of Object.entries(counts)) {
    const n = Number(v);
    if (!Number.isFinite(n)) continue;
    if (f === 'firstSeen') firstSeen = n;
    else if (f === 'lastSeen') lastSeen = n;
    else if (Number.isInteger(n) && n > 0) c[f] = n;
  }
  const bought: Array<[string, number]> = [];
  for (let i = 0; i + 1 < purchased.length; i += 2) bought.push([purchased[i], Number(purchased[i + 1])]);
  if (Object.keys(c).length === 0 && recent.length === 0 && bought.length === 0) return null;
  return { counts: c, firstSeen, lastSeen, recent, purchased: bought };
}

/** The model part of a stored `{u}:rec` state (history, purchases, country, last time); null when it has none. */
export function recommenderOf(s: Record<string, unknown> | null): RecommenderSnapshot | null {
  if (!s) return null;
  const h = s.h as RecommenderSnapshot['h'] | undefined;
  if (!h || !Array.isArray(h.i) || !Array.isArray(h.w) || !Array.isArray(h.t) || !Array.isArray(s.p)) return null;
  return { h: { i: h.i, w: h.w, t: h.t }, p: s.p as RecommenderSnapshot['p'], c: typeof s.c === 'string' ? s.c : null, lt: typeof s.lt === 'number' ? s.lt : 0 };
}
