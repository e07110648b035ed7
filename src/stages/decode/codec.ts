/**
 * Encoding and decoding through the Confluent-compatible schema registry. Schemas come from schemas/*.avsc and
 * are registered under TopicNameStrategy subjects (`<topic>-value`), BACKWARD compatible, by `attune topics`
 * (`registerAll`, which needs registry write rights); the worker only looks them up (`lookupAll`, read-only).
 *
 * Decoding a record of a topic (`decodeEvent`, `decodeItem`):
 *  1. the frame is checked (magic byte, length, size cap) before anything else;
 *  2. the schema id must be a version of the topic's own subject: an id the registry does not know is
 *     UNKNOWN_SCHEMA, one it knows under another subject is FOREIGN_SCHEMA. Both answers are remembered in a bounded
 *     LRU (`unknownCacheSize` ids for `unknownTtlMs`), and lookups of ids not yet seen are throttled by a token
 *     bucket (`lookupsPerSecond`): a flood of made-up ids costs the registry at most that many requests a second, and a record
 *     that finds the bucket empty waits for a token (it is never dead-lettered for it);
 *  3. the body is pre-walked by the bomb guard (avro-guard.ts) and only then decoded by avsc.
 * A registry that cannot answer (5xx, 429, 401/403, timeout, refused) is RegistryUnavailableError: retriable.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Type } from 'avsc';
import { SchemaRegistry, SchemaType, COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import type { CatalogItem, Recommendations, SegmentChange, UserEvent } from '../../domain/events.js';
import { ConfigError, DecodeError, RegistryUnavailableError } from '../../errors.js';
import type { Config, TopicNames } from '../../config/config.js';
import { PACKAGE_ROOT } from '../../package-root.js';
import { registryTransport, type RegistryTransport } from '../../security/transport.js';
import { decodeGuarded, DEFAULT_GUARD_LIMITS, type AvroGuardLimits } from './avro-guard.js';
import { readerType } from './avsc.js';
import { ExpiringLru, TokenBucket } from './bounded.js';
import { RegistryHttp } from './registry-http.js';

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

/** Codec settings (the worker takes them from the config: registryTimeoutMs, registryLookupsPerSecond, ...). */
export interface CodecOptions {
  /** Basic auth and an https agent (security/transport.ts registryTransport). */
  transport?: RegistryTransport;
  timeoutMs?: number;
  /** Registry lookups of ids not seen before, per second (burst: the same number). */
  lookupsPerSecond?: number;
  /** Unknown/foreign ids remembered (LRU) and for how long. */
  unknownCacheSize?: number;
  unknownTtlMs?: number;
  guard?: AvroGuardLimits;
}

/** The codec settings of a deployment's config. */
export function codecOptions(cfg: Config): CodecOptions {
  if (cfg.registryCaFile && !cfg.registryUrl.startsWith('https:')) {
    throw new ConfigError(`ATTUNE_REGISTRY_CA_FILE is set but ATTUNE_REGISTRY_URL (${new URL(cfg.registryUrl).origin}) is not https://: use the registry's https:// URL, or unset the CA file`);
  }
  return {
    transport: registryTransport(cfg),
    timeoutMs: cfg.registryTimeoutMs,
    lookupsPerSecond: cfg.registryLookupsPerSecond,
    unknownCacheSize: cfg.unknownSchemaCacheSize,
    guard: { ...DEFAULT_GUARD_LIMITS, maxItems: cfg.avroMaxItems },
  };
}

type Rejection = 'UNKNOWN_SCHEMA' | 'FOREIGN_SCHEMA';

/** The longest one decode waits for a registry lookup token before failing its micro-batch retriably. */
const LOOKUP_WAIT_MS = 1_000;

interface SchemaBody {
  schema: string;
  schemaType?: string;
}

export class Codec {
  /** The registry client library: registration (`attune topics`) and encoding. */
  readonly registry: SchemaRegistry;
  private readonly http: RegistryHttp;
  private ids: Partial<Record<Kind, number>> = {};
  /** Parsed writer schemas by id: the versions of this codec's subjects, and ids decoded without a topic (tools). */
  private readonly types = new Map<number, Type>();
  /** Per subject, the schema ids of its versions seen so far, and which versions those were. */
  private readonly subjectIds = new Map<Kind, Set<number>>();
  private readonly seenVersions = new Map<Kind, Set<number>>();
  private readonly rejected: ExpiringLru<string, Rejection>;
  private readonly lookups: TokenBucket;
  private readonly guard: AvroGuardLimits;

