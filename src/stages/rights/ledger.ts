/**
 * The erasure ledger (docs/privacy.md, "No resurrection"): `<prefix>.erasures`, compacted, keyed by the erased
 * user's pseudonym, value `{"v":1,"topic","partition","offset","at"}` (`at` = the erase record's Kafka timestamp).
 * Every worker holds all of it in memory: loaded from the topic before its consumer joins (and again on every
 * assignment, so a partition taken over from another worker sees the erasures that worker appended), plus the
 * entries it appends itself. The rights stage skips every event of a user before the user's recorded erasure.
 *
 * Why skipping is exact: an entry is appended only after the micro-batch holding the erasure was fully processed
 * (the erase stage runs after emit), so every event before it was already applied and emitted; a replay or a
 * rebuild that skips them changes nothing — except that a rebuilt state does not resurrect the erased user, not
 * even in anonymous aggregates.
 *
 * Key rotation: with ATTUNE_PSEUDONYM_KEY_PREVIOUS set, entries recorded under the previous key's pseudonyms match
 * too (`lookup` takes the real id and tries both).
 */
import type { StreamProducer } from '../../kafka/port.js';
import type { ReadRecord } from '../../output/read-topic.js';
import type { Pseudonymizer } from './pseudonym.js';

export interface LedgerEntry {
  v: 1;
  topic: string;
  partition: number;
  offset: number;
  /** The erase record's Kafka timestamp (ms). */
  at: number;
}

/**
 * Whether an event at (topic, partition, offset, timestamp) is before the recorded erasure: on the erasure's own
 * partition by offset (the erase event itself is not: it passes again as a reset, and its sweep is redone), on any
 * other partition by record timestamp (a user's events move partitions only when the partition count changes).
 */
export function erasedBefore(e: LedgerEntry, topic: string, partition: number, offset: number, timestamp: number): boolean {
  if (e.topic === topic && e.partition === partition) return offset < e.offset;
  return timestamp < e.at;
}

/** The entry of a ledger record's value, or null when it is not one (another writer, a future version). */
export function parseLedgerValue(value: Buffer | string | null): LedgerEntry | null {
  if (value === null) return null;
  try {
    const o = JSON.parse(value.toString()) as Record<string, unknown>;
    if (o.v !== 1 || typeof o.topic !== 'string' || !Number.isInteger(o.partition) || !Number.isInteger(o.offset) || typeof o.at !== 'number') return null;
    return { v: 1, topic: o.topic, partition: o.partition as number, offset: o.offset as number, at: o.at };
  } catch {
    return null;
  }
}

export function ledgerValue(e: LedgerEntry): string {
  return JSON.stringify({ v: 1, topic: e.topic, partition: e.partition, offset: e.offset, at: e.at });
}

/** The later of two entries of one user (a user erased twice: the second erasure is what counts). */
function later(a: LedgerEntry | undefined, b: LedgerEntry): LedgerEntry {
  if (!a) return b;
  return a.at !== b.at ? (a.at > b.at ? a : b) : a.offset >= b.offset ? a : b;
}

export interface ErasureLedgerDeps {
  current: Pseudonymizer;
  /** ATTUNE_PSEUDONYM_KEY_PREVIOUS, during a key rotation. */
  previous?: Pseudonymizer;
  /** Reads the whole ledger topic (readTopicToEnd). */
  read: () => Promise<ReadRecord[]>;
  producer: StreamProducer;
  topic: string;
}

export class ErasureLedger {
  private readonly byPseudonym = new Map<string, LedgerEntry>();
  constructor(private readonly d: ErasureLedgerDeps) {}

  get size(): number {
    return this.byPseudonym.size;
  }

  /** Reads the topic (again): entries already known stay, later ones replace them. Returns the entries read. */
  async load(): Promise<number> {
    const records = await this.d.read();
    let n = 0;
    for (const r of records) {
      const e = r.key ? parseLedgerValue(r.value) : null;
      if (!e || !r.key) continue;
      this.add(r.key, e);
      n++;
    }
    return n;
  }

  /** Records an entry in memory only (a loaded record, or tests). */
  add(pseudonym: string, e: LedgerEntry): void {
    this.byPseudonym.set(pseudonym, later(this.byPseudonym.get(pseudonym), e));
  }

  /** The user's recorded erasure, under the current key's pseudonym or the previous key's. */
  lookup(userId: string): LedgerEntry | undefined {
    const a = this.byPseudonym.get(this.d.current.pseudonym(userId));
    const b = this.d.previous ? this.byPseudonym.get(this.d.previous.pseudonym(userId)) : undefined;
    return b ? later(a, b) : a;
  }

  /** Whether this very entry is recorded (a replay of the micro-batch need not append it again). */
  has(pseudonym: string, e: LedgerEntry): boolean {
    const k = this.byPseudonym.get(pseudonym);
    return !!k && k.topic === e.topic && k.partition === e.partition && k.offset >= e.offset;
  }

  /**
   * Appends entries (one record each, keyed by pseudonym) and waits for the broker's ack before they count: an
   * entry the broker may not hold must not make this worker skip events a successor would process.
   */
  async append(entries: ReadonlyArray<{ pseudonym: string; entry: LedgerEntry }>): Promise<void> {
    const todo = entries.filter((x) => !this.has(x.pseudonym, x.entry));
    if (todo.length === 0) return;
    await this.d.producer.send(this.d.topic, todo.map((x) => ({ key: x.pseudonym, value: Buffer.from(ledgerValue(x.entry)) })));
    for (const x of todo) this.add(x.pseudonym, x.entry);
  }
}
