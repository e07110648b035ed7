/**
 * The validate processor: pure checks on a decoded user event. A failure is a ValidationError with a bounded
 * code (used as a metric label and DLQ header) and a message that never contains the user id.
 */
import { EVENT_TYPES, type EventType, type UserEvent } from '../../domain/events.js';
import { ValidationError } from '../../errors.js';
import { MAX_RECOMMENDATION_ID_LENGTH } from '../../experiments/recommendation-id.js';
import { MERGE_EVENT_PREFIX, parseProfile } from '../../domain/profile.js';

export interface ValidationLimits {
  maxIdLength: number;
  maxFutureMs: number;
  minEventTime: number;
  maxProperties: number;
  maxPropertyLength: number;
  /** device, referrer and userAgent of the context; the country has its own rule. */
  maxContextLength: number;
  /** Catalog items (item.ts). */
  maxTitleLength: number;
  maxCategories: number;
  maxTags: number;
}

export const DEFAULT_LIMITS: ValidationLimits = {
  maxIdLength: 128,
  maxFutureMs: 86_400_000,
  minEventTime: Date.UTC(2000, 0, 1),
  maxProperties: 64,
  maxPropertyLength: 1024,
  maxContextLength: 512,
  maxTitleLength: 512,
  maxCategories: 32,
  maxTags: 64,
};

/** Event types that are about an item and so need an item id. */
const ITEM_TYPES: ReadonlySet<EventType> = new Set(['view', 'click', 'add_to_cart', 'remove_from_cart', 'purchase', 'rating']);
const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);
// Control characters would corrupt keys and logs.
export const CONTROL = /[\u0000-\u001f\u007f]/;
// ISO 3166-1 alpha-2 shape: the country becomes a trending scope and reason text, so free text would grow both forever.
const COUNTRY = /^[A-Z]{2}$/;

/** An ISO date when the time has one; Date covers ±8.64e15 ms only, and toISOString throws a RangeError beyond. */
function when(t: number): string {
  return Math.abs(t) <= 8.64e15 ? new Date(t).toISOString() : `${t} ms`;
}

export function checkId(name: string, value: unknown, max: number, required: boolean): void {
  if (value === null || value === undefined || value === '') {
    if (required) throw new ValidationError('MISSING_ID', `${name} is missing or empty`);
    return;
  }
  if (typeof value !== 'string') throw new ValidationError('BAD_ID', `${name} must be a string`);
  if (value.length > max) throw new ValidationError('ID_TOO_LONG', `${name} is ${value.length} characters; at most ${max} are accepted`);
  if (CONTROL.test(value)) throw new ValidationError('BAD_ID', `${name} contains control characters`);
}

/**
 * Throws ValidationError when the event is unusable; returns the event typed otherwise. `key` is the Kafka record
 * key (null when the record has none): present, it must be the user id, or the user's events would be split over
 * two partitions (two tasks updating one user's state out of order loses updates).
 */
/**
 * `key`: the record's key (null: the record has none); leave it out where there is no record (references, tools).
 * A record without a key is spread over partitions by the producer's partitioner, so its user's state would be
 * split like that of a record keyed by someone else: both are KEY_MISMATCH.
 */
export function validateEvent(e: UserEvent, limits: ValidationLimits, now: number, key?: string | null): UserEvent {
  checkId('eventId', e.eventId, limits.maxIdLength, true);
  checkId('userId', e.userId, limits.maxIdLength, true);
  if (key === null) throw new ValidationError('KEY_MISMATCH', 'the record has no key: producers must key events by user id, or a user\'s events are spread over partitions');
  if (key !== undefined && key !== e.userId) throw new ValidationError('KEY_MISMATCH', 'the record key is not the event\'s userId: producers must key events by user id');
  if (!KNOWN_TYPES.has(e.type)) throw new ValidationError('UNKNOWN_TYPE', `event type ${JSON.stringify(String(e.type)).slice(0, 40)} is not one of ${EVENT_TYPES.join(', ')}`);
  checkId('itemId', e.itemId, limits.maxIdLength, ITEM_TYPES.has(e.type));
  if (!Number.isFinite(e.eventTime)) throw new ValidationError('BAD_TIME', 'eventTime is not a number');
  if (e.eventTime < limits.minEventTime) throw new ValidationError('TIME_TOO_OLD', `eventTime ${when(e.eventTime)} is before the earliest plausible time ${new Date(limits.minEventTime).toISOString()}`);
  if (e.eventTime > now + limits.maxFutureMs) throw new ValidationError('TIME_IN_FUTURE', `eventTime ${when(e.eventTime)} is more than ${limits.maxFutureMs} ms ahead of the clock`);
  if (e.quantity !== null && (!Number.isInteger(e.quantity) || e.quantity <= 0 || e.quantity > 1_000_000)) throw new ValidationError('BAD_QUANTITY', `quantity ${e.quantity} must be an integer from 1 to 1000000`);
  if (e.price !== null && (!Number.isFinite(e.price) || e.price < 0)) throw new ValidationError('BAD_PRICE', `price ${e.price} must be a finite number >= 0`);
  if (e.rating !== null && !Number.isFinite(e.rating)) throw new ValidationError('BAD_RATING', 'rating must be a finite number');
  if (e.type === 'rating' && e.rating === null) throw new ValidationError('MISSING_RATING', 'a rating event needs a rating');
  checkId('sessionId', e.sessionId, limits.maxIdLength, false);
  // An impression is only a report of a list shown: without the list's id there is nothing to attribute it to.
  checkId('recommendationId', e.recommendationId, MAX_RECOMMENDATION_ID_LENGTH, e.type === 'impression');
  if (e.context) checkContext(e.context, limits);
  checkConsent(e);
  checkIdentify(e, limits);
  const props = Object.keys(e.properties ?? {});
  if (props.length > limits.maxProperties) throw new ValidationError('TOO_MANY_PROPERTIES', `${props.length} properties; at most ${limits.maxProperties} are accepted`);
  for (const k of props) {
    const v = e.properties[k];
    if (k.length > limits.maxPropertyLength || v.length > limits.maxPropertyLength) throw new ValidationError('PROPERTY_TOO_LONG', `a property key or value is longer than ${limits.maxPropertyLength} characters`);
  }
  return e;
}

