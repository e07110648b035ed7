/**
 * An in-memory stand-in for the segments stage's Redis state with the Lua scripts' semantics (CAS on the user's and
 * the partition's offsets, counts applied once per source offset), loading what the processor loads
 * (`batchInputs`). The unit tests of the batch core run micro-batches, cuts and crashes through it.
 */
import { expect } from 'vitest';
import { emptyFeatureState } from '../../src/stages/segments/features/index.js';
import { batchInputs, runSegmentBatch, type BatchOptions, type BatchPartitionState } from '../../src/stages/segments/batch.js';
import type { PendingChange, StoredUser } from '../../src/stages/segments/stored.js';
import type { OffsetEvent } from '../../src/stages/ingest/plan.js';

export const freshStoredUser = (): StoredUser => ({ features: emptyFeatureState(), segments: [], due: null, offset: -1, pending: [], since: {} });

export class FakeSegmentStore {
  constructor(private readonly opts: BatchOptions) {}

  users = new Map<string, StoredUser>();
  part: BatchPartitionState = { watermark: null, offset: -1, late: [], pending: [] };
  timers = new Map<string, number>();
  progress = -1;
  counts = new Map<string, number>();
  countsApplied = -1;
  emitted: PendingChange[] = [];
  dlq: number[] = [];

  loadUser(id: string): StoredUser {
    return structuredClone(this.users.get(id) ?? freshStoredUser());
  }

  /** One micro-batch; `crashAfter` = number of write stages to perform before "crashing" (Infinity = none). */
  process(records: OffsetEvent[], crashAfter = Infinity): boolean {
    const stored = structuredClone(this.part);
    const { users: withRecords, maxWatermark } = batchInputs(records, stored);
    const due = maxWatermark === null ? [] : [...this.timers].filter(([, d]) => d <= maxWatermark).map(([id]) => id);
    const users = new Map<string, StoredUser>();
    for (const id of new Set([...withRecords, ...due])) users.set(id, this.loadUser(id));
    const res = runSegmentBatch(records, stored, users, this.progress, this.opts);
    let stage = 0;
    const step = () => stage++ < crashAfter;
    for (const [id, w] of res.writes) {
      if (!step()) return false;
      expect(this.users.get(id)?.offset ?? -1).toBe(w.expectedOffset); // CAS
      this.users.set(id, structuredClone(w.next));
    }
    if (!step()) return false;
    expect(this.part.offset).toBe(stored.offset);
    this.part = structuredClone(res.partition);
    for (const [id, d] of res.timers) if (d === false) this.timers.delete(id); else this.timers.set(id, d);
    if (!step()) return false;
    for (const c of res.changes) if (c.o > this.countsApplied && c.o <= res.partition.offset) this.counts.set(c.segmentId, (this.counts.get(c.segmentId) ?? 0) + (c.change === 'enter' ? 1 : -1));
    this.countsApplied = Math.max(this.countsApplied, res.partition.offset);
    if (!step()) return false;
    this.emitted.push(...res.changes);
    this.dlq.push(...res.tooLate.map((r) => r.offset));
    if (!step()) return false;
    this.progress = Math.max(this.progress, records[records.length - 1]!.offset);
    return true;
  }
}

