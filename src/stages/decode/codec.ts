/**
 * Encoding and decoding through the Confluent-compatible schema registry. Schemas come from schemas/*.avsc and
 * are registered under TopicNameStrategy subjects (`<topic>-value`), BACKWARD compatible.
 * Before the registry client sees a payload we check its frame (magic byte, length, size cap) and remember
 * schema ids the registry does not know, so a flood of bad ids does not become a flood of registry calls.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SchemaRegistry, SchemaType, COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import type { CatalogItem, Recommendations, SegmentChange, UserEvent } from '../../domain/events.js';
import { DecodeError, RegistryUnavailableError } from '../../errors.js';
import type { TopicNames } from '../../config/config.js';
import { PACKAGE_ROOT } from '../../package-root.js';
import type { RegistryTransport } from '../../security/transport.js';

const SCHEMA_DIR = join(PACKAGE_ROOT, 'schemas');

export const SCHEMA_FILES = {
  events: 'user-event.avsc',
  items: 'item.avsc',
  recommendations: 'recommendations.avsc',
  segmentChanges: 'segment-change.avsc',
} as const;
type Kind = keyof typeof SCHEMA_FILES;

export function readSchema(kind: Kind): string {
  return readFileSync(join(SCHEMA_DIR, SCHEMA_FILES[kind]), 'utf8');
}

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the Avro body. */
export function frameSchemaId(buf: Buffer | null, maxBytes: number): number {
  if (!buf || buf.length === 0) throw new DecodeError('EMPTY_VALUE', 'the record has no value');
  if (buf.length > maxBytes) throw new DecodeError('TOO_LARGE', `the value is ${buf.length} bytes; at most ${maxBytes} are accepted`);
  if (buf.length < 6) throw new DecodeError('BAD_FRAME', `the value is ${buf.length} bytes, too short for a registry-framed Avro record`);
  if (buf[0] !== 0) throw new DecodeError('BAD_MAGIC', `the value starts with byte ${buf[0]}, not the registry magic byte 0`);
  return buf.readInt32BE(1);
}

function isNotFound(err: unknown): boolean {
  const e = err as { status?: number; name?: string; message?: string };
  return e?.status === 404 || /not found/i.test(e?.message ?? '');
}
function isNetwork(err: unknown): boolean {
  const m = (err as { message?: string; code?: string })?.message ?? '';
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|fetch failed|EAI_AGAIN/i.test(m + ((err as { code?: string })?.code ?? ''));
}

export class Codec {
  readonly registry: SchemaRegistry;
  private ids: Partial<Record<Kind, number>> = {};
  private readonly unknownIds = new Map<number, number>();
  private readonly unknownTtlMs = 60_000;

  /** `transport`: basic-auth credentials and an https agent with a private CA (registryTransport(cfg)). */
  constructor(url: string, private readonly topics: TopicNames, transport: RegistryTransport = {}) {
    this.registry = new SchemaRegistry({ host: url, retry: { retries: 3, initialRetryTimeInSecs: 0.2 }, ...transport });
  }

  /** Registers (or finds) every schema; idempotent. */
  async registerAll(): Promise<Record<Kind, number>> {
    for (const kind of Object.keys(SCHEMA_FILES) as Kind[]) {
      const subject = `${this.topics[kind]}-value`;
      try {
        const { id } = await this.registry.register(
          { type: SchemaType.AVRO, schema: readSchema(kind) },
          { subject, compatibility: COMPATIBILITY.BACKWARD },
        );
        this.ids[kind] = id;
      } catch (err) {
        throw new RegistryUnavailableError(
          `could not register the ${kind} schema under subject ${subject}: ${(err as Error).message}. ` +
            'Check ATTUNE_REGISTRY_URL and that the registry runs with BACKWARD global compatibility (npm run services:up).',
          err,
        );
      }
    }
    return this.ids as Record<Kind, number>;
  }

  private id(kind: Kind): number {
    const id = this.ids[kind];
    if (id === undefined) throw new Error(`schema ${kind} is not registered: call registerAll() first`);
    return id;
  }

  encodeEvent(e: UserEvent): Promise<Buffer> { return this.registry.encode(this.id('events'), e); }
  encodeItem(i: CatalogItem): Promise<Buffer> { return this.registry.encode(this.id('items'), i); }
  encodeRecommendations(r: Recommendations): Promise<Buffer> { return this.registry.encode(this.id('recommendations'), r); }
  encodeSegmentChange(s: SegmentChange): Promise<Buffer> { return this.registry.encode(this.id('segmentChanges'), s); }

  /** Decodes any registry-framed record; errors are DecodeError (dead-letter) or RegistryUnavailableError (wait). */
  async decode(buf: Buffer | null, maxBytes: number): Promise<Record<string, unknown>> {
    const schemaId = frameSchemaId(buf, maxBytes);
    const since = this.unknownIds.get(schemaId);
    if (since !== undefined && Date.now() - since < this.unknownTtlMs) {
      throw new DecodeError('UNKNOWN_SCHEMA', `schema id ${schemaId} is not known to the registry`);
    }
    try {
      return (await this.registry.decode(buf as Buffer)) as Record<string, unknown>;
    } catch (err) {
      if (isNotFound(err)) {
        this.unknownIds.set(schemaId, Date.now());
        throw new DecodeError('UNKNOWN_SCHEMA', `schema id ${schemaId} is not known to the registry`, err);
      }
      if (isNetwork(err)) throw new RegistryUnavailableError(`schema registry unreachable: ${(err as Error).message}`, err);
      throw new DecodeError('BAD_AVRO', `the Avro body does not decode with schema ${schemaId}: ${(err as Error).message.slice(0, 200)}`, err);
    }
  }

  async decodeEvent(buf: Buffer | null, maxBytes: number): Promise<UserEvent> {
    return toUserEvent(await this.decode(buf, maxBytes));
  }

  async decodeItem(buf: Buffer | null, maxBytes: number): Promise<CatalogItem> {
    return toCatalogItem(await this.decode(buf, maxBytes));
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/** Maps a decoded Avro record to the domain shape; shape problems surface in validation. */
export function toUserEvent(r: Record<string, unknown>): UserEvent {
  const ctx = r.context as Record<string, unknown> | null | undefined;
  const props = (r.properties ?? {}) as Record<string, unknown>;
  const properties: Record<string, string> = {};
  for (const [k, v] of Object.entries(props)) if (typeof v === 'string') properties[k] = v;
  return {
    eventId: str(r.eventId) ?? '',
    userId: str(r.userId) ?? '',
    type: (str(r.type) ?? 'unknown') as UserEvent['type'],
    eventTime: typeof r.eventTime === 'number' ? r.eventTime : Number.NaN,
    itemId: str(r.itemId),
    quantity: num(r.quantity),
    price: num(r.price),
    rating: num(r.rating),
    sessionId: str(r.sessionId),
    context: ctx ? { device: str(ctx.device), country: str(ctx.country), referrer: str(ctx.referrer), userAgent: str(ctx.userAgent) } : null,
    properties,
  };
}

export function toCatalogItem(r: Record<string, unknown>): CatalogItem {
  return {
    itemId: str(r.itemId) ?? '',
    title: str(r.title),
    categories: Array.isArray(r.categories) ? r.categories.filter((x): x is string => typeof x === 'string') : [],
    tags: Array.isArray(r.tags) ? r.tags.filter((x): x is string => typeof x === 'string') : [],
    price: num(r.price),
    available: r.available !== false,
    deleted: r.deleted === true,
    updatedAt: num(r.updatedAt) ?? 0,
  };
}