  /** `opts.transport`: basic-auth credentials and an https agent with a private CA (registryTransport(cfg)). */
  constructor(url: string, private readonly topics: TopicNames, opts: CodecOptions = {}) {
    const transport = opts.transport ?? {};
    this.registry = new SchemaRegistry({ host: url, retry: { retries: 3, initialRetryTimeInSecs: 0.2 }, ...transport });
    this.http = new RegistryHttp(url, { auth: transport.auth, agent: transport.agent, timeoutMs: opts.timeoutMs });
    this.rejected = new ExpiringLru(opts.unknownCacheSize ?? 1_000, opts.unknownTtlMs ?? 60_000);
    const rate = opts.lookupsPerSecond ?? 50;
    this.lookups = new TokenBucket(rate, rate);
    this.guard = opts.guard ?? DEFAULT_GUARD_LIMITS;
  }

  private subject(kind: Kind): string {
    return `${this.topics[kind]}-value`;
  }

  /** Registers (or finds) every schema; idempotent. Needs registry write rights: `attune topics` and test set-ups. */
  async registerAll(): Promise<Record<Kind, number>> {
    for (const kind of Object.keys(SCHEMA_FILES) as Kind[]) {
      const subject = this.subject(kind);
      try {
        const { id } = await this.registry.register(
          { type: SchemaType.AVRO, schema: readSchema(kind) },
          { subject, compatibility: COMPATIBILITY.BACKWARD },
        );
        this.ids[kind] = id;
      } catch (err) {
        throw new RegistryUnavailableError(
          `could not register the ${kind} schema under subject ${subject}: ${(err as Error).message}. ` +
            'Check ATTUNE_REGISTRY_URL, that the registry credentials may write, and that the registry runs with BACKWARD global compatibility (npm run services:up).',
          err,
        );
      }
    }
    return this.ids as Record<Kind, number>;
  }

  /**
   * Finds the id of every schema under its subject without writing (the worker needs only read rights). A schema
   * that is not registered is a start-up error naming `attune topics`; a registry that cannot answer is retriable.
   */
  async lookupAll(): Promise<Record<Kind, number>> {
    const missing: string[] = [];
    for (const kind of Object.keys(SCHEMA_FILES) as Kind[]) {
      const subject = this.subject(kind);
      const found = await this.http.post<{ id: number }>(`/subjects/${encodeURIComponent(subject)}`, { schema: readSchema(kind) });
      if (found && typeof found.id === 'number') this.ids[kind] = found.id;
      else missing.push(`${SCHEMA_FILES[kind]} under subject ${subject}`);
    }
    // The input topics' versions up front, so that the first records decode without waiting for a lookup.
    if (!missing.length) for (const kind of ['events', 'items'] as const) await this.refreshSubject(kind);
    if (missing.length) {
      throw new ConfigError(
        `the schema registry has no ${missing.join(', ')}: register Attune's schemas with \`attune topics\` ` +
          '(run with the same ATTUNE_TOPIC_PREFIX and ATTUNE_REGISTRY_URL, by a user with registry write rights) before starting the worker',
        'SCHEMA_NOT_REGISTERED',
      );
    }
    return this.ids as Record<Kind, number>;
  }

  private id(kind: Kind): number {
    const id = this.ids[kind];
    if (id === undefined) throw new Error(`schema ${kind} is not known: call registerAll() or lookupAll() first`);
    return id;
  }

  encodeEvent(e: UserEvent): Promise<Buffer> { return this.registry.encode(this.id('events'), e); }
  encodeItem(i: CatalogItem): Promise<Buffer> { return this.registry.encode(this.id('items'), i); }
  encodeRecommendations(r: Recommendations): Promise<Buffer> { return this.registry.encode(this.id('recommendations'), r); }
  encodeSegmentChange(s: SegmentChange): Promise<Buffer> { return this.registry.encode(this.id('segmentChanges'), s); }

  /**
   * Decodes a registry-framed record. With `kind`, the schema id must be a version of that topic's subject;
   * without, any id the registry knows is accepted (tools reading output topics). Errors are DecodeError
   * (dead-letter) or RegistryUnavailableError (wait and retry).
   */
  async decode(buf: Buffer | null, maxBytes: number, kind?: Kind): Promise<Record<string, unknown>> {
    const schemaId = frameSchemaId(buf, maxBytes);
    const type = await this.writerType(schemaId, kind);
    return decodeGuarded(type, buf as Buffer, 5, this.guard, `schema ${schemaId}`) as Record<string, unknown>;
  }

  async decodeEvent(buf: Buffer | null, maxBytes: number): Promise<UserEvent> {
    return toUserEvent(await this.decode(buf, maxBytes, 'events'));
  }

  async decodeItem(buf: Buffer | null, maxBytes: number): Promise<CatalogItem> {
    return toCatalogItem(await this.decode(buf, maxBytes, 'items'));
  }

