import { defineConfig } from 'vitest/config';
import { TEST_PSEUDONYM_KEY } from './test/support/test-key.js';

// Tests are layered as in ioredis: unit (pure logic, no I/O), functional (real Kafka, registry, Redis),
// cluster (real Redis Cluster), fault (processes killed, servers stopped), chaos (workers SIGKILLed at random while
// ~100k events replay on the Redis Cluster, state verified key by key; its own 10-minute timeout), security (SASL_SSL
// Kafka, TLS + ACL Redis and Cluster, basic-auth registry: `services.sh up secure`), fuzz (20,000 hostile records
// into a worker process, bench/fuzz; its own 6-minute timeout). `npm test` runs them all.
// Chaos and fuzz sit in the functional project so that they never run alongside another integration file.
// Every test process and every worker it spawns (they inherit process.env, see test/support/worker-process.ts)
// pseudonymise user ids with one fixed test secret, so a test can compute the pseudonym a worker keys a user by.
const PSEUDONYM = { ATTUNE_PSEUDONYM_KEY: TEST_PSEUDONYM_KEY };

export default defineConfig({
  test: {
    projects: [
      // Unit: pure logic, no I/O; 20 s is only a guard against a hang.
      // Logs are silent there: the isolation tests log an error per isolated record by design.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000, env: { ATTUNE_LOG_LEVEL: 'silent', ...PSEUDONYM } } },
      {
        test: {
          name: 'functional',
          include: ['test/functional/**/*.test.ts', 'test/cluster/**/*.test.ts', 'test/fault/**/*.test.ts', 'test/chaos/**/*.test.ts', 'test/security/**/*.test.ts', 'test/fuzz/**/*.test.ts'],
          // Per test and hook, unless an `it` sets its own (chaos: 10 min). Inside a test, each wait has its own
          // bound (waitFor in test/support/env.ts, 60 s by default): a functional wait must cover a group handover
          // after a restart (see waitForSoleOwner), a fault wait also the 30 s session timeout after a SIGKILL.
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Integration suites share one broker and one Redis: run files one at a time.
          fileParallelism: false,
          env: PSEUDONYM,
        },
      },
    ],
  },
});
