/**
 * Attribution: which experiment variants a user's impression, click and purchase events count for. Pure; the
 * recommend stage runs it on the records a user's state does not reflect yet (so each is counted once) and adds
 * the deltas to `{g}:experiments` (counts.ts) exactly once per source offset.
 *
 * The rules (docs/experiments.md, Attribution):
 *  - an `impression`, `click` or `purchase` carrying a recommendation id signed for the user counts one
 *    impression, click or conversion for every assignment the id names (under `*`, and under the id's segment
 *    when it has one);
 *  - a `purchase` without an id is a conversion of the user's latest remembered click on the same item at most
 *    `windowMs` before it (a click with an id and an item is remembered, the last MAX_CLICKS of them); that click
 *    is then forgotten, so one click converts at most once;
 *  - an id that does not verify (malformed, made for another user, altered) counts nothing and is reported as
 *    refused; the event itself is still an ordinary event for the other stages;
 *  - a reset (erasure, consent withdrawn) forgets the remembered clicks.
 */
import { countField, type Metric } from './counts.js';
import type { IdAssignment } from './recommendation-id.js';

/** A remembered click: [item id, recommendation id, event time]. */
export type RememberedClick = [string, string, number];
export const MAX_CLICKS = 8;

export interface AttributedRecord {
  offset: number;
  reset?: boolean;
  type: string;
  itemId: string | null;
  recommendationId: string | null;
  eventTime: number;
}

export interface Attribution {
  /** [offset, count field, +1] in offset order: applyCounts-2.lua's deltas. */
  deltas: Array<[number, string, number]>;
  clicks: RememberedClick[];
  /** Events whose recommendation id did not verify. */
  refused: number;
  /** Counted events by metric (for the metrics; a conversion without an id counts as `v`). */
  counted: Array<{ experiment: string; variant: string; metric: Metric }>;
}

const METRIC: Readonly<Record<string, Metric>> = { impression: 'i', click: 'c', purchase: 'v' };

export function attribute(
  records: readonly AttributedRecord[],
  clicks: readonly RememberedClick[],
  read: (id: string) => IdAssignment[] | null,
  windowMs: number,
): Attribution {
  const out: Attribution = { deltas: [], clicks: [...clicks], refused: 0, counted: [] };
  const count = (offset: number, as: readonly IdAssignment[], metric: Metric) => {
    for (const a of as) {
      out.deltas.push([offset, countField(a.experiment, a.variant, null, metric), 1]);
      if (a.segment !== null) out.deltas.push([offset, countField(a.experiment, a.variant, a.segment, metric), 1]);
      out.counted.push({ experiment: a.experiment, variant: a.variant, metric });
    }
  };
  for (const r of records) {
    if (r.reset) {
      out.clicks = [];
      continue;
    }
    const metric = METRIC[r.type];
    if (metric === undefined) continue;
    if (r.recommendationId !== null) {
      const as = read(r.recommendationId);
      if (as === null) {
        out.refused++;
        continue;
      }
      count(r.offset, as, metric);
      if (metric === 'c' && r.itemId !== null && as.length > 0) {
        out.clicks.push([r.itemId, r.recommendationId, r.eventTime]);
        if (out.clicks.length > MAX_CLICKS) out.clicks.splice(0, out.clicks.length - MAX_CLICKS);
      }
      continue;
    }
    if (metric !== 'v' || r.itemId === null) continue;
    // A purchase without an id: the latest remembered click on the item within the window.
    for (let k = out.clicks.length - 1; k >= 0; k--) {
      const [item, id, t] = out.clicks[k];
      if (item !== r.itemId || t > r.eventTime || r.eventTime - t > windowMs) continue;
      out.clicks.splice(k, 1);
      count(r.offset, read(id) ?? [], 'v');
      break;
    }
  }
  return out;
}
