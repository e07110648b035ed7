/**
 * Identity stitching, the anonymous side (docs/privacy.md): an identify event (anonymous `userId`, `knownUserId`)
 * makes the rights stage re-key a snapshot of the anonymous profile to the known user: an identify event of the
 * known user with the snapshot in `profile` and the deterministic event id `attune:merge:<topic>:<partition>:<offset>`,
 * produced to the events topic (so it lands on the known user's partition, where that user's task merges it).
 *
 * Exact under crashes, both sides:
 *  - the snapshot is the anonymous state just before the identify: the rights stage runs before any per-user stage,
 *    and a micro-batch in which the anonymous user has an event before its identify is cut before the identify
 *    (events-chain.ts), so the stored state holds exactly the user's earlier events;
 *  - produced (acked), then the erasure ledger entry at the identify's offset appended (acked) before any per-user
 *    stage runs. A replay or a rebuild that finds that entry does not produce again (the identify then only erases);
 *    a crash between the two acks produces a second copy with the same event id next to the first, which the known
 *    user's dedupe window drops;
 *  - the known side applies the merge record offset-gated like any record, so it is merged once.
 */
import type { UserEvent } from '../../domain/events.js';
import { mergeEventId, type ProfileSnapshot } from '../../domain/profile.js';

/** The I/O the rights stage needs for identity stitching (built in topology/processors.ts). */
export interface ProfileMerges {
  /** The stored profile of a pseudonym; `unreadable` counts parts that did not parse (they read as absent). */
  snapshot(pseudonym: string): Promise<{ profile: ProfileSnapshot; unreadable: number }>;
  /** Produces merge records to the events topic, keyed by the known user id, and waits for the ack. */
  send(events: readonly UserEvent[]): Promise<void>;
}

/** One identify of the micro-batch whose merge record the rights stage must produce. */
export interface PlannedMerge {
  /** The anonymous user's pseudonym and real id. */
  pseudonym: string;
  userId: string;
  knownUserId: string;
  /** The identify event: its offset, record timestamp (the ledger's `at`) and event time. */
  offset: number;
  at: number;
  eventTime: number;
}

/** The merge record of an identify: an identify event of the known user carrying the snapshot. */
export function mergeRecord(topic: string, partition: number, m: PlannedMerge, profile: ProfileSnapshot): UserEvent {
  return {
    eventId: mergeEventId(topic, partition, m.offset),
    userId: m.knownUserId,
    type: 'identify',
    eventTime: m.eventTime,
    itemId: null, quantity: null, price: null, rating: null, sessionId: null, context: null, properties: {},
    consent: null, recommendationId: null, knownUserId: null,
    profile: JSON.stringify(profile),
  };
}
