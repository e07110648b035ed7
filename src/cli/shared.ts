/** Helpers the sub-commands share: config from env + flags, the Kafka client, the codec. */
import type { Command } from 'commander';
import { loadConfig, topicNames, type Config } from '../config/config.js';
import { KafkajsClient } from '../kafka/kafkajs-client.js';
import { Codec, codecOptions } from '../stages/decode/codec.js';
import { kafkaTransport } from '../security/transport.js';

/** Flags common to commands that talk to the services; each mirrors an ATTUNE_* variable. */
export function serviceOptions(cmd: Command): Command {
  return cmd
    .option('--brokers <list>', 'Kafka bootstrap brokers (ATTUNE_KAFKA_BROKERS)')
    .option('--registry <url>', 'schema registry URL (ATTUNE_REGISTRY_URL)')
    .option('--redis <url>', 'Redis URL (ATTUNE_REDIS_URL)')
    .option('--topic-prefix <prefix>', 'topic name prefix (ATTUNE_TOPIC_PREFIX)')
    .option('--partitions <n>', 'partitions of topics Attune creates (ATTUNE_PARTITIONS)');
}

export function configFrom(opts: Record<string, unknown>): Config {
  return loadConfig(process.env, {
    kafkaBrokers: opts.brokers,
    registryUrl: opts.registry,
    redisUrl: opts.redis,
    topicPrefix: opts.topicPrefix,
    partitions: opts.partitions,
    groupId: opts.group,
    httpPort: opts.httpPort,
  });
}

export function kafkaFor(cfg: Config) {
  return new KafkajsClient(cfg.kafkaBrokers, cfg.kafkaClientId, kafkaTransport(cfg));
}

/**
 * The codec of a command. `register` (attune topics, attune replay: they write) registers the schemas and needs
 * registry write rights; commands that only read look them up and fail naming `attune topics` when one is missing.
 */
export async function codecFor(cfg: Config, mode: 'register' | 'lookup'): Promise<Codec> {
  const codec = new Codec(cfg.registryUrl, topicNames(cfg), codecOptions(cfg));
  if (mode === 'register') await codec.registerAll();
  else await codec.lookupAll();
  return codec;
}
