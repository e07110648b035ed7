/**
 * The data subjects' store (the I/O of the rights stage, stages/rights/): `{u:P}:subject` hashes — `id` (the real
 * id, sealed) and `consent` (stages/rights/consent.ts) — and the erase stage's sweep of everything a user owns
 * (user-owned.ts `ownedBy` + `readOwnerContext`). Reads of many users are issued in one tick, which the client's
 * auto-pipelining sends as one pipeline per node (no cross-slot command).
 */
import type { RedisClient } from './redis-client.js';
import { Keys } from './keys.js';
import { checkScriptResult } from './script-errors.js';
import { ownedBy, readOwnerContext } from './user-owned.js';
import type { StoredSubject, SubjectWrite } from '../stages/rights/plan.js';

export class SubjectStore {
  readonly keys: Keys;
  constructor(readonly redis: RedisClient, keyPrefix: string) {
    this.keys = new Keys(keyPrefix);
  }

  /** The stored subject of each pseudonym (null: no hash). */
  async load(pseudonyms: Iterable<string>): Promise<Map<string, StoredSubject | null>> {
    const ps = [...new Set(pseudonyms)];
    const got = await Promise.all(ps.map((p) => this.redis.hmget(this.keys.userSubject(p), 'id', 'consent')));
    return new Map(ps.map((p, i) => {
      const [id, consent] = got[i];
      return [p, id === null && consent === null ? null : { id, consent }];
    }));
  }

  /** Writes the subject hashes that changed (guarded: a revoked worker cannot write). */
  async write(writes: readonly SubjectWrite[]): Promise<void> {
    await Promise.all(writes.map(async (w) => {
      const mode = w.consent === undefined ? 'keep' : w.consent === null ? 'del' : 'set';
      const res = await this.redis.writeSubject(this.keys.userSubject(w.pseudonym), w.id ?? '', mode, w.consent ?? '');
      checkScriptResult('writeSubject', Number(res));
    }));
  }

  /**
   * Deletes everything `pseudonym` owns: its `{u:P}` keys (one guarded script; `keepSubject` keeps the consent
   * chosen after the erasure, without the id), its members of the partition indexes (users, timers, member sets)
   * and of the holders of its last list. Idempotent. `memberSegments`: the compiled segments with member sets.
   * Returns the number of keys and memberships removed.
   */
  async sweep(pseudonym: string, keepSubject: boolean, memberSegments: readonly string[] = []): Promise<number> {
    const ctx = await readOwnerContext(this.redis, this.keys, pseudonym, memberSegments);
    const owned = ownedBy(this.keys, pseudonym, ctx);
    const subject = this.keys.userSubject(pseudonym);
    const userKeys = owned.filter((o) => o.entry.kind === 'user-key' && o.key !== subject).map((o) => o.key);
    // Memberships first: the user keys hold the context (applied offsets, the last list) a repeated sweep needs.
    const removed = await Promise.all(owned.filter((o) => o.member !== undefined).map((o) =>
      o.entry.type === 'zset' ? this.redis.zrem(o.key, o.member!) : this.redis.srem(o.key, o.member!)));
    const res = await this.redis.eraseUser(1 + userKeys.length, subject, ...userKeys, keepSubject ? 'keep' : 'delete');
    return checkScriptResult('eraseUser', Number(res)) + removed.reduce((s, n) => s + Number(n), 0);
  }

  /** The sealed id of each pseudonym that has one. */
  async sealedIds(pseudonyms: readonly string[]): Promise<Array<string | null>> {
    return Promise.all(pseudonyms.map((p) => this.redis.hget(this.keys.userSubject(p), 'id')));
  }

  /** The consent JSON of each pseudonym (null: none). */
  async consents(pseudonyms: readonly string[]): Promise<Array<string | null>> {
    return Promise.all(pseudonyms.map((p) => this.redis.hget(this.keys.userSubject(p), 'consent')));
  }
}
