/** What the recommend stage works with (processor.ts), and the shapes its callers hand it. */
import type { Config, TopicNames } from '../../config/config.js';
import type { Codec } from '../decode/codec.js';
import type { StreamProducer } from '../../kafka/port.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Identities } from '../rights/identities.js';
import type { StateStore } from '../../stores/state-store.js';
import type { Recommender } from './model/recommender.js';
import type { ListExperiments } from './experiments.js';
import type { RecommenderStore } from './store.js';
import type { ModelChangelog } from './changelog.js';

export interface RecommendDeps {
  cfg: Config;
  topics: TopicNames;
  codec: Codec;
  store: RecommenderStore;
  state: StateStore;
  producer: StreamProducer;
  metrics: Metrics;
  rec: Recommender;
  /** The real user ids of the records (keyed by the real id); the stages know users by pseudonym. */
  identities: Identities;
  /** Variants, recommendation ids and attribution (experiments.ts). */
  experiments: ListExperiments;
  /** The shared model's changelog (changelog.ts); absent: this worker's model learns only its own partitions. */
  changelog?: Pick<ModelChangelog, 'publish' | 'learning'>;
}

/** The users (by pseudonym) whose personalization ends with the micro-batch (EventBatch.withdrawn). */
export interface Withdrawn {
  has(pseudonym: string): boolean;
}

/** One user of a holder correction: the pseudonym keys the state, the real id keys the record. */
export interface CorrectedUser {
  pseudonym: string;
  userId: string;
}
