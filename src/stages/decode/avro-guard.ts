/**
 * The bomb guard: a bounded pre-walk of an Avro body against its writer schema, run before avsc decodes it.
 *
 * avsc trusts the counts in the bytes: an array/map block claiming 2^40 entries of a type it can read from an
 * exhausted buffer (reads past the end yield zeros) loops for hours, and `new Array(1e9)` for a claimed
 * categories count runs the process out of memory. This walk reads only headers (block counts, lengths, union and
 * enum indexes) and skips payloads, so it costs O(bytes) and allocates nothing proportional to a claimed count:
 * - a block of n items needs at least n × (the item type's minimum encoded size) bytes, which must be left in the
 *   body (or in the block's declared size, for the negative-count form); zero-width items (null, empty records,
 *   fixed(0)) take no bytes, so their blocks get a hard cap instead;
 * - all blocks of one record together hold at most `maxItems` items;
 * - a string/bytes length must fit in what is left; union and enum indexes must name a branch/symbol;
 * - the body must end exactly where the value ends (no trailing bytes), and nesting is capped (recursive schemas).
 * A count or length the bytes cannot hold, or over a cap, is AVRO_LIMIT; anything else malformed is BAD_AVRO.
 */
import type { Type } from 'avsc';
import { DecodeError, errorMessage } from '../../errors.js';

export interface AvroGuardLimits {
  /** Items (array elements + map entries) in one record, over all its arrays and maps. */
  maxItems: number;
  /** Items in one block of a zero-width type (they cost no bytes, so the bytes cannot bound them). */
  maxZeroWidthItems: number;
  /** Nesting of arrays/maps/records/unions in the data (only recursive schemas can nest deeper than the schema). */
  maxDepth: number;
}

export const DEFAULT_GUARD_LIMITS: AvroGuardLimits = { maxItems: 10_000, maxZeroWidthItems: 1_000, maxDepth: 64 };

/** A schema compiled for the walk: each node knows its minimum encoded size. */
type Node =
  | { kind: 'fixedWidth'; bytes: number; min: number }
  | { kind: 'varint'; int: boolean; min: number }
  | { kind: 'boolean'; min: number }
  | { kind: 'blob'; min: number }
  | { kind: 'enum'; symbols: number; min: number }
  | { kind: 'array'; items: Node; min: number }
  | { kind: 'map'; values: Node; min: number }
  | { kind: 'union'; branches: Node[]; min: number }
  | { kind: 'record'; fields: Node[]; min: number };

const compiled = new WeakMap<Type, Node>();
const MAP_KEY: Node = { kind: 'blob', min: 1 };

/** Compiles an avsc Type (cached per Type instance); named types that recur share one node. */
export function compileGuard(type: Type): Node {
  const hit = compiled.get(type);
  if (hit) return hit;
  const seen = new Map<Type, Node>();
  const node = compile(type, seen);
  compiled.set(type, node);
  return node;
}

function compile(t: Type, seen: Map<Type, Node>): Node {
  const known = seen.get(t);
  if (known) return known;
  const any = t as unknown as Record<string, any>;
  if (any.underlyingType) return compile(any.underlyingType as Type, seen); // logical types read as their base type
  const name = String(t.typeName);
  switch (name) {
    case 'null': return { kind: 'fixedWidth', bytes: 0, min: 0 };
    case 'boolean': return { kind: 'boolean', min: 1 };
    case 'int': return { kind: 'varint', int: true, min: 1 };
    case 'long':
    case 'abstract:long': return { kind: 'varint', int: false, min: 1 }; // abstract: the exact long of avsc.ts
    case 'float': return { kind: 'fixedWidth', bytes: 4, min: 4 };
    case 'double': return { kind: 'fixedWidth', bytes: 8, min: 8 };
    case 'string':
    case 'bytes': return { kind: 'blob', min: 1 };
    case 'fixed': return { kind: 'fixedWidth', bytes: any.size as number, min: any.size as number };
    case 'enum': return { kind: 'enum', symbols: (any.symbols as string[]).length, min: 1 };
    case 'array': {
      const n: Node = { kind: 'array', items: { kind: 'fixedWidth', bytes: 0, min: 0 }, min: 1 };
      seen.set(t, n);
      n.items = compile(any.itemsType as Type, seen);
      return n;
    }
    case 'map': {
      const n: Node = { kind: 'map', values: { kind: 'fixedWidth', bytes: 0, min: 0 }, min: 1 };
      seen.set(t, n);
      n.values = compile(any.valuesType as Type, seen);
      return n;
    }
    case 'record':
    case 'error': {
      // While its fields compile, a recursive reference sees min 0: a lower bound, so the checks stay sound.
      const n: Node = { kind: 'record', fields: [], min: 0 };
      seen.set(t, n);
      n.fields = (any.fields as { type: Type }[]).map((f) => compile(f.type, seen));
      n.min = n.fields.reduce((s, f) => s + f.min, 0);
      return n;
    }
    default:
      if (name.startsWith('union')) {
        const n: Node = { kind: 'union', branches: [], min: 1 };
        seen.set(t, n);
        n.branches = (any.types as Type[]).map((b) => compile(b, seen));
        return n;
      }
      throw new Error(`avro guard: unsupported Avro type ${name}`);
  }
}

class Walk {
  pos: number;
  items = 0;
  constructor(readonly buf: Buffer, start: number, readonly limits: AvroGuardLimits) {
    this.pos = start;
  }

