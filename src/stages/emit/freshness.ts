/**
 * How fresh the emitted lists are (attune_freshness_seconds): for each list (not a tombstone), the emit time minus
 * the time of the event it was computed after — the event's own time and its record's Kafka timestamp (the events
 * topic stamps append time). The source event is the one named by the record's `attune.source` offset, which is
 * in the micro-batch; the work is one map lookup per list. A list re-emitted for a replayed user is left out
 * (REEMITTED_HEADER below says why). Pure.
 */
import type { InboundRecord, OutboundRecord } from '../../kafka/port.js';
import type { OffsetEvent } from '../ingest/plan.js';

export interface ListFreshness {
  /** Seconds since the source event's eventTime. */
  eventTime: number;
  /** Seconds since the source record's Kafka timestamp. */
  appendTime: number;
}

/**
 * Marks a list produced for a replayed user: its records were applied by an earlier attempt, which may or may not
 * have produced the list before it stopped (a crash between apply and produce, or a rebalance). The same list at
 * the same `attune.source`, so a consumer that already has that source drops it like any duplicate. The lists
 * counter counts it as `reemitted`, and freshness leaves it out: its source event is as old as the interruption,
 * and counting it would turn every replay into a freshness alert.
 */
export const REEMITTED_HEADER = 'attune.reemitted';

export function isReemitted(r: OutboundRecord): boolean {
  return r.headers?.[REEMITTED_HEADER] === 'true';
}

export function sourceOffset(r: OutboundRecord): number {
  const h = r.headers?.['attune.source'] ?? '';
  return Number(h.slice(h.lastIndexOf(':') + 1));
}

export function listFreshness(out: readonly OutboundRecord[], records: readonly InboundRecord[], events: readonly OffsetEvent[], now: number): ListFreshness[] {
  if (out.length === 0) return [];
  const appended = new Map<number, number>();
  for (const r of records) appended.set(Number(r.offset), Number(r.timestamp));
  const eventTimes = new Map<number, number>();
  for (const e of events) eventTimes.set(e.offset, e.event.eventTime);
  const result: ListFreshness[] = [];
  for (const r of out) {
    if (r.value === null) continue; // a tombstone is no list
    if (isReemitted(r)) continue; // its source event is as old as the interruption that made the replay
    const offset = sourceOffset(r);
    const at = appended.get(offset);
    const time = eventTimes.get(offset);
    if (at === undefined || time === undefined) continue;
    result.push({ eventTime: Math.max(0, (now - time) / 1000), appendTime: Math.max(0, (now - at) / 1000) });
  }
  return result;
}
