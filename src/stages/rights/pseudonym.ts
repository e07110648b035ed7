/**
 * Pseudonymisation of user ids (docs/privacy.md). Every Redis key, set member and ledger entry names a user by
 * a keyed HMAC-SHA256 of the id (ENISA's recommended technique: without the key a pseudonym cannot be linked to
 * an id, not even by hashing candidate ids), so a Redis dump or a DLQ header holds no raw user id. The key comes
 * from `ATTUNE_PSEUDONYM_KEY` or `ATTUNE_PSEUDONYM_KEY_FILE` and is never logged; demo mode (`ATTUNE_DEMO=true`)
 * falls back to a fixed, public key with a warning.
 *
 * Outputs stay keyed by the real id (downstream needs it), so where a stage has only a pseudonym (a due timer, an
 * item's holders) it reads the id back from the user's subject hash, where it is stored **sealed**: AES-256-GCM
 * under a second key derived from the same secret, with the IV derived from the id (deterministic, so a replay
 * writes the same bytes and the chaos verifier can compare values; it reveals only what the pseudonym already
 * reveals: that two sealed values are of the same user).
 *
 * Why 128 bits of the HMAC: 2^64 users before a collision is even likely, and 22 characters instead of 43 in every
 * one of a user's keys and members (measured per user in CAPACITY.md).
 */
import { ExpiringLru } from '../decode/bounded.js';
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../errors.js';
import { log } from '../../log.js';

/** The public key of demo mode: pseudonyms made with it protect nothing (anyone can recompute them). */
export const DEMO_PSEUDONYM_KEY = 'attune-demo-key-not-secret-do-not-use-in-production';

const MIN_KEY_BYTES = 32;

export class Pseudonymizer {
  private readonly pseudonymKey: Buffer;
  private readonly sealKey: Buffer;
  /** Signs recommendation ids (experiments/recommendation-id.ts): a third key from the same secret. */
  readonly recommendationIdKey: Buffer;

  constructor(secret: Buffer | string) {
    const s = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    // Two keys from one secret (HMAC as a PRF, HKDF-expand style), so the sealing key never equals the pseudonym key.
    this.pseudonymKey = createHmac('sha256', s).update('attune/pseudonym/v1').digest();
    this.sealKey = createHmac('sha256', s).update('attune/seal/v1').digest();
    this.recommendationIdKey = createHmac('sha256', s).update('attune/recommendation-id/v1').digest();
  }

  /** The user's pseudonym: base64url of the first 16 bytes of HMAC-SHA256(key, userId) — 22 characters. */
  pseudonym(userId: string): string {
    return memo(this.pseudonyms, userId, () => createHmac('sha256', this.pseudonymKey).update(userId, 'utf8').digest().subarray(0, 16).toString('base64url'));
  }

  /** The id sealed (AES-256-GCM, IV derived from the id): deterministic, readable back only with the key. */
  seal(userId: string): string {
    return memo(this.sealed, userId, () => this.sealNow(userId));
  }

  /**
   * Both are deterministic and asked for the same users micro-batch after micro-batch (the rights stage, the
   * ledger's lookup of every event, the check of every user's stored sealed id), so the recent answers are kept:
   * an HMAC (and for a seal an AES-GCM pass) per event was ~8 µs of the worker's time per event.
   */
  private readonly pseudonyms = new ExpiringLru<string, string>(PSEUDONYM_MEMO_SIZE, Infinity);
  private readonly sealed = new ExpiringLru<string, string>(PSEUDONYM_MEMO_SIZE, Infinity);

