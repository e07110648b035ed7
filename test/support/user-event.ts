import type { UserEvent } from '../../src/domain/events.js';

/**
 * A user event with every optional field empty: tests name only what they are about (id, user, type, time and
 * whatever else the case needs) instead of spelling out the eleven fields of the schema each time.
 */
export function userEvent(
  fields: Pick<UserEvent, 'eventId' | 'userId' | 'type' | 'eventTime'> & Partial<UserEvent>,
): UserEvent {
  return {
    itemId: null,
    quantity: null,
    price: null,
    rating: null,
    sessionId: null,
    context: null,
    properties: {},
    ...fields,
  };
}
