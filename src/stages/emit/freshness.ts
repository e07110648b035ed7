/**
 * How fresh the emitted lists are (attune_freshness_seconds): for each list (not a tombstone), the emit time minus
 * the time of the event it was computed after — the event's own time and its record's Kafka timestamp (the events
 * topic stamps append time). The source event is the one named by the record's `attune.source` offset, which is
 * in the micro-batch; the work is one map lookup per list. Pure.
 */
import type { InboundRecord, OutboundRecord } from '../../kafka/port.js';
import type { OffsetEvent } from '../ingest/plan.js';

export interface ListFreshness {
  /** Seconds since the source event's eventTime. */
  eventTime: number;
  /** Seconds since the source record's Kafka timestamp. */
  appendTime: number;
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
    const offset = sourceOffset(r);
    const at = appended.get(offset);
    const time = eventTimes.get(offset);
    if (at === undefined || time === undefined) continue;
    result.push({ eventTime: Math.max(0, (now - time) / 1000), appendTime: Math.max(0, (now - at) / 1000) });
  }
  return result;
}
