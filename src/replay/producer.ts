/**
 * Replays a data set into Kafka: the catalog first (so titles are known), then the user events in time order,
 * keyed by user id, in batches, optionally throttled to a rate. Progress is reported through a callback so the
 * CLI can draw a bar and tests can stay quiet.
 */
import type { CatalogItem, UserEvent } from '../domain/events.js';
import type { StreamProducer, OutboundRecord } from '../kafka/port.js';
import type { Codec } from '../stages/decode/codec.js';
import type { TopicNames } from '../config/config.js';

export interface ReplayOptions {
  /** Events per second; 0 or undefined = as fast as the broker takes them. */
  rate?: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function produceCatalog(producer: StreamProducer, codec: Codec, topics: TopicNames, items: CatalogItem[], batchSize = 500): Promise<number> {
  for (let i = 0; i < items.length; i += batchSize) {
    const chunk = items.slice(i, i + batchSize);
    const records: OutboundRecord[] = await Promise.all(chunk.map(async (it) => ({ key: it.itemId, value: await codec.encodeItem(it) })));
    await producer.send(topics.items, records);
  }
  return items.length;
}

export async function produceEvents(producer: StreamProducer, codec: Codec, topics: TopicNames, events: UserEvent[], opts: ReplayOptions = {}): Promise<{ produced: number; seconds: number }> {
  const batchSize = opts.batchSize ?? 500;
  const started = Date.now();
  for (let i = 0; i < events.length; i += batchSize) {
    const chunk = events.slice(i, i + batchSize);
    const records: OutboundRecord[] = await Promise.all(chunk.map(async (e) => ({ key: e.userId, value: await codec.encodeEvent(e) })));
    await producer.send(topics.events, records);
    const done = Math.min(i + batchSize, events.length);
    opts.onProgress?.(done, events.length);
    if (opts.rate && opts.rate > 0) {
      const due = started + (done / opts.rate) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  return { produced: events.length, seconds: (Date.now() - started) / 1000 };
}
