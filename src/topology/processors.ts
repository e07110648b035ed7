/** The worker's stores, the in-memory recommender model, and the processors of both source topics. */
import type { Config, TopicNames } from '../config/config.js';
import type { StreamClient, StreamProducer } from '../kafka/port.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RedisClient } from '../stores/redis-client.js';
import type { Codec } from '../stages/decode/codec.js';
import { StateStore } from '../stores/state-store.js';
import { readTopicToEnd } from '../output/read-topic.js';
import { DeadLetterSink } from '../stages/dead-letter/sink.js';
import { deadLetter } from '../stages/dead-letter/record.js';
import { RecommendStage } from '../stages/recommend/processor.js';
import { RecommenderStore } from '../stages/recommend/store.js';
import { Recommender } from '../stages/recommend/model/recommender.js';
import { loadRecommenderConfig } from '../stages/recommend/model/load-config.js';
import { createSegmentProcessor, type SegmentSetup } from '../stages/segments/processor.js';
import { ItemProcessor } from '../stages/catalog/processor.js';
import { EventsChain } from './events-chain.js';
import { maxRecordBytes } from '../kafka/chunk.js';

export interface ProcessorsDeps {
  cfg: Config;
  topics: TopicNames;
  kafka: StreamClient;
  redis: RedisClient;
  codec: Codec;
  producer: StreamProducer;
  metrics: Metrics;
  segmentSetup: SegmentSetup;
}

export function buildProcessors({ cfg, topics, kafka, redis, codec, producer, metrics, segmentSetup }: ProcessorsDeps) {
  const store = new StateStore(redis, cfg.keyPrefix);
  // The recommender model lives in memory (the code `attune eval` measures); Redis keeps its durable state.
  const rec = new Recommender(loadRecommenderConfig(cfg));
  const deadLetters = new DeadLetterSink({
    store, producer, dlqTopic: topics.dlq, maxRecordBytes: maxRecordBytes(cfg.kafkaMaxRequestBytes),
    readBack: (sinceMs) => readTopicToEnd(kafka, topics.dlq, 60_000, { sinceMs }),
  });
  const segments = createSegmentProcessor(segmentSetup, { cfg, topics, codec, redis, producer, deadLetters, deadLetter, metrics, catalog: (id) => rec.categoriesOf(id) });
  const recommendStore = new RecommenderStore(redis, cfg.keyPrefix);
  const recommend = new RecommendStage({ cfg, topics, codec, store: recommendStore, state: store, producer, metrics, rec });
  const events = new EventsChain({ cfg, topics, codec, store, producer, deadLetters, metrics, segments, recommend, recommendStore });
  const items = new ItemProcessor({ cfg, topics, codec, store, deadLetters, metrics });
  return { store, rec, segments, recommend, recommendStore, events, items };
}
