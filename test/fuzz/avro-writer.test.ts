/**
 * The fuzzer's hand-made Avro (bench/fuzz/avro.ts) against the registry client the worker decodes with: valid
 * records must be byte for byte what the registry client writes, so a hostile record differs from a valid one only
 * where it means to; truncation must cut at field boundaries; bombs must claim what they say.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicNames } from '../../src/config/config.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { DecodeError } from '../../src/errors.js';
import type { UserEvent } from '../../src/domain/events.js';
import { EVENT_FIELDS_WRITTEN, EVENT_SCHEMA_FIELDS, EVENT_STRING_FIELDS, EVENT_TYPE_SYMBOLS, encodeEventBody, encodeItemBody, frame } from '../../bench/fuzz/avro.js';
import { buildKinds, type KindContext } from '../../bench/fuzz/kinds.js';
import { Shop, rng } from '../../bench/fuzz/shop.js';
import { testConfig } from '../support/env.js';

/** Reads the zig-zag varint at `at` (BigInt, exact up to 2^63). */
function readLong(b: Buffer, at: number): { value: bigint; next: number } {
  let z = 0n;
  let shift = 0n;
  for (let i = at; ; i++) {
    const byte = BigInt(b[i]!);
    z |= (byte & 0x7fn) << shift;
    shift += 7n;
    if (byte < 0x80n) return { value: (z & 1n) === 0n ? z >> 1n : -((z + 1n) >> 1n), next: i + 1 };
  }
}

