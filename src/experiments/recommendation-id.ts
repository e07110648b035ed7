/**
 * Recommendation ids: every emitted list carries one, and downstream echoes it in the impression, click and
 * purchase events it reports (docs/experiments.md, Attribution). The id names the list's experiment assignments
 * and is signed for its user, so attribution needs no lookup and no stored list:
 *
 *   <assignments>~<source>~<tag>
 *   assignments  `experiment:variant` or `experiment:variant:segment` (a per-segment bandit's segment), joined by
 *                `,`; empty for a list in no experiment. Ids of experiments, variants and segments are
 *                lower_snake_case (file.ts, segments/core/rules.ts), so the separators cannot occur in them.
 *   source       `<partition>.<offset>` of the user's newest event the list was computed for, or the catalog
 *                record's `attune.source` for a holder correction: a re-emitted list gets the same id.
 *   tag          base64url of the first 12 bytes of HMAC-SHA256(key, pseudonym NUL assignments NUL source).
 *
 * The key is derived from the pseudonymisation secret (Pseudonymizer.recommendationIdKey), so every worker signs
 * and checks the same way, and an id is valid only for the user it was made for: a client cannot forge one or
 * make another user's count (replaying its own is counted like any event, once per event id and offset). After
 * a key rotation, ids signed under the previous key no longer attribute. Pure.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface IdAssignment {
  experiment: string;
  variant: string;
  /** The segment a per-segment bandit decided with (its impressions update that posterior too). */
  segment: string | null;
}

/** Ids are refused above this length (validation): about 20 assignments of two 24-character names fit. */
export const MAX_RECOMMENDATION_ID_LENGTH = 1024;
const NAME = /^[a-z][a-z0-9_]{0,63}$/;
const TAG_BYTES = 12;
/** 12 bytes in base64url: 16 characters of its alphabet, no padding. */
const TAG = /^[A-Za-z0-9_-]{16}$/;

export class RecommendationIds {
  constructor(private readonly key: Buffer) {}

  /** The id of a list for `pseudonym`, with its assignments and source. */
  mint(pseudonym: string, assignments: readonly IdAssignment[], source: string): string {
    const body = assignments.map((a) => (a.segment === null ? `${a.experiment}:${a.variant}` : `${a.experiment}:${a.variant}:${a.segment}`)).join(',');
    return `${body}~${source}~${this.tag(pseudonym, body, source).toString('base64url')}`;
  }

  /** The assignments of an id made for `pseudonym`; null when it is malformed or not signed for this user. */
  read(pseudonym: string, id: string): IdAssignment[] | null {
    if (id.length > MAX_RECOMMENDATION_ID_LENGTH) return null;
    const parts = id.split('~');
    if (parts.length !== 3) return null;
    const [body, source, tag] = parts;
    // Only the tag as minted: Node's base64url decoding skips stray characters, padding and whitespace and takes
    // `+` `/` for `-` `_`, so other spellings of the same bytes would verify and an id would not be canonical.
    if (!TAG.test(tag)) return null;
    if (!timingSafeEqual(Buffer.from(tag, 'base64url'), this.tag(pseudonym, body, source))) return null;
    if (body === '') return [];
    const out: IdAssignment[] = [];
    for (const a of body.split(',')) {
      const [experiment, variant, segment, extra] = a.split(':');
      if (extra !== undefined || !NAME.test(experiment ?? '') || !NAME.test(variant ?? '') || (segment !== undefined && !NAME.test(segment))) return null;
      out.push({ experiment, variant, segment: segment ?? null });
    }
    return out;
  }

  private tag(pseudonym: string, body: string, source: string): Buffer {
    return createHmac('sha256', this.key).update(`${pseudonym}\u0000${body}\u0000${source}`).digest().subarray(0, TAG_BYTES);
  }
}
