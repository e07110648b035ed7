/** Shared helpers of the functional, cluster and fault suites: unique names per run, polling, services. */
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config/config.js';

export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

/** A config against the local services with topics, keys and group unique to this test run. */
export function testConfig(overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  const id = uniqueName('t');
  return loadConfig(process.env, {
    topicPrefix: `${id}`,
    keyPrefix: `${id}`,
    groupId: `${id}-workers`,
    partitions: 3,
    httpPort: 0,
    microBatchSize: 200,
    ...overrides,
  });
}

/** Polls until `check` returns a truthy value or the deadline passes; returns the last value. */
export async function waitFor<T>(check: () => Promise<T> | T, what: string, timeoutMs = 60_000, everyMs = 200): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''} (last value ${JSON.stringify(last)})`);
}

export function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
