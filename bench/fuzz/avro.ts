/**
 * A tiny, readable Avro binary writer for the two input schemas (schemas/user-event.avsc, schemas/item.avsc), and
 * the Confluent frame around it. The fuzzer writes bytes by hand because a bomb is exactly what a correct encoder
 * never writes: a string length or a block count that the bytes cannot hold. Every call appends one Avro datum;
 * `mark()` remembers a field boundary, where truncation still leaves a prefix that decodes field by field.
 *
 * Avro binary, in short: int and long are zig-zag varints; a string is its UTF-8 byte length (long) then the
 * bytes; a double is 8 bytes little-endian; a boolean one byte; a union the branch index (long) then the value;
 * an enum its symbol index (long); arrays and maps are blocks: a count (long; negative = -count followed by the
 * block's byte size), the items (a map item is a string key then the value), ended by a zero count.
 */
import { readFileSync } from 'node:fs';
import type { CatalogItem } from '../../src/domain/events.js';

export class AvroWriter {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  /** Byte offsets that end a complete top-level field (see `mark`). */
  readonly boundaries: number[] = [];

  private push(b: Buffer): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }

  /** A zig-zag varint of any 64-bit value (BigInt, so bombs up to 2^63 - 1 are exact). */
  long(n: number | bigint): this {
    const v = BigInt(n);
    let z = v >= 0n ? v << 1n : ((-v) << 1n) - 1n;
    const out: number[] = [];
    while (z >= 0x80n) {
      out.push(Number(z & 0x7fn) | 0x80);
      z >>= 7n;
    }
    out.push(Number(z));
    return this.push(Buffer.from(out));
  }

  int(n: number): this { return this.long(n); }
  bool(b: boolean): this { return this.push(Buffer.from([b ? 1 : 0])); }

  double(x: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(x);
    return this.push(b);
  }

  string(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.long(b.length).push(b);
  }

  raw(b: Buffer | number[]): this { return this.push(Buffer.isBuffer(b) ? b : Buffer.from(b)); }

  /** ["null", T]: null is branch 0, a value branch 1 written by `write`. */
  nullable<T>(v: T | null | undefined, write: (v: T) => void): this {
    if (v === null || v === undefined) return this.long(0);
    this.long(1);
    write(v);
    return this;
  }

  /** An array (or the map body, with `item` writing key and value) as one block of all items, then the end marker. */
  block<T>(items: T[], item: (x: T) => void): this {
    if (items.length) {
      this.long(items.length);
      for (const x of items) item(x);
    }
    return this.long(0);
  }

  /** Marks the current length as the end of a complete field. */
  mark(): this {
    this.boundaries.push(this.size);
    return this;
  }

  get length(): number { return this.size; }
  toBuffer(): Buffer { return Buffer.concat(this.chunks, this.size); }
}

/** Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian signed int, the Avro body. */
export function frame(schemaId: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = 0;
  head.writeInt32BE(schemaId | 0, 1);
  return Buffer.concat([head, body]);
}

// ----------------------------------------------------------------------------------------------- the two schemas

interface AvscField { name: string; type: unknown }
const userEventSchema = JSON.parse(readFileSync(new URL('../../schemas/user-event.avsc', import.meta.url), 'utf8')) as { fields: AvscField[] };

/** The symbols of the enum named `name` anywhere in the user-event schema, in schema order (index = what is written). */
function enumSymbols(name: string): readonly string[] {
  const walk = (t: unknown): readonly string[] | undefined => {
    if (Array.isArray(t)) return t.map(walk).find(Boolean);
    if (!t || typeof t !== 'object') return undefined;
    const o = t as { type?: unknown; name?: string; symbols?: string[]; fields?: AvscField[]; items?: unknown; values?: unknown };
    if (o.type === 'enum' && o.name === name) return o.symbols;
    return [o.type, o.items, o.values, ...(o.fields ?? []).map((f) => f.type)].map(walk).find(Boolean);
  };
  const s = walk(userEventSchema.fields.map((f) => f.type));
  if (!s) throw new Error(`schemas/user-event.avsc has no enum ${name}`);
  return s;
}

