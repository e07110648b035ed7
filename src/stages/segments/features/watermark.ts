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

/** Returns the advanced watermark (pure). Too-late events must not be passed here. */
export function advanceWatermark(wm: Watermark, eventTime: number): Watermark {
  return { maxEventTime: wm.maxEventTime === null ? eventTime : Math.max(wm.maxEventTime, eventTime) };
}
