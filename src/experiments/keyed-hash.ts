/**
 * Keyed hashing for experiments: HMAC-SHA256 keyed by a salt (one per experiment or layer), so that a user's
 * position is stable across restarts, workers and replays, independent between salts, and not predictable from
 * the user id without the salt. Pure computation (node:crypto, no I/O).
 */
import { createHmac } from 'node:crypto';

/** The first 32 bytes of HMAC-SHA256(key = salt, message = parts joined by NUL). */
export function keyedDigest(salt: string, ...parts: string[]): Buffer {
  return createHmac('sha256', salt).update(parts.join('\u0000')).digest();
}

/**
 * A uniform number in [0, 1) from the digest of (salt, parts): its first 53 bits, the most a double holds
 * exactly, so every bucket of the unit interval is equally likely.
 */
export function keyedUnit(salt: string, ...parts: string[]): number {
  const d = keyedDigest(salt, ...parts);
  // bits 0–31 then 32–52 of the digest (big-endian)
  return (d.readUInt32BE(0) * 2 ** 21 + (d.readUInt32BE(4) >>> 11)) / 2 ** 53;
}
