/**
 * The hostile kinds: each makes records that a real (broken or malicious) producer could send, and names the one
 * DLQ code and stage it must get (the contract in docs/fuzzing.md). Each record breaks exactly one rule, so its
 * code is not a matter of which check runs first: a hostile event is a valid event of an active user (same key, so
 * the same partition as that user's valid events) with one thing wrong.
 */
import type { Config } from '../../src/config/config.js';
import type { UserEvent } from '../../src/domain/events.js';
import {
  EVENT_STRING_FIELDS, EVENT_TYPE_SYMBOLS, ITEM_ARRAY_FIELDS, ITEM_STRING_FIELDS, encodeEventBody, encodeItemBody, frame,
  type EventFields, type ItemFields,
} from './avro.js';
import { COUNTRIES, int, pick, type Rand, type Shop } from './shop.js';

export type Stage = 'decode' | 'validate' | 'process';
export type SourceTopic = 'events' | 'items';

export interface FuzzRecord {
  key: string | Buffer | null;
  value: Buffer | null;
}

export interface KindContext {
  r: Rand;
  shop: Shop;
  cfg: Config;
  /** Schema ids of this run's subjects. */
  ids: { events: number; items: number; recommendations: number };
  /** A Recommendations record framed with its own (foreign to the input topics) schema id. */
  foreignRecommendations: Buffer;
  /** Valid events already produced (key and framed value), for duplicates. */
  recentValid: FuzzRecord[];
  /** Fresh event ids for hostile events (never the id of a valid event). */
  nextId: () => string;
}

export interface Kind {
  name: string;
  topic: SourceTopic;
  code: string;
  stage: Stage;
  /** Relative share of the hostile records. */
  weight: number;
  /** Records per draw (a burst), 1 when absent: a kind is drawn with probability ∝ weight / burst. */
  burst?: number;
  /** What it is, for the table in the report and docs/fuzzing.md. */
  what: string;
  /** One record, or a burst of several (each counts as one record of the kind); none when it cannot yet. */
  make: (c: KindContext) => FuzzRecord | FuzzRecord[];
}

// ------------------------------------------------------------------------------------------------ helpers

const BOMB_CLAIMS = [1_000_000_000n, 2n ** 31n, 2n ** 40n, 2n ** 53n - 1n, 2n ** 62n];
const CONTROL = ['\u0000', '\u0007', '\n', '\r', '\u001b', '\u007f'];
const H = 3_600_000;

function withControl(r: Rand, s: string): string {
  const at = int(r, 0, s.length);
  return s.slice(0, at) + pick(r, CONTROL) + s.slice(at);
}
const longString = (r: Rand, n: number) => 'x'.repeat(n - 6) + int(r, 100000, 999999).toString();

/** A valid event of an active (not skewed) user, with a fresh id, stamped now. */
function baseEvent(c: KindContext): EventFields & UserEvent {
  const r = c.r;
  const userId = c.shop.activeRegularUser() ?? c.shop.users[0]!.id;
  const item = pick(r, c.shop.catalog);
  return {
    eventId: c.nextId(), userId, type: 'view', eventTime: Date.now() - 1000, itemId: item.itemId,
    quantity: null, price: null, rating: null, sessionId: `s-${userId}-h`,
    context: { device: 'mobile', country: pick(r, COUNTRIES), referrer: null, userAgent: 'Mozilla/5.0' },
    properties: { page: `/p/${item.itemId}` },
  };
}

function eventRecord(c: KindContext, e: EventFields, key: string | null = e.userId, opt: Parameters<typeof encodeEventBody>[1] = {}): FuzzRecord {
  return { key, value: frame(c.ids.events, encodeEventBody(e, opt).body) };
}

/** A valid catalog item (an existing one, so a wrong upsert would show in its state), changed by `patch`. */
function baseItem(c: KindContext): ItemFields {
  const it = pick(c.r, c.shop.catalog);
  return { ...it, categories: [...it.categories], tags: [...it.tags], updatedAt: Date.now() };
}

function itemRecord(c: KindContext, i: ItemFields, key: string | null = i.itemId, opt: Parameters<typeof encodeItemBody>[1] = {}): FuzzRecord {
  return { key, value: frame(c.ids.items, encodeItemBody(i, opt).body) };
}