describe('the fuzzer\'s Avro writer', () => {
  const cfg = testConfig();
  const codec = new Codec(cfg.registryUrl, topicNames(cfg));
  let ids: Awaited<ReturnType<Codec['registerAll']>>;
  const shop = new Shop({ seed: 42, eventsTopic: topicNames(cfg).events, skewMs: 23 * 3_600_000 });

  beforeAll(async () => {
    ids = await codec.registerAll();
  });
  afterAll(async () => {
    // Subjects stay in the registry: the schemas are the project's own, registered idempotently by every test.
  });

  it('writes every top-level field of the current user-event schema, in its order', () => {
    // A field added to schemas/user-event.avsc must be added to the writer too, or every record it writes is short.
    expect([...EVENT_FIELDS_WRITTEN]).toEqual(EVENT_SCHEMA_FIELDS);
  });

  it('writes valid events and items byte for byte as the registry client does', async () => {
    for (let i = 0; i < 300; i++) {
      const e = shop.next();
      expect(frame(ids.events, encodeEventBody(e).body)).toEqual(await codec.encodeEvent(e));
    }
    // The later optional fields and enum symbols too (the shop writes none of them).
    for (const type of EVENT_TYPE_SYMBOLS.filter((t) => t !== 'unknown')) {
      const e = { ...shop.next(), type, recommendationId: `a:b~0.${type.length}~AAAAAAAAAAAAAAAA` } as UserEvent;
      expect(frame(ids.events, encodeEventBody(e).body)).toEqual(await codec.encodeEvent(e));
    }
    for (const item of shop.catalog) expect(frame(ids.items, encodeItemBody(item).body)).toEqual(await codec.encodeItem(item));
  });

  it('decodes what it wrote, nasty ids included', async () => {
    const nasty = shop.catalog.filter((c) => shop.nasty.includes(c.itemId));
    expect(nasty.length).toBe(shop.nasty.length);
    for (const item of nasty) expect(await codec.decodeItem(frame(ids.items, encodeItemBody(item).body), 1e6)).toEqual(item);
  });

  it('truncates only at field boundaries: every cut is a BAD_AVRO for the decoder, not a length it cannot hold', async () => {
    const e = { ...shop.next(), context: { device: 'd', country: 'GB', referrer: null, userAgent: 'ua' }, properties: { a: 'b' } };
    const enc = encodeEventBody(e);
    const cuts = enc.boundaries.filter((b) => b > 0 && b < enc.body.length);
    expect(cuts.length).toBe(EVENT_SCHEMA_FIELDS.length - 1); // one per top-level field but the last
    for (const cut of cuts) {
      const err = await codec.decode(frame(ids.events, enc.body.subarray(0, cut)), 1e6).catch((x) => x);
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).code).toBe('BAD_AVRO');
    }
  });

  it('places each bomb where it says, claiming exactly its count or length', () => {
    const e = { ...shop.next(), itemId: 'i', sessionId: 's', context: { device: 'd', country: 'GB', referrer: 'r', userAgent: 'ua' }, properties: { k: 'v' } };
    const claim = 2n ** 62n;
    const plain = encodeEventBody(e).body;
    for (const field of [...EVENT_STRING_FIELDS, 'properties'] as const) {
      const b = encodeEventBody(e, { bomb: { field, claim, tail: 3 } }).body;
      // The bomb starts where the two encodings first differ, and reads back as the claim.
      let at = 0;
      while (b[at] === plain[at]) at++;
      expect(readLong(b, at).value, field).toBe(claim);
      expect(b.length - readLong(b, at).next, field).toBe(3);
    }
    const neg = encodeEventBody(e, { bomb: { field: 'properties', claim, negative: true, tail: 4 } }).body;
    let at = 0;
    while (neg[at] === plain[at]) at++;
    const count = readLong(neg, at);
    expect(count.value).toBe(-claim);
    expect(readLong(neg, count.next).value).toBe(4n);
    for (const field of ['categories', 'tags', 'itemId', 'title', 'categories.item', 'tags.item'] as const) {
      const item = { ...shop.catalog[0]!, categories: ['c'], tags: ['t'] };
      const p = encodeItemBody(item).body;
      const b = encodeItemBody(item, { bomb: { field, claim: 1_000_000_000n, tail: 0 } }).body;
      let i = 0;
      while (b[i] === p[i]) i++;
      expect(readLong(b, i).value, field).toBe(1_000_000_000n);
    }
  });

  it('refuses a bomb it cannot place (a null field), so no kind passes a valid record off as a bomb', () => {
    const e = { ...shop.next(), itemId: null, context: null };
    expect(() => encodeEventBody(e, { bomb: { field: 'itemId', claim: 2n ** 40n } })).toThrow(/no bomb placed at itemId/);
    expect(() => encodeEventBody(e, { bomb: { field: 'context.referrer', claim: 2n ** 40n } })).toThrow(/no bomb placed/);
  });

  it('every kind makes its records, framed with the schema id it means', () => {
    for (let i = 0; i < 50; i++) shop.next();
    const recent = [{ key: 'c10000', value: frame(ids.events, encodeEventBody(shop.next()).body) }];
    let n = 0;
    const ctx: KindContext = { r: rng(3), shop, cfg, ids, foreignRecommendations: frame(ids.recommendations, Buffer.from([2, 97, 0, 2, 120, 0, 0, 2])), recentValid: recent, nextId: () => `hx-${++n}` };
    for (const k of buildKinds(cfg)) {
      for (let i = 0; i < 30; i++) {
        const made = k.make(ctx);
        for (const rec of Array.isArray(made) ? made : [made]) {
          if (k.code === 'AVRO_LIMIT' || k.code === 'BAD_AVRO' || k.stage === 'validate' || k.code === 'TOO_LARGE') {
            expect(rec.value![0], k.name).toBe(0);
            expect(rec.value!.readInt32BE(1), k.name).toBe(k.topic === 'events' ? ids.events : ids.items);
          }
          if (k.code === 'TOO_LARGE') expect(rec.value!.length, k.name).toBeGreaterThan(cfg.maxMessageBytes);
          else if (rec.value) expect(rec.value.length, k.name).toBeLessThanOrEqual(cfg.maxMessageBytes);
        }
      }
    }
  });
});
