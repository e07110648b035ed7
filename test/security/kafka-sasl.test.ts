/**
 * Kafka over the broker's SASL_SSL listener (TLS with the local CA, SASL SCRAM-SHA-512 and PLAIN users that
 * scripts/lib/secure.sh made): the worker pipeline runs end to end through it, and what a misconfigured client
 * gets (a wrong password, no CA, TLS against the plaintext port) is a ConfigError naming the setting to fix, also as
 * `attune worker`'s last line, with no secret in the output.
 */
import { describe, it, expect } from 'vitest';
import { startWorker } from '../../src/topology/worker.js';
import { KafkajsClient } from '../../src/kafka/kafkajs-client.js';
import { Codec } from '../../src/stages/decode/codec.js';
import { topicNames, type Config } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';
import { StateStore } from '../../src/stores/state-store.js';
import { readTopicToEnd } from '../../src/output/read-topic.js';
import { kafkaTransport } from '../../src/security/transport.js';
import type { UserEvent } from '../../src/domain/events.js';
import { openPipeline, testConfig, waitFor, pseudonymOf } from '../support/env.js';
import { spawnWorker } from '../support/worker-process.js';
import { secureEnv } from './support.js';

const env = secureEnv();
const plaintextBrokers = env.KAFKA_PLAINTEXT_BROKERS.split(',');

const sasl = (over: Partial<Record<keyof Config, unknown>> = {}) =>
  testConfig({
    kafkaBrokers: env.KAFKA_SASL_BROKERS,
    kafkaSsl: true,
    kafkaSslCaFile: env.CA_FILE,
    kafkaSaslMechanism: 'scram-sha-512',
    kafkaSaslUsername: env.KAFKA_SCRAM_USERNAME,
    kafkaSaslPassword: env.KAFKA_SCRAM_PASSWORD,
    ...over,
  });

const T0 = Date.UTC(2013, 3, 1);
const purchase = (userId: string, itemId: string, i: number): UserEvent => ({
  eventId: `${userId}-${i}`, userId, type: 'purchase', eventTime: T0 + i * 1000, itemId, quantity: 1, price: 2,
  rating: null, sessionId: null, context: null, properties: {},
});

async function connectError(cfg: Config): Promise<unknown> {
  const admin = new KafkajsClient(cfg.kafkaBrokers, 'attune-test', kafkaTransport(cfg)).admin();
  return admin.connect().then(async () => { await admin.disconnect(); return null; }, (e: unknown) => e);
}

describe('Kafka over SASL_SSL', () => {
  const cfg = sasl();

  it('runs the worker pipeline: events in over TLS + SCRAM-SHA-512, state in Redis, recommendations out', async () => {
    const { kafka, topics, codec, producer, redis, close } = await openPipeline(cfg);
    const worker = await startWorker(cfg, kafka);
    try {
      const send = async (events: UserEvent[]) =>
        producer.send(topics.events, await Promise.all(events.map(async (e) => ({ key: e.userId, value: await codec.encodeEvent(e) }))));
      const store = new StateStore(redis, cfg.keyPrefix);
      await send([purchase('bob', 'a', 1), purchase('bob', 'b', 2), purchase('carol', 'a', 3), purchase('carol', 'c', 4)]);
      await waitFor(async () => (await store.userCounts(pseudonymOf('bob'))).purchase === '2' && (await store.userCounts(pseudonymOf('carol'))).purchase === '2', 'bob and carol applied');
      await send([purchase('alice', 'a', 5)]);
      const rec = await waitFor(async () => (await readTopicToEnd(kafka, topics.recommendations)).find((r) => r.key === 'alice') ?? null, "alice's recommendations");
      const forAlice = (await codec.decode(rec.value, 1e6)) as unknown as { items: { itemId: string }[] };
      expect(forAlice.items.map((i) => i.itemId).sort()).toEqual(['b', 'c']);
      expect((await store.userCounts(pseudonymOf('alice'))).purchase).toBe('1');
    } finally {
      await worker.stop();
      await close();
    }
    // The topics the worker used are the SASL_SSL broker's: the same broker on its plaintext port lists them too.
    expect((await readTopicToEnd(new KafkajsClient(plaintextBrokers, 'attune-test'), topics.recommendations)).some((r) => r.key === 'alice')).toBe(true);
  });

  it('logs in with SASL PLAIN too (a password file instead of the variable)', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(mkdtempSync(join(tmpdir(), 'attune-sec-')), 'kafka-password');
    writeFileSync(file, `${env.KAFKA_PLAIN_PASSWORD}\n`, { mode: 0o600 });
    const plainCfg = sasl({ kafkaSaslMechanism: 'plain', kafkaSaslUsername: env.KAFKA_PLAIN_USERNAME, kafkaSaslPassword: '', kafkaSaslPasswordFile: file });
    expect(await connectError(plainCfg)).toBeNull();
    // The PLAIN password is not a SCRAM one: each mechanism checks its own users.
    const err = await connectError(sasl({ kafkaSaslMechanism: 'plain', kafkaSaslPassword: env.KAFKA_SCRAM_PASSWORD }));
    expect((err as ConfigError).code).toBe('KAFKA_AUTH');
  });
});