  /** A zig-zag varint (int or long), as a JS number (exact up to 2^53; beyond, only compared to caps). */
  varint(what: string): number {
    const { buf } = this;
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= buf.length) throw new DecodeError('BAD_AVRO', `the Avro body is truncated (reading ${what} at byte ${this.pos})`);
      const b = buf[this.pos++]!;
      n += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
      mul *= 128;
    }
    throw new DecodeError('BAD_AVRO', `a varint of more than 10 bytes (${what} at byte ${this.pos - 10})`);
  }

  left(): number {
    return this.buf.length - this.pos;
  }

  skip(n: number, what: string): void {
    if (n > this.left()) throw new DecodeError('BAD_AVRO', `the Avro body is truncated (${what} needs ${n} bytes, ${this.left()} are left)`);
    this.pos += n;
  }

  value(node: Node, depth: number): void {
    if (depth > this.limits.maxDepth) throw new DecodeError('AVRO_LIMIT', `the Avro value nests deeper than ${this.limits.maxDepth} levels`);
    switch (node.kind) {
      case 'fixedWidth': return this.skip(node.bytes, 'a fixed-size value');
      case 'boolean': return this.skip(1, 'a boolean');
      case 'varint': {
        const v = this.varint(node.int ? 'an int' : 'a long');
        if (node.int && (v > 2_147_483_647 || v < -2_147_483_648)) throw new DecodeError('BAD_AVRO', `an int value ${v} is out of the 32-bit range`);
        return;
      }
      case 'blob': {
        const len = this.varint('a string/bytes length');
        if (len < 0) throw new DecodeError('BAD_AVRO', `a string/bytes length is negative (${len})`);
        if (len > this.left()) throw new DecodeError('AVRO_LIMIT', `a string/bytes claims ${len} bytes; only ${this.left()} are left in the value`);
        this.pos += len;
        return;
      }
      case 'enum': {
        const i = this.varint('an enum index');
        if (i < 0 || i >= node.symbols) throw new DecodeError('BAD_AVRO', `enum index ${i} is out of range (${node.symbols} symbols)`);
        return;
      }
      case 'union': {
        const i = this.varint('a union index');
        if (i < 0 || i >= node.branches.length) throw new DecodeError('BAD_AVRO', `union branch index ${i} is out of range (${node.branches.length} branches)`);
        return this.value(node.branches[i]!, depth + 1);
      }
      case 'record':
        for (const f of node.fields) this.value(f, depth + 1);
        return;
      case 'array':
        return this.blocks(node.items.min, depth, (d) => this.value(node.items, d));
      case 'map':
        // An entry is a key (a string, ≥ 1 byte) and a value.
        return this.blocks(1 + node.values.min, depth, (d) => {
          this.value(MAP_KEY, d);
          this.value(node.values, d);
        });
    }
  }

  private blocks(minItemBytes: number, depth: number, readItem: (depth: number) => void): void {
    for (;;) {
      let count = this.varint('a block count');
      if (count === 0) return;
      let end = -1;
      if (count < 0) {
        count = -count;
        const size = this.varint('a block size');
        if (size < 0) throw new DecodeError('BAD_AVRO', `a block size is negative (${size})`);
        if (size > this.left()) throw new DecodeError('AVRO_LIMIT', `a block claims ${size} bytes; only ${this.left()} are left in the value`);
        end = this.pos + size;
      }
      const room = end >= 0 ? end - this.pos : this.left();
      if (minItemBytes === 0) {
        if (count > this.limits.maxZeroWidthItems) throw new DecodeError('AVRO_LIMIT', `a block claims ${count} zero-width items; at most ${this.limits.maxZeroWidthItems} are accepted`);
      } else if (count * minItemBytes > room) {
        throw new DecodeError('AVRO_LIMIT', `a block claims ${count} items of at least ${minItemBytes} byte(s) each; only ${room} bytes are left`);
      }
      this.items += count;
      if (this.items > this.limits.maxItems) throw new DecodeError('AVRO_LIMIT', `the value holds more than ${this.limits.maxItems} array/map items (ATTUNE_AVRO_MAX_ITEMS)`);
      for (let i = 0; i < count; i++) readItem(depth + 1);
      if (end >= 0 && this.pos !== end) throw new DecodeError('BAD_AVRO', `a block's declared size does not match its items (ends at byte ${this.pos}, declared ${end})`);
    }
  }
}

/** Walks `buf[start..]` as one value of `type`; throws DecodeError (AVRO_LIMIT or BAD_AVRO) unless it is sound. */
export function guardAvro(type: Type, buf: Buffer, start: number, limits: AvroGuardLimits = DEFAULT_GUARD_LIMITS): void {
  const w = new Walk(buf, start, limits);
  w.value(compileGuard(type), 0);
  if (w.pos !== buf.length) throw new DecodeError('BAD_AVRO', `${buf.length - w.pos} trailing byte(s) after the Avro value`);
}

/** The guard, then avsc: the value of `buf[start..]`, or a DecodeError (AVRO_LIMIT or BAD_AVRO). */
export function decodeGuarded(type: Type, buf: Buffer, start: number, limits: AvroGuardLimits = DEFAULT_GUARD_LIMITS, schema = 'its schema'): unknown {
  guardAvro(type, buf, start, limits);
  try {
    return type.fromBuffer(buf.subarray(start));
  } catch (err) {
    throw new DecodeError('BAD_AVRO', `the Avro body does not decode with ${schema}: ${errorMessage(err).slice(0, 200)}`, err);
  }
}
