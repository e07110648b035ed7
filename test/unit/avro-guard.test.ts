/**
 * The Avro bomb guard (src/stages/decode/avro-guard.ts): hand-written bodies of both input schemas with a bomb in
 * each map, array and string, and a property test that random or mutated bodies always finish fast and either
 * decode or throw a DecodeError.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { avro, readerType } from '../../src/stages/decode/avsc.js';
import { longBytes } from '../support/avro-bytes.js';
import { decodeGuarded, guardAvro, DEFAULT_GUARD_LIMITS } from '../../src/stages/decode/avro-guard.js';
import { readSchema, toCatalogItem, toUserEvent } from '../../src/stages/decode/codec.js';
import { DecodeError, ValidationError } from '../../src/errors.js';
import { DEFAULT_LIMITS, validateEvent } from '../../src/stages/validate/validate.js';
import { validateItem } from '../../src/stages/validate/item.js';

// The types the codec decodes with (exact longs): the guard must understand them.
const eventType = readerType(JSON.parse(readSchema('events')));
const itemType = readerType(JSON.parse(readSchema('items')));

// ---- a tiny Avro writer: just enough to place a bomb anywhere in the two schemas ----
const long = longBytes;
const str = (s: string, claim?: number | bigint) => Buffer.concat([long(claim ?? Buffer.byteLength(s)), Buffer.from(s)]);
const nul = () => long(0);
const some = (b: Buffer) => Buffer.concat([long(1), b]);
const dbl = (x: number) => { const b = Buffer.alloc(8); b.writeDoubleLE(x); return b; };

/** Where a bomb goes: `str:<field>` claims 2^40 bytes; `block:<field>` claims 2^40 (or `neg`: -2^40 with a size). */
type Bomb = { at: string; count?: number | bigint; neg?: boolean } | null;
const BIG = 2n ** 40n;

function s(field: string, value: string, bomb: Bomb) {
  return bomb?.at === `str:${field}` ? str(value, bomb.count ?? BIG) : str(value);
}
/** An array/map of strings (map: key then value) with an optional bomb in its block header or in one string. */
function block(field: string, entries: string[][], bomb: Bomb): Buffer {
  const body = Buffer.concat(entries.map((e, i) => Buffer.concat(e.map((x, j) => s(`${field}[${i}][${j}]`, x, bomb)))));
  if (bomb?.at === `block:${field}`) {
    const claim = bomb.count ?? BIG;
    return Buffer.concat(bomb.neg ? [long(-BigInt(claim)), long(body.length), body, long(0)] : [long(claim), body, long(0)]);
  }
  return Buffer.concat([long(entries.length), body, long(0)]);
}

/** The consent array (records of a purpose string and a status enum index), with an optional bomb in its header or a purpose. */
function consentBlock(choices: Array<[string, number]>, bomb: Bomb): Buffer {
  const body = Buffer.concat(choices.map(([purpose, status], i) => Buffer.concat([s(`consent[${i}]`, purpose, bomb), long(status)])));
  if (bomb?.at === 'block:consent') {
    const claim = bomb.count ?? BIG;
    return Buffer.concat(bomb.neg ? [long(-BigInt(claim)), long(body.length), body, long(0)] : [long(claim), body, long(0)]);
  }
  return Buffer.concat([long(choices.length), body, long(0)]);
}

/** `consent`: null (the default: written as the null branch) or the choices of a consent event. */
function userEvent(bomb: Bomb = null, opts: { props?: string[][]; consent?: Array<[string, number]> | null; recommendationId?: string; knownUserId?: string; profile?: string } = {}): Buffer {
  const consent = opts.consent === undefined ? (bomb?.at.includes('consent') ? [['personalization', 1], ['ads', 0]] as Array<[string, number]> : null) : opts.consent;
  return Buffer.concat([
    s('eventId', 'e1', bomb), s('userId', 'u1', bomb), long(0) /* view */, long(Date.UTC(2024, 0, 1)),
    some(s('itemId', 'i1', bomb)), some(long(2)), some(dbl(9.5)), nul(), some(s('sessionId', 's1', bomb)),
    some(Buffer.concat([some(s('device', 'phone', bomb)), some(s('country', 'DE', bomb)), some(s('referrer', 'r', bomb)), some(s('userAgent', 'ua', bomb))])),
    block('properties', opts.props ?? [['k', 'v'], ['k2', 'v2']], bomb),
    consent === null ? nul() : some(consentBlock(consent, bomb)),
    opts.recommendationId ? some(s('recommendationId', opts.recommendationId, bomb)) : nul(),
    opts.knownUserId ? some(s('knownUserId', opts.knownUserId, bomb)) : nul(),
    opts.profile ? some(s('profile', opts.profile, bomb)) : nul(),
  ]);
}

