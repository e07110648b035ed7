/**
 * Per-partition event-time watermark: the max event time seen on the partition (no lag subtracted);
 * lateness is judged against it with a configurable allowance.
 */
export interface Watermark {
  /** Max event time seen, or null before the first event. */
  maxEventTime: number | null;
}

export type Lateness = 'on_time' | 'late_accepted' | 'too_late';

/** Reason code for events rejected as too late (the worker sends them to the DLQ). */
export const TOO_LATE = 'TOO_LATE' as const;

export function newWatermark(): Watermark {
  return { maxEventTime: null };
}

/**
 * on_time: eventTime >= watermark (or no watermark yet); late_accepted: watermark - eventTime <= allowedLateness
 * (the boundary is accepted); too_late otherwise.
 */
export function classifyLateness(eventTime: number, watermark: Watermark | number | null, allowedLatenessMs: number): Lateness {
  const wm = typeof watermark === 'object' && watermark !== null ? watermark.maxEventTime : watermark;
  if (wm === null || eventTime >= wm) return 'on_time';
  return wm - eventTime <= allowedLatenessMs ? 'late_accepted' : 'too_late';
}

/**
 * The watermark after an accepted event, clamped: an event may move the watermark to its own time, but never
 * beyond `cap` (the wall clock when the record reached Kafka, plus a small allowed skew). Without the clamp, one
 * client whose clock runs a day ahead (inside the accepted future skew) would move the partition's watermark a day
 * ahead and make every other user's valid events on the partition too late. The event itself is still applied
 * (and evaluated) at its own time; only what it does to everyone else's lateness is bounded. The watermark never
 * moves back.
 */
export function clampedWatermark(wm: number | null, eventTime: number, cap = Infinity): number {
  const to = Math.min(eventTime, cap);
  return wm === null ? to : Math.max(wm, to);
}

/** Returns the advanced watermark (pure). Too-late events must not be passed here. */
export function advanceWatermark(wm: Watermark, eventTime: number): Watermark {
  return { maxEventTime: wm.maxEventTime === null ? eventTime : Math.max(wm.maxEventTime, eventTime) };
}
