import { defineConfig } from 'vitest/config';

// Tests are layered as in ioredis: unit (pure logic, no I/O), functional (real Kafka, registry, Redis),
// cluster (real Redis Cluster), fault (processes killed, servers stopped). `npm test` runs them all.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      {
        test: {
          name: 'functional',
          include: ['test/functional/**/*.test.ts', 'test/cluster/**/*.test.ts', 'test/fault/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Integration suites share one broker and one Redis: run files one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
