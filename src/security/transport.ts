/**
 * Client options for encrypted, authenticated connections (docs/security.md), built from the ATTUNE_* settings:
 * TLS and SASL for Kafka, TLS and an ACL user for Redis, basic auth (and a private CA) for the registry.
 *
 * Secrets come from a variable or from a file named by its *_FILE twin (a mounted secret), read here at start-up.
 * They are never logged: errors name the setting, never its value. Connection failures that a setting fixes
 * (refused credentials, an untrusted certificate, a plaintext client on a TLS port) are turned into ConfigErrors
 * that name the settings to check, so an operator sees the fix instead of a retry loop or a protocol error.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import type { Kafka, SASLOptions } from 'kafkajs';
import type { Config } from '../config/config.js';
import { AttuneError, ConfigError, errorMessage } from '../errors.js';

type Secret = { value?: string; file?: string; env: string };

/** The secret of `value` or of the file `file` (its first line); a ConfigError naming the variable otherwise. */
export function readSecret({ value, file, env }: Secret): string | undefined {
  if (value !== undefined && file !== undefined) {
    throw new ConfigError(`both ${env} and ${env}_FILE are set: set only one of them`);
  }
  if (file === undefined) return value;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${env}_FILE=${JSON.stringify(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}): set it to a readable file holding the password`);
  }
  // A trailing newline (echo, editors, Kubernetes secrets made from files) is not part of the password.
  const secret = text.replace(/\r?\n$/, '');
  if (!secret) throw new ConfigError(`${env}_FILE=${JSON.stringify(file)} is empty: put the password in it`);
  return secret;
}

function readCa(file: string, env: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${env}=${JSON.stringify(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}): set it to a readable PEM file with the CA certificate(s)`);
  }
}

// ---------------------------------------------------------------------------------------------------- Kafka

export type KafkaSecuritySettings = Pick<Config, 'kafkaSsl' | 'kafkaSslCaFile' | 'kafkaSaslMechanism' | 'kafkaSaslUsername' | 'kafkaSaslPassword' | 'kafkaSaslPasswordFile'>;

/** The `ssl` and `sasl` options of `new Kafka({...})`, plus what the error hints need to know. */
export interface KafkaTransport {
  ssl?: ConnectionOptions | boolean;
  sasl?: SASLOptions;
}

export function kafkaTransport(cfg: Partial<KafkaSecuritySettings>): KafkaTransport {
  const out: KafkaTransport = {};
  if (cfg.kafkaSsl || cfg.kafkaSslCaFile) {
    out.ssl = cfg.kafkaSslCaFile ? { ca: [readCa(cfg.kafkaSslCaFile, 'ATTUNE_KAFKA_SSL_CA_FILE')] } : true;
  }
  const password = readSecret({ value: cfg.kafkaSaslPassword, file: cfg.kafkaSaslPasswordFile, env: 'ATTUNE_KAFKA_SASL_PASSWORD' });
  if (cfg.kafkaSaslMechanism) {
    if (!cfg.kafkaSaslUsername || password === undefined) {
      throw new ConfigError(`ATTUNE_KAFKA_SASL_MECHANISM=${cfg.kafkaSaslMechanism} needs ATTUNE_KAFKA_SASL_USERNAME and ATTUNE_KAFKA_SASL_PASSWORD (or ATTUNE_KAFKA_SASL_PASSWORD_FILE): set both`);
    }
    out.sasl = { mechanism: cfg.kafkaSaslMechanism, username: cfg.kafkaSaslUsername, password } as SASLOptions;
  } else if (cfg.kafkaSaslUsername || password !== undefined) {
    throw new ConfigError('ATTUNE_KAFKA_SASL_USERNAME or a SASL password is set without ATTUNE_KAFKA_SASL_MECHANISM: set it to scram-sha-512, scram-sha-256 or plain');
  }
  return out;
}

const TLS_TRUST = /self[- ]signed certificate|unable to (get local issuer|verify the first) certificate|certificate (has expired|is not yet valid)|CERT_|Hostname\/IP does not match|ERR_TLS_CERT/i;
const TLS_ON_PLAINTEXT = /wrong version number|packet length too long|before secure TLS connection was established|ssl3_get_record|WRONG_VERSION_NUMBER/i;

/**
 * The error a Kafka connect() failure should surface as: refused SASL credentials, an untrusted broker certificate
 * and TLS spoken to a plaintext port are configuration problems (ConfigError naming the settings); anything else is
 * returned unchanged (a broker that is down stays a retriable connection error).
 */
