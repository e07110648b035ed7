/**
 * The domain vocabulary shared by every stage. Mirrors schemas/*.avsc; the decoder maps Avro records
 * to these shapes (timestamps as epoch milliseconds, absent optionals as null).
 */
export const EVENT_TYPES = [
  'view',
  'click',
  'add_to_cart',
  'remove_from_cart',
  'purchase',
  'rating',
  'consent',
  'erase',
  'impression',
  'identify',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Event types that are not activity: rights requests (consent, erase), identity links (identify: an anonymous id
 * becomes a known one; its merge record carries a profile, not an interaction) and impressions (what downstream
 * showed the user, used for attribution only). They update no counts, features or model; recommend attributes
 * impressions (docs/experiments.md).
 */
const NOT_ACTIVITY: ReadonlySet<EventType> = new Set(['consent', 'erase', 'identify', 'impression']);
export function isActivity(type: EventType): boolean {
  return !NOT_ACTIVITY.has(type);
}

export interface EventContext {
  device: string | null;
  country: string | null;
  referrer: string | null;
  userAgent: string | null;
}

/** One purpose of a consent event (schemas/user-event.avsc `consent`). `personalization` gates everything per user. */
export interface ConsentChoice {
  purpose: string;
  status: 'granted' | 'denied' | 'revoked';
}

/** The purpose whose status decides whether a user is personalized at all (docs/privacy.md). */
export const PERSONALIZATION = 'personalization';

export interface UserEvent {
  eventId: string;
  userId: string;
  type: EventType;
  /** Event time, epoch milliseconds. */
  eventTime: number;
  itemId: string | null;
  quantity: number | null;
  price: number | null;
  rating: number | null;
  sessionId: string | null;
  context: EventContext | null;
  properties: Record<string, string>;
  /** Consent events only: the purposes and their new status (absent or null on other events and old writers). */
  consent?: ConsentChoice[] | null;
  /** Impression, click and purchase events: the id of the list they come from (absent or null when none). */
  recommendationId?: string | null;
  /** Identify events from upstream: the known user id the anonymous `userId` becomes (absent or null otherwise). */
  knownUserId?: string | null;
  /**
   * Identify events Attune re-keys to the known user (the merge record): the anonymous profile as JSON
   * (domain/profile.ts). Absent or null on every event of upstream.
   */
  profile?: string | null;
}

export interface CatalogItem {
  itemId: string;
  title: string | null;
  categories: string[];
  tags: string[];
  price: number | null;
  available: boolean;
  deleted: boolean;
  updatedAt: number;
}

export interface Reason {
  kind: string;
  text: string;
  relatedItemId: string | null;
}

export interface RecommendedItem {
  itemId: string;
  score: number;
  reasons: Reason[];
}

export interface Recommendations {
  userId: string;
  items: RecommendedItem[];
  strategy: string;
  sourceEventId: string | null;
  sourceEventTime: number | null;
  generatedAt: number;
  /** Echoed by downstream in impression, click and purchase events (experiments/recommendation-id.ts). */
  recommendationId: string | null;
  /** The user's experiments and variants (at most one per layer). */
  assignments: ExperimentAssignment[];
}

export interface ExperimentAssignment {
  experiment: string;
  variant: string;
}

export interface SegmentChange {
  userId: string;
  segmentId: string;
  change: 'enter' | 'exit';
  eventTime: number;
  cause: string;
  emittedAt: number;
}