function item(bomb: Bomb = null): Buffer {
  return Buffer.concat([
    s('itemId', 'i1', bomb), some(s('title', 'A title', bomb)),
    block('categories', [['books'], ['sf']], bomb), block('tags', [['new']], bomb),
    some(dbl(3)), Buffer.from([1]), Buffer.from([0]), long(Date.UTC(2024, 0, 1)),
  ]);
}

const EVENT_STRINGS = ['eventId', 'userId', 'itemId', 'sessionId', 'device', 'country', 'referrer', 'userAgent', 'properties[0][0]', 'properties[1][1]'];
const ITEM_STRINGS = ['itemId', 'title', 'categories[0][0]', 'categories[1][0]', 'tags[0][0]'];

function codeOf(fn: () => unknown): string {
  try { fn(); return 'OK'; } catch (e) {
    expect(e).toBeInstanceOf(DecodeError);
    return (e as DecodeError).code;
  }
}

describe('the hand-written bodies', () => {
  it('are the bodies avsc writes, so a bomb in them is a bomb in a real record', () => {
    expect(eventType.fromBuffer(userEvent())).toMatchObject({ eventId: 'e1', itemId: 'i1', context: { country: 'DE' }, properties: { k: 'v', k2: 'v2' } });
    expect(itemType.fromBuffer(item())).toMatchObject({ itemId: 'i1', categories: ['books', 'sf'], tags: ['new'], price: 3 });
    expect(decodeGuarded(eventType, userEvent(), 0)).toEqual(eventType.fromBuffer(userEvent()));
    expect(decodeGuarded(itemType, item(), 0)).toEqual(itemType.fromBuffer(item()));
    const consent = userEvent(null, { consent: [['personalization', 1], ['ads', 2]] });
    expect(decodeGuarded(eventType, consent, 0)).toMatchObject({ consent: [{ purpose: 'personalization', status: 'denied' }, { purpose: 'ads', status: 'revoked' }] });
    expect(toUserEvent(decodeGuarded(eventType, consent, 0) as Record<string, unknown>).consent).toEqual([{ purpose: 'personalization', status: 'denied' }, { purpose: 'ads', status: 'revoked' }]);
    expect(toUserEvent(decodeGuarded(eventType, userEvent(), 0) as Record<string, unknown>).consent).toBeNull();
    expect(toUserEvent(decodeGuarded(eventType, userEvent(null, { recommendationId: 'home:a~3.7~tag' }), 0) as Record<string, unknown>).recommendationId).toBe('home:a~3.7~tag');
    expect(toUserEvent(decodeGuarded(eventType, userEvent(), 0) as Record<string, unknown>).recommendationId).toBeNull();
    const linked = toUserEvent(decodeGuarded(eventType, userEvent(null, { knownUserId: 'k1', profile: '{"v":1}' }), 0) as Record<string, unknown>);
    expect([linked.knownUserId, linked.profile]).toEqual(['k1', '{"v":1}']);
    expect(toUserEvent(decodeGuarded(eventType, userEvent(), 0) as Record<string, unknown>)).toMatchObject({ knownUserId: null, profile: null });
  });
});

