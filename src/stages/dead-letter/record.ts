/**
 * Dead-letter records keep the original key and value bytes and say, in headers, what failed, where and when.
 * The message is truncated and never carries the user id (validation messages are written without it).
 */
import type { InboundRecord, OutboundRecord } from '../../kafka/port.js';
import { RecordError, isRetriable } from '../../errors.js';

export const ATTUNE_VERSION = '0.1.0';

export interface DeadLetterSource {
  topic: string;
  partition: number;
  groupId: string;
}

export function deadLetter(record: InboundRecord, err: unknown, src: DeadLetterSource, now = Date.now()): OutboundRecord {
  const re = err instanceof RecordError ? err : null;
  const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
  return {
    key: record.key,
    value: record.value,
    headers: {
      'attune.error.code': re?.code ?? 'PROCESS',
      'attune.error.stage': re?.stage ?? 'process',
      'attune.error.class': err instanceof Error ? err.name : 'Error',
      'attune.error.message': message,
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
 * The dead letter of a record that failed with `err` — when `err` says the record itself is at fault (a
 * non-retriable RecordError). Anything else is rethrown: a retriable error retries the micro-batch, and an error
 * that is not about the record is not the record's to carry.
 */
export function deadLetterOrThrow(record: InboundRecord, err: unknown, src: DeadLetterSource): OutboundRecord {
  if (isRetriable(err) || !(err instanceof RecordError)) throw err;
  return deadLetter(record, err, src);
}