/**
 * The enum symbols of UserEvent.type, read from the schema itself: a symbol added there (impression was) shifts the
 * indexes after it, and a copied list would then write every later type as its neighbour.
 */
export const EVENT_TYPE_SYMBOLS = enumSymbols('EventType');

/** The top-level fields the writer below writes, in order; a test checks them against the schema's. */
export const EVENT_FIELDS_WRITTEN = [
  'eventId', 'userId', 'type', 'eventTime', 'itemId', 'quantity', 'price', 'rating', 'sessionId', 'context',
  'properties', 'consent', 'recommendationId', 'knownUserId', 'profile',
] as const;
export const EVENT_SCHEMA_FIELDS = userEventSchema.fields.map((f) => f.name);

export interface EventFields {
  eventId: string;
  userId: string;
  type: string;
  eventTime: number | bigint;
  itemId: string | null;
  quantity: number | null;
  price: number | null;
  rating: number | null;
  sessionId: string | null;
  context: { device: string | null; country: string | null; referrer: string | null; userAgent: string | null } | null;
  properties: Record<string, string>;
  consent?: Array<{ purpose: string; status: 'granted' | 'denied' | 'revoked' }> | null;
  recommendationId?: string | null;
  knownUserId?: string | null;
  profile?: string | null;
}

/** The symbols of ConsentStatus, in schema order. */
const CONSENT_STATUS_SYMBOLS = enumSymbols('ConsentStatus');

/** Every string position of UserEvent, where a length bomb can sit. */
export const EVENT_STRING_FIELDS = [
  'eventId', 'userId', 'itemId', 'sessionId',
  'context.device', 'context.country', 'context.referrer', 'context.userAgent',
  'properties.key', 'properties.value',
] as const;
export type EventStringField = (typeof EVENT_STRING_FIELDS)[number];

/** Every string, array and map position of Item, where a bomb can sit. */
export const ITEM_STRING_FIELDS = ['itemId', 'title', 'categories.item', 'tags.item'] as const;
export type ItemStringField = (typeof ITEM_STRING_FIELDS)[number];
export const ITEM_ARRAY_FIELDS = ['categories', 'tags'] as const;
export type ItemArrayField = (typeof ITEM_ARRAY_FIELDS)[number];

/**
 * A bomb: at `field`, instead of the real datum, a length (strings) or block count (arrays, maps) of `claim`, then
 * `tail` bytes of filler, and nothing else. `negative` writes the block count negated with a block byte size, the
 * other legal block form. The record stops there: a decoder that believes the claim is what is under test.
 */
export interface Bomb<F extends string> {
  field: F;
  claim: bigint;
  negative?: boolean;
  tail?: number;
}

/** Thrown inside an encoder to stop writing once a bomb is placed. */
class Stop {}

function placeBomb(w: AvroWriter, b: Bomb<string>): never {
  if (b.negative) w.long(-b.claim).long(b.tail ?? 8);
  else w.long(b.claim);
  w.raw(Buffer.alloc(b.tail ?? 8, 0x61));
  throw new Stop();
}

export interface EncodeOptions<F extends string> {
  bomb?: Bomb<F>;
  /** Write this enum index for `type` instead of the symbol's (out of range = not decodable). */
  typeIndex?: number;
  /** Write this union branch for `itemId` instead of 0/1 (out of range = not decodable). */
  itemIdBranch?: number;
}

