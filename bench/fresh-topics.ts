/**
 * What every bench that runs a worker starts with: its own topics (the config's prefix), the schemas registered,
 * and the catalog then the events produced into them. Returns the seconds the produce took.
 */
import type { CatalogItem, UserEvent } from '../src/domain/events.js';
import { topicNames, type Config } from '../src/config/config.js';
import type { KafkajsClient } from '../src/kafka/kafkajs-client.js';
import { ensureTopics } from '../src/kafka/topics.js';
import { Codec } from '../src/stages/decode/codec.js';
import { produceCatalog, produceEvents } from '../src/replay/producer.js';

export async function fillFreshTopics(
  kafka: KafkajsClient, admin: ReturnType<KafkajsClient['admin']>, cfg: Config,
  catalog: CatalogItem[], events: UserEvent[], batchSize = 500,
): Promise<number> {
  const topics = topicNames(cfg);
  await ensureTopics(admin, cfg);
  const codec = new Codec(cfg.registryUrl, topics);
  await codec.registerAll();
  const producer = kafka.producer();
  await producer.connect();
  try {
    const t0 = performance.now();
    if (catalog.length) await produceCatalog(producer, codec, topics, catalog);
    await produceEvents(producer, codec, topics, events, { batchSize });
    return (performance.now() - t0) / 1000;
  } finally {
    await producer.disconnect();
  }
}
