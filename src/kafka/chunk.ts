/**
 * Produce requests cut by bytes, so that no request (and no record batch in it) exceeds what the broker takes
 * (message.max.bytes, 1 MB by default): a burst of large records — dead-letter copies of oversized input — would
 * otherwise go out as one request the broker refuses, non-retriably, again and again.
 *
 * Sizes are counted as Kafka's record format v2 lays them out, rounded up: key + value + each header's key and
 * value, plus a per-record and per-header allowance for the varint lengths and attributes, plus a per-request
 * allowance for the record batch and request headers. Without compression this is an upper bound.
 */
import { chunkByCost } from '../chunks.js';
import type { OutboundRecord } from './port.js';

/** Per record: length, attributes, timestamp and offset deltas, key/value lengths, header count (varints). */
export const RECORD_OVERHEAD_BYTES = 32;
/** Per header: its key and value lengths (varints). */
export const HEADER_OVERHEAD_BYTES = 10;
/** Per request: the request header, topic and partition framing, and the record batch header (61 bytes). */
export const REQUEST_OVERHEAD_BYTES = 512;

function bytes(v: string | Buffer | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return Buffer.isBuffer(v) ? v.length : Buffer.byteLength(v, 'utf8');
}

/** The bytes one record takes in a produce request (an upper bound, uncompressed). */
export function recordBytes(r: OutboundRecord): number {
  let n = RECORD_OVERHEAD_BYTES + bytes(r.key) + bytes(r.value);
  for (const [k, v] of Object.entries(r.headers ?? {})) n += HEADER_OVERHEAD_BYTES + bytes(k) + bytes(v);
  return n;
}

/** The largest record (as recordBytes counts it) that fits in a request of `maxRequestBytes` on its own. */
export function maxRecordBytes(maxRequestBytes: number): number {
  return maxRequestBytes - REQUEST_OVERHEAD_BYTES;
}

/**
 * The records in order, cut into consecutive chunks of at most `maxRequestBytes` each. A record too large for
 * any request goes alone (the broker then refuses that one record, and only it).
 */
export function chunkByBytes<T extends OutboundRecord>(records: readonly T[], maxRequestBytes: number): T[][] {
  return chunkByCost(records, recordBytes, maxRecordBytes(maxRequestBytes));
}
