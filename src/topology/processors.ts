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
import { ModelChangelog } from '../stages/recommend/changelog.js';
import { ListExperiments } from '../stages/recommend/experiments.js';
import { Recommender } from '../stages/recommend/model/recommender.js';
import { loadRecommenderConfig } from '../stages/recommend/model/load-config.js';
import { createSegmentProcessor, type SegmentSetup } from '../stages/segments/processor.js';
import { ItemProcessor } from '../stages/catalog/processor.js';
import { EventsChain } from './events-chain.js';
import { maxRecordBytes } from '../kafka/chunk.js';
import { SubjectStore } from '../stores/subject-store.js';
import { ProfileStore } from '../stores/profile-store.js';
import { SubjectIdentities } from '../stages/rights/identities.js';
import { ErasureLedger } from '../stages/rights/ledger.js';
import { pseudonymizersFor, type Pseudonymizer } from '../stages/rights/pseudonym.js';
import type { RightsRuntime } from '../stages/rights/stage.js';
import { memberSegmentIds } from '../stages/segments/reevaluate-users.js';

export interface ProcessorsDeps {
  cfg: Config;
  topics: TopicNames;
  kafka: StreamClient;
  redis: RedisClient;
  codec: Codec;
  producer: StreamProducer;
  metrics: Metrics;
  segmentSetup: SegmentSetup;
  /** The pseudonymizers (pseudonymizersFor(cfg)); the worker builds them before connecting anything. */
  names?: { current: Pseudonymizer; previous?: Pseudonymizer };
  /** The state epoch (stores/bootstrap.ts): the shared model's changelog records carry it. */
  epoch: string;
}

/** How long reading the whole erasure ledger may take at start-up or on an assignment. */
export const LEDGER_READ_TIMEOUT_MS = 120_000;

/**
 * The users' rights runtime: the pseudonymizer (a ConfigError without a key outside demo mode), the previous key's
 * during a rotation, the erasure ledger (not loaded yet: `ledger.load()` before the consumer joins), the subjects
 * store and the identities the output stages resolve real ids with.
 */
export function buildRights(
  { cfg, topics, kafka, redis, codec, producer, segmentSetup, names }: Pick<ProcessorsDeps, 'cfg' | 'topics' | 'kafka' | 'redis' | 'codec' | 'producer' | 'segmentSetup' | 'names'>,
): RightsRuntime {
  const { current, previous } = names ?? pseudonymizersFor(cfg);
  const subjects = new SubjectStore(redis, cfg.keyPrefix);
  const profiles = new ProfileStore(redis, cfg.keyPrefix);
  const memberSegments = memberSegmentIds(segmentSetup.rules);
  return {
    names: current,
    ledger: new ErasureLedger({ current, previous, read: () => readTopicToEnd(kafka, topics.erasures, LEDGER_READ_TIMEOUT_MS), producer, topic: topics.erasures }),
    subjects,
    identities: new SubjectIdentities(subjects, current, cfg.consentDefault),
    memberSegments: () => memberSegments,
    plans: new WeakMap(),
    merges: {
      snapshot: (pseudonym) => profiles.snapshot(pseudonym),
      // Keyed by the known user id, like upstream's events: the default partitioner puts it on that user's partition.
      send: async (events) => producer.send(topics.events, await Promise.all(events.map(async (e) => ({ key: e.userId, value: await codec.encodeEvent(e) })))),
    },
  };
}

export function buildProcessors({ cfg, topics, kafka, redis, codec, producer, metrics, segmentSetup, names, epoch }: ProcessorsDeps) {
  const store = new StateStore(redis, cfg.keyPrefix);
  const rights = buildRights({ cfg, topics, kafka, redis, codec, producer, segmentSetup, names });
  const { identities } = rights;
  // The recommender model lives in memory (the code `attune eval` measures); Redis keeps its durable state.
  const rec = new Recommender(loadRecommenderConfig(cfg));
  const deadLetters = new DeadLetterSink({
    store, producer, dlqTopic: topics.dlq, maxRecordBytes: maxRecordBytes(cfg.kafkaMaxRequestBytes),
    readBack: (sinceMs) => readTopicToEnd(kafka, topics.dlq, 60_000, { sinceMs }),
    dropValues: cfg.dlqValues === 'drop',
  });
  // `identities` resolves pseudonyms to the real ids the outputs are keyed by (stages/rights/identities.ts).
  const segmentDeps = { cfg, topics, codec, redis, producer, deadLetters, deadLetter, metrics, catalog: (id: string) => rec.categoriesOf(id), identities };
  const segments = createSegmentProcessor(segmentSetup, segmentDeps);
  const recommendStore = new RecommenderStore(redis, cfg.keyPrefix);
  const experiments = new ListExperiments(
    ListExperiments.load(cfg.experiments, segmentSetup.rules.segments.map((x) => x.id)), rights.names.recommendationIdKey, rec, recommendStore, metrics, cfg.attributionWindowMs,
  );
  // Every worker's model applies the others' deltas (the shared model, stages/recommend/changelog.ts).
  const changelog = new ModelChangelog({ kafka, producer, topic: topics.modelChangelog, epoch, rec, metrics, groupPrefix: cfg.groupId });
  const recommendDeps = { cfg, topics, codec, store: recommendStore, state: store, producer, metrics, rec, identities, experiments, changelog };
  const recommend = new RecommendStage(recommendDeps);
  const events = new EventsChain({ cfg, topics, codec, store, producer, deadLetters, metrics, segments, recommend, recommendStore, rights });
  const items = new ItemProcessor({ cfg, topics, codec, store, deadLetters, metrics });
  return { store, rec, segments, recommend, recommendStore, events, items, rights, changelog };
}
