/**
 * The validate processor: pure checks on a decoded user event. A failure is a ValidationError with a bounded
 * code (used as a metric label and DLQ header) and a message that never contains the user id.
 */
import { EVENT_TYPES, type EventType, type UserEvent } from '../../domain/events.js';
import { ValidationError } from '../../errors.js';

export interface ValidationLimits {
  maxIdLength: number;
  maxFutureMs: number;
  minEventTime: number;
  maxProperties: number;
  maxPropertyLength: number;
}

export const DEFAULT_LIMITS: ValidationLimits = {
  maxIdLength: 128,
  maxFutureMs: 86_400_000,
  minEventTime: Date.UTC(2000, 0, 1),
  maxProperties: 64,
  maxPropertyLength: 1024,
};

/** Event types that are about an item and so need an item id. */
const ITEM_TYPES: ReadonlySet<EventType> = new Set(['view', 'click', 'add_to_cart', 'remove_from_cart', 'purchase', 'rating']);
const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);
// Control characters would corrupt keys and logs.
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkId(name: string, value: unknown, max: number, required: boolean): void {
  if (value === null || value === undefined || value === '') {
    if (required) throw new ValidationError('MISSING_ID', `${name} is missing or empty`);
    return;
  }
  if (typeof value !== 'string') throw new ValidationError('BAD_ID', `${name} must be a string`);
  if (value.length > max) throw new ValidationError('ID_TOO_LONG', `${name} is ${value.length} characters; at most ${max} are accepted`);
  if (CONTROL.test(value)) throw new ValidationError('BAD_ID', `${name} contains control characters`);
}

/** Throws ValidationError when the event is unusable; returns the event typed otherwise. */
export function validateEvent(e: UserEvent, limits: ValidationLimits, now: number): UserEvent {
  checkId('eventId', e.eventId, limits.maxIdLength, true);
  checkId('userId', e.userId, limits.maxIdLength, true);
  if (!KNOWN_TYPES.has(e.type)) throw new ValidationError('UNKNOWN_TYPE', `event type ${JSON.stringify(String(e.type)).slice(0, 40)} is not one of ${EVENT_TYPES.join(', ')}`);
  checkId('itemId', e.itemId, limits.maxIdLength, ITEM_TYPES.has(e.type));
  if (!Number.isFinite(e.eventTime)) throw new ValidationError('BAD_TIME', 'eventTime is not a number');
  if (e.eventTime < limits.minEventTime) throw new ValidationError('TIME_TOO_OLD', `eventTime ${new Date(e.eventTime).toISOString()} is before the earliest plausible time ${new Date(limits.minEventTime).toISOString()}`);
  if (e.eventTime > now + limits.maxFutureMs) throw new ValidationError('TIME_IN_FUTURE', `eventTime ${new Date(e.eventTime).toISOString()} is more than ${limits.maxFutureMs} ms ahead of the clock`);
  if (e.quantity !== null && (!Number.isInteger(e.quantity) || e.quantity <= 0 || e.quantity > 1_000_000)) throw new ValidationError('BAD_QUANTITY', `quantity ${e.quantity} must be an integer from 1 to 1000000`);
  if (e.price !== null && (!Number.isFinite(e.price) || e.price < 0)) throw new ValidationError('BAD_PRICE', `price ${e.price} must be a finite number >= 0`);
  if (e.rating !== null && !Number.isFinite(e.rating)) throw new ValidationError('BAD_RATING', 'rating must be a finite number');
  if (e.type === 'rating' && e.rating === null) throw new ValidationError('MISSING_RATING', 'a rating event needs a rating');
  checkId('sessionId', e.sessionId, limits.maxIdLength, false);
  const props = Object.keys(e.properties ?? {});
  if (props.length > limits.maxProperties) throw new ValidationError('TOO_MANY_PROPERTIES', `${props.length} properties; at most ${limits.maxProperties} are accepted`);
  for (const k of props) {
    const v = e.properties[k];
    if (k.length > limits.maxPropertyLength || v.length > limits.maxPropertyLength) throw new ValidationError('PROPERTY_TOO_LONG', `a property key or value is longer than ${limits.maxPropertyLength} characters`);
  }
  return e;
}