/** The UserEvent body (no frame) and the offsets that end each complete top-level field. */
export function encodeEventBody(e: EventFields, opt: EncodeOptions<EventStringField | 'properties'> = {}): { body: Buffer; boundaries: number[] } {
  const w = new AvroWriter();
  const str = (field: string, s: string) => {
    if (opt.bomb?.field === field) placeBomb(w, opt.bomb);
    w.string(s);
  };
  try {
    str('eventId', e.eventId); w.mark();
    str('userId', e.userId); w.mark();
    const ti = opt.typeIndex ?? EVENT_TYPE_SYMBOLS.indexOf(e.type);
    if (ti < 0) throw new Error(`event type ${e.type} is not a symbol of the schema`);
    w.long(ti).mark();
    w.long(e.eventTime).mark();
    if (opt.itemIdBranch !== undefined) w.long(opt.itemIdBranch).string(e.itemId ?? 'x');
    else w.nullable(e.itemId, (v) => str('itemId', v));
    w.mark();
    w.nullable(e.quantity, (v) => w.int(v)).mark();
    w.nullable(e.price, (v) => w.double(v)).mark();
    w.nullable(e.rating, (v) => w.double(v)).mark();
    w.nullable(e.sessionId, (v) => str('sessionId', v)).mark();
    w.nullable(e.context, (c) => {
      w.nullable(c.device, (v) => str('context.device', v));
      w.nullable(c.country, (v) => str('context.country', v));
      w.nullable(c.referrer, (v) => str('context.referrer', v));
      w.nullable(c.userAgent, (v) => str('context.userAgent', v));
    }).mark();
    const props = Object.entries(e.properties);
    if (opt.bomb?.field === 'properties') placeBomb(w, opt.bomb);
    w.block(props, ([k, v]) => { str('properties.key', k); str('properties.value', v); });
    w.mark();
    // consent (added after the first schema version): null, or the choices of a consent event.
    w.nullable(e.consent ?? null, (cs) => w.block(cs, (c) => { w.string(c.purpose); w.long(CONSENT_STATUS_SYMBOLS.indexOf(c.status)); }));
    w.mark();
    // recommendationId (added with experiments): null, or the id of the list an impression/click/purchase came from.
    w.nullable(e.recommendationId ?? null, (v) => w.string(v));
    w.mark();
    // knownUserId and profile (added with identity stitching): null, or an identify event's known user id and the
    // profile Attune itself attaches when it re-keys the event.
    w.nullable(e.knownUserId ?? null, (v) => w.string(v));
    w.mark();
    w.nullable(e.profile ?? null, (v) => w.string(v));
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    return { body: w.toBuffer(), boundaries: w.boundaries };
  }
  if (opt.bomb) throw new Error(`no bomb placed at ${opt.bomb.field}: the record has no value there (null or empty)`);
  return { body: w.toBuffer(), boundaries: w.boundaries };
}

/** A catalog item as the writer takes it: updatedAt may be a BigInt (times beyond 2^53). */
export type ItemFields = Omit<CatalogItem, 'updatedAt'> & { updatedAt: number | bigint };

export function encodeItemBody(i: ItemFields, opt: EncodeOptions<ItemStringField | ItemArrayField> = {}): { body: Buffer; boundaries: number[] } {
  const w = new AvroWriter();
  const str = (field: string, s: string) => {
    if (opt.bomb?.field === field) placeBomb(w, opt.bomb);
    w.string(s);
  };
  const arr = (field: 'categories' | 'tags', xs: string[]) => {
    if (opt.bomb?.field === field) placeBomb(w, opt.bomb);
    w.block(xs, (x) => str(`${field}.item`, x));
  };
  try {
    str('itemId', i.itemId); w.mark();
    w.nullable(i.title, (v) => str('title', v)).mark();
    arr('categories', i.categories); w.mark();
    arr('tags', i.tags); w.mark();
    w.nullable(i.price, (v) => w.double(v)).mark();
    w.bool(i.available).mark();
    w.bool(i.deleted).mark();
    w.long(i.updatedAt);
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    return { body: w.toBuffer(), boundaries: w.boundaries };
  }
  if (opt.bomb) throw new Error(`no bomb placed at ${opt.bomb.field}: the record has no value there (null or empty)`);
  return { body: w.toBuffer(), boundaries: w.boundaries };
}
