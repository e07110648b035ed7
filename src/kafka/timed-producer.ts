/**
 * Times every send of a producer (attune_produce_duration_seconds{topic}): one `send` call, from the call until
 * every request of it is acknowledged or one failed. The label is the topic's kind (recommendations, segments,
 * dead_letters, erasures, ...), never the raw name, so deployments with other prefixes share a dashboard.
 */
import type { TopicNames } from '../config/config.js';
import type { StreamProducer } from './port.js';

const KIND: Record<keyof TopicNames, string> = {
  events: 'events',
  items: 'items',
  recommendations: 'recommendations',
  segmentChanges: 'segments',
  dlq: 'dead_letters',
  erasures: 'erasures',
  modelChangelog: 'model_changelog',
};

/** Raw topic name → its kind; a topic that is none of the deployment's is `other`. */
export function topicKinds(topics: TopicNames): (topic: string) => string {
  const byName = new Map<string, string>();
  for (const [role, name] of Object.entries(topics) as Array<[keyof TopicNames, string]>) byName.set(name, KIND[role]);
  return (topic) => byName.get(topic) ?? 'other';
}

export function timedProducer(producer: StreamProducer, kindOf: (topic: string) => string, observe: (kind: string, seconds: number) => void): StreamProducer {
  return {
    connect: () => producer.connect(),
    disconnect: () => producer.disconnect(),
    async send(topic, records) {
      if (records.length === 0) return producer.send(topic, records);
      const started = process.hrtime.bigint();
      try {
        await producer.send(topic, records);
      } finally {
        observe(kindOf(topic), Number(process.hrtime.bigint() - started) / 1e9);
      }
    },
  };
}