describe('bombs are caught before avsc runs', () => {
  const cases: [string, () => Buffer][] = [
    ...EVENT_STRINGS.map((f) => [`user event string ${f}`, () => userEvent({ at: `str:${f}` })] as [string, () => Buffer]),
    ...ITEM_STRINGS.map((f) => [`item string ${f}`, () => item({ at: `str:${f}` })] as [string, () => Buffer]),
    ['user event properties map, 2^40 entries', () => userEvent({ at: 'block:properties' })],
    ['user event properties map, -2^40 entries with a size', () => userEvent({ at: 'block:properties', neg: true })],
    ['user event consent array, 2^40 choices', () => userEvent({ at: 'block:consent' })],
    ['user event consent array, -2^40 choices with a size', () => userEvent({ at: 'block:consent', neg: true })],
    ['user event consent array, 1e9 choices', () => userEvent({ at: 'block:consent', count: 1e9 })],
    ['user event consent purpose string', () => userEvent({ at: 'str:consent[1]' })],
    ['user event recommendation id string', () => userEvent({ at: 'str:recommendationId' }, { recommendationId: 'home:a~3.7~tag' })],
    ['user event known user id string', () => userEvent({ at: 'str:knownUserId' }, { knownUserId: 'k1' })],
    ['user event profile string', () => userEvent({ at: 'str:profile' }, { profile: '{"v":1}' })],
    ['item categories, 1e9 items', () => item({ at: 'block:categories', count: 1e9 })],
    ['item categories, 2^40 items', () => item({ at: 'block:categories' })],
    ['item categories, -2^40 items with a size', () => item({ at: 'block:categories', neg: true })],
    ['item tags, 2^40 items', () => item({ at: 'block:tags' })],
    ['item tags, -1e9 items with a size', () => item({ at: 'block:tags', count: 1e9, neg: true })],
  ];
  for (const [name, body] of cases) {
    it(name, () => {
      const type = name.startsWith('item') ? itemType : eventType;
      const t0 = performance.now();
      expect(codeOf(() => decodeGuarded(type, body(), 0))).toBe('AVRO_LIMIT');
      expect(performance.now() - t0).toBeLessThan(1_000); // without the guard: hours, or out of memory
    });
  }

  it('a block claiming a few more items than its bytes can hold is AVRO_LIMIT, one that fits decodes', () => {
    expect(codeOf(() => decodeGuarded(itemType, item({ at: 'block:categories', count: 40 }), 0))).toBe('AVRO_LIMIT');
    // 2 items claimed as 2: fine; claimed as 3 (a third item would need ≥ 1 byte, and the tags follow): BAD_AVRO or LIMIT, never a hang.
    expect(codeOf(() => decodeGuarded(itemType, item({ at: 'block:categories', count: 2 }), 0))).toBe('OK');
    expect(['AVRO_LIMIT', 'BAD_AVRO']).toContain(codeOf(() => decodeGuarded(itemType, item({ at: 'block:categories', count: 3 }), 0)));
  });

  it('the total-items cap holds over all arrays and maps of one record', () => {
    const many = Array.from({ length: 60 }, (_, i) => [`k${i}`, 'v']);
    const body = userEvent(null, { props: many });
    expect(codeOf(() => decodeGuarded(eventType, body, 0))).toBe('OK');
    expect(codeOf(() => decodeGuarded(eventType, body, 0, { ...DEFAULT_GUARD_LIMITS, maxItems: 59 }))).toBe('AVRO_LIMIT');
    // The consent choices count into the same cap: 58 entries + 2 choices = 60.
    const both = userEvent(null, { props: many.slice(0, 58), consent: [['a', 0], ['b', 1]] });
    expect(codeOf(() => decodeGuarded(eventType, both, 0))).toBe('OK');
    expect(codeOf(() => decodeGuarded(eventType, both, 0, { ...DEFAULT_GUARD_LIMITS, maxItems: 59 }))).toBe('AVRO_LIMIT');
  });

  it('zero-width items (an array of nulls) get a hard cap, since bytes cannot bound them', () => {
    const nulls = avro.Type.forSchema({ type: 'array', items: 'null' });
    expect(codeOf(() => guardAvro(nulls, Buffer.concat([long(500), long(0)]), 0))).toBe('OK');
    expect(codeOf(() => guardAvro(nulls, Buffer.concat([long(2 ** 40), long(0)]), 0))).toBe('AVRO_LIMIT');
    const empty = avro.Type.forSchema({ type: 'array', items: { type: 'record', name: 'E', fields: [] } });
    expect(codeOf(() => guardAvro(empty, Buffer.concat([long(1e9), long(0)]), 0))).toBe('AVRO_LIMIT');
  });

  it('recursive schemas cannot nest deeper than the cap (no stack overflow)', () => {
    const node = avro.Type.forSchema({ type: 'record', name: 'N', fields: [{ name: 'next', type: ['null', 'N'] }] });
    const deep = Buffer.concat([...Array.from({ length: 10_000 }, () => long(1)), long(0)]);
    expect(codeOf(() => guardAvro(node, deep, 0))).toBe('AVRO_LIMIT');
    expect(codeOf(() => guardAvro(node, Buffer.concat([long(1), long(1), long(0)]), 0))).toBe('OK');
  });
});