/** Consent purposes: short lower-case names (they are JSON keys of the subject hash and appear in docs, never ids). */
export const CONSENT_PURPOSE = /^[a-z][a-z0-9_.-]{0,63}$/;
export const MAX_CONSENT_CHOICES = 16;
const CONSENT_STATUSES: ReadonlySet<string> = new Set(['granted', 'denied', 'revoked']);

/**
 * A consent event carries 1..16 choices of distinct, well-formed purposes with a real status (`unknown` is the
 * enum's fallback for a symbol this worker does not know: acting on it could grant what the user denied). Any other
 * event must carry none: a consent change hidden in a view would be applied by nobody. Messages hold no user id.
 */
function checkConsent(e: UserEvent): void {
  const choices = e.consent ?? [];
  if (e.type !== 'consent') {
    if (choices.length > 0) throw new ValidationError('BAD_CONSENT', `a ${e.type} event carries consent choices; only consent events may`);
    return;
  }
  if (choices.length === 0) throw new ValidationError('BAD_CONSENT', 'a consent event needs at least one choice');
  if (choices.length > MAX_CONSENT_CHOICES) throw new ValidationError('BAD_CONSENT', `a consent event carries ${choices.length} choices; at most ${MAX_CONSENT_CHOICES} are accepted`);
  const seen = new Set<string>();
  for (const c of choices) {
    if (typeof c.purpose !== 'string' || !CONSENT_PURPOSE.test(c.purpose)) {
      // Not quoted: a bad purpose is free input and could hold anything, the user id included.
      throw new ValidationError('BAD_CONSENT', `a consent purpose is not a lower-case name matching ${CONSENT_PURPOSE.source}`);
    }
    if (!CONSENT_STATUSES.has(c.status)) throw new ValidationError('BAD_CONSENT', `consent status ${JSON.stringify(String(c.status).slice(0, 16))} of purpose ${c.purpose} is not granted, denied or revoked`);
    if (seen.has(c.purpose)) throw new ValidationError('BAD_CONSENT', `consent purpose ${c.purpose} appears twice`);
    seen.add(c.purpose);
  }
}

/**
 * An identify event links its anonymous `userId` to a known user (docs/privacy.md, Identity stitching). From
 * upstream it names the known user in `knownUserId`; the merge record Attune re-keys to the known user carries the
 * anonymous profile in `profile` instead (and Attune's event id). Exactly one of them, and neither on other events:
 * a link or a profile hidden in a view would be applied by nobody.
 */
function checkIdentify(e: UserEvent, limits: ValidationLimits): void {
  const known = e.knownUserId ?? null;
  const profile = e.profile ?? null;
  if (e.type !== 'identify') {
    if (known !== null || profile !== null) throw new ValidationError('BAD_IDENTIFY', `a ${e.type} event carries knownUserId or profile; only identify events may`);
    return;
  }
  if ((known === null) === (profile === null)) throw new ValidationError('BAD_IDENTIFY', 'an identify event needs exactly one of knownUserId (from upstream) or profile (Attune\'s merge record)');
  if (known !== null) {
    checkId('knownUserId', known, limits.maxIdLength, true);
    if (known === e.userId) throw new ValidationError('BAD_IDENTIFY', 'an identify event\'s knownUserId is its own userId: nothing to merge');
    return;
  }
  if (!e.eventId.startsWith(MERGE_EVENT_PREFIX)) throw new ValidationError('BAD_IDENTIFY', `an identify event with a profile must be Attune's merge record (event id ${MERGE_EVENT_PREFIX}…)`);
  parseProfile(profile!);
}

function checkContext(c: NonNullable<UserEvent['context']>, limits: ValidationLimits): void {
  if (c.country !== null && c.country !== undefined && !COUNTRY.test(c.country)) {
    throw new ValidationError('BAD_COUNTRY', `context.country ${JSON.stringify(c.country.slice(0, 8))}${c.country.length > 8 ? '…' : ''} is not an ISO 3166-1 alpha-2 code (two capital letters, e.g. DE) or null`);
  }
  for (const name of ['device', 'referrer', 'userAgent'] as const) {
    const v = c[name];
    if (typeof v === 'string' && v.length > limits.maxContextLength) {
      throw new ValidationError('BAD_CONTEXT', `context.${name} is ${v.length} characters; at most ${limits.maxContextLength} are accepted (ATTUNE_MAX_CONTEXT_LENGTH)`);
    }
  }
}

/**
 * The clock a record's time rules are judged by: its Kafka timestamp (the broker's append time on the events topic,
 * topics.ts), cut to the worker's clock. Not the worker's clock alone: a micro-batch can be re-run (a retry, a
 * bisection, a replay after a crash) seconds or hours later, and an event near the future limit would then be
 * dead-lettered in one attempt and applied in the next. The segments stage caps the watermark by the same clock. Only a record stamped ahead of the worker's clock (a
 * producer-set time on a topic not created by `attune topics`) is judged by the clock of its attempt.
 */
export function recordClock(timestamp: string, now: number): number {
  const t = Number(timestamp);
  return Number.isFinite(t) && t > 0 ? Math.min(t, now) : now;
}

