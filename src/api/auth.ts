/**
 * API keys (docs/api.md): a YAML file (ATTUNE_API_KEYS_FILE) lists the keys by name with the SHA-256 of each key
 * and its rate limit, so the file holds no usable secret. A request's key (Authorization: Bearer <key>, or
 * x-api-key) is hashed and compared with every entry in constant time (timingSafeEqual on equal-length digests),
 * so neither the comparison nor the order of the entries tells an attacker how close a guess was.
 *
 * Demo mode (ATTUNE_DEMO=true) without a keys file accepts the public key `attune-demo-key`, with a warning, the way
 * the pseudonymizer falls back to its public demo key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';

/** The public key of demo mode: it protects nothing. */
export const DEMO_API_KEY = 'attune-demo-key';
/** The demo key's rate limit (requests per minute). */
export const DEMO_RATE_LIMIT = 6000;

export interface ApiKey {
  name: string;
  /** SHA-256 of the key, as bytes. */
  digest: Buffer;
  rateLimitPerMinute: number;
}

const entrySchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'name: 1 to 64 letters, digits, . _ -'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256: the 64 lower-case hex digits of the key\'s SHA-256 (from `attune api-key new`)'),
  rateLimitPerMinute: z.number().int().min(1, 'rateLimitPerMinute: at least 1').max(1_000_000, 'rateLimitPerMinute: at most 1000000'),
});
const fileSchema = z.object({ keys: z.array(entrySchema).min(1, 'keys: at least one entry') });

export function sha256Hex(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Parses the keys file's text; a ConfigError names the entry and the fix. */
export function parseApiKeys(text: string, file: string): ApiKey[] {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigError(`ATTUNE_API_KEYS_FILE=${file} is not valid YAML (${(err as Error).message.split('\n')[0]}): fix it (see config/api-keys.example.yaml)`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? issue.path.join('.') : 'the file';
    throw new ConfigError(`ATTUNE_API_KEYS_FILE=${file}: ${where}: ${issue.message} (see config/api-keys.example.yaml; \`attune api-key new <name>\` prints an entry)`);
  }
  const names = new Set<string>();
  return parsed.data.keys.map((k) => {
    if (names.has(k.name)) throw new ConfigError(`ATTUNE_API_KEYS_FILE=${file}: two keys are named ${k.name}: give each key its own name (the rate limit is kept per name)`);
    names.add(k.name);
    return { name: k.name, digest: Buffer.from(k.sha256, 'hex'), rateLimitPerMinute: k.rateLimitPerMinute };
  });
}

/**
 * The deployment's keys: from the file when set; in demo mode without one, the demo key; otherwise a ConfigError
 * (an API without keys would be open to anyone who reaches the port).
 */
export function loadApiKeys(cfg: { apiKeysFile?: string; demo: boolean }, warn: (msg: string) => void): ApiKey[] {
  if (cfg.apiKeysFile) {
    let text: string;
    try {
      text = readFileSync(cfg.apiKeysFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`ATTUNE_API_KEYS_FILE=${cfg.apiKeysFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): point it at a keys file (see config/api-keys.example.yaml)`);
    }
    return parseApiKeys(text, cfg.apiKeysFile);
  }
  if (cfg.demo) {
    warn(`ATTUNE_DEMO=true and no ATTUNE_API_KEYS_FILE: the API accepts the public demo key "${DEMO_API_KEY}", which protects nothing`);
    return [{ name: 'demo', digest: createHash('sha256').update(DEMO_API_KEY).digest(), rateLimitPerMinute: DEMO_RATE_LIMIT }];
  }
  throw new ConfigError('no API keys: set ATTUNE_API_KEYS_FILE to a keys file (see config/api-keys.example.yaml; `attune api-key new <name>` prints an entry), or ATTUNE_DEMO=true for a demo');
}

/** The key a request presents: `Authorization: Bearer <key>` or `x-api-key: <key>`; null when none. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | null {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1]!;
  }
  const x = headers['x-api-key'];
  return typeof x === 'string' && x.length > 0 ? x : null;
}

/** The entry whose hash matches `key`, or null. Every entry is compared, in constant time each. */
export function matchKey(keys: readonly ApiKey[], key: string): ApiKey | null {
  const digest = createHash('sha256').update(key, 'utf8').digest();
  let found: ApiKey | null = null;
  for (const k of keys) if (timingSafeEqual(k.digest, digest) && found === null) found = k;
  return found;
}

/** A fresh random key (32 bytes, base64url) and the YAML entry that admits it (its hash only). */
export function newApiKey(name: string, rateLimitPerMinute = 600): { key: string; entry: string } {
  const parsed = entrySchema.shape.name.safeParse(name);
  if (!parsed.success) throw new ConfigError(`key name ${JSON.stringify(name)} is invalid: use 1 to 64 letters, digits, . _ -`);
  const key = `atk_${randomBytes(32).toString('base64url')}`;
  const entry = `  - name: ${name}\n    sha256: ${sha256Hex(key)}\n    rateLimitPerMinute: ${rateLimitPerMinute}\n`;
  return { key, entry };
}
