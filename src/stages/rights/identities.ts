/**
 * Pseudonym → real user id, for the outputs only (they stay keyed by the real id). Stages after the rights stage
 * know users by pseudonym; where they emit a record for a user (a recommendation list, a segment change, a
 * tombstone) they ask this seam for the id. The users of the micro-batch are known from their events; others (a due
 * timer, an item's holders, a rules re-evaluation) are read from the user's subject hash, where the id is sealed
 * (pseudonym.ts). An id that cannot be resolved (the user was erased meanwhile) is absent from the answer: the
 * caller emits nothing for that user.
 */
export interface Identities {
  /** The real ids of `pseudonyms`, as far as they are known. Never throws for a missing user. */
  resolve(pseudonyms: Iterable<string>): Promise<Map<string, string>>;
  /**
   * Those of `pseudonyms` that may be personalized now (their stored personalization consent, else
   * ATTUNE_CONSENT_DEFAULT). For work outside a micro-batch that would emit a list (e.g. a holder correction).
   */
  personalizable(pseudonyms: Iterable<string>): Promise<Set<string>>;
}
