/**
 * The pseudonymisation keys are checked early and by name: a short ATTUNE_PSEUDONYM_KEY(_PREVIOUS) stops the worker
 * before it connects anything, and `attune segments --members` before it connects to Redis.
 */
import { describe, it, expect, vi, afterEach } from 'vitest';
import { Command } from 'commander';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/config.js';
import { pseudonymSecret, pseudonymizersFor } from '../../src/stages/rights/pseudonym.js';
import type { StreamClient } from '../../src/kafka/port.js';

const connected = vi.hoisted(() => ({ redis: 0 }));
vi.mock('../../src/stores/redis-client.js', async (orig) => ({
  ...(await orig<typeof import('../../src/stores/redis-client.js')>()),
  createRedis: () => { connected.redis++; throw new Error('connected to Redis before checking the key'); },
}));

const KEY = 'k'.repeat(32);

function thrown(f: () => unknown): Error {
  try { f(); } catch (e) { return e as Error; }
  throw new Error('did not throw');
}

describe('pseudonymisation key messages', () => {
  it('name the variable that holds a short key', () => {
    const cur = thrown(() => pseudonymSecret({ demo: false, pseudonymKey: 'short' }));
    expect(cur).toBeInstanceOf(ConfigError);
    expect(cur.message).toMatch(/^ATTUNE_PSEUDONYM_KEY is 5 bytes: .*at least 32 bytes/);
    const dir = mkdtempSync(join(tmpdir(), 'attune-key-'));
    writeFileSync(join(dir, 'key'), 'tiny\n');
    expect(thrown(() => pseudonymSecret({ demo: false, pseudonymKeyFile: join(dir, 'key') })).message)
      .toContain(`ATTUNE_PSEUDONYM_KEY_FILE=${join(dir, 'key')} is 4 bytes`);
    const prev = thrown(() => pseudonymizersFor({ demo: false, pseudonymKey: KEY, pseudonymKeyPrevious: 'old' }));
    expect(prev).toBeInstanceOf(ConfigError);
    expect(prev.message).toMatch(/^ATTUNE_PSEUDONYM_KEY_PREVIOUS is 3 bytes: .*at least 32 bytes/);
  });
  it('both keys make two pseudonymizers; none previous without a rotation', () => {
    const both = pseudonymizersFor({ demo: false, pseudonymKey: KEY, pseudonymKeyPrevious: 'p'.repeat(32) });
    expect(both.previous!.pseudonym('alice')).not.toBe(both.current.pseudonym('alice'));
    expect(pseudonymizersFor({ demo: false, pseudonymKey: KEY }).previous).toBeUndefined();
  });
});

describe('keys are checked before anything connects', () => {
  afterEach(() => { connected.redis = 0; });
  it('the worker refuses a short ATTUNE_PSEUDONYM_KEY_PREVIOUS at the very start', async () => {
    const { startWorker } = await import('../../src/topology/worker.js');
    const touched: string[] = [];
    const kafka = new Proxy({}, { get: (_t, p) => { touched.push(String(p)); throw new Error('kafka used'); } }) as StreamClient;
    // A rule file that does not exist would fail first if the keys were checked after it.
    const cfg = loadConfig({ ATTUNE_PSEUDONYM_KEY: KEY, ATTUNE_PSEUDONYM_KEY_PREVIOUS: 'old', ATTUNE_HTTP_PORT: '0', ATTUNE_SEGMENT_RULES: '/nonexistent/rules.yaml' });
    const err = await startWorker(cfg, kafka).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toContain('ATTUNE_PSEUDONYM_KEY_PREVIOUS is 3 bytes');
    expect(touched).toEqual([]);
  });
  it('`attune segments --members` checks the key before connecting to Redis', async () => {
    const { register } = await import('../../src/cli/commands/segments.js');
    const program = new Command().exitOverride();
    register(program);
    const saved = process.env.ATTUNE_PSEUDONYM_KEY;
    process.env.ATTUNE_PSEUDONYM_KEY = 'short';
    try {
      const err = await program.parseAsync(['node', 'attune', 'segments', '--members', 'seg']).then(() => null, (e: Error) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect(err!.message).toContain('ATTUNE_PSEUDONYM_KEY is 5 bytes');
      expect(connected.redis).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.ATTUNE_PSEUDONYM_KEY; else process.env.ATTUNE_PSEUDONYM_KEY = saved;
    }
  });
});
