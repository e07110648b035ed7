/**
 * The fixed pseudonymisation secret of the test suites and the harnesses (chaos, fuzz, rebuild): a test must be
 * able to compute the pseudonym a worker keys a user by (test/support/env.ts `pseudonymOf`), so the workers it
 * spawns and the helpers it calls share this one value. It protects nothing: never use it outside tests.
 * Kept apart from env.ts so that vitest.config.ts can import it without loading Kafka and Redis clients.
 */
export const TEST_PSEUDONYM_KEY = 'attune-test-pseudonym-key-0123456789abcdef';