describe('Kafka transport errors name the setting', () => {
  it('a wrong SCRAM password: ConfigError KAFKA_AUTH naming the user and the password settings, not the password', async () => {
    const t0 = Date.now();
    const err = await connectError(sasl({ kafkaSaslPassword: 'wrong-password-7f3' }));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('KAFKA_AUTH');
    expect((err as Error).message).toMatch(/Kafka refused the login of user "attune" with SCRAM-SHA-512/);
    expect((err as Error).message).toMatch(/ATTUNE_KAFKA_SASL_USERNAME and ATTUNE_KAFKA_SASL_PASSWORD/);
    expect((err as Error).message).not.toContain('wrong-password-7f3');
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it('`attune worker` with a wrong password exits 1 with that message and prints no secret', async () => {
    const cfg = sasl({ kafkaSaslPassword: 'wrong-password-7f3' });
    // The schemas are there (as `attune topics` leaves them), so the first thing that fails is the Kafka login.
    await new Codec(cfg.registryUrl, topicNames(cfg)).registerAll();
    const w = spawnWorker(cfg);
    const exit = await w.exited;
    expect(exit.code, w.output()).toBe(1);
    expect(w.output()).toMatch(/attune: Kafka refused the login of user "attune" with SCRAM-SHA-512 .*ATTUNE_KAFKA_SASL_PASSWORD/);
    expect(w.output()).not.toContain('wrong-password-7f3');
    expect(w.output()).not.toContain(env.KAFKA_SCRAM_PASSWORD);
  });

  it('no CA for the broker certificate: ConfigError KAFKA_TLS naming ATTUNE_KAFKA_SSL_CA_FILE, at once', async () => {
    const t0 = Date.now();
    const err = await connectError(sasl({ kafkaSslCaFile: '' }));
    expect((err as ConfigError).code).toBe('KAFKA_TLS');
    expect((err as Error).message).toMatch(/^the Kafka broker's TLS certificate is not trusted \(self-signed certificate in certificate chain\): set ATTUNE_KAFKA_SSL_CA_FILE/);
    expect((err as Error).message.match(/ATTUNE_KAFKA_SSL_CA_FILE/g)).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('TLS against the plaintext listener: ConfigError KAFKA_TLS saying the port is plaintext, at once', async () => {
    const t0 = Date.now();
    const err = await connectError(sasl({ kafkaBrokers: plaintextBrokers.join(',') }));
    expect((err as ConfigError).code).toBe('KAFKA_TLS');
    expect((err as Error).message).toMatch(/^TLS to the Kafka broker failed \([^()]+\): ATTUNE_KAFKA_BROKERS points at a plaintext listener/);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('incomplete settings are refused before connecting, naming what is missing', () => {
    expect(() => kafkaTransport(sasl({ kafkaSaslPassword: '' }))).toThrow(/ATTUNE_KAFKA_SASL_MECHANISM=scram-sha-512 needs ATTUNE_KAFKA_SASL_USERNAME and ATTUNE_KAFKA_SASL_PASSWORD/);
    expect(() => kafkaTransport(sasl({ kafkaSaslPasswordFile: '/nonexistent/pw' }))).toThrow(/both ATTUNE_KAFKA_SASL_PASSWORD and ATTUNE_KAFKA_SASL_PASSWORD_FILE are set/);
    expect(() => kafkaTransport(sasl({ kafkaSaslPassword: '', kafkaSaslPasswordFile: '/nonexistent/pw' }))).toThrow(/ATTUNE_KAFKA_SASL_PASSWORD_FILE="\/nonexistent\/pw" cannot be read \(ENOENT\)/);
    expect(() => kafkaTransport(sasl({ kafkaSaslMechanism: '' }))).toThrow(/without ATTUNE_KAFKA_SASL_MECHANISM/);
    expect(() => kafkaTransport(sasl({ kafkaSslCaFile: '/nonexistent/ca.pem' }))).toThrow(/ATTUNE_KAFKA_SSL_CA_FILE="\/nonexistent\/ca.pem" cannot be read/);
  });
});
