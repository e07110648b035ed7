/**
 * What the lookup API reads, as one interface: the routes only see these shapes, so the unit tests drive them with
 * in-memory readers (no I/O) and `attune api` with the Redis, Kafka and Prometheus readers (redis-readers.ts,
 * dead-letter-tail.ts, prometheus.ts, similar-items.ts).
 *
 * Every user id here is the raw id of the URL: the Redis reader pseudonymizes it the way the worker does.
 * A `null` answer means "nothing stored" (the route turns it into a 404 naming why).
 */
import type { Recommendations } from '../domain/events.js';
import type { ExperimentsReport } from '../experiments/report-format.js';

export type { ExperimentsReport };

/** The user's current list exactly as the worker emitted it (and keeps it in Redis for lookups). */
export type UserRecommendations = Recommendations;

export interface UserSegment {
  segmentId: string;
  /** The rule's description from the rule file: why a user is in it. */
  description: string | null;
  /**
   * Event time the user entered, when the stored state still holds that change (a change not yet known emitted);
   * null when the entry is older (the state keeps membership, not its history: the segment-changes topic has it).
   */
  since: number | null;
  /** What caused the entry (`event`, `time`, `rules`, …) when `since` is known. */
  cause: string | null;
  /** Event time at which membership changes with the passage of time alone (a window emptying), if any. */
  changesAt: number | null;
}

export interface UserSegments {
  userId: string;
  segments: UserSegment[];
  /** The event time the segments were evaluated at: the user's partition watermark (else the user's last event). */
  evaluatedAt: number | null;
}

export interface WindowFeatures {
  window: string;
  views: number;
  clicks: number;
  addToCarts: number;
  purchases: number;
  /** Σ quantity × price of purchases in the window. */
  monetary: number;
}

export interface UserFeatures {
  userId: string;
  firstSeen: number | null;
  lastSeen: number | null;
  totalEvents: number;
  country: string | null;
  device: string | null;
  /** The event time the windows are read at (see UserSegments.evaluatedAt). */
  evaluatedAt: number | null;
  windows: WindowFeatures[];
  recencyMs: { any: number | null; purchase: number | null; view: number | null };
  session: { count: number; active: boolean; currentLengthMs: number; currentEvents: number };
  topCategories: Array<{ category: string; score: number }>;
  /** Event counts by type since the user was first seen (ingest's counts). */
  counts: Record<string, number>;
}

export interface UserEvents {
  userId: string;
  counts: Record<string, number>;
  firstSeen: number | null;
  lastSeen: number | null;
  /** Distinct recent items, newest first. */
  recentItems: string[];
  /** Purchased items, latest purchase first, with its event time. */
  purchases: Array<{ itemId: string; at: number }>;
}

export interface SimilarItem {
  itemId: string;
  title: string | null;
  score: number;
  available: boolean | null;
}

export interface SimilarItems {
  itemId: string;
  title: string | null;
  similarity: string;
  items: SimilarItem[];
  /** When the model these scores come from was loaded from Redis (ms). */
  modelLoadedAt: number;
}

export interface SegmentSize {
  segmentId: string;
  description: string | null;
  members: number;
}

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  /** When the record was dead-lettered (ms). */
  time: number;
  stage: string | null;
  code: string | null;
  reason: string | null;
  source: { topic: string | null; partition: number | null; offset: string | null };
}

export interface LivePoint {
  t: number;
  v: number | null;
}

export interface LiveView {
  /** Events per second over the last minute, every worker. */
  eventsPerSecond: number | null;
  lag: { records: number | null; seconds: number | null };
  /** Seconds from the source event (event time or Kafka append) to its list's emit; quantiles over 5 minutes. */
  freshness: {
    appendTime: { p50: number | null; p99: number | null };
    eventTime: { p50: number | null; p99: number | null };
  };
  /** The last 15 minutes at 15 s steps, for charts. */
  series: { eventsPerSecond: LivePoint[]; lagRecords: LivePoint[]; freshnessP99: LivePoint[] };
  at: number;
}

/** Readers of one Attune deployment. */
export interface ApiReaders {
  recommendations(userId: string): Promise<UserRecommendations | null>;
  segments(userId: string): Promise<UserSegments | null>;
  features(userId: string): Promise<UserFeatures | null>;
  events(userId: string, limit: number): Promise<UserEvents | null>;
  /** Null when the model does not know the item. Throws ServiceUnavailable while the model is loading. */
  similar(itemId: string, limit: number): Promise<SimilarItems | null>;
  segmentSizes(): Promise<SegmentSize[]>;
  deadLetters(limit: number): Promise<DeadLetter[]>;
  live(): Promise<LiveView>;
  /** The experiments report of the API's experiments file (ATTUNE_EXPERIMENTS) over the stored counts. */
  experiments(): Promise<ExperimentsReport>;
}

/** A reader's source is away or not ready: the API answers 503 with this message. */
export class ServiceUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceUnavailable';
  }
}
