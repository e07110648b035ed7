/**
 * The stored form of a user's last emitted list (`{u}:recs`, what the lookup API serves): the list's JSON, raw-
 * deflated behind a one-byte format tag. A list is ~2.5-3 KB of JSON, mostly repeated keys and reason texts, and was
 * the largest key a user has (2,611 of 5,652 bytes per user, BENCHMARKS.md (e)); deflated it is ~450 bytes, for
 * ~15 µs per saved list (a list is saved only when it changed) and ~6 µs per read. A value written before the tag
 * (plain JSON, which starts with `{`) still reads, so lists stored by an older worker stay served until their TTL.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { Recommendations } from '../domain/events.js';
import type { RedisClient } from './redis-client.js';

/** The first byte of a deflated list (never `{`, the first byte of the plain JSON of older values). */
const DEFLATED = 0x01;

export function encodeStoredList(list: Recommendations): Buffer {
  return Buffer.concat([Buffer.of(DEFLATED), deflateRawSync(JSON.stringify(list), { level: 3 })]);
}

/** The list in a stored value; throws on a value that is neither form (the caller's error names the key). */
export function decodeStoredList(raw: Buffer): Recommendations {
  if (raw.length > 0 && raw[0] === DEFLATED) return JSON.parse(inflateRawSync(raw.subarray(1)).toString('utf8')) as Recommendations;
  return JSON.parse(raw.toString('utf8')) as Recommendations;
}

/** The list stored at `key` (its bytes, not a UTF-8 string: the deflated form is binary), or null when there is none. */
export async function readStoredList(redis: RedisClient, key: string): Promise<Recommendations | null> {
  const raw = await redis.getBuffer(key);
  return raw ? decodeStoredList(raw) : null;
}
