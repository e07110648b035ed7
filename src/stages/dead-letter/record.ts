/**
 * Dead-letter records keep the original key and value bytes and say, in headers, what failed, where and when.
 * The message is capped in bytes and never carries the user id (validation messages are written without it; a
 * processing error's message is cleaned of the record's key and of quoted input, see safeMessage). A copy whose
 * record would exceed the produce size cap is truncated (fitDeadLetter), with a header saying how long it was.
 */
import type { InboundRecord, OutboundRecord } from '../../kafka/port.js';
import { RecordError, isRetriable, type DlqCode } from '../../errors.js';
import { recordBytes } from '../../kafka/chunk.js';

export const ATTUNE_VERSION = '0.1.0';

/** The code of a record that failed alone while being processed (isolated by bisection, topology/isolation.ts). */
export const PROCESS_FAILED = 'PROCESS_FAILED' as const;
/** The most bytes of an error message carried in `attune.error.message`. */
export const MAX_MESSAGE_BYTES = 500;
/** The most bytes of the error class and code headers (they come from our code, but an error's name is free). */
export const MAX_NAME_BYTES = 100;
/** Header of a DLQ copy whose value was cut to fit: the original value's length in bytes. */
export const TRUNCATED_HEADER = 'attune.value.truncated';
/** Header of a DLQ copy written without the record's key and value (ATTUNE_DLQ_VALUES=drop). */
export const VALUE_DROPPED_HEADER = 'attune.value.dropped';
/** Header of a DLQ copy whose key was cut to fit (a key alone near the cap): the original key's length in bytes. */
export const KEY_TRUNCATED_HEADER = 'attune.key.truncated';

export interface DeadLetterSource {
  topic: string;
  partition: number;
  groupId: string;
}

export function deadLetter(record: InboundRecord, err: unknown, src: DeadLetterSource, now = Date.now()): OutboundRecord {
  const re = err instanceof RecordError ? err : null;
  // Our RecordErrors are written without user ids; anything else is cleaned like a processing failure.
  const message = re ? re.message : safeMessage(err, record);
  // An error that is not a RecordError only gets here through isolation: keep the code within the bounded set.
  return build(record, re?.code ?? PROCESS_FAILED, re?.stage ?? 'process', err instanceof Error ? err.name : 'Error', message, src, now);
}

/**
 * The dead letter of a record that failed alone with a non-retriable error while being processed: code
 * PROCESS_FAILED, stage `process`, the error's own class, and its message without the user id.
 */
export function processFailed(record: InboundRecord, err: unknown, src: DeadLetterSource, now = Date.now()): OutboundRecord {
  return build(record, PROCESS_FAILED, 'process', err instanceof Error ? err.name : typeof err, safeMessage(err, record), src, now);
}

function build(record: InboundRecord, code: DlqCode, stage: string, cls: string, message: string, src: DeadLetterSource, now: number): OutboundRecord {
  return {
    key: record.key,
    value: record.value,
    headers: {
      'attune.error.code': capBytes(code, MAX_NAME_BYTES),
      'attune.error.stage': stage,
      'attune.error.class': capBytes(cls, MAX_NAME_BYTES),
      'attune.error.message': capBytes(message, MAX_MESSAGE_BYTES),
      'attune.source.topic': src.topic,
      'attune.source.partition': String(src.partition),
      'attune.source.offset': record.offset,
      'attune.source.timestamp': record.timestamp,
      'attune.group': src.groupId,
      'attune.failed.at': String(now),
      'attune.version': ATTUNE_VERSION,
    },
  };
}

/**
 * An error message fit for logs and dead-letter headers of a record: the record's key (the user or item id) is
 * replaced, and so is everything between the first and the last quote (JSON.parse, for one, quotes the input it
 * choked on, which may hold user ids), then the result is capped in bytes.
 */
export function safeMessage(err: unknown, record?: Pick<InboundRecord, 'key'>): string {
  let m = err instanceof Error ? err.message : String(err);
  const key = record?.key?.toString('utf8');
  if (key) m = m.split(key).join('<key>');
  // Everything from the first quote to the last: quotes nest unescaped in such messages (JSON.parse quotes JSON).
  m = m.replace(/["'`][\s\S]*["'`]/, '"…"');
  return capBytes(m, MAX_MESSAGE_BYTES);
}

/** `s` cut to at most `max` UTF-8 bytes, never inside a character. */
export function capBytes(s: string, max: number): string {
  if (Buffer.byteLength(s, 'utf8') <= max) return s;
  const b = Buffer.from(s, 'utf8').subarray(0, max);
  // Drop a trailing partial character: a UTF-8 continuation byte run that does not complete.
  let end = b.length;
  let k = end - 1;
  while (k >= 0 && (b[k] & 0xc0) === 0x80) k--;
  if (k >= 0) {
    const lead = b[k];
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (end - k < need) end = k;
  }
  return b.subarray(0, end).toString('utf8');
}

/**
 * The DLQ copy cut to fit in `maxBytes` (as recordBytes counts a record): the value is truncated first, with
 * header `attune.value.truncated: "<original length>"`; if the key and headers alone are still too large, the key
 * too (`attune.key.truncated`). A copy that fits is returned unchanged. The broker can then always take it.
 */
export function fitDeadLetter(r: OutboundRecord, maxBytes: number): OutboundRecord {
  if (recordBytes(r) <= maxBytes) return r;
  const headers = { ...(r.headers ?? {}) };
  const value = r.value;
  if (value !== null) headers[TRUNCATED_HEADER] = String(value.length);
  let key = r.key === null ? null : Buffer.isBuffer(r.key) ? r.key : Buffer.from(r.key, 'utf8');
  const room = maxBytes - recordBytes({ key, value: null, headers });
  if (room >= 0) return { key: r.key, value: value === null ? null : value.subarray(0, Math.min(value.length, room)), headers };
  // The key and headers alone do not fit: keep no value and cut the key (it was over the input caps anyway).
  if (key !== null) {
    headers[KEY_TRUNCATED_HEADER] = String(key.length);
    const keyRoom = Math.max(0, maxBytes - recordBytes({ key: null, value: null, headers }));
    key = key.subarray(0, Math.min(key.length, keyRoom));
  }
  return { key, value: value === null ? null : Buffer.alloc(0), headers };
}

/**
 * The dead letter of a record that failed with `err` — when `err` says the record itself is at fault (a
 * non-retriable RecordError). Anything else is rethrown: a retriable error retries the micro-batch, and an error
 * that is not about the record is not the record's to carry (the batch handler isolates it).
 */
export function deadLetterOrThrow(record: InboundRecord, err: unknown, src: DeadLetterSource): OutboundRecord {
  if (isRetriable(err) || !(err instanceof RecordError)) throw err;
  return deadLetter(record, err, src);
}

/**
 * The DLQ copy without the original key and value (ATTUNE_DLQ_VALUES=drop): headers only, plus
 * `attune.value.dropped: "true"`, so the dead-letter topic holds no copy of personal data (the headers never carry
 * a user id). What failed, where and when stays diagnosable; the record itself is read from the source topic.
 */
export function dropValue(r: OutboundRecord): OutboundRecord {
  return { key: null, value: null, headers: { ...(r.headers ?? {}), [VALUE_DROPPED_HEADER]: 'true' } };
}