describe('malformed bodies are BAD_AVRO', () => {
  it('truncation, trailing bytes, bad union and enum indexes, negative lengths, over-long varints', () => {
    const ok = userEvent();
    expect(codeOf(() => decodeGuarded(eventType, ok.subarray(0, ok.length - 1), 0))).toBe('BAD_AVRO');
    expect(codeOf(() => decodeGuarded(eventType, Buffer.concat([ok, Buffer.from([0])]), 0))).toBe('BAD_AVRO');
    const badUnion = Buffer.from(ok); badUnion[str('e1').length + str('u1').length + 1 + long(Date.UTC(2024, 0, 1)).length] = 0x06; // itemId branch 3
    expect(codeOf(() => decodeGuarded(eventType, badUnion, 0))).toBe('BAD_AVRO');
    const badEnum = Buffer.from(ok); badEnum[str('e1').length + str('u1').length] = 40; // symbol 20 of 9
    expect(codeOf(() => decodeGuarded(eventType, badEnum, 0))).toBe('BAD_AVRO');
    expect(codeOf(() => decodeGuarded(eventType, Buffer.concat([long(-3), Buffer.from('abc')]), 0))).toBe('BAD_AVRO');
    expect(codeOf(() => decodeGuarded(eventType, Buffer.alloc(12, 0xff), 0))).toBe('BAD_AVRO');
    const negSize = Buffer.concat([long(-1), long(-5)]);
    expect(codeOf(() => guardAvro(avro.Type.forSchema({ type: 'array', items: 'long' }), negSize, 0))).toBe('BAD_AVRO');
    const wrongSize = Buffer.concat([long(-2), long(3), long(1), long(2), long(0)]); // 2 longs in 2 bytes, declared 3
    expect(codeOf(() => guardAvro(avro.Type.forSchema({ type: 'array', items: 'long' }), wrongSize, 0))).toBe('BAD_AVRO');
  });
});

describe('property: any body finishes fast and decodes or throws a DecodeError; what decodes validates or throws a ValidationError', () => {
  // Microseconds in practice; the budget only has to tell "finished" from "looping" on a busy 2-core CI machine.
  const BUDGET_MS = 200;
  function run(type: typeof eventType, body: Uint8Array): string {
    let value: Record<string, unknown>;
    try {
      value = decodeGuarded(type, Buffer.from(body), 0) as Record<string, unknown>;
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      return e.code;
    }
    // The rest of the path a record takes: mapping and validation may refuse it, but only with a ValidationError.
    try {
      if (type === itemType) validateItem(toCatalogItem(value), DEFAULT_LIMITS, Date.now());
      else validateEvent(toUserEvent(value), DEFAULT_LIMITS, Date.now(), 'u1');
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
    }
    return 'decoded';
  }
  function check(type: typeof eventType, body: Uint8Array): string {
    // A body over budget is timed again: a loop is over budget every time, a GC pause or a busy CPU only once.
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now();
      const outcome = run(type, body);
      const ms = performance.now() - t0;
      if (ms <= BUDGET_MS) return outcome;
      if (attempt === 2) throw new Error(`took ${ms.toFixed(1)} ms (${outcome}) twice for ${Buffer.from(body).toString('hex')}`);
    }
  }

  /** A valid body with some bytes overwritten, inserted or cut: the shapes a fuzzer makes of real records. */
  const mutated = (base: Buffer) =>
    fc.tuple(
      fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.array(fc.tuple(fc.nat({ max: base.length }), fc.uint8Array({ minLength: 1, maxLength: 10 })), { maxLength: 2 }),
      fc.option(fc.nat({ max: base.length })),
    ).map(([sets, inserts, cut]) => {
      let b = Buffer.from(base);
      for (const [i, v] of sets) b[i] = v;
      for (const [i, bytes] of inserts) b = Buffer.concat([b.subarray(0, i), bytes, b.subarray(i)]);
      return cut === null ? b : b.subarray(0, cut);
    });

  for (const [name, type, base] of [['user event', eventType, userEvent()], ['item', itemType, item()]] as const) {
    it(`${name}: random bytes`, () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => { check(type, b); }), { numRuns: 3_000 });
    });
    it(`${name}: mutated valid bodies (some still decode)`, () => {
      const outcomes = new Set<string>();
      fc.assert(fc.property(mutated(base), (b) => { outcomes.add(check(type, b)); }), { numRuns: 3_000 });
      expect(outcomes.has('decoded')).toBe(true);
      expect(outcomes.has('BAD_AVRO')).toBe(true);
    });
    it(`${name}: a bomb varint spliced in anywhere`, () => {
      const bomb = fc.constantFrom(long(BIG), long(-BIG), long(1e9), long(2n ** 62n), long(-(2n ** 62n)));
      fc.assert(fc.property(fc.nat({ max: base.length }), bomb, (i, v) => { check(type, Buffer.concat([base.subarray(0, i), v, base.subarray(i)])); }), { numRuns: 1_000 });
    });
  }
});
