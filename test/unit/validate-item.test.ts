/** Catalog item rules (src/stages/validate/item.ts): the codes of the DLQ contract for the items topic. */
import { describe, it, expect } from 'vitest';
import { validateItem } from '../../src/stages/validate/item.js';
import { DEFAULT_LIMITS } from '../../src/stages/validate/validate.js';
import { ValidationError } from '../../src/errors.js';
import type { CatalogItem } from '../../src/domain/events.js';

const NOW = Date.UTC(2026, 0, 1);
const ok: CatalogItem = { itemId: 'i1', title: 'A book', categories: ['books', 'sf'], tags: ['new'], price: 9.5, available: true, deleted: false, updatedAt: Date.UTC(2025, 5, 1) };

function code(over: Partial<CatalogItem>): string {
  try {
    validateItem({ ...ok, ...over }, DEFAULT_LIMITS, NOW);
    return 'OK';
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).stage).toBe('validate');
    return (err as ValidationError).code;
  }
}

describe('validateItem', () => {
  it('accepts a complete item, and one with only an id', () => {
    expect(code({})).toBe('OK');
    expect(code({ title: null, categories: [], tags: [], price: null, updatedAt: 0 })).toBe('OK');
  });
  it('checks the id like event ids', () => {
    expect(code({ itemId: '' })).toBe('MISSING_ID');
    expect(code({ itemId: 'x'.repeat(DEFAULT_LIMITS.maxIdLength) })).toBe('OK');
    expect(code({ itemId: 'x'.repeat(DEFAULT_LIMITS.maxIdLength + 1) })).toBe('ID_TOO_LONG');
    expect(code({ itemId: 'a\u0000b' })).toBe('BAD_ID');
  });
  it('caps the title', () => {
    expect(code({ title: 't'.repeat(DEFAULT_LIMITS.maxTitleLength) })).toBe('OK');
    expect(code({ title: 't'.repeat(DEFAULT_LIMITS.maxTitleLength + 1) })).toBe('TITLE_TOO_LONG');
  });
  it('bounds categories and tags: count, empty, length, control characters', () => {
    expect(code({ categories: Array.from({ length: DEFAULT_LIMITS.maxCategories }, (_, i) => `c${i}`) })).toBe('OK');
    expect(code({ categories: Array.from({ length: DEFAULT_LIMITS.maxCategories + 1 }, (_, i) => `c${i}`) })).toBe('TOO_MANY_CATEGORIES');
    expect(code({ categories: [''] })).toBe('BAD_CATEGORY');
    expect(code({ categories: ['c'.repeat(DEFAULT_LIMITS.maxIdLength + 1)] })).toBe('BAD_CATEGORY');
    expect(code({ categories: ['a\nb'] })).toBe('BAD_CATEGORY');
    expect(code({ tags: Array.from({ length: DEFAULT_LIMITS.maxTags + 1 }, (_, i) => `t${i}`) })).toBe('TOO_MANY_TAGS');
    expect(code({ tags: [''] })).toBe('BAD_TAG');
    expect(code({ tags: ['\u007f'] })).toBe('BAD_TAG');
    // Nasty but legal names are data, not rules: the stores must keep them apart.
    expect(code({ categories: ['__proto__', 'constructor', '_n', 'o:attune.events:3', '{x}', 'a*b?'] })).toBe('OK');
  });
  it('needs a finite, non-negative price', () => {
    expect(code({ price: 0 })).toBe('OK');
    for (const p of [-0.01, Number.NaN, Number.POSITIVE_INFINITY]) expect(code({ price: p }), String(p)).toBe('BAD_PRICE');
  });
  it('needs a plausible updatedAt (0 = unknown)', () => {
    expect(code({ updatedAt: DEFAULT_LIMITS.minEventTime })).toBe('OK');
    expect(code({ updatedAt: DEFAULT_LIMITS.minEventTime - 1 })).toBe('BAD_TIME');
    expect(code({ updatedAt: NOW + DEFAULT_LIMITS.maxFutureMs + 1 })).toBe('BAD_TIME');
    expect(code({ updatedAt: 8.64e15 + 1 })).toBe('BAD_TIME');
    expect(code({ updatedAt: -5 })).toBe('BAD_TIME');
    expect(code({ updatedAt: Number.NaN })).toBe('BAD_TIME');
  });
});