export function explainKafkaError(err: unknown, t: KafkaTransport): unknown {
  // Already explained (the handshake check), or Attune's own: as it is.
  if (!(err instanceof Error) || err instanceof AttuneError) return err;
  const chain = causeChain(err);
  const text = chain.map((e) => `${e.name}: ${e.message}`).join(' | ');
  if (chain.some((e) => e.name === 'KafkaJSSASLAuthenticationError') || /SaslAuthenticationFailed|authentication failed/i.test(text)) {
    const who = t.sasl ? `user ${JSON.stringify((t.sasl as { username?: string }).username)} with ${t.sasl.mechanism.toUpperCase()}` : 'without SASL';
    return withCause(new ConfigError(
      `Kafka refused the login of ${who} (${err.message}): check ATTUNE_KAFKA_SASL_USERNAME and ATTUNE_KAFKA_SASL_PASSWORD ` +
        '(or ATTUNE_KAFKA_SASL_PASSWORD_FILE), and that ATTUNE_KAFKA_SASL_MECHANISM is one the broker enables for that user',
      'KAFKA_AUTH',
    ), err);
  }
  if (TLS_TRUST.test(text)) {
    return withCause(new ConfigError(
      `the Kafka broker's TLS certificate is not trusted (${err.message}): set ATTUNE_KAFKA_SSL_CA_FILE to the PEM file of the CA ` +
        'that signed it, and list the brokers by a name or address in its certificate (ATTUNE_KAFKA_BROKERS)',
      'KAFKA_TLS',
    ), err);
  }
  if (t.ssl && TLS_ON_PLAINTEXT.test(text)) {
    return withCause(new ConfigError(
      `TLS to the Kafka broker failed (${err.message}): ATTUNE_KAFKA_BROKERS points at a plaintext listener; use the broker's SSL or ` +
        'SASL_SSL port, or unset ATTUNE_KAFKA_SSL',
      'KAFKA_TLS',
    ), err);
  }
  return err;
}

/**
 * One TLS handshake with the first broker, as kafkajs would make it: the error if it fails, null if it succeeds or
 * the broker does not answer (then kafkajs's own connect and retries take over). kafkajs retries every connection
 * error (about a minute with Attune's retry settings), an untrusted certificate included; this check makes that a
 * start-up error at once.
 */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function tlsHandshake(broker: string, ssl: ConnectionOptions | true, timeoutMs = 5_000): Promise<Error | null> {
  const i = broker.lastIndexOf(':');
  const host = broker.slice(0, i);
  const port = Number(broker.slice(i + 1));
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...(ssl === true ? {} : ssl) });
    const done = (err: Error | null) => { clearTimeout(timer); socket.destroy(); resolve(err); };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.once('secureConnect', () => done(null));
    // A broker that is down or unreachable is kafkajs's to wait for; a reset in the middle of the handshake is a
    // plaintext listener hanging up on the TLS hello, which explainKafkaError names.
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(UNREACHABLE.has(err.code ?? '') && !TLS_ON_PLAINTEXT.test(err.message) ? null : err));
  });
}

/**
 * `kafka` whose producers, consumers and admins reject connect() with explainKafkaError's error. kafkajs's clients
 * are plain objects: their connect is replaced in place, nothing else changes. With TLS, the first connect() of the
 * client checks the handshake first (tlsHandshake).
 */
export function withKafkaHints(kafka: Kafka, t: KafkaTransport, brokers: string[]): Kafka {
  let handshakeOk = false;
  const checkHandshake = async () => {
    if (!t.ssl || handshakeOk || brokers.length === 0) return;
    const err = await tlsHandshake(brokers[0]!, t.ssl);
    const explained = err ? explainKafkaError(err, t) : null;
    if (explained instanceof ConfigError) throw explained;
    handshakeOk = err === null;
  };
  const wrap = <C extends { connect(): Promise<void> }>(client: C): C => {
    const connect = client.connect.bind(client);
    client.connect = () => checkHandshake().then(connect).catch((err: unknown) => { throw explainKafkaError(err, t); });
    return client;
  };
  const producer = kafka.producer.bind(kafka);
  const consumer = kafka.consumer.bind(kafka);
  const admin = kafka.admin.bind(kafka);
  kafka.producer = (cfg) => wrap(producer(cfg));
  kafka.consumer = (cfg) => wrap(consumer(cfg));
  kafka.admin = (cfg) => wrap(admin(cfg));
  return kafka;
}

// ---------------------------------------------------------------------------------------------------- Redis

export type RedisSecuritySettings = Pick<Config, 'redisUrl' | 'redisTls' | 'redisTlsCaFile' | 'redisUsername' | 'redisPassword' | 'redisPasswordFile'>;

/** ioredis options (per node, for a Cluster) for TLS and AUTH; the URL's own user and password still apply. */
export interface RedisTransport {
  tls?: ConnectionOptions;
  username?: string;
  password?: string;
}

