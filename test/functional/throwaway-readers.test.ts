/**
 * Readers with a throw-away consumer group (they seek where they want: `readTopicToEnd`, the API's dead-letter
 * tail) commit no offsets: a committed offset keeps the group on the broker for offsets.retention.minutes (7 days
 * by default), so every `attune recommendations`, API start or test run would leave one behind. Only the worker's
 * own group commits (src/kafka/port.ts, `commitOffsets`).
 */
import { describe, it, expect, afterAll } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { openPipeline, testConfig, waitFor } from '../support/env.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { DeadLetterTail } from '../../src/api/dead-letter-tail.js';

const cfg = testConfig({ partitions: 2 });
const raw = new Kafka({ brokers: cfg.kafkaBrokers, clientId: 'attune-test-groups', logLevel: logLevel.NOTHING }).admin();
let pipeline: Awaited<ReturnType<typeof openPipeline>>;

afterAll(async () => {
  await raw.disconnect();
  await pipeline?.close();
});

/** The groups that exist now and have a committed offset on `topic`. */
async function groupsWithOffsets(topic: string): Promise<string[]> {
  const { groups } = await raw.listGroups();
  const out: string[] = [];
  for (const g of groups) {
    const offsets = await raw.fetchOffsets({ groupId: g.groupId, topics: [topic] }).catch(() => []);
    if (offsets.some((t) => t.partitions.some((p) => Number(p.offset) >= 0))) out.push(g.groupId);
  }
  return out;
}

describe('throw-away readers', () => {
  it('read a topic to its end and tail the DLQ without committing offsets', async () => {
    pipeline = await openPipeline(cfg);
    await raw.connect();
    const records = Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`v${i}`) }));
    await pipeline.producer.send(pipeline.topics.dlq, records);

    expect((await readTopicToEnd(pipeline.kafka, pipeline.topics.dlq)).length).toBe(20);
    const tail = new DeadLetterTail(pipeline.kafka, pipeline.topics.dlq, cfg.groupId);
    tail.startWithRetry(1_000);
    try {
      await waitFor(async () => (await tail.deadLetters(100).catch(() => [])).length === 20, 'the tail to read the 20 records');
      // kafkajs auto-commits every 2 s: wait past that while the tail's consumer is still in its group
      await new Promise((r) => setTimeout(r, 3_000));
      expect(await groupsWithOffsets(pipeline.topics.dlq)).toEqual([]);
    } finally {
      await tail.stop();
    }
    expect(await groupsWithOffsets(pipeline.topics.dlq)).toEqual([]);
  });
});
