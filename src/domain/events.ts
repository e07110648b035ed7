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
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

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
}

export interface SegmentChange {
  userId: string;
  segmentId: string;
  change: 'enter' | 'exit';
  eventTime: number;
  cause: string;
  emittedAt: number;
}
