/** A state written before pseudonymised user ids (#11) names users by raw id: a worker must refuse it, naming the way out. */
import { describe, it, expect } from 'vitest';
import { readBootstrap, STATE_LAYOUT } from '../../src/stores/bootstrap.js';
import { ConfigError } from '../../src/errors.js';
import type { RedisClient } from '../../src/stores/redis-client.js';

function redisWith(type: string, fields: Record<string, string>): RedisClient {
  return {
    type: async () => type,
    hmget: async (_k: string, ...names: string[]) => names.map((n) => fields[n] ?? null),
  } as unknown as RedisClient;
}

describe('the state layout', () => {
  it('is the one of pseudonymised user ids', () => {
    expect(STATE_LAYOUT).toBe('attune-state-v4');
  });
  it('a state of the layout before pseudonyms is refused with a ConfigError naming the way out', async () => {
    const err = await readBootstrap(redisWith('hash', { epoch: 'e', complete: '1', layout: 'attune-state-v3' }), 'attune').then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('STATE_LAYOUT');
    expect(err!.message).toContain('attune-state-v3');
    expect(err!.message).toContain('predates pseudonymised user ids');
    expect(err!.message).toContain('attune reset --yes --keep-topics');
    expect(err!.message).toContain('ATTUNE_ON_STATE_LOSS=rebuild');
  });
  it('the oldest layout (a string marker) is refused the same way', async () => {
    const err = await readBootstrap(redisWith('string', {}), 'attune').then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain('predates pseudonymised user ids');
  });
  it('the current layout opens', async () => {
    expect(await readBootstrap(redisWith('hash', { epoch: 'e', complete: '1', layout: STATE_LAYOUT }), 'attune')).toEqual({ epoch: 'e', complete: true });
  });
});
