/**
 * The shared model (#12): every worker's in-memory co-occurrence model applies every other worker's deltas, like a
 * Kafka Streams GlobalKTable fed by a changelog. Redis rows (`{i}:co`) stay the durable model; the changelog topic
 * `<prefix>.model-changelog` only carries it live between workers.
 *
 *  - **Publish.** After a micro-batch's rows are written (and before its users are committed), the recommend stage
 *    publishes the same combined deltas: one or more records (cut by size, `part` of `parts`), keyed by the source
 *    partition, carrying the state epoch, the source `o:<topic>:<partition>` and the micro-batch's last offset.
 *  - **Gates.** A worker holds, per source, the (last offset, part) of the newest deltas its model holds, and the
 *    highest fence token (guard.ts) among them; a record at or below the gate is a copy (a replay after a crash
 *    publishes the same batch again), and one with a lower token comes from an owner revoked since (its late
 *    produce): both are skipped. A source's records arrive in offset order: a micro-batch never crosses an
 *    in-flight cut (events-chain.ts), so a replay publishes the same `last` as the attempt it repeats, and
 *    successive owners publish ascending ranges. A micro-batch the worker learns itself raises the gate (with its
 *    token) before the model learns it, so its own records coming back, and a previous owner's copy landing late,
 *    are skipped.
 *  - **Start-up.** A starting worker reads the changelog's end E0, loads the rows (warm-up), reads the end E1, then
 *    applies the changelog from E0. A record before E0 was produced after its rows were written, so before the
 *    warm-up read them: skipped. Between E0 and E1 a record may or may not be in a row the warm-up read (other
 *    workers write meanwhile): each row's own applied offset for the record's source (`o:` field, loaded with the
 *    row) decides, row by row. After E1 every record is newer than every row read.
 *  - **Takeover.** On an assignment the worker reads the changelog to its end before the first micro-batch (the
 *    previous owner's last records are then in the model), and a micro-batch whose gate already covers it is
 *    learned for its users only: its deltas are not applied a second time, and not published again when they came
 *    from the changelog (a retry of the worker's own attempt, which may not have published yet, publishes).
 *  - **Epochs.** A record of another state epoch (before a rebuild, or another deployment on the same topics) is
 *    skipped.
 * What is not exact: an attempt that fails after the model learned it (failure isolation then bisects it) leaves
 * its deltas in this worker's memory, a quarantined record's included, until the next start; the halves publish
 * their own deltas for the other workers, and the rows in Redis hold each record once.
 */
import { randomUUID } from 'node:crypto';
import type { StreamClient, StreamConsumer, StreamProducer } from '../../kafka/port.js';
import { chunkByCost } from '../../chunks.js';
import { Keys } from '../../stores/keys.js';
import { currentFence } from '../../stores/guard.js';
import { errorMessage } from '../../errors.js';
import { log } from '../../log.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { Recommender, RowDelta } from './model/recommender.js';

export interface ChangelogRecord {
  v: 1;
  /** The state epoch the deltas belong to (stores/bootstrap.ts). */
  epoch: string;
  /** The source partition's applied field, `o:<topic>:<partition>`. */
  src: string;
  /** The micro-batch's last source offset. */
  last: number;
  part: number;
  parts: number;
  /** The publishing owner's fence token for the source partition (0 outside a fenced job). */
  fence: number;
  rows: RowDelta[];
}

/** A record's value at most this many bytes (estimated): well under the broker's default 1 MB message size. */
export const MAX_CHANGELOG_RECORD_BYTES = 256 * 1024;

/** The rows of a micro-batch as the row scripts take them (field `i:<item>` or `_n`) as row deltas. */
export function rowDeltasOf(rows: ReadonlyMap<string, ReadonlyArray<readonly [string, number]>>): RowDelta[] {
  const out: RowDelta[] = [];
  for (const [item, fields] of rows) {
    let norm = 0;
    const pairs: Array<[string, number]> = [];
    for (const [f, inc] of fields) {
      const p = Keys.parseCoocField(f);
      if (p.kind === 'norm') norm += inc;
      else if (p.kind === 'pair') pairs.push([p.itemId, inc]);
    }
    out.push([item, norm, pairs]);
  }
  return out;
}

/** The records of one micro-batch's deltas, cut by size (a row is never split). */
export function changelogRecords(epoch: string, src: string, last: number, fence: number, rows: RowDelta[], maxBytes = MAX_CHANGELOG_RECORD_BYTES): ChangelogRecord[] {
  const cost = (r: RowDelta) => r[0].length + 32 + r[2].reduce((n, [o]) => n + o.length + 28, 0);
  const chunks = rows.length ? chunkByCost(rows, cost, maxBytes) : [];
  return chunks.map((c, part) => ({ v: 1, epoch, src, last, part, parts: chunks.length, fence, rows: c }));
}

/**
 * The header that repeats a record's gate fields (epoch, src, last, part, fence), so that a reader skips a record its
 * model holds (a worker's own records all come back to it) without parsing the value, up to 256 KB of JSON. A
 * record without it (an older writer) is parsed as before.
 */
export const CHANGELOG_GATE_HEADER = 'attune.gate';

