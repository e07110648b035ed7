/**
 * The composition root of `attune api`: config → Redis, Kafka and Prometheus readers → the fastify app, listening.
 * Everything that can be wrong in the settings (keys file, pseudonymization key, rule file, recommender file,
 * experiments file) is checked before anything connects, each a ConfigError naming the fix.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { topicNames } from '../config/config.js';
import { loadExperimentsFile } from '../experiments/file.js';
import type { ExperimentsConfig } from '../experiments/model.js';
import type { SegmentSetup } from '../stages/segments/setup.js';
import type { StreamClient } from '../kafka/port.js';
import { createRedis, type RedisClient } from '../stores/redis-client.js';
import { pseudonymizerFor } from '../stages/rights/pseudonym.js';
import { loadSegmentSetup } from '../stages/segments/setup.js';
import { loadRecommenderConfig } from '../stages/recommend/model/load-config.js';
import { log } from '../log.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { loadApiKeys } from './auth.js';
import { buildApiServer } from './server.js';
import { RedisExperimentsReader, RedisUserReaders } from './redis-readers.js';
import { SimilarItemsReader } from './similar-items.js';
import { DeadLetterTail } from './dead-letter-tail.js';
import { PrometheusLive } from './prometheus.js';
import type { ApiReaders } from './readers.js';

export interface ApiHandle {
  app: FastifyInstance;
  /** The address it listens on, e.g. http://127.0.0.1:8090. */
  url: string;
  close(): Promise<void>;
}

/**
 * ATTUNE_EXPERIMENTS as the worker reads it (eligibility segments checked against the rule file's ids), so the API
 * reports the experiments the workers run; null when unset. A refused file stops the API at start, every mistake listed.
 */
function loadExperiments(cfg: Config, segments: SegmentSetup): ExperimentsConfig | null {
  if (cfg.experiments === undefined) return null;
  return loadExperimentsFile(cfg.experiments, { knownSegments: segments.rules.segments.map((s) => s.id) });
}

export async function startApi(cfg: Config, kafka: StreamClient): Promise<ApiHandle> {
  const keys = loadApiKeys(cfg, (m) => log.warn(m));
  const pseudonymizer = pseudonymizerFor(cfg);
  const segments = loadSegmentSetup(cfg);
  const recommender = loadRecommenderConfig(cfg);
  const experimentsFile = loadExperiments(cfg, segments);
  const topics = topicNames(cfg);

  const redis: RedisClient = createRedis(cfg);
  const users = new RedisUserReaders({ redis, keyPrefix: cfg.keyPrefix, eventsTopic: topics.events, pseudonymizer, segments });
  const similar = new SimilarItemsReader({ redis, keyPrefix: cfg.keyPrefix, recommender, decayEpoch: cfg.decayEpoch }, (err) => log.warn({ err: err.message }, 'similar-items model: reload failed, keeping the previous one'));
  const experiments = new RedisExperimentsReader(redis, cfg.keyPrefix, experimentsFile);
  const dlq = new DeadLetterTail(kafka, topics.dlq, cfg.groupId);
  const prometheus = new PrometheusLive(cfg.prometheusUrl);
  // Neither waits: until they are ready their endpoints answer 503 saying so, and the rest of the API works.
  void similar.start(cfg.apiModelRefreshSeconds * 1000).then(() => log.info('similar-items model loaded'));
  dlq.startWithRetry(30_000, (err) => log.warn({ err: err.message }, 'dead-letter reader failed to start: /v1/dead-letters answers 503 until a retry (every 30 s) succeeds'));

  const readers: ApiReaders = {
    recommendations: (u) => users.recommendations(u),
    segments: (u) => users.segments(u),
    features: (u) => users.features(u),
    events: (u, n) => users.events(u, n),
    similar: (i, n) => similar.similar(i, n),
    segmentSizes: () => users.segmentSizes(),
    deadLetters: (n) => dlq.deadLetters(n),
    live: () => prometheus.live(),
    experiments: () => experiments.report(),
  };
  const root = PACKAGE_ROOT;
  const app = await buildApiServer({
    readers,
    keys,
    maxIdLength: cfg.maxIdLength,
    ui: { root: join(root, 'ui/ops'), nodeModules: join(root, 'node_modules') },
    onInternalError: (err, route) => log.error({ route, err: err.name, where: err.stack?.split('\n').slice(1, 3).join(' | ') }, 'API request failed'),
  });
  const address = await app.listen({ host: cfg.apiHost, port: cfg.apiPort });
  log.info({ address, keys: keys.map((k) => k.name) }, 'attune api listening');
  return {
    app,
    url: address,
    async close() {
      similar.stop();
      await app.close();
      await dlq.stop();
      await redis.quit().catch(() => {});
    },
  };
}
