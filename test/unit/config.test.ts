import { describe, it, expect } from 'vitest';
import { loadConfig, topicNames } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';

describe('loadConfig', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c.kafkaBrokers).toEqual(['127.0.0.1:19092']);
    expect(c.partitions).toBe(6);
    expect(topicNames(c).dlq).toBe('attune.dlq');
  });
  it('parses env values and lets flags override them', () => {
    const c = loadConfig({ ATTUNE_PARTITIONS: '3', ATTUNE_KAFKA_BROKERS: 'a:1, b:2' }, { partitions: '4' });
    expect(c.partitions).toBe(4);
    expect(c.kafkaBrokers).toEqual(['a:1', 'b:2']);
  });
  it('names every bad variable and how to fix it', () => {
    let err: unknown;
    try { loadConfig({ ATTUNE_PARTITIONS: 'many', ATTUNE_REDIS_URL: 'localhost' }); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('ATTUNE_PARTITIONS="many"');
    expect(msg).toContain('an integer from 1 to 1000');
    expect(msg).toContain('ATTUNE_REDIS_URL="localhost"');
    expect(msg).toContain('redis://127.0.0.1:6379');
  });
});