  private sealNow(userId: string): string {
    const iv = createHmac('sha256', this.sealKey).update(userId, 'utf8').digest().subarray(0, 12);
    const c = createCipheriv('aes-256-gcm', this.sealKey, iv);
    const body = Buffer.concat([c.update(userId, 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
  }

  /** The id of a sealed value; throws when it was sealed with another key or altered. */
  unseal(sealed: string): string {
    const b = Buffer.from(sealed, 'base64url');
    if (b.length < 28) throw new Error('sealed id too short');
    const d = createDecipheriv('aes-256-gcm', this.sealKey, b.subarray(0, 12));
    d.setAuthTag(b.subarray(12, 28));
    return Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8');
  }
}

export interface PseudonymKeySettings {
  pseudonymKey?: string;
  pseudonymKeyFile?: string;
  /** During a key rotation only: the previous key (ATTUNE_PSEUDONYM_KEY_PREVIOUS). */
  pseudonymKeyPrevious?: string;
  demo: boolean;
}

/**
 * The secret from the settings: the variable or the file (not both), at least 32 bytes; in demo mode without one,
 * the public demo key (warned once). Anything else is a ConfigError naming the fix.
 */
export function pseudonymSecret(cfg: PseudonymKeySettings): Buffer {
  if (cfg.pseudonymKey && cfg.pseudonymKeyFile) {
    throw new ConfigError('both ATTUNE_PSEUDONYM_KEY and ATTUNE_PSEUDONYM_KEY_FILE are set: set only one');
  }
  let secret: Buffer | undefined;
  // Where the key came from, for the messages: the operator must know which variable to fix.
  let source = 'ATTUNE_PSEUDONYM_KEY';
  if (cfg.pseudonymKey) secret = Buffer.from(cfg.pseudonymKey, 'utf8');
  else if (cfg.pseudonymKeyFile) {
    source = `the key in ATTUNE_PSEUDONYM_KEY_FILE=${cfg.pseudonymKeyFile}`;
    try {
      secret = Buffer.from(readFileSync(cfg.pseudonymKeyFile, 'utf8').trim(), 'utf8');
    } catch (err) {
      throw new ConfigError(`ATTUNE_PSEUDONYM_KEY_FILE=${cfg.pseudonymKeyFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): point it at a file holding the key`);
    }
  }
  if (!secret) {
    if (cfg.demo) {
      log.warn('ATTUNE_DEMO=true and no ATTUNE_PSEUDONYM_KEY: user ids are pseudonymised with the public demo key, which protects nothing');
      return Buffer.from(DEMO_PSEUDONYM_KEY, 'utf8');
    }
    throw new ConfigError('no pseudonymisation key: set ATTUNE_PSEUDONYM_KEY (or ATTUNE_PSEUDONYM_KEY_FILE) to a secret of at least 32 bytes, e.g. `openssl rand -base64 32`, the same for every worker of the deployment (or ATTUNE_DEMO=true for a demo)');
  }
  checkLength(secret, source);
  return secret;
}

function checkLength(secret: Buffer, source: string): void {
  if (secret.length < MIN_KEY_BYTES) {
    throw new ConfigError(`${source} is ${secret.length} bytes: the pseudonymisation key must be at least ${MIN_KEY_BYTES} bytes (e.g. \`openssl rand -base64 32\`)`);
  }
}

/** The previous key's secret during a rotation (ATTUNE_PSEUDONYM_KEY_PREVIOUS), or undefined; a ConfigError naming it when too short. */
export function previousPseudonymSecret(cfg: PseudonymKeySettings): Buffer | undefined {
  if (!cfg.pseudonymKeyPrevious) return undefined;
  const secret = Buffer.from(cfg.pseudonymKeyPrevious, 'utf8');
  checkLength(secret, 'ATTUNE_PSEUDONYM_KEY_PREVIOUS');
  return secret;
}

export function pseudonymizerFor(cfg: PseudonymKeySettings): Pseudonymizer {
  return new Pseudonymizer(pseudonymSecret(cfg));
}

/**
 * Both pseudonymizers of a deployment: the current key's and, during a rotation, the previous key's. Validates
 * both keys (ConfigErrors naming the variable), so the worker and the CLI call it before connecting anything.
 */
export function pseudonymizersFor(cfg: PseudonymKeySettings): { current: Pseudonymizer; previous?: Pseudonymizer } {
  const current = pseudonymizerFor(cfg);
  const previous = previousPseudonymSecret(cfg);
  return previous ? { current, previous: new Pseudonymizer(previous) } : { current };
}

/** Answers kept per pseudonymizer and kind: the ids of recent micro-batches (22–60 characters each). */
export const PSEUDONYM_MEMO_SIZE = 50_000;

/** `compute()` for `key`, kept in `cache` (the project's bounded LRU: the least recently used goes first). */
function memo(cache: ExpiringLru<string, string>, key: string, compute: () => string): string {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const v = compute();
  cache.set(key, v);
  return v;
}