export function gateHeader(r: ChangelogRecord): string {
  return JSON.stringify([r.epoch, r.src, r.last, r.part, r.fence]);
}

/** The gate fields of a record's header, or null when it has none or it does not read (the value decides then). */
export function parseGateHeader(h: Buffer | string | undefined): Pick<ChangelogRecord, 'epoch' | 'src' | 'last' | 'part' | 'fence'> | null {
  if (h === undefined) return null;
  try {
    const a = JSON.parse(h.toString()) as unknown;
    if (!Array.isArray(a) || a.length !== 5) return null;
    const [epoch, src, last, part, fence] = a as [unknown, unknown, unknown, unknown, unknown];
    if (typeof epoch !== 'string' || typeof src !== 'string' || !Number.isInteger(last) || !Number.isInteger(part) || !Number.isFinite(fence)) return null;
    return { epoch, src, last: last as number, part: part as number, fence: fence as number };
  } catch {
    return null;
  }
}

/** A changelog record's value, or null when it is not one (another writer, a future version, damage). */
export function parseChangelogRecord(value: Buffer | null): ChangelogRecord | null {
  if (value === null) return null;
  try {
    const r = JSON.parse(value.toString('utf8')) as ChangelogRecord;
    if (r?.v !== 1 || typeof r.epoch !== 'string' || typeof r.src !== 'string' || !Number.isInteger(r.last)
      || !Number.isInteger(r.part) || !Number.isInteger(r.parts) || !Number.isFinite(r.fence) || !Array.isArray(r.rows)) return null;
    for (const row of r.rows) {
      if (!Array.isArray(row) || typeof row[0] !== 'string' || typeof row[1] !== 'number' || !Array.isArray(row[2])) return null;
      for (const p of row[2]) if (!Array.isArray(p) || typeof p[0] !== 'string' || typeof p[1] !== 'number' || !Number.isFinite(p[1])) return null;
    }
    return r;
  } catch {
    return null;
  }
}

/** Which records a worker's model holds (the header's gates). Pure. */
export class ChangelogGates {
  /** Per source: the newest (last, part) the model holds, and the highest fence token among them. */
  private readonly bySource = new Map<string, { last: number; part: number; fence: number }>();
  /** Per source: the newest `last` the model took from the changelog (someone published it). */
  private readonly remote = new Map<string, number>();
  /** The rows' applied offsets read at warm-up, per source then row; used for records before `warmUntil`. */
  private warm: Map<string, Map<string, number>> | null = null;
  private warmUntil = -1;

  /** The warm-up's row gates, for the records at changelog offsets below `until`. */
  setWarm(gates: Map<string, Map<string, number>>, until: number): void {
    this.warm = gates;
    this.warmUntil = until;
  }

  /** Whether the model holds the micro-batch of `src` ending at `last` (learned here, or from the changelog). */
  holds(src: string, last: number): boolean {
    const g = this.bySource.get(src);
    return g !== undefined && g.last >= last;
  }

  /** Whether the micro-batch's deltas came from the changelog: someone published them already. */
  published(src: string, last: number): boolean {
    return (this.remote.get(src) ?? -1) >= last;
  }

  /** The worker learns the micro-batch itself, as the owner holding `fence` (before its model does). Gates only rise. */
  learned(src: string, last: number, fence: number): void {
    const g = this.bySource.get(src);
    if (!g) this.bySource.set(src, { last, part: Infinity, fence });
    else {
      if (last > g.last || (last === g.last && g.part !== Infinity)) Object.assign(g, { last, part: Infinity });
      g.fence = Math.max(g.fence, fence);
    }
  }

  /** Whether the model holds the record (src, last, part), or it comes from an owner revoked since (fence). */
  held(r: Pick<ChangelogRecord, 'src' | 'last' | 'part' | 'fence'>): boolean {
    const g = this.bySource.get(r.src);
    return g !== undefined && (r.fence < g.fence || r.last < g.last || (r.last === g.last && r.part <= g.part));
  }

  /** The rows of `r` (at changelog `offset`) the model must apply; null when it holds all of it. */
  admit(r: ChangelogRecord, offset: number): RowDelta[] | null {
    const g = this.bySource.get(r.src);
    if (this.held(r)) return null;
    this.bySource.set(r.src, { last: r.last, part: r.part, fence: Math.max(g?.fence ?? 0, r.fence) });
    this.remote.set(r.src, r.last);
    if (this.warm && offset < this.warmUntil) {
      const rowGates = this.warm.get(r.src);
      const rows = rowGates ? r.rows.filter(([item]) => (rowGates.get(item) ?? -1) < r.last) : r.rows;
      return rows.length ? rows : null;
    }
    if (this.warm && offset >= this.warmUntil) this.warm = null; // every later record is newer than the warm-up
    return r.rows;
  }
}

/** The running job's fence token (guard.ts), 0 outside a fenced job (tests that call a stage directly). */
function fenceToken(): number {
  const t = Number(currentFence()?.token ?? 0);
  return Number.isFinite(t) ? t : 0;
}

