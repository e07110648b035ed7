/**
 * Pseudonym → real user id, for the outputs only (they stay keyed by the real id). Stages after the rights stage
 * know users by pseudonym; where they emit a record for a user (a recommendation list, a segment change, a
 * tombstone) they ask this seam for the id. The users of the micro-batch are known from their events; others (a due
 * timer, an item's holders, a rules re-evaluation) are read from the user's subject hash, where the id is sealed
 * (pseudonym.ts). An id that cannot be resolved (the user was erased meanwhile) is absent from the answer: the
 * caller emits nothing for that user.
 */
import type { SubjectStore } from '../../stores/subject-store.js';
import { log } from '../../log.js';
import { currentStatus, parseConsent } from './consent.js';
import type { Pseudonymizer } from './pseudonym.js';

export interface Identities {
  /** The real ids of `pseudonyms`, as far as they are known. Never throws for a missing user. */
  resolve(pseudonyms: Iterable<string>): Promise<Map<string, string>>;
  /**
   * Those of `pseudonyms` that may be personalized now (their stored personalization consent, else
   * ATTUNE_CONSENT_DEFAULT). For work outside a micro-batch that would emit a list (e.g. a holder correction).
   */
  personalizable(pseudonyms: Iterable<string>): Promise<Set<string>>;
}

/** The pseudonyms kept in memory (the users of recent micro-batches): 22 + ~20 characters each. */
export const DEFAULT_IDENTITY_CACHE = 100_000;

/**
 * Identities of the worker: a bounded LRU of pseudonym → id, filled by the rights stage with the users of each
 * micro-batch (`remember`) and emptied of erased users by the erase stage (`forget`); misses read the sealed id
 * from the subject hash. A sealed value that does not open (another key, altered) is reported and left out.
 */
export class SubjectIdentities implements Identities {
  private readonly cache = new Map<string, string>();
  constructor(
    private readonly store: SubjectStore,
    private readonly names: Pseudonymizer,
    private readonly consentDefault: 'granted' | 'denied',
    private readonly capacity = DEFAULT_IDENTITY_CACHE,
  ) {}

  remember(pseudonym: string, userId: string): void {
    this.cache.delete(pseudonym);
    this.cache.set(pseudonym, userId);
    if (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value as string);
  }

  forget(pseudonym: string): void {
    this.cache.delete(pseudonym);
  }

  async resolve(pseudonyms: Iterable<string>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const missing: string[] = [];
    for (const p of new Set(pseudonyms)) {
      const id = this.cache.get(p);
      if (id !== undefined) out.set(p, id);
      else missing.push(p);
    }
    if (missing.length === 0) return out;
    const sealed = await this.store.sealedIds(missing);
    let unreadable = 0;
    missing.forEach((p, i) => {
      const s = sealed[i];
      if (s === null) return;
      try {
        const id = this.names.unseal(s);
        out.set(p, id);
        this.remember(p, id);
      } catch {
        unreadable++;
      }
    });
    // Counts only: a pseudonym is personal data too.
    if (unreadable) log.warn({ unreadable }, 'sealed user ids that do not open with ATTUNE_PSEUDONYM_KEY (was the key changed without a rotation?): nothing is emitted for those users');
    return out;
  }

  async personalizable(pseudonyms: Iterable<string>): Promise<Set<string>> {
    const ps = [...new Set(pseudonyms)];
    const consents = await this.store.consents(ps);
    const dflt = this.consentDefault === 'granted';
    const out = new Set<string>();
    ps.forEach((p, i) => {
      let ok: boolean;
      try {
        ok = currentStatus(parseConsent(consents[i]).h, dflt);
      } catch {
        ok = false; // unreadable consent: do not personalize on a guess
      }
      if (ok) out.add(p);
    });
    return out;
  }
}
