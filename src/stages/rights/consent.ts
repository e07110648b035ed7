/**
 * A data subject's consent as stored in `{u:P}:subject` field `consent` (pure; docs/privacy.md):
 *   {"p": {purpose: [status, eventTime]}, "h": [[offset, personalizedAfter (0|1)], ...], "s": "<topic>:<partition>"}
 * `p` is the latest status of each purpose the user ever chose; `h` is the history of the changes of the
 * `personalization` status, oldest first, capped at HISTORY_CAP entries; `s` is the partition whose offsets `h`
 * holds. Offsets compare only within one partition: when the partition count changes and a user's events move to
 * another partition, the history of the old one says nothing about the new one's offsets (`rebaseHistory`).
 *
 * Why a history and not just the status: a micro-batch can be re-run (retry, bisection half, replay after a crash)
 * after its own subject write landed. The status a run starts from must be the one the first run started from, so
 * it is read as "the value after the last change before the attempt's start" (`statusAt`), and a run rewrites the
 * history by dropping its own range and appending its changes again (`rewriteHistory`): idempotent.
 * Exact while one user has fewer than HISTORY_CAP personalization changes within one attempt (the cap then drops
 * entries before the attempt); a user toggling that often within one micro-batch gets the default on a replay.
 */
import type { ConsentChoice } from '../../domain/events.js';

export const HISTORY_CAP = 32;

export type ConsentStatus = ConsentChoice['status'];
export type HistoryEntry = [offset: number, personalizedAfter: 0 | 1];

export interface SubjectConsent {
  p: Record<string, [ConsentStatus, number]>;
  h: HistoryEntry[];
  /** The partition (`<topic>:<partition>`) whose offsets `h` holds; absent when nothing was stored yet. */
  s?: string;
}

export const emptyConsent = (): SubjectConsent => ({ p: {}, h: [] });

/** The stored JSON, or an empty consent for none. A value that does not parse is treated as none (logged by the caller). */
export function parseConsent(json: string | null | undefined): SubjectConsent {
  if (!json) return emptyConsent();
  const raw = JSON.parse(json) as Partial<SubjectConsent>;
  const p: SubjectConsent['p'] = {};
  if (raw.p && typeof raw.p === 'object') {
    for (const [k, v] of Object.entries(raw.p)) if (Array.isArray(v) && typeof v[0] === 'string') p[k] = [v[0] as ConsentStatus, Number(v[1])];
  }
  const h = Array.isArray(raw.h)
    ? raw.h.filter((e): e is HistoryEntry => Array.isArray(e) && typeof e[0] === 'number').map((e): HistoryEntry => [e[0], e[1] ? 1 : 0])
    : [];
  return typeof raw.s === 'string' ? { p, h, s: raw.s } : { p, h };
}

/** The JSON written (keys in a fixed order, so a replay writes the same bytes), or null when there is nothing to keep. */
export function serializeConsent(c: SubjectConsent): string | null {
  const purposes = Object.keys(c.p).sort();
  if (purposes.length === 0 && c.h.length === 0) return null;
  const p: SubjectConsent['p'] = {};
  for (const k of purposes) p[k] = c.p[k];
  return JSON.stringify(c.s === undefined ? { p, h: c.h } : { p, h: c.h, s: c.s });
}

/**
 * The history of another partition carried over to this one: every entry is kept, in order, at offset -1 —
 * before every offset of this partition. So the status at any start here is the status after the last stored
 * change (`currentStatus`), no event here counts as before a recorded withdrawal (no `0` entry at an offset ≥ 0),
 * and a rewrite of an attempt here (start ≥ 0) keeps them all. Idempotent: a replay here reads the rebased history
 * (now marked with this partition) and decides as the first attempt did.
 */
export function rebaseHistory(h: readonly HistoryEntry[]): HistoryEntry[] {
  return h.map(([, after]): HistoryEntry => [-1, after]);
}

/** Whether the user is personalized at the start of an attempt whose first event of theirs is at `start`. */
export function statusAt(h: readonly HistoryEntry[], start: number, defaultGranted: boolean): boolean {
  for (let i = h.length - 1; i >= 0; i--) if (h[i][0] < start) return h[i][1] === 1;
  return defaultGranted;
}

/** Whether the user is personalized now (after every stored change): work outside a micro-batch. */
export function currentStatus(h: readonly HistoryEntry[], defaultGranted: boolean): boolean {
  return h.length ? h[h.length - 1][1] === 1 : defaultGranted;
}

/**
 * The history after an attempt covering the user's offsets `start`..`end` that made `changes` (ascending offsets,
 * all in that range): the entries before the attempt, the changes, the entries after it, newest HISTORY_CAP kept.
 * Entries after `end` are there when the attempt re-runs a part of a micro-batch already applied (a bisection
 * half, after the whole was written): they are the rest of that micro-batch's changes and stay. `restart`: the
 * attempt erased the user, whose history starts again with the changes after the erasure.
 */
export function rewriteHistory(
  h: readonly HistoryEntry[], start: number, changes: readonly HistoryEntry[], restart: boolean, cap = HISTORY_CAP, end = Number.POSITIVE_INFINITY,
): HistoryEntry[] {
  const before = restart ? [] : h.filter((e) => e[0] < start);
  // `start` > `end` when every event of the attempt was skipped (before a recorded withdrawal): nothing is rewritten.
  const after = h.filter((e) => e[0] > end && e[0] >= start);
  const out = [...before, ...changes, ...after];
  return out.length > cap ? out.slice(out.length - cap) : out;
}