export interface ModelChangelogDeps {
  kafka: StreamClient;
  producer: StreamProducer;
  topic: string;
  /** The state epoch of this worker's state. */
  epoch: string;
  rec: Recommender;
  metrics: Metrics;
  groupPrefix: string;
}

/** Publishes this worker's deltas and applies the others' (the header). */
export class ModelChangelog {
  readonly gates = new ChangelogGates();
  private consumer: StreamConsumer | null = null;
  /** The next changelog offset to read. */
  private position = 0;
  private readonly waiters: Array<{ offset: number; resolve: () => void }> = [];

  constructor(private readonly d: ModelChangelogDeps) {}

  /**
   * What the recommend stage does with a micro-batch of `src` ending at `last` it is about to learn: whether its
   * model must apply the deltas (it does not hold them yet: the gate is raised now, before it learns them) and
   * whether to publish them (they did not come from the changelog). Call inside the micro-batch's fenced job.
   */
  learning(src: string, last: number): { apply: boolean; publish: boolean } {
    const apply = !this.gates.holds(src, last);
    if (apply) this.gates.learned(src, last, fenceToken());
    return { apply, publish: !this.gates.published(src, last) };
  }

  /** Publishes a micro-batch's deltas (rows as the row scripts take them), stamped with the job's fence token. */
  async publish(src: string, last: number, rows: ReadonlyMap<string, ReadonlyArray<readonly [string, number]>>): Promise<void> {
    const records = changelogRecords(this.d.epoch, src, last, fenceToken(), rowDeltasOf(rows));
    if (records.length === 0) return;
    await this.d.producer.send(this.d.topic, records.map((r) => ({ key: src, value: Buffer.from(JSON.stringify(r)), headers: { [CHANGELOG_GATE_HEADER]: gateHeader(r) } })));
  }

  /** The changelog's end offset now. */
  async endOffset(): Promise<number> {
    const admin = this.d.kafka.admin();
    await admin.connect();
    try {
      return Number((await admin.endOffsets(this.d.topic)).get(0) ?? 0);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  /**
   * Starts reading at `from` (the end read before the warm-up) with the warm-up's row gates for records before
   * `warmUntil` (the end read after it); resolves once the reader is there.
   */
  async start(from: number, warmGates: Map<string, Map<string, number>>, warmUntil: number): Promise<void> {
    this.gates.setWarm(warmGates, warmUntil);
    this.position = from;
    const consumer = this.d.kafka.consumer({ groupId: `${this.d.groupPrefix}-model-${randomUUID()}` });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe([this.d.topic]);
    await consumer.run(async (batch) => {
      for (const m of batch.records) {
        const offset = Number(m.offset);
        if (offset >= this.position) {
          this.apply(m.value, offset, Number(m.timestamp), m.headers[CHANGELOG_GATE_HEADER]);
          this.position = offset + 1;
        }
        batch.resolveOffset(m.offset);
      }
      this.wake();
    }, { partitionsConsumedConcurrently: 1, commitOffsets: false });
    consumer.seek(this.d.topic, 0, String(from));
    await this.caughtUp(warmUntil);
  }

  /** Resolves once every record before `offset` was read (e.g. the end read when a partition was assigned). */
  caughtUp(offset: number): Promise<void> {
    if (this.position >= offset || !this.consumer) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ offset, resolve }));
  }

  private wake(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.position >= this.waiters[i]!.offset) this.waiters.splice(i, 1)[0]!.resolve();
    }
  }

  private apply(value: Buffer | null, offset: number, timestamp: number, gate?: Buffer | string): void {
    const { metrics } = this.d;
    // Held or of another epoch by its header: skipped unparsed (the value says the same; see CHANGELOG_GATE_HEADER).
    const h = parseGateHeader(gate);
    if (h && h.epoch !== this.d.epoch) {
      metrics.changelogRecords.inc({ outcome: 'other_epoch' });
      return;
    }
    if (h && this.gates.held(h)) {
      metrics.changelogRecords.inc({ outcome: 'held' });
      return;
    }
    const r = parseChangelogRecord(value);
    if (!r) {
      metrics.changelogRecords.inc({ outcome: 'unreadable' });
      return;
    }
    if (r.epoch !== this.d.epoch) {
      metrics.changelogRecords.inc({ outcome: 'other_epoch' });
      return;
    }
    const rows = this.gates.admit(r, offset);
    if (!rows) {
      metrics.changelogRecords.inc({ outcome: 'held' });
      return;
    }
    try {
      this.d.rec.applyRowDeltas(rows);
      metrics.changelogRecords.inc({ outcome: 'applied' });
      if (Number.isFinite(timestamp) && timestamp > 0) metrics.changelogDelaySeconds.observe(Math.max(0, Date.now() - timestamp) / 1000);
    } catch (err) {
      metrics.changelogRecords.inc({ outcome: 'unreadable' });
      log.warn({ offset, err: errorMessage(err) }, 'model changelog record could not be applied: skipped');
    }
  }

  async stop(): Promise<void> {
    for (const w of this.waiters.splice(0)) w.resolve();
    if (!this.consumer) return;
    await this.consumer.stop().catch(() => {});
    await this.consumer.disconnect().catch(() => {});
  }
}
