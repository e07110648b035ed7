/**
 * The pseudonymisation key of a bench's workers: the environment's (ATTUNE_PSEUDONYM_KEY or _FILE), else a random
 * one per process. Benches replay public data into fresh prefixes, so any key will do; the worker refuses to start
 * without one (docs/privacy.md).
 */
import { randomBytes } from 'node:crypto';

const generated = randomBytes(32).toString('base64');

/** A config override: empty when the environment has a key, else `{ pseudonymKey }`. */
export function benchPseudonymKey(): { pseudonymKey?: string } {
  return process.env.ATTUNE_PSEUDONYM_KEY || process.env.ATTUNE_PSEUDONYM_KEY_FILE ? {} : { pseudonymKey: generated };
}
