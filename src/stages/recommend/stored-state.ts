/**
 * A user's recommender state as stored in `{u:<P>}:rec` (field `s`, JSON), and its conversion to and from the
 * model's UserState: item ids as strings in Redis (interned ids are per worker). Pure.
 */
import { createHash } from 'node:crypto';
import type { Recommendations } from '../../domain/events.js';
import type { RememberedClick } from '../../experiments/attribution.js';
import type { Recorded } from '../../experiments/list-plan.js';
import type { IdInterner } from './model/interner.js';
import { newUserState, type UserState } from './model/user-state.js';

/** A user's recommender state as stored: item ids as strings (interned ids are per worker). */
export interface StoredState {
  h: { i: string[]; w: number[]; t: number[] };
  p: Array<[string, number, number]>;
  c: string | null;
  lt: number;
  /** Hash of the last emitted list: emit only when it changes. */
  lh: string;
  /** Item ids of the last emitted list (for the holders index). */
  li?: string[];
  /** The last list's experiment assignments (experiments/list-plan.ts). */
  x?: Recorded[];
  /** Clicks a purchase without a recommendation id may be attributed to (experiments/attribution.ts). */
  ck?: RememberedClick[];
}

/** The model's state of a stored one; items the model refuses (past limits.maxItems) drop out. */
export function toUserState(s: StoredState, items: IdInterner): UserState {
  const u = newUserState();
  const ids = s.h.i.map((x) => items.tryIntern(x));
  const keep = ids.map((id, k) => (id >= 0 ? k : -1)).filter((k) => k >= 0);
  u.history = keep.length === ids.length
    ? { items: ids, weights: s.h.w, times: s.h.t }
    : { items: keep.map((k) => ids[k]), weights: keep.map((k) => s.h.w[k]), times: keep.map((k) => s.h.t[k]) };
  for (const [id, count, last] of s.p) {
    const i = items.tryIntern(id);
    if (i >= 0) u.purchases.set(i, { count, last });
  }
  u.country = s.c;
  u.lastTime = s.lt;
  return u;
}

/** The stored state of a user's model state and last list; empty experiment records are left out (no bytes without experiments). */
export function toStored(u: UserState, items: IdInterner, list: Pick<StoredState, 'lh' | 'li' | 'x' | 'ck'>): StoredState {
  const { x, ck, ...rest } = list;
  return {
    h: { i: u.history.items.map((x) => items.name(x)), w: [...u.history.weights], t: [...u.history.times] },
    p: [...u.purchases].map(([id, e]) => [items.name(id), e.count, e.last]),
    c: u.country,
    lt: u.lastTime,
    ...rest,
    ...(x?.length ? { x } : {}),
    ...(ck?.length ? { ck } : {}),
  };
}

/**
 * A stored `{u}:rec` state `s`; throws when it does not parse or lacks what `toUserState` reads (a throw there
 * would come later, past the point where a reset user's state can still be read as empty).
 */
export function parseStoredState(json: string): StoredState {
  const s = JSON.parse(json) as StoredState | null;
  const h = s?.h;
  if (typeof s !== 'object' || s === null || typeof h !== 'object' || h === null
    || !Array.isArray(h.i) || !Array.isArray(h.w) || !Array.isArray(h.t) || !Array.isArray(s.p)) {
    throw new Error('stored recommender state is not an object with h.i, h.w, h.t and p');
  }
  // `li` names the holders sets to leave: only item ids count (a string here would iterate as characters).
  const li = Array.isArray(s.li) ? s.li.filter((x): x is string => typeof x === 'string') : undefined;
  // Experiment records are only read back by this worker's code; a damaged one reads as none (no reuse, no
  // click to attribute a purchase to), never as a failure of the user's records.
  const x = Array.isArray(s.x) ? s.x.filter(isRecorded) : undefined;
  const ck = Array.isArray(s.ck) ? s.ck.filter(isClick) : undefined;
  return { ...s, li, x, ck };
}

function isRecorded(r: unknown): r is Recorded {
  return Array.isArray(r) && r.length === 4 && typeof r[0] === 'string' && typeof r[1] === 'string' && (r[2] === null || typeof r[2] === 'string') && typeof r[3] === 'number';
}

function isClick(c: unknown): c is RememberedClick {
  return Array.isArray(c) && c.length === 3 && typeof c[0] === 'string' && typeof c[1] === 'string' && typeof c[2] === 'number';
}

/**
 * What makes a list "the same": its items in order, their reasons (scores rounded: float noise is no change) and
 * its experiment assignments (a user moved to another variant gets the list, and the id, of that variant; a list
 * in no experiment hashes as before experiments existed).
 */
export function listHash(r: Pick<Recommendations, 'items' | 'assignments'>): string {
  const h = createHash('sha1');
  for (const it of r.items) h.update(`${it.itemId}|${it.score.toFixed(4)}|${it.reasons.map((x) => x.kind + ':' + (x.relatedItemId ?? '')).join(',')};`);
  for (const a of r.assignments ?? []) h.update(`@${a.experiment}:${a.variant}`);
  return h.digest('base64url').slice(0, 16);
}