  /** The writer schema of `id`, if it may be used for `kind`'s topic; throws UNKNOWN_SCHEMA / FOREIGN_SCHEMA. */
  private async writerType(id: number, kind: Kind | undefined): Promise<Type> {
    const ok = this.types.get(id);
    if (ok && (kind === undefined || this.subjectIds.get(kind)?.has(id))) return ok;
    // Registries hand out positive ids only; asking about others could draw a 4xx that would read as an outage.
    if (id <= 0) throw rejection('UNKNOWN_SCHEMA', id, undefined);
    const cacheKey = `${kind ?? '*'}:${id}`;
    const before = this.rejected.get(cacheKey);
    if (before) throw rejection(before, id, kind && this.subject(kind));
    // A flood of new ids waits here, but never long: past a second the micro-batch fails retriably and the partition
    // task retries it with backoff, heartbeating; the ids settled so far stay in the caches.
    if (!(await this.lookups.take(LOOKUP_WAIT_MS))) {
      throw new RegistryUnavailableError(`schema id lookups are over ATTUNE_REGISTRY_LOOKUPS_PER_SEC (a flood of schema ids not seen before): the micro-batch waits and retries`);
    }
    // One request settles an id the registry does not know (the flood case); only an id it knows costs a read of
    // the subject's versions, which may have gained this one since they were last read.
    const found = await this.http.get<SchemaBody>(`/schemas/ids/${id}`);
    let why: Rejection;
    if (!found) why = 'UNKNOWN_SCHEMA';
    else if (kind === undefined) return this.parse(id, found);
    else {
      await this.refreshSubject(kind);
      const t = this.subjectIds.get(kind)?.has(id) ? this.types.get(id) : undefined;
      if (t) return t;
      why = 'FOREIGN_SCHEMA';
    }
    this.rejected.set(cacheKey, why);
    throw rejection(why, id, kind && this.subject(kind));
  }

  /** Reads the subject's versions not seen before (a producer may have registered a new one). */
  private async refreshSubject(kind: Kind): Promise<void> {
    const subject = encodeURIComponent(this.subject(kind));
    const listed = await this.http.get<unknown>(`/subjects/${subject}/versions`);
    const versions = Array.isArray(listed) ? listed.filter((v): v is number => typeof v === 'number') : [];
    const ids = this.subjectIds.get(kind) ?? new Set<number>();
    this.subjectIds.set(kind, ids);
    const seen = (this.seenVersions.get(kind) ?? new Set<number>());
    this.seenVersions.set(kind, seen);
    for (const v of versions) {
      if (seen.has(v)) continue;
      const sv = await this.http.get<SchemaBody & { id: number }>(`/subjects/${subject}/versions/${v}`);
      if (!sv || typeof sv.id !== 'number') continue; // deleted meanwhile
      this.parse(sv.id, sv);
      ids.add(sv.id);
      seen.add(v);
    }
  }

  private parse(id: number, body: SchemaBody): Type {
    if (body.schemaType && body.schemaType !== 'AVRO') throw new DecodeError('FOREIGN_SCHEMA', `schema id ${id} is a ${body.schemaType} schema, not Avro`);
    let t = this.types.get(id);
    if (!t) {
      try {
        t = readerType(JSON.parse(body.schema));
      } catch (err) {
        // Not a schema this codec can read the record with: the record's fault, never a crash of the partition.
        throw new DecodeError('FOREIGN_SCHEMA', `schema id ${id} is not an Avro schema Attune can read: ${String((err as Error).message).slice(0, 120)}`, err);
      }
      this.types.set(id, t);
    }
    return t;
  }
}

function rejection(why: Rejection, id: number, subject: string | undefined): DecodeError {
  return why === 'UNKNOWN_SCHEMA'
    ? new DecodeError('UNKNOWN_SCHEMA', `schema id ${id} is not known to the registry`)
    : new DecodeError('FOREIGN_SCHEMA', `schema id ${id} is not a version of subject ${subject}: the record was written for another topic`);
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
    consent: toConsent(r.consent),
    recommendationId: str(r.recommendationId),
    knownUserId: str(r.knownUserId),
    profile: str(r.profile),
  };
}

/**
 * The consent choices of a decoded record: null when the field is absent (records of writers older than the field)
 * or null. Elements of an unexpected shape are kept with their raw values, so validation (BAD_CONSENT) refuses the
 * event instead of the mapping silently dropping a choice.
 */
function toConsent(v: unknown): UserEvent['consent'] {
  if (v === null || v === undefined) return null;
  type Status = NonNullable<UserEvent['consent']>[number]['status'];
  // 'unknown' (the enum's default for symbols a newer writer adds) is not a status: validation refuses it.
  if (!Array.isArray(v)) return [{ purpose: '', status: 'unknown' as Status }];
  return v.map((c) => {
    const o = (c ?? {}) as Record<string, unknown>;
    return { purpose: typeof o.purpose === 'string' ? o.purpose : '', status: (typeof o.status === 'string' ? o.status : 'unknown') as Status };
  });
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
