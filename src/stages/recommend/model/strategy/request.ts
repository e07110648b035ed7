/** A request as strategies see it: its own module, so the parts (filters, sources) need not import the Strategy type. */
import type { UserState } from '../user-state.js';
import type { PurchaseLog } from './purchase-log.js';

/** Where a request comes from: the context of the event it answers (country and device), when known. */
export interface RequestContext {
  country: string | null;
  device: string | null;
  /** The user's real-time segments (rule names). */
  segments: readonly string[];
}

/** One request, as the sources see it (one object reused by the ranker: no allocation per request). */
export interface ScoreRequest {
  user: UserState | undefined;
  now: number;
  /** Bounds the interned item ids. */
  itemCount: number;
  /** The request's country, else the user's last seen one. */
  country: string | null;
  /** The request's device (the context of the event it answers), if any: a trending scope of its own. */
  device: string | null;
  /** The user's real-time segments: a trending scope each. */
  segments: readonly string[];
  /** No history: the user falls through to the sources that need none (the cold-start cascade). */
  cold: boolean;
  /** The user's purchases (empty without a user). */
  purchases: PurchaseLog;
  /** Track the reasons (the strongest single contributor per candidate and source). */
  explain: boolean;
  /** Items the caller excludes on top of the filters (the evaluation's discovery protocol); checked by the filters. */
  exclude: ((item: number) => boolean) | undefined;
}
