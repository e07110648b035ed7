/**
 * The stage's state as the replay sees it: plain data, shared by the pure replay (batch.ts, reevaluate-users.ts)
 * and the Redis store (store.ts) that loads and writes it. Kept apart from store.ts so the pure modules need no
 * import of the Redis side, not even for types.
 */
import type { SegmentChange } from '../../domain/events.js';
import type { UserFeatureState } from './features/state.js';

/** A segment change with the source offset of the step that caused it (header attune.source). */
export interface PendingChange extends SegmentChange {
  o: number;
}

export interface StoredUser {
  features: UserFeatureState;
  /** Sorted segment ids. */
  segments: string[];
  due: number | null;
  /** Last partition offset reflected in the state; -1 when none. */
  offset: number;
  pending: PendingChange[];
}
