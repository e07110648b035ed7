/**
 * Identity stitching (docs/privacy.md): when an anonymous user (a cookie id) identifies as a known user, the
 * worker that owns the anonymous id takes a snapshot of the anonymous profile and re-keys it to the known user
 * through the events topic: an `identify` event of the known user carrying the snapshot in `profile` (JSON). The
 * known user's task merges it into each per-user state (ingest's activity, segments' features, the recommender's
 * history and purchases), offset-gated like any record. This module is the snapshot's shape and its parser; each
 * stage owns how its part merges.
 */
import { ValidationError } from '../errors.js';

/** The prefix of a merge record's event id: `attune:merge:<topic>:<partition>:<offset of the identify event>`. */
export const MERGE_EVENT_PREFIX = 'attune:merge:';

/** The deterministic event id of the merge record an identify event at `offset` produces (a replay produces the same). */
export function mergeEventId(topic: string, partition: number, offset: number): string {
  return `${MERGE_EVENT_PREFIX}${topic}:${partition}:${offset}`;
}

/** A profile larger than this is refused (a record must fit the broker's default 1 MB message size). */
export const MAX_PROFILE_CHARS = 512 * 1024;

export interface ActivitySnapshot {
  /** Events counted per event type (ingest's `{u}:counts`). */
  counts: Record<string, number>;
  /** Earliest and latest event time counted (ms); null when nothing was counted. */
  firstSeen: number | null;
  lastSeen: number | null;
  /** Distinct recent items, newest first (`{u}:recent`). */
  recent: string[];
  /** Purchased items and their last purchase time (`{u}:purchased`). */
  purchased: Array<[string, number]>;
}

export interface RecommenderSnapshot {
  /** The co-occurrence history: item ids oldest first, strongest weight and last time of each (parallel arrays). */
  h: { i: string[]; w: number[]; t: number[] };
  /** The purchase log: [item, purchases, last time], least recently purchased first. */
  p: Array<[string, number, number]>;
  /** Last seen country. */
  c: string | null;
  /** Latest event time learned. */
  lt: number;
}

export interface ProfileSnapshot {
  v: 1;
  activity: ActivitySnapshot | null;
  /** The segments stage's feature state (stages/segments/features/state.ts), as stored; null when none. */
  features: Record<string, unknown> | null;
  recommender: RecommenderSnapshot | null;
}

/** Whether the snapshot holds anything to merge. */
export function isEmptyProfile(p: ProfileSnapshot): boolean {
  return p.activity === null && p.features === null && p.recommender === null;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');
const isNums = (x: unknown): x is number[] => Array.isArray(x) && x.every((n) => typeof n === 'number' && Number.isFinite(n));
const isTime = (x: unknown): x is number | null => x === null || (typeof x === 'number' && Number.isFinite(x));

/**
 * Parses a merge record's `profile`; throws ValidationError(BAD_PROFILE) naming what is wrong (never a value: a
 * profile is personal data). Checks the shape every stage relies on; the feature state's inside is the segments
 * stage's to read (a damaged one fails that stage, and isolation dead-letters the record).
 */
export function parseProfile(json: string): ProfileSnapshot {
  const bad = (what: string) => new ValidationError('BAD_PROFILE', `the identify event's profile ${what}`);
  if (json.length > MAX_PROFILE_CHARS) throw bad(`is ${json.length} characters; at most ${MAX_PROFILE_CHARS} are accepted`);
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    throw bad('is not JSON');
  }
  if (!isObj(v) || v.v !== 1) throw bad('is not a version 1 profile object');
  const a = v.activity ?? null;
  if (a !== null) {
    if (!isObj(a) || !isObj(a.counts) || !Object.values(a.counts).every((n) => Number.isInteger(n) && (n as number) >= 0)) throw bad('activity.counts is not an object of counts');
    if (!isTime(a.firstSeen) || !isTime(a.lastSeen)) throw bad('activity.firstSeen/lastSeen are not times');
    if (!isStrings(a.recent)) throw bad('activity.recent is not a list of item ids');
    if (!Array.isArray(a.purchased) || !a.purchased.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'number' && Number.isFinite(e[1]))) {
      throw bad('activity.purchased is not a list of [item id, time]');
    }
  }
  const f = v.features ?? null;
  if (f !== null && (!isObj(f) || f.v !== 1)) throw bad('features is not a version 1 feature state');
  const r = v.recommender ?? null;
  if (r !== null) {
    if (!isObj(r) || !isObj(r.h) || !isStrings(r.h.i) || !isNums(r.h.w) || !isNums(r.h.t) || r.h.i.length !== r.h.w.length || r.h.i.length !== r.h.t.length) {
      throw bad('recommender.h is not a history of parallel item, weight and time lists');
    }
    if (!Array.isArray(r.p) || !r.p.every((e) => Array.isArray(e) && e.length === 3 && typeof e[0] === 'string' && isNums([e[1], e[2]]))) {
      throw bad('recommender.p is not a list of [item id, purchases, time]');
    }
    if (r.c !== null && typeof r.c !== 'string') throw bad('recommender.c is not a country or null');
    if (typeof r.lt !== 'number' || !Number.isFinite(r.lt)) throw bad('recommender.lt is not a time');
  }
  return { v: 1, activity: a as ActivitySnapshot | null, features: f as Record<string, unknown> | null, recommender: r as RecommenderSnapshot | null };
}