/** A valid body cut at a field boundary strictly inside it: the decoder runs out of bytes between two fields. */
function truncated(r: Rand, schemaId: number, enc: { body: Buffer; boundaries: number[] }): Buffer {
  const cuts = enc.boundaries.filter((b) => b > 0 && b < enc.body.length);
  return frame(schemaId, enc.body.subarray(0, pick(r, cuts)));
}

const ev = (name: string, code: string, stage: Stage, weight: number, what: string, make: Kind['make']): Kind => ({ name, topic: 'events', code, stage, weight, what, make });
const it = (name: string, code: string, stage: Stage, weight: number, what: string, make: Kind['make']): Kind => ({ name, topic: 'items', code, stage, weight, what, make });

// ------------------------------------------------------------------------------------------------ the kinds

export function buildKinds(cfg: Config): Kind[] {
  const idMax = cfg.maxIdLength;
  const kinds: Kind[] = [
    // Framing: what reaches the registry client must be a registry frame.
    ev('empty-value', 'EMPTY_VALUE', 'decode', 2, 'a zero-length value', (c) => ({ key: c.shop.activeUser(), value: Buffer.alloc(0) })),
    ev('null-value', 'EMPTY_VALUE', 'decode', 1, 'a tombstone (null value) on the events topic', (c) => ({ key: c.shop.activeUser(), value: null })),
    ev('short-frame', 'BAD_FRAME', 'decode', 2, '1-5 bytes starting with the magic byte', (c) => ({ key: c.shop.activeUser(), value: Buffer.from([0, ...Array.from({ length: int(c.r, 0, 4) }, () => int(c.r, 0, 255))]) })),
    ev('bad-magic', 'BAD_MAGIC', 'decode', 2, 'JSON text or random bytes instead of a registry frame', (c) => {
      const e = baseEvent(c);
      const value = c.r() < 0.5 ? Buffer.from(JSON.stringify(e)) : Buffer.from([int(c.r, 1, 255), ...Array.from({ length: int(c.r, 5, 40) }, () => int(c.r, 0, 255))]);
      return { key: e.userId, value };
    }),
    ev('unknown-schema', 'UNKNOWN_SCHEMA', 'decode', 2, 'a schema id the registry does not know (huge or negative)', (c) => {
      const e = baseEvent(c);
      const id = c.r() < 0.8 ? 2_000_000_000 + int(c.r, 0, 100_000_000) : -int(c.r, 1, 1000);
      return { key: e.userId, value: frame(id, encodeEventBody(e).body) };
    }),
    ev('foreign-schema', 'FOREIGN_SCHEMA', 'decode', 2, "a known schema id of another subject (a Recommendations or an Item record)", (c) => {
      const e = baseEvent(c);
      if (c.r() < 0.5) return { key: e.userId, value: c.foreignRecommendations };
      return { key: e.userId, value: frame(c.ids.items, encodeItemBody(baseItem(c)).body) };
    }),
    ev('truncated', 'BAD_AVRO', 'decode', 3, 'a valid body cut at a field boundary', (c) => {
      const e = baseEvent(c);
      return { key: e.userId, value: truncated(c.r, c.ids.events, encodeEventBody(e)) };
    }),
    ev('trailing-bytes', 'BAD_AVRO', 'decode', 2, 'a valid body followed by 1-16 extra bytes', (c) => {
      const e = baseEvent(c);
      return { key: e.userId, value: Buffer.concat([frame(c.ids.events, encodeEventBody(e).body), Buffer.alloc(int(c.r, 1, 16), 7)]) };
    }),
    ev('bad-enum', 'BAD_AVRO', 'decode', 1, 'an event type index past the enum symbols', (c) => {
      const e = baseEvent(c);
      return eventRecord(c, e, e.userId, { typeIndex: int(c.r, EVENT_TYPE_SYMBOLS.length, 1000) });
    }),
    ev('bad-union', 'BAD_AVRO', 'decode', 1, 'a union branch index past the union', (c) => {
      const e = baseEvent(c);
      return eventRecord(c, e, e.userId, { itemIdBranch: int(c.r, 2, 1000) });
    }),
    ev('unsafe-long-time', 'BAD_AVRO', 'decode', 1, 'eventTime beyond 2^53 (no exact JS number)', (c) => {
      const e = baseEvent(c);
      return eventRecord(c, { ...e, eventTime: (c.r() < 0.5 ? 1n : -1n) * (2n ** 60n + BigInt(int(c.r, 0, 1e6))) });
    }),
    ev('oversize', 'TOO_LARGE', 'decode', 0.5, 'a decodable event over ATTUNE_MAX_MESSAGE_BYTES', (c) => {
      const e = baseEvent(c);
      return eventRecord(c, { ...e, properties: { blob: 'z'.repeat(cfg.maxMessageBytes + int(c.r, 1, 4000)) } });
    }),
    { ...ev('oversize-burst', 'TOO_LARGE', 'decode', 0.5, "20 oversize records in a row on one key: their DLQ copies exceed the broker's 1 MB", (c) => {
      const e = baseEvent(c);
      return Array.from({ length: 20 }, () => eventRecord(c, { ...e, eventId: c.nextId(), properties: { blob: 'z'.repeat(cfg.maxMessageBytes + int(c.r, 1, 8000)) } }));
    }), burst: 20 },
    // The bomb guard: a length or block count the bytes cannot hold, in every string and map of the schema.
    ...EVENT_STRING_FIELDS.map((field) => ev(`bomb-len:${field}`, 'AVRO_LIMIT', 'decode', 0.6, `a string length of 1e9..2^62 at ${field}`, (c) => {
      // Every optional string present, so that the bomb's field is written (the encoder refuses a bomb it cannot place).
      const e = { ...baseEvent(c), context: { device: 'mobile', country: 'GB', referrer: 'https://www.google.com/', userAgent: 'Mozilla/5.0' } };
      return eventRecord(c, e, e.userId, { bomb: { field, claim: pick(c.r, BOMB_CLAIMS), tail: int(c.r, 0, 16) } });
    })),
    ev('bomb-count:properties', 'AVRO_LIMIT', 'decode', 1, 'a properties map block count of 1e9..2^62', (c) => {
      const e = baseEvent(c);
      return eventRecord(c, e, e.userId, { bomb: { field: 'properties', claim: pick(c.r, BOMB_CLAIMS), tail: int(c.r, 2, 20) } });
    }),
    ev('bomb-count-negative:properties', 'AVRO_LIMIT', 'decode', 1, 'a negative properties map block count (-1e9..-2^62) with a block size', (c) => {
      const e = baseEvent(c);
      return eventRecord(c, e, e.userId, { bomb: { field: 'properties', claim: pick(c.r, BOMB_CLAIMS), negative: true, tail: int(c.r, 2, 20) } });
    }),

    // Validation: each event is valid but for one field.
    ev('missing-event-id', 'MISSING_ID', 'validate', 1, 'eventId ""', (c) => eventRecord(c, { ...baseEvent(c), eventId: '' })),
    ev('missing-user-id', 'MISSING_ID', 'validate', 1, 'userId "" (no key, as a producer without a user would send)', (c) => eventRecord(c, { ...baseEvent(c), userId: '' }, null)),
    ev('missing-item-id', 'MISSING_ID', 'validate', 1, 'a purchase without itemId', (c) => eventRecord(c, { ...baseEvent(c), type: 'purchase', quantity: 1, price: 2, itemId: null })),
    ev('bad-id-control', 'BAD_ID', 'validate', 2, 'a control character in eventId, userId, itemId or sessionId', (c) => {
      const e = baseEvent(c);
      const f = pick(c.r, ['eventId', 'userId', 'itemId', 'sessionId'] as const);
      const bad = { ...e, [f]: withControl(c.r, String(e[f])) };
      return eventRecord(c, bad, bad.userId);
    }),
    ev('id-too-long', 'ID_TOO_LONG', 'validate', 2, `eventId, userId, itemId or sessionId over ATTUNE_MAX_ID_LENGTH (${idMax})`, (c) => {
      const e = baseEvent(c);
      const f = pick(c.r, ['eventId', 'userId', 'itemId', 'sessionId'] as const);
      const bad = { ...e, [f]: longString(c.r, idMax + int(c.r, 1, 400)) };
      return eventRecord(c, bad, bad.userId);
    }),
    ev('unknown-type', 'UNKNOWN_TYPE', 'validate', 1, 'the schema\'s "unknown" event type', (c) => eventRecord(c, { ...baseEvent(c), type: 'unknown' })),
    ev('time-too-old', 'TIME_TOO_OLD', 'validate', 2, 'eventTime before ATTUNE_MIN_EVENT_TIME, down to -8.64e15 (the first Date)', (c) => {
      const t = pick(c.r, [cfg.minEventTime - int(c.r, 1, 1e9), 0, -1, -8.64e15]);
      return eventRecord(c, { ...baseEvent(c), eventTime: t });
    }),
    ev('time-before-dates', 'TIME_TOO_OLD', 'validate', 1, 'eventTime below -8.64e15 (no Date: formatting it throws RangeError)', (c) => {
      return eventRecord(c, { ...baseEvent(c), eventTime: pick(c.r, [-8.64e15 - 1, -9e15, -(2 ** 53 - 1)]) });
    }),
    ev('time-in-future', 'TIME_IN_FUTURE', 'validate', 2, 'eventTime past ATTUNE_MAX_FUTURE_MS (+6 h and more), up to 8.64e15 (the last Date)', (c) => {
      const t = pick(c.r, [Date.now() + cfg.maxFutureMs + 6 * H + int(c.r, 0, 1e9), Date.now() + 365 * 24 * H, 8.64e15]);
      return eventRecord(c, { ...baseEvent(c), eventTime: t });
    }),
    ev('time-after-dates', 'TIME_IN_FUTURE', 'validate', 1, 'eventTime above 8.64e15 (no Date: formatting it throws RangeError)', (c) => {
      return eventRecord(c, { ...baseEvent(c), eventTime: pick(c.r, [8.64e15 + 1, 9e15, 2 ** 53 - 1]) });
    }),
    ev('bad-quantity', 'BAD_QUANTITY', 'validate', 1, 'quantity 0, negative, over 1,000,000 or 2^31-1', (c) => eventRecord(c, { ...baseEvent(c), type: 'purchase', price: 1, quantity: pick(c.r, [0, -1, -(2 ** 31), 1_000_001, 2 ** 31 - 1]) })),
    ev('bad-price', 'BAD_PRICE', 'validate', 1, 'price NaN, ±Infinity or negative', (c) => eventRecord(c, { ...baseEvent(c), type: 'purchase', quantity: 1, price: pick(c.r, [Number.NaN, Infinity, -Infinity, -0.01, -1e308]) })),
    ev('bad-rating', 'BAD_RATING', 'validate', 1, 'rating NaN or ±Infinity', (c) => eventRecord(c, { ...baseEvent(c), type: 'rating', rating: pick(c.r, [Number.NaN, Infinity, -Infinity]) })),
    ev('missing-rating', 'MISSING_RATING', 'validate', 1, 'a rating event without a rating', (c) => eventRecord(c, { ...baseEvent(c), type: 'rating', rating: null })),
    ev('too-many-properties', 'TOO_MANY_PROPERTIES', 'validate', 1, '65 to 300 properties', (c) => {
      const n = int(c.r, 65, 300);
      return eventRecord(c, { ...baseEvent(c), properties: Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, 'v'])) });
    }),
    ev('property-too-long', 'PROPERTY_TOO_LONG', 'validate', 1, 'a property key or value over 1024 characters', (c) => {
      const long = longString(c.r, int(c.r, 1025, 4000));
      return eventRecord(c, { ...baseEvent(c), properties: c.r() < 0.5 ? { [long]: 'v' } : { note: long } });
    }),
    ev('key-mismatch', 'KEY_MISMATCH', 'validate', 2, "a record keyed by one user carrying another user's event", (c) => {
      const e = baseEvent(c);
      let key = c.shop.activeUser();
      for (let i = 0; key === e.userId && i < 10; i++) key = c.shop.activeUser();
      if (key === e.userId) key = `${e.userId}-other`;
      return eventRecord(c, e, key);
    }),
    ev('bad-country', 'BAD_COUNTRY', 'validate', 1, 'context.country not ^[A-Z]{2}$ (free text, lower case, 3 letters)', (c) => {
      const e = baseEvent(c);
      return eventRecord(c, { ...e, context: { ...e.context!, country: pick(c.r, ['gb', 'USA', 'United Kingdom', 'G1', 'ÜK', '__proto__', 'constructor']) } });
    }),
    ev('bad-context', 'BAD_CONTEXT', 'validate', 1, 'a context string (userAgent, referrer, device) of 5,000 to 20,000 characters', (c) => {
      const e = baseEvent(c);
      const f = pick(c.r, ['userAgent', 'referrer', 'device'] as const);
      return eventRecord(c, { ...e, context: { ...e.context!, [f]: longString(c.r, int(c.r, 5000, 20000)) } });
    }),
    // Identity stitching: an identify names exactly one other user; only Attune's own merge record carries a profile.
    ev('bad-identify', 'BAD_IDENTIFY', 'validate', 1, 'an identify without knownUserId, naming its own userId, or a view carrying knownUserId', (c) => {
      const e = baseEvent(c);
      const bad = pick(c.r, [
        { ...e, type: 'identify', itemId: null, knownUserId: null },
        { ...e, type: 'identify', itemId: null, knownUserId: e.userId },
        { ...e, knownUserId: `known-${e.userId}` },
      ]);
      return eventRecord(c, bad);
    }),
    ev('forged-merge-profile', 'BAD_IDENTIFY', 'validate', 1, 'an upstream identify carrying a profile under an ordinary event id', (c) => {
      const e = baseEvent(c);
      return eventRecord(c, { ...e, type: 'identify', itemId: null, profile: '{"v":1}' });
    }),
    ev('duplicate-event', 'DUPLICATE_EVENT', 'validate', 2, 'the exact bytes of a valid event produced earlier (same key, same event id)', (c) => {
      // Nothing to duplicate before the first valid event: no record (the harness draws again).
      return c.recentValid.length ? { ...pick(c.r, c.recentValid) } : [];
    }),
    ev('too-late', 'TOO_LATE', 'process', 1, 'a valid event 3-30 h behind its partition watermark (beyond ATTUNE_ALLOWED_LATENESS_MS)', (c) => {
      // Only behind a watermark: a user with valid events before it on its partition (none yet: drawn again).
      if (c.shop.activeRegularUser() === null) return [];
      return eventRecord(c, { ...baseEvent(c), eventTime: Date.now() - int(c.r, 3 * H, 30 * H) });
    }),

    // The catalog topic: the same framing and bomb guard, and the item rules.
    it('item:empty-value', 'EMPTY_VALUE', 'decode', 1, 'a zero-length item value (not a tombstone)', (c) => ({ key: baseItem(c).itemId, value: Buffer.alloc(0) })),
    it('item:bad-magic', 'BAD_MAGIC', 'decode', 1, 'JSON text instead of a registry frame', (c) => {
      const i = baseItem(c);
      return { key: i.itemId, value: Buffer.from(JSON.stringify(i)) };
    }),
    it('item:unknown-schema', 'UNKNOWN_SCHEMA', 'decode', 1, 'a schema id the registry does not know', (c) => {
      const i = baseItem(c);
      return { key: i.itemId, value: frame(2_100_000_000 + int(c.r, 0, 1e6), encodeItemBody(i).body) };
    }),
    it('item:foreign-schema', 'FOREIGN_SCHEMA', 'decode', 1, 'a UserEvent record (its schema id) on the items topic', (c) => {
      const i = baseItem(c);
      return { key: i.itemId, value: frame(c.ids.events, encodeEventBody(baseEvent(c)).body) };
    }),
    it('item:truncated', 'BAD_AVRO', 'decode', 1, 'a valid item body cut at a field boundary', (c) => {
      const i = baseItem(c);
      return { key: i.itemId, value: truncated(c.r, c.ids.items, encodeItemBody(i)) };
    }),
    it('item:oversize', 'TOO_LARGE', 'decode', 0.3, 'a decodable item over ATTUNE_MAX_MESSAGE_BYTES', (c) => {
      const i = baseItem(c);
      return itemRecord(c, { ...i, tags: Array.from({ length: Math.ceil(cfg.maxMessageBytes / 100) + 10 }, (_, k) => `t${k}`.padEnd(99, '-')) });
    }),
    ...ITEM_STRING_FIELDS.map((field) => it(`item:bomb-len:${field}`, 'AVRO_LIMIT', 'decode', 0.6, `a string length of 1e9..2^62 at ${field}`, (c) => {
      const i = baseItem(c);
      if (field === 'categories.item' && !i.categories.length) i.categories = ['home'];
      if (field === 'tags.item' && !i.tags.length) i.tags = ['new'];
      return itemRecord(c, i, i.itemId, { bomb: { field, claim: pick(c.r, BOMB_CLAIMS), tail: int(c.r, 0, 16) } });
    })),
    ...ITEM_ARRAY_FIELDS.flatMap((field) => [false, true].map((negative) => it(`item:bomb-count${negative ? '-negative' : ''}:${field}`, 'AVRO_LIMIT', 'decode', 0.8,
      `a ${negative ? 'negative ' : ''}${field} array block count of 1e9..2^62`, (c) => {
        const i = baseItem(c);
        return itemRecord(c, i, i.itemId, { bomb: { field, claim: pick(c.r, BOMB_CLAIMS), negative, tail: int(c.r, 2, 20) } });
      }))),
    // The items topic is compacted: the broker refuses a record without a key, so the key is empty too.
    it('item:missing-id', 'MISSING_ID', 'validate', 1, 'itemId "" (and an empty key: the compacted topic refuses none)', (c) => itemRecord(c, { ...baseItem(c), itemId: '' }, '')),
    it('item:bad-id', 'BAD_ID', 'validate', 1, 'a control character in itemId', (c) => {
      const i = baseItem(c);
      const bad = { ...i, itemId: withControl(c.r, i.itemId) };
      return itemRecord(c, bad);
    }),
    it('item:id-too-long', 'ID_TOO_LONG', 'validate', 1, `itemId over ATTUNE_MAX_ID_LENGTH (${idMax})`, (c) => itemRecord(c, { ...baseItem(c), itemId: longString(c.r, idMax + int(c.r, 1, 400)) })),
    it('item:title-too-long', 'TITLE_TOO_LONG', 'validate', 1, 'a title of 5,000 to 30,000 characters', (c) => itemRecord(c, { ...baseItem(c), title: longString(c.r, int(c.r, 5000, 30000)) })),
    it('item:too-many-categories', 'TOO_MANY_CATEGORIES', 'validate', 1, '1,000 to 3,000 short categories', (c) => itemRecord(c, { ...baseItem(c), categories: Array.from({ length: int(c.r, 1000, 3000) }, (_, k) => `c${k}`) })),
    it('item:bad-category', 'BAD_CATEGORY', 'validate', 1, 'an empty category, one of 2,000+ characters, or one with a control character', (c) => {
      const i = baseItem(c);
      const bad = pick(c.r, ['', longString(c.r, int(c.r, 2000, 5000)), withControl(c.r, 'garden')]);
      return itemRecord(c, { ...i, categories: [...i.categories, bad] });
    }),
    it('item:too-many-tags', 'TOO_MANY_TAGS', 'validate', 1, '1,000 to 3,000 short tags', (c) => itemRecord(c, { ...baseItem(c), tags: Array.from({ length: int(c.r, 1000, 3000) }, (_, k) => `t${k}`) })),
    it('item:bad-tag', 'BAD_TAG', 'validate', 1, 'an empty tag, one of 2,000+ characters, or one with a control character', (c) => {
      const i = baseItem(c);
      const bad = pick(c.r, ['', longString(c.r, int(c.r, 2000, 5000)), withControl(c.r, 'sale')]);
      return itemRecord(c, { ...i, tags: [...i.tags, bad] });
    }),
    it('item:bad-price', 'BAD_PRICE', 'validate', 1, 'price NaN, ±Infinity or negative', (c) => itemRecord(c, { ...baseItem(c), price: pick(c.r, [Number.NaN, Infinity, -Infinity, -0.01, -5]) })),
    it('item:bad-time', 'BAD_TIME', 'validate', 1, 'updatedAt beyond ±8.64e15 (no Date)', (c) => itemRecord(c, { ...baseItem(c), updatedAt: pick(c.r, [-8.64e15 - 1, -9e15, 8.64e15 + 1, 9e15]) })),
  ];
  const names = new Set<string>();
  for (const k of kinds) {
    if (names.has(k.name)) throw new Error(`duplicate kind ${k.name}`);
    names.add(k.name);
  }
  return kinds;
}

/** Kinds whose name matches one of the comma-separated patterns (`*` any run of characters); all when empty. */
export function selectKinds(all: Kind[], patterns: string | undefined): Kind[] {
  if (!patterns) return all;
  const res = patterns.split(',').map((p) => p.trim()).filter(Boolean)
    .map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`));
  const out = all.filter((k) => res.some((re) => re.test(k.name)));
  if (!out.length) throw new Error(`no kind matches ${patterns}; kinds: ${all.map((k) => k.name).join(', ')}`);
  return out;
}
