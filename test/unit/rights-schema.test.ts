/** The consent field's schema evolution: BACKWARD, old records decode with consent null (the codec decodes each
 *  record with its own writer schema, so both ids work side by side). */
import { describe, it, expect } from 'vitest';
import { readSchema, toUserEvent } from '../../src/stages/decode/codec.js';
import { avro, readerType } from '../../src/stages/decode/avsc.js';
import { decodeGuarded } from '../../src/stages/decode/avro-guard.js';

const current = JSON.parse(readSchema('events')) as { fields: Array<{ name: string }> };
// The schema before consent (and before the fields added after it, experiments/recommendation-id.ts).
const previous = { ...current, fields: current.fields.slice(0, current.fields.findIndex((f) => f.name === 'consent')) };
const base = {
  eventId: 'e1', userId: 'u1', type: 'consent', eventTime: Date.UTC(2026, 0, 1), itemId: null, quantity: null, price: null, rating: null,
  sessionId: null, context: null, properties: {},
};

describe('UserEvent.consent', () => {
  it('is optional with a null default, and so is every field added after it', () => {
    const at = current.fields.findIndex((f) => f.name === 'consent');
    expect(at).toBeGreaterThan(0);
    const added = current.fields.slice(at) as unknown as Array<{ name: string; default: unknown; type: unknown[] }>;
    expect(added.map((f) => f.name)).toEqual(['consent', 'recommendationId', 'knownUserId', 'profile']);
    for (const f of added) {
      expect(f.default).toBeNull();
      expect(f.type[0]).toBe('null');
    }
  });

  it('old records (the previous schema) decode with consent null; new ones with their choices', () => {
    const oldType = readerType(previous);
    const newType = readerType(current);
    const oldBody = oldType.toBuffer(base);
    expect(toUserEvent(decodeGuarded(oldType, oldBody, 0) as Record<string, unknown>).consent).toBeNull();
    const choices = [{ purpose: 'personalization', status: 'granted' }, { purpose: 'analytics', status: 'denied' }];
    const newBody = newType.toBuffer({ ...base, consent: choices });
    expect(toUserEvent(decodeGuarded(newType, newBody, 0) as Record<string, unknown>).consent).toEqual(choices);
    expect(toUserEvent(decodeGuarded(newType, newType.toBuffer({ ...base, type: 'view', itemId: 'i', consent: null }), 0) as Record<string, unknown>).consent).toBeNull();
  });

  it('is a BACKWARD change: a reader of the new schema reads old records (consent null)', () => {
    const oldType = avro.Type.forSchema(previous as never);
    const newType = avro.Type.forSchema(current as never);
    const resolver = newType.createResolver(oldType);
    expect((newType.fromBuffer(oldType.toBuffer(base), resolver) as { consent: unknown }).consent).toBeNull();
  });

  it('an unknown status symbol of a newer writer reads as unknown (refused by validation, BAD_CONSENT)', () => {
    const newer = JSON.parse(JSON.stringify(current).replace('"revoked","unknown"', '"revoked","unknown","withdrawn"').replace('"revoked", "unknown"', '"revoked", "unknown", "withdrawn"'));
    const writer = avro.Type.forSchema(newer);
    const reader = avro.Type.forSchema(current as never);
    const body = writer.toBuffer({ ...base, consent: [{ purpose: 'personalization', status: 'withdrawn' }] });
    const got = reader.fromBuffer(body, reader.createResolver(writer)) as { consent: Array<{ status: string }> };
    expect(got.consent[0].status).toBe('unknown');
  });
});
