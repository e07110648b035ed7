/**
 * Configuration from environment variables (ATTUNE_*), overridable by CLI flags, validated once at start-up.
 * Each setting is declared once below with its variable, default and the hint printed when the value is wrong.
 */
import { z } from 'zod';
import { PRESET_NAMES, type RecommenderPreset } from '../stages/recommend/model/presets.js';
import { ConfigError } from '../errors.js';

interface Setting<T> {
  env: string;
  schema: z.ZodType<T, unknown>;
  default: T | undefined;
  hint: string;
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes')]);
const hostPort = z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'must be host:port');
const list = (item: z.ZodType<string, string>) =>
  z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(item).min(1));

function s<T>(env: string, schema: z.ZodType<T, any>, def: T | undefined, hint: string): Setting<T> {
  return { env, schema, default: def, hint };
}

/** The settings table: one row per variable. */
export const SETTINGS = {
  kafkaBrokers: s('ATTUNE_KAFKA_BROKERS', list(hostPort), ['127.0.0.1:19092'], 'comma-separated host:port list, e.g. 127.0.0.1:19092'),
  kafkaClientId: s('ATTUNE_KAFKA_CLIENT_ID', z.string().min(1), 'attune', 'a non-empty client id'),
  groupId: s('ATTUNE_GROUP_ID', z.string().min(1), 'attune-worker', 'the consumer group id shared by all workers'),
  topicPrefix: s('ATTUNE_TOPIC_PREFIX', z.string().regex(/^[A-Za-z0-9._-]{1,100}$/), 'attune', 'letters, digits, . _ - (e.g. attune)'),
  partitions: s('ATTUNE_PARTITIONS', int(1, 1000), 6, 'an integer from 1 to 1000: partitions of the input topics when Attune creates them'),
  registryUrl: s('ATTUNE_REGISTRY_URL', z.string().url(), 'http://127.0.0.1:8081/apis/ccompat/v7', 'the Confluent-compatible registry base URL, e.g. http://127.0.0.1:8081/apis/ccompat/v7'),
  redisUrl: s('ATTUNE_REDIS_URL', z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://'), 'redis://127.0.0.1:6379', 'a redis:// URL, e.g. redis://127.0.0.1:6379'),
  redisClusterNodes: s('ATTUNE_REDIS_CLUSTER_NODES', list(hostPort).optional(), undefined, 'comma-separated host:port seed nodes of a Redis Cluster; leave unset for a single Redis'),
  keyPrefix: s('ATTUNE_KEY_PREFIX', z.string().regex(/^[A-Za-z0-9._-]{1,50}$/), 'attune', 'letters, digits, . _ - (e.g. attune)'),
  httpHost: s('ATTUNE_HTTP_HOST', z.string().min(1), '127.0.0.1', 'the address for /metrics, /healthz and /readyz'),
  httpPort: s('ATTUNE_HTTP_PORT', int(0, 65535), 9464, 'a TCP port (0 picks a free one)'),
  microBatchSize: s('ATTUNE_MICRO_BATCH', int(1, 10_000), 500, 'records per micro-batch, 1 to 10000'),
  partitionsConsumedConcurrently: s('ATTUNE_PARTITION_CONCURRENCY', int(1, 64), 3, 'partitions processed at once per worker, 1 to 64'),
  shutdownTimeoutMs: s('ATTUNE_SHUTDOWN_TIMEOUT_MS', int(1000, 600_000), 30_000, 'milliseconds to drain in-flight work on SIGTERM'),
  maxMessageBytes: s('ATTUNE_MAX_MESSAGE_BYTES', int(64, 1_048_576), 65_536, 'the largest encoded event accepted, in bytes'),
  maxIdLength: s('ATTUNE_MAX_ID_LENGTH', int(1, 1024), 128, 'the longest user/item/event id accepted, in characters'),
  maxFutureMs: s('ATTUNE_MAX_FUTURE_MS', int(0, 31 * 86_400_000), 86_400_000, 'how far ahead of the wall clock an event time may be, in ms'),
  minEventTime: s('ATTUNE_MIN_EVENT_TIME', z.coerce.number().int().min(0), Date.UTC(2000, 0, 1), 'the earliest plausible event time, epoch ms'),
  recentItems: s('ATTUNE_RECENT_ITEMS', int(1, 1000), 20, 'distinct recent items kept per user'),
  recommendationCount: s('ATTUNE_RECOMMENDATIONS', int(1, 200), 10, 'items per emitted recommendation list'),
  recommendationTtlSeconds: s('ATTUNE_RECS_TTL_SECONDS', int(60, 365 * 86_400), 7 * 86_400, 'lifetime of the stored current list, in seconds'),
  decayEpoch: s('ATTUNE_DECAY_EPOCH', z.coerce.number().int(), Date.UTC(2020, 0, 1), 'epoch ms of the co-occurrence decay clock, the same for every worker of a deployment (event times within ~15 years of it keep full precision)'),
  recommenderPreset: s('ATTUNE_RECOMMENDER_PRESET', z.enum(PRESET_NAMES as [RecommenderPreset, ...RecommenderPreset[]]), 'retail', 'retail (repeat purchases, buy-again: the defaults) or media (one-time consumption: never recommend what the user already interacted with); ATTUNE_RECOMMENDER_CONFIG is merged on top (docs/recommender.md)'),
  recommenderConfig: s('ATTUNE_RECOMMENDER_CONFIG', z.string().min(1).optional(), undefined, 'the path of a JSON file with recommender settings (see docs/recommender.md); leave unset for the defaults'),
  experiments: s('ATTUNE_EXPERIMENTS', z.string().min(1).optional(), undefined, 'the path of an experiments file (YAML or JSON; docs/experiments.md), e.g. config/experiments.example.yaml; leave unset for no experiments'),
  attributionWindowMs: s('ATTUNE_ATTRIBUTION_WINDOW_MS', int(0, 90 * 86_400_000), 86_400_000, 'how long after a click with a recommendation id a purchase of the same item without an id is attributed to it, in ms (default 86400000 = 1 day; 0 = only purchases carrying the id)'),
  segmentRules: s('ATTUNE_SEGMENT_RULES', z.string().min(1), 'config/segments.yaml', 'the path of the segment rule file (YAML or JSON), e.g. config/segments.yaml'),
  featureWindows: s('ATTUNE_FEATURE_WINDOWS', list(z.string().regex(/^\d+(ms|s|m|h|d|w)$/, 'must be a duration such as 1h, 24h, 7d')), ['1h', '24h', '7d', '30d', '90d'], 'comma-separated window lengths, e.g. 1h,24h,7d,30d,90d'),
  sessionGapMs: s('ATTUNE_SESSION_GAP_MS', int(1000, 7 * 86_400_000), 30 * 60_000, 'the session inactivity gap in ms (default 1800000 = 30 min)'),
  allowedLatenessMs: s('ATTUNE_ALLOWED_LATENESS_MS', int(0, 31 * 86_400_000), 10 * 60_000, 'how far behind the partition watermark an event may be and still be applied, in ms (default 600000 = 10 min)'),
  timerResolutionMs: s('ATTUNE_TIMER_RESOLUTION_MS', int(1, 86_400_000), 1000, 'the resolution of timed segment exits, in ms of event time (default 1000)'),
  affinityHalfLifeMs: s('ATTUNE_AFFINITY_HALF_LIFE_MS', int(60_000, 365 * 86_400_000), 7 * 86_400_000, 'the half-life of category affinity, in ms (default 7 days)'),
  segmentIdleMs: s('ATTUNE_SEGMENT_IDLE_MS', int(0, 86_400_000), 60_000, 'wall-clock ms a partition must be idle before its watermark follows the wall clock (0 disables the fallback)'),
  redisCommandTimeoutMs: s('ATTUNE_REDIS_COMMAND_TIMEOUT_MS', int(100, 600_000), 5_000, 'milliseconds before a Redis command counts as failed (Redis paused or frozen); the micro-batch is then retried with backoff'),
  redisStartupWaitMs: s('ATTUNE_REDIS_STARTUP_WAIT_MS', int(0, 3_600_000), 60_000, 'milliseconds to wait for an unreachable Redis at start-up before exiting 1 (0: do not wait)'),
  kafkaMaxRequestBytes: s('ATTUNE_KAFKA_MAX_REQUEST_BYTES', int(16_384, 100_000_000), 524_288, 'the most bytes of one produce request (key + value + headers + overhead); produces are cut into requests below it; keep it well under the broker\'s message.max.bytes (1048588 by default)'),
  kafkaSessionTimeoutMs: s('ATTUNE_KAFKA_SESSION_TIMEOUT_MS', int(6_000, 300_000), 30_000, 'milliseconds before the group coordinator declares a silent worker dead and moves its partitions (6000 to 300000, within the broker\'s group.min/max.session.timeout.ms)'),
  onStateLoss: s('ATTUNE_ON_STATE_LOSS', z.enum(['halt', 'rebuild']), 'halt', 'halt (stop with exit 3 and wait for an operator) or rebuild (wipe what is left and replay the retained input from the earliest offset)'),
  watchdogMs: s('ATTUNE_WATCHDOG_MS', int(0, 86_400_000), 120_000, 'milliseconds without progress while there is lag (or outside the consumer group) before the worker exits non-zero for its supervisor to restart it; 0 disables the watchdog'),
  // Hostile clocks, duplicates and unbounded input (issue #10): each bounds what one producer can do to the others.
  watermarkMaxSkewMs: s('ATTUNE_WATERMARK_MAX_SKEW_MS', int(0, 86_400_000), 5 * 60_000, 'how far ahead of its record\'s Kafka timestamp an event may move the partition watermark, in ms (default 300000 = 5 min; events further ahead are still applied, but do not make other users\' events late)'),
  dedupeWindowRecords: s('ATTUNE_DEDUPE_WINDOW_RECORDS', int(0, 10_000_000), 100_000, 'how many offsets back on its partition an event id is remembered, to dead-letter a repeat as DUPLICATE_EVENT (0 disables; Redis keeps at most this many ids per partition)'),
  maxItems: s('ATTUNE_MAX_ITEMS', int(1000, 100_000_000), 1_000_000, 'the most distinct item ids one worker\'s recommender learns (catalog items and co-occurrence); events of further unknown items still count but are not learned'),
  maxPairs: s('ATTUNE_MAX_PAIRS', int(1000, 1_000_000_000), 8_388_608, 'the most co-occurrence pairs one worker\'s recommender holds in memory (16 B each, a table at most half full); past it the weakest pairs not in a neighbour list are dropped'),
  // Transport security (docs/security.md): TLS and SASL for Kafka, TLS and an ACL user for Redis, basic auth for the
  // registry. A secret comes from its variable or from a *_FILE holding it (read at start-up, never logged); not both.
  kafkaSsl: s('ATTUNE_KAFKA_SSL', bool, false, 'true to connect to the brokers over TLS (implied by ATTUNE_KAFKA_SSL_CA_FILE), false for plaintext'),
  kafkaSslCaFile: s('ATTUNE_KAFKA_SSL_CA_FILE', z.string().min(1).optional(), undefined, 'the path of a PEM file with the CA certificate(s) that signed the brokers\' certificates; leave unset to trust the system CAs'),
  kafkaSaslMechanism: s('ATTUNE_KAFKA_SASL_MECHANISM', z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(), undefined, 'scram-sha-512, scram-sha-256 or plain (with ATTUNE_KAFKA_SASL_USERNAME and a password); leave unset for no SASL'),
  kafkaSaslUsername: s('ATTUNE_KAFKA_SASL_USERNAME', z.string().min(1).optional(), undefined, 'the SASL user name Attune logs in to Kafka with'),
  kafkaSaslPassword: s('ATTUNE_KAFKA_SASL_PASSWORD', z.string().min(1).optional(), undefined, 'the SASL password (or use ATTUNE_KAFKA_SASL_PASSWORD_FILE)'),
  kafkaSaslPasswordFile: s('ATTUNE_KAFKA_SASL_PASSWORD_FILE', z.string().min(1).optional(), undefined, 'the path of a file holding the SASL password (one line)'),
  redisTls: s('ATTUNE_REDIS_TLS', bool, false, 'true to connect to Redis over TLS (implied by a rediss:// URL; needed for a TLS Redis Cluster)'),
  redisTlsCaFile: s('ATTUNE_REDIS_TLS_CA_FILE', z.string().min(1).optional(), undefined, 'the path of a PEM file with the CA certificate(s) that signed the Redis servers\' certificates; leave unset to trust the system CAs'),
  redisUsername: s('ATTUNE_REDIS_USERNAME', z.string().min(1).optional(), undefined, 'the Redis ACL user (AUTH <user> <password>); leave unset for the default user'),
  redisPassword: s('ATTUNE_REDIS_PASSWORD', z.string().min(1).optional(), undefined, 'the Redis password (or use ATTUNE_REDIS_PASSWORD_FILE)'),
  redisPasswordFile: s('ATTUNE_REDIS_PASSWORD_FILE', z.string().min(1).optional(), undefined, 'the path of a file holding the Redis password (one line)'),
  registryUsername: s('ATTUNE_REGISTRY_USERNAME', z.string().min(1).optional(), undefined, 'the registry user for HTTP basic auth; leave unset for an open registry'),
  registryPassword: s('ATTUNE_REGISTRY_PASSWORD', z.string().min(1).optional(), undefined, 'the registry password for HTTP basic auth (or use ATTUNE_REGISTRY_PASSWORD_FILE)'),
  registryPasswordFile: s('ATTUNE_REGISTRY_PASSWORD_FILE', z.string().min(1).optional(), undefined, 'the path of a file holding the registry password (one line)'),
  registryCaFile: s('ATTUNE_REGISTRY_CA_FILE', z.string().min(1).optional(), undefined, 'the path of a PEM file with the CA certificate(s) of an https:// registry; leave unset to trust the system CAs'),
  // Hostile input at decode and validation (issue #10): the registry's failure handling, the Avro bomb guard,
  // and the size rules of event contexts and catalog items.
  registryTimeoutMs: s('ATTUNE_REGISTRY_TIMEOUT_MS', int(100, 120_000), 5_000, 'milliseconds before a schema registry request counts as failed (the micro-batch then waits and retries)'),
  registryLookupsPerSecond: s('ATTUNE_REGISTRY_LOOKUPS_PER_SEC', int(1, 10_000), 50, 'registry lookups per second of schema ids not seen before (a flood of unknown ids waits for this rate instead of flooding the registry)'),
  unknownSchemaCacheSize: s('ATTUNE_UNKNOWN_SCHEMA_CACHE', int(1, 1_000_000), 1_000, 'how many unknown or foreign schema ids are remembered (LRU, 60 s each)'),
  avroMaxItems: s('ATTUNE_AVRO_MAX_ITEMS', int(1, 1_000_000), 10_000, 'the most array/map items one Avro record may hold, over all its arrays and maps (the bomb guard)'),
  maxContextLength: s('ATTUNE_MAX_CONTEXT_LENGTH', int(1, 65_536), 512, 'the longest event context string (device, referrer, user agent) accepted, in characters'),
  maxTitleLength: s('ATTUNE_MAX_TITLE_LENGTH', int(1, 65_536), 512, 'the longest catalog item title accepted, in characters'),
  maxItemCategories: s('ATTUNE_MAX_ITEM_CATEGORIES', int(0, 10_000), 32, 'the most categories a catalog item may have'),
  maxItemTags: s('ATTUNE_MAX_ITEM_TAGS', int(0, 10_000), 64, 'the most tags a catalog item may have'),
  // Users' rights (issue #11, docs/privacy.md): consent, erasure, pseudonymised state, what the DLQ may copy.
  demo: s('ATTUNE_DEMO', bool, false, 'true only for a demo on public data (a missing pseudonymisation key then falls back to a public demo key)'),
  pseudonymKey: s('ATTUNE_PSEUDONYM_KEY', z.string().min(1).optional(), undefined, 'a secret of at least 32 bytes for the HMAC-SHA256 pseudonyms of user ids (e.g. `openssl rand -base64 32`), the same on every worker; or use ATTUNE_PSEUDONYM_KEY_FILE'),
  pseudonymKeyFile: s('ATTUNE_PSEUDONYM_KEY_FILE', z.string().min(1).optional(), undefined, 'the path of a file holding the pseudonymisation key (one line)'),
  pseudonymKeyPrevious: s('ATTUNE_PSEUDONYM_KEY_PREVIOUS', z.string().min(1).optional(), undefined, 'during a key rotation only: the previous pseudonymisation key, so that erasures recorded under it are still honoured (docs/privacy.md, Key rotation)'),
  consentDefault: s('ATTUNE_CONSENT_DEFAULT', z.enum(['granted', 'denied']), 'granted', 'granted (opt-out: users are personalized until they deny) or denied (opt-in: only users who granted `personalization` are)'),
  consentAnonymousAggregates: s('ATTUNE_CONSENT_ANONYMOUS_AGGREGATES', bool, false, 'true to let events of users without personalization consent still count in popularity (an aggregate without user ids); false (default) to ignore them entirely'),
  erasuresTopic: s('ATTUNE_TOPIC_ERASURES', z.string().regex(/^[A-Za-z0-9._-]{1,249}$/).optional(), undefined, 'the erasure ledger topic (default <ATTUNE_TOPIC_PREFIX>.erasures); set it only for a second deployment that reads the same events topic into its own state'),
  dlqValues: s('ATTUNE_DLQ_VALUES', z.enum(['keep', 'drop']), 'keep', 'keep (dead letters carry the original key and value bytes, for diagnosis) or drop (headers only: no copy of personal data in the DLQ)'),
  // The lookup API and the ops page (issue #13, docs/api.md): `attune api`.
  apiHost: s('ATTUNE_API_HOST', z.string().min(1), '127.0.0.1', 'the address `attune api` listens on (127.0.0.1 keeps it on this machine; 0.0.0.0 for every interface)'),
  apiPort: s('ATTUNE_API_PORT', int(0, 65535), 8090, 'a TCP port for `attune api` (0 picks a free one)'),
  apiKeysFile: s('ATTUNE_API_KEYS_FILE', z.string().min(1).optional(), undefined, 'the path of the API keys YAML file (see config/api-keys.example.yaml; add entries with `attune api-key new <name>`)'),
  prometheusUrl: s('ATTUNE_PROMETHEUS_URL', z.string().url(), 'http://127.0.0.1:9090', 'the base URL of the Prometheus that scrapes the workers, e.g. http://127.0.0.1:9090 (for GET /v1/live)'),
  apiModelRefreshSeconds: s('ATTUNE_API_MODEL_REFRESH_SECONDS', int(5, 86_400), 300, 'seconds between reloads of the co-occurrence model `attune api` scores similar items with (5 to 86400)'),
} satisfies Record<string, Setting<unknown>>;

type Settings = typeof SETTINGS;
export type Config = { [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never };

/**
 * Builds the config from `env` with `overrides` (from CLI flags) on top. Throws one ConfigError listing
 * every bad variable, each with its fix.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, setting] of Object.entries(SETTINGS) as [keyof Config, Setting<unknown>][]) {
    const raw = overrides[name] ?? env[setting.env];
    if (raw === undefined || raw === '') {
      out[name] = setting.default;
      continue;
    }
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) out[name] = parsed.data;
    else {
      const why = parsed.error.issues[0]?.message ?? 'invalid';
      problems.push(`${setting.env}=${JSON.stringify(String(raw))} is invalid (${why}): set it to ${setting.hint}`);
    }
  }
  if (problems.length) throw new ConfigError(`configuration error:\n  - ${problems.join('\n  - ')}`);
  return out as Config;
}

/** Topic names derive from one prefix so that several deployments can share a cluster. */
export function topicNames(cfg: Pick<Config, 'topicPrefix'> & Partial<Pick<Config, 'erasuresTopic'>>) {
  const p = cfg.topicPrefix;
  return {
    events: `${p}.events`,
    items: `${p}.items`,
    recommendations: `${p}.recommendations`,
    segmentChanges: `${p}.segment-changes`,
    dlq: `${p}.dlq`,
    /** The erasure ledger: compacted, keyed by the erased user's pseudonym (docs/privacy.md). */
    erasures: cfg.erasuresTopic ?? `${p}.erasures`,
    /**
     * The shared model's changelog (stages/recommend/changelog.ts): every micro-batch's co-occurrence deltas, read
     * by every worker. Records carry the state epoch, so a second deployment on the same topics skips the first's.
     */
    modelChangelog: `${p}.model-changelog`,
  };
}
export type TopicNames = ReturnType<typeof topicNames>;
