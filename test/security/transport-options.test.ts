/**
 * The pure part of src/security/transport.ts: options from settings, secrets from files, and which errors become
 * ConfigErrors (a setting fixes them) and which stay what they were (a broker or Redis that is down stays retriable).
 */
import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { explainKafkaError, explainRedisError, kafkaTransport, readSecret, redisTransport } from '../../src/security/transport.js';

const dir = mkdtempSync(join(tmpdir(), 'attune-sec-'));
const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };

describe('secrets', () => {
  it('come from the variable or the file (first line, its newline dropped), never both', () => {
    expect(readSecret({ value: 's3', env: 'X' })).toBe('s3');
    expect(readSecret({ file: file('a', 'pa ss\n'), env: 'X' })).toBe('pa ss');
    expect(readSecret({ file: file('b', 'crlf\r\n'), env: 'X' })).toBe('crlf');
    expect(readSecret({ env: 'X' })).toBeUndefined();
    expect(() => readSecret({ value: 'a', file: file('c', 'b'), env: 'ATTUNE_X_PASSWORD' })).toThrow(/both ATTUNE_X_PASSWORD and ATTUNE_X_PASSWORD_FILE are set/);
    expect(() => readSecret({ file: file('d', '\n'), env: 'ATTUNE_X_PASSWORD' })).toThrow(/ATTUNE_X_PASSWORD_FILE=.* is empty/);
  });
});

describe('options', () => {
  it('Kafka: TLS from the flag or the CA file, SASL only with a mechanism, user and password', () => {
    expect(kafkaTransport({})).toEqual({});
    expect(kafkaTransport({ kafkaSsl: true })).toEqual({ ssl: true });
    const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\n');
    expect((kafkaTransport({ kafkaSslCaFile: ca }).ssl as { ca: Buffer[] }).ca[0]!.toString()).toContain('BEGIN CERTIFICATE');
    expect(kafkaTransport({ kafkaSaslMechanism: 'scram-sha-512', kafkaSaslUsername: 'u', kafkaSaslPassword: 'p' }).sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
  });

  it('Redis: TLS from rediss://, the flag or the CA file; a user needs a password', () => {
    expect(redisTransport({ redisUrl: 'redis://h:1' })).toEqual({});
    expect(redisTransport({ redisUrl: 'rediss://h:1' })).toEqual({ tls: {} });
    expect(redisTransport({ redisUrl: 'redis://h:1', redisTls: true, redisUsername: 'u', redisPassword: 'p' })).toEqual({ tls: {}, username: 'u', password: 'p' });
    expect(() => redisTransport({ redisUsername: 'u' })).toThrow(/ATTUNE_REDIS_USERNAME is set without ATTUNE_REDIS_PASSWORD/);
  });
});

describe('errors a setting fixes', () => {
  const named = (name: string, message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { name }, extra);

  it('Kafka: SASL refusals and TLS trust failures become ConfigErrors; a broker that is down does not', () => {
    const t = { ssl: true, sasl: { mechanism: 'scram-sha-512', username: 'attune', password: 'secret-xyz' } } as const;
    const auth = explainKafkaError(named('KafkaJSSASLAuthenticationError', 'SASL SCRAM SHA512 authentication failed: ...'), t);
    expect((auth as ConfigError).code).toBe('KAFKA_AUTH');
    expect((auth as Error).message).not.toContain('secret-xyz');
    const nested = explainKafkaError(named('KafkaJSNonRetriableError', 'wrapped', { originalError: named('Error', 'unable to get local issuer certificate') }), t);
    expect((nested as ConfigError).code).toBe('KAFKA_TLS');
    expect(explainKafkaError(auth, t)).toBe(auth); // explaining twice is explaining once
    const down = named('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED 127.0.0.1:1');
    expect(explainKafkaError(down, t)).toBe(down);
  });

  it('Redis: WRONGPASS, NOPERM and untrusted certificates become ConfigErrors; a timeout does not', () => {
    expect((explainRedisError(named('ReplyError', 'WRONGPASS invalid username-password pair or user is disabled.')) as ConfigError).code).toBe('REDIS_AUTH');
    const acl = explainRedisError(named('ReplyError', "NOPERM this user has no permissions to run the 'evalsha' command"), 'shop1');
    expect((acl as ConfigError).code).toBe('REDIS_ACL');
    expect((acl as Error).message).toContain('~shop1:*');
    expect((explainRedisError(named('Error', 'self-signed certificate in certificate chain')) as ConfigError).code).toBe('REDIS_TLS');
    const slow = named('Error', 'Command timed out');
    expect(explainRedisError(slow)).toBe(slow);
  });
});
