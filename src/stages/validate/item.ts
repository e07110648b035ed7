/**
 * Pure checks on a decoded catalog item, the counterpart of validate.ts for the items topic. Items feed every
 * worker's in-memory catalog and the recommender (titles in reasons, categories as affinity keys), so the same
 * kinds of limits apply: ids, control characters, counts, lengths, a finite non-negative price, a plausible time.
 */
import type { CatalogItem } from '../../domain/events.js';
import { ValidationError } from '../../errors.js';
import { checkId, CONTROL, type ValidationLimits } from './validate.js';

function checkLabels(what: 'category' | 'tag', values: string[], max: number, maxLength: number): void {
  const [tooMany, bad] = what === 'category' ? ['TOO_MANY_CATEGORIES', 'BAD_CATEGORY'] as const : ['TOO_MANY_TAGS', 'BAD_TAG'] as const;
  if (values.length > max) throw new ValidationError(tooMany, `${values.length} ${what === 'category' ? 'categories' : 'tags'}; at most ${max} are accepted`);
  for (const v of values) {
    if (typeof v !== 'string' || v.length === 0) throw new ValidationError(bad, `a ${what} is empty`);
    if (v.length > maxLength) throw new ValidationError(bad, `a ${what} is ${v.length} characters; at most ${maxLength} are accepted`);
    if (CONTROL.test(v)) throw new ValidationError(bad, `a ${what} contains control characters`);
  }
}

/** Throws ValidationError when the item is unusable; returns it otherwise. `updatedAt` 0 is the schema default: unknown. */
export function validateItem(i: CatalogItem, limits: ValidationLimits, now: number): CatalogItem {
  checkId('itemId', i.itemId, limits.maxIdLength, true);
  if (i.title !== null && i.title.length > limits.maxTitleLength) {
    throw new ValidationError('TITLE_TOO_LONG', `the title is ${i.title.length} characters; at most ${limits.maxTitleLength} are accepted (ATTUNE_MAX_TITLE_LENGTH)`);
  }
  checkLabels('category', i.categories, limits.maxCategories, limits.maxIdLength);
  checkLabels('tag', i.tags, limits.maxTags, limits.maxIdLength);
  if (i.price !== null && (!Number.isFinite(i.price) || i.price < 0)) throw new ValidationError('BAD_PRICE', `price ${i.price} must be a finite number >= 0`);
  if (!Number.isSafeInteger(i.updatedAt)) throw new ValidationError('BAD_TIME', 'updatedAt is not a whole number of milliseconds');
  if (i.updatedAt !== 0 && (i.updatedAt < limits.minEventTime || i.updatedAt > now + limits.maxFutureMs)) {
    throw new ValidationError('BAD_TIME', `updatedAt ${i.updatedAt} is outside the plausible range (${limits.minEventTime} to ${limits.maxFutureMs} ms ahead of the clock), or 0 for unknown`);
  }
  return i;
}
