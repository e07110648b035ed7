import { describe, it, expect } from 'vitest';
import { validateEvent, DEFAULT_LIMITS } from '../../src/stages/validate/validate.js';
import { ValidationError } from '../../src/errors.js';
import type { UserEvent } from '../../src/domain/events.js';

const NOW = Date.UTC(2026, 0, 1);
const ok: UserEvent = {
  eventId: 'e1', userId: 'u1', type: 'purchase', eventTime: Date.UTC(2011, 0, 1), itemId: 'i1', quantity: 2, price: 1.5,
  rating: null, sessionId: 's', context: null, properties: {},
};

function code(e: Partial<UserEvent>, key?: string | null): string {
  try {
    validateEvent({ ...ok, ...e } as UserEvent, DEFAULT_LIMITS, NOW, key);
    return 'OK';
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).code;
  }
}

describe('validateEvent', () => {
  it('accepts a complete purchase', () => expect(code({})).toBe('OK'));
  it('rejects missing ids', () => {
    expect(code({ userId: '' })).toBe('MISSING_ID');
    expect(code({ eventId: '' })).toBe('MISSING_ID');
    expect(code({ itemId: null })).toBe('MISSING_ID');
  });
  it('does not need an item for consent or erase', () => {
    expect(code({ type: 'consent', itemId: null, consent: [{ purpose: 'personalization', status: 'denied' }] })).toBe('OK');
    expect(code({ type: 'erase', itemId: null })).toBe('OK');
  });
  describe('consent', () => {
    const consent = (choices: Array<{ purpose: string; status: string }> | null, type: UserEvent['type'] = 'consent') =>
      code({ type, itemId: null, consent: choices as UserEvent['consent'] });
    it('needs 1..16 choices on a consent event', () => {
      expect(consent(null)).toBe('BAD_CONSENT');
      expect(consent([])).toBe('BAD_CONSENT');
      const many = Array.from({ length: 17 }, (_, i) => ({ purpose: `p${i}`, status: 'granted' }));
      expect(consent(many)).toBe('BAD_CONSENT');
      expect(consent(many.slice(0, 16))).toBe('OK');
    });
    it('checks purposes and statuses, and refuses duplicates', () => {
      expect(consent([{ purpose: 'Personalization', status: 'granted' }])).toBe('BAD_CONSENT');
      expect(consent([{ purpose: '9lives', status: 'granted' }])).toBe('BAD_CONSENT');
      expect(consent([{ purpose: 'a'.repeat(65), status: 'granted' }])).toBe('BAD_CONSENT');
      expect(consent([{ purpose: 'a'.repeat(64), status: 'granted' }])).toBe('OK');
      expect(consent([{ purpose: 'ads.email_v-2', status: 'revoked' }])).toBe('OK');
      expect(consent([{ purpose: 'personalization', status: 'unknown' }])).toBe('BAD_CONSENT');
      expect(consent([{ purpose: 'analytics', status: 'granted' }, { purpose: 'analytics', status: 'denied' }])).toBe('BAD_CONSENT');
    });
    it('refuses choices on any other event, and accepts none or null there', () => {
      expect(code({ consent: [{ purpose: 'personalization', status: 'granted' }] })).toBe('BAD_CONSENT');
      expect(consent([{ purpose: 'personalization', status: 'granted' }], 'erase')).toBe('BAD_CONSENT');
      expect(code({ consent: [] })).toBe('OK');
      expect(code({ consent: null })).toBe('OK');
    });
    it('never puts the user id or a bad purpose in the message', () => {
      try {
        validateEvent({ ...ok, userId: 'alice@example.com', type: 'consent', itemId: null, consent: [{ purpose: 'alice@example.com', status: 'granted' }] }, DEFAULT_LIMITS, NOW);
        expect.unreachable();
      } catch (err) {
        expect((err as ValidationError).code).toBe('BAD_CONSENT');
        expect((err as Error).message).not.toContain('alice');
      }
    });
  });
  describe('identify', () => {
    const base: Partial<UserEvent> = { type: 'identify', itemId: null, quantity: null, price: null };
    const profile = JSON.stringify({ v: 1, activity: { counts: { view: 2 }, firstSeen: 1, lastSeen: 2, recent: ['i1'], purchased: [['i1', 2]] }, features: null, recommender: null });
    it('from upstream names the known user, who is not the anonymous user itself', () => {
      expect(code({ ...base, knownUserId: 'known-1' })).toBe('OK');
      expect(code({ ...base })).toBe('BAD_IDENTIFY');
      expect(code({ ...base, knownUserId: 'u1' })).toBe('BAD_IDENTIFY');
      expect(code({ ...base, knownUserId: 'x'.repeat(200) })).toBe('ID_TOO_LONG');
      expect(code({ ...base, knownUserId: 'a\u0000b' })).toBe('BAD_ID');
    });
    it('as Attune\'s merge record carries a well-formed profile and Attune\'s event id, and no known user', () => {
      const merge = { ...base, eventId: 'attune:merge:ev:0:7', profile };
      expect(code(merge)).toBe('OK');
      expect(code({ ...merge, knownUserId: 'known-1' })).toBe('BAD_IDENTIFY');
      expect(code({ ...merge, eventId: 'e1' })).toBe('BAD_IDENTIFY');
      expect(code({ ...merge, profile: 'not json' })).toBe('BAD_PROFILE');
      expect(code({ ...merge, profile: '{"v":2}' })).toBe('BAD_PROFILE');
      expect(code({ ...merge, profile: JSON.stringify({ v: 1, activity: { counts: { view: -1 }, recent: [], purchased: [] } }) })).toBe('BAD_PROFILE');
      expect(code({ ...merge, profile: JSON.stringify({ v: 1, recommender: { h: { i: ['a'], w: [], t: [1] }, p: [], c: null, lt: 1 } }) })).toBe('BAD_PROFILE');
      expect(code({ ...merge, profile: ' '.repeat(600 * 1024) })).toBe('BAD_PROFILE');
    });
    it('no other event type carries a known user or a profile', () => {
      expect(code({ knownUserId: 'known-1' })).toBe('BAD_IDENTIFY');
      expect(code({ profile })).toBe('BAD_IDENTIFY');
    });
  });
  it('bounds id length and rejects control characters', () => {
    expect(code({ userId: 'x'.repeat(129) })).toBe('ID_TOO_LONG');
    expect(code({ userId: 'x'.repeat(128) })).toBe('OK');
    expect(code({ itemId: 'a\nb' })).toBe('BAD_ID');
  });
  it('rejects unknown types, including the schema default', () => {
    expect(code({ type: 'unknown' as UserEvent['type'] })).toBe('UNKNOWN_TYPE');
  });
  it('rejects implausible event times at the configured edges', () => {
    expect(code({ eventTime: DEFAULT_LIMITS.minEventTime - 1 })).toBe('TIME_TOO_OLD');
    expect(code({ eventTime: DEFAULT_LIMITS.minEventTime })).toBe('OK');
    expect(code({ eventTime: NOW + DEFAULT_LIMITS.maxFutureMs })).toBe('OK');
    expect(code({ eventTime: NOW + DEFAULT_LIMITS.maxFutureMs + 1 })).toBe('TIME_IN_FUTURE');
    expect(code({ eventTime: Number.NaN })).toBe('BAD_TIME');
  });
  it('times outside what a Date can hold are validation errors, not RangeErrors from formatting them', () => {
    expect(code({ eventTime: 8.64e15 + 1 })).toBe('TIME_IN_FUTURE');
    expect(code({ eventTime: Number.MAX_SAFE_INTEGER })).toBe('TIME_IN_FUTURE');
    expect(code({ eventTime: -8.64e15 - 1 })).toBe('TIME_TOO_OLD');
    expect(code({ eventTime: Number.MIN_SAFE_INTEGER })).toBe('TIME_TOO_OLD');
  });
  it('checks quantities, prices and ratings', () => {
    expect(code({ quantity: 0 })).toBe('BAD_QUANTITY');
    expect(code({ quantity: 1.5 })).toBe('BAD_QUANTITY');
    expect(code({ price: -1 })).toBe('BAD_PRICE');
    expect(code({ type: 'rating', rating: null })).toBe('MISSING_RATING');
    expect(code({ type: 'rating', rating: 4 })).toBe('OK');
  });
  it('bounds properties', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(code({ properties: many })).toBe('TOO_MANY_PROPERTIES');
    expect(code({ properties: { k: 'v'.repeat(1025) } })).toBe('PROPERTY_TOO_LONG');
  });
  it('never puts the user id in the message', () => {
    try {
      validateEvent({ ...ok, userId: 'secret-user', itemId: null }, DEFAULT_LIMITS, NOW);
    } catch (err) {
      expect((err as Error).message).not.toContain('secret-user');
    }
  });
  it('dead-letters a record whose key is not the user id (the user would be split over partitions)', () => {
    expect(code({}, 'u1')).toBe('OK');
    expect(code({}, 'u2')).toBe('KEY_MISMATCH');
    expect(code({}, '')).toBe('KEY_MISMATCH');
    expect(code({}, null)).toBe('KEY_MISMATCH'); // no key: spread over partitions by the partitioner
    expect(code({})).toBe('OK'); // no record to compare with (references, tools)
    try {
      validateEvent({ ...ok, userId: 'secret-user' }, DEFAULT_LIMITS, NOW, 'other-secret');
    } catch (err) {
      expect((err as Error).message).not.toMatch(/secret/);
    }
  });
  it('accepts only ISO 3166-1 alpha-2 countries (or none)', () => {
    const ctx = (country: string | null) => ({ context: { device: null, country, referrer: null, userAgent: null } });
    expect(code(ctx('DE'))).toBe('OK');
    expect(code(ctx(null))).toBe('OK');
    for (const bad of ['de', 'DEU', 'Germany', '', 'D', 'D1', '__proto__', 'DE ', 'ÄÖ']) expect(code(ctx(bad)), bad).toBe('BAD_COUNTRY');
  });
  it('caps the context strings', () => {
    const ctx = (over: Record<string, string>) => ({ context: { device: null, country: null, referrer: null, userAgent: null, ...over } });
    for (const f of ['device', 'referrer', 'userAgent']) {
      expect(code(ctx({ [f]: 'x'.repeat(DEFAULT_LIMITS.maxContextLength) })), f).toBe('OK');
      expect(code(ctx({ [f]: 'x'.repeat(DEFAULT_LIMITS.maxContextLength + 1) })), f).toBe('BAD_CONTEXT');
    }
  });
});

describe('the clock of the time rules', () => {
  it('is the record\'s timestamp cut to the worker\'s clock, so a re-run judges a record as the first attempt did', async () => {
    const { recordClock } = await import('../../src/stages/validate/validate.js');
    expect(recordClock('1000', 5000)).toBe(1000);
    expect(recordClock('9000', 5000)).toBe(5000); // stamped ahead of the worker: its clock
    expect(recordClock('-1', 5000)).toBe(5000);
    expect(recordClock('not a number', 5000)).toBe(5000);
  });
});
