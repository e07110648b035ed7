/**
 * Reads a topic from the beginning to its current end with a throw-away consumer group, decoding each value
 * through the registry. Used by `attune show` and the integration tests to look at what Attune really emitted.
 */
import { randomUUID } from 'node:crypto';
import type { StreamClient, InboundRecord } from '../kafka/port.js';

export interface ReadRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export async function readTopicToEnd(kafka: StreamClient, topic: string, timeoutMs = 60_000): Promise<ReadRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.endOffsets(topic);
  await admin.disconnect();
  const remaining = new Map([...ends].filter(([, high]) => Number(high) > 0));
  const out: ReadRecord[] = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `attune-reader-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe([topic]);
  let finish: () => void = () => {};
  const finished = new Promise<void>((r) => (finish = r));
  await consumer.run(async (batch) => {
    for (const m of batch.records) {
      const high = remaining.get(batch.partition);
      if (high === undefined || Number(m.offset) >= Number(high)) break;
      out.push(toRead(batch.partition, m));
      batch.resolveOffset(m.offset);
      if (Number(m.offset) + 1 >= Number(high)) remaining.delete(batch.partition);
    }
    if (remaining.size === 0) finish();
  }, { partitionsConsumedConcurrently: 1 });
  const timer = setTimeout(finish, timeoutMs);
  await finished;
  clearTimeout(timer);
  await consumer.stop().catch(() => {});
  await consumer.disconnect().catch(() => {});
  if (remaining.size > 0) throw new Error(`timed out reading ${topic}: ${remaining.size} partitions not read to the end`);
  return out;
}

function toRead(partition: number, m: InboundRecord): ReadRecord {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers)) if (v !== undefined) headers[k] = v.toString();
  return { partition, offset: m.offset, key: m.key ? m.key.toString('utf8') : null, value: m.value, headers };
}