export function redisTransport(cfg: Partial<RedisSecuritySettings>): RedisTransport {
  const out: RedisTransport = {};
  if (cfg.redisTls || cfg.redisTlsCaFile || cfg.redisUrl?.startsWith('rediss://')) {
    out.tls = cfg.redisTlsCaFile ? { ca: [readCa(cfg.redisTlsCaFile, 'ATTUNE_REDIS_TLS_CA_FILE')] } : {};
  }
  if (cfg.redisUsername) out.username = cfg.redisUsername;
  const password = readSecret({ value: cfg.redisPassword, file: cfg.redisPasswordFile, env: 'ATTUNE_REDIS_PASSWORD' });
  if (password !== undefined) out.password = password;
  else if (cfg.redisUsername) throw new ConfigError('ATTUNE_REDIS_USERNAME is set without ATTUNE_REDIS_PASSWORD (or ATTUNE_REDIS_PASSWORD_FILE): set the password too');
  return out;
}

/**
 * Redis errors a setting fixes, as ConfigErrors that name it: refused credentials (WRONGPASS, NOAUTH), a user
 * without a permission Attune needs (NOPERM), an untrusted certificate. `keyPrefix` goes into the ACL the message
 * suggests. Anything else is returned unchanged.
 */
export function explainRedisError(err: unknown, keyPrefix?: string): unknown {
  if (!(err instanceof Error) || err instanceof AttuneError) return err;
  const chain = causeChain(err);
  const text = chain.map((e) => e.message).join(' | ');
  if (/\bWRONGPASS\b|\bNOAUTH\b|invalid (username-)?password|AUTH failed/i.test(text)) {
    return withCause(new ConfigError(
      `Redis refused the login (${firstLine(text)}): check ATTUNE_REDIS_USERNAME and ATTUNE_REDIS_PASSWORD (or ATTUNE_REDIS_PASSWORD_FILE, ` +
        'or the user:password in ATTUNE_REDIS_URL)',
      'REDIS_AUTH',
    ), err);
  }
  if (/\bNOPERM\b/.test(text)) {
    const keys = keyPrefix ? `~${keyPrefix}:*` : '~<ATTUNE_KEY_PREFIX>:*';
    return withCause(new ConfigError(
      `the Redis user lacks a permission Attune needs (${firstLine(text)}): grant it the rules of docs/security.md ` +
        `(ACL SETUSER <user> resetkeys ${keys} plus the commands in scripts/lib/redis-acl-rules.txt), or set ` +
        'ATTUNE_REDIS_USERNAME and ATTUNE_REDIS_PASSWORD to a user that has them; ATTUNE_KEY_PREFIX must match the key pattern',
      'REDIS_ACL',
    ), err);
  }
  if (TLS_TRUST.test(text)) {
    return withCause(new ConfigError(
      `the Redis server's TLS certificate is not trusted (${firstLine(text)}): set ATTUNE_REDIS_TLS_CA_FILE to the PEM file of the CA that signed it`,
      'REDIS_TLS',
    ), err);
  }
  return err;
}

// ---------------------------------------------------------------------------------------------------- registry

export type RegistrySecuritySettings = Pick<Config, 'registryUsername' | 'registryPassword' | 'registryPasswordFile' | 'registryCaFile'>;

/** The `auth` and `agent` options of the schema registry client. */
export interface RegistryTransport {
  auth?: { username: string; password: string };
  agent?: HttpsAgent;
}

export function registryTransport(cfg: Partial<RegistrySecuritySettings>): RegistryTransport {
  const out: RegistryTransport = {};
  const password = readSecret({ value: cfg.registryPassword, file: cfg.registryPasswordFile, env: 'ATTUNE_REGISTRY_PASSWORD' });
  if (cfg.registryUsername) {
    if (password === undefined) throw new ConfigError('ATTUNE_REGISTRY_USERNAME is set without ATTUNE_REGISTRY_PASSWORD (or ATTUNE_REGISTRY_PASSWORD_FILE): set the password too');
    out.auth = { username: cfg.registryUsername, password };
  } else if (password !== undefined) {
    throw new ConfigError('a registry password is set without ATTUNE_REGISTRY_USERNAME: set the user name too');
  }
  if (cfg.registryCaFile) out.agent = new HttpsAgent({ keepAlive: true, ca: [readCa(cfg.registryCaFile, 'ATTUNE_REGISTRY_CA_FILE')] });
  return out;
}

// ---------------------------------------------------------------------------------------------------- helpers

function causeChain(err: Error): Error[] {
  const out: Error[] = [];
  for (let e: unknown = err; e instanceof Error && out.length < 8; e = (e as { originalError?: unknown; cause?: unknown }).originalError ?? e.cause) out.push(e);
  return out;
}

function firstLine(s: string): string {
  return s.split('\n', 1)[0]!.slice(0, 300);
}

function withCause<E extends Error>(e: E, cause: unknown): E {
  (e as { cause?: unknown }).cause = cause;
  return e;
}
