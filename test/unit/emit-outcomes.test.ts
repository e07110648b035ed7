/**
 * The emit stage's pure accounting: a list produced for a replayed user (header attune.reemitted) is counted
 * apart from new lists and left out of freshness, so a replay after a crash or rebalance neither inflates the
 * emitted count nor reports its old source events as stale lists.
 */
import { describe, it, expect } from 'vitest';
import { countOutcomes } from '../../src/stages/emit/stage.js';
import { REEMITTED_HEADER, listFreshness } from '../../src/stages/emit/freshness.js';
import type { InboundRecord, OutboundRecord } from '../../src/kafka/port.js';
import type { OffsetEvent } from '../../src/stages/ingest/plan.js';

const list = (offset: number, reemitted = false): OutboundRecord => ({
  key: `u${offset}`, value: Buffer.from('list'),
  headers: { 'attune.source': `t:0:${offset}`, ...(reemitted ? { [REEMITTED_HEADER]: 'true' } : {}) },
});
const tombstone = (offset: number): OutboundRecord => ({ key: `u${offset}`, value: null, headers: { 'attune.source': `t:0:${offset}` } });

describe('emit outcomes', () => {
  it('counts new lists, re-emitted lists and tombstones apart', () => {
    expect(countOutcomes([list(1), list(2, true), tombstone(3), list(4), list(5, true)])).toEqual({ emitted: 2, reemitted: 2, tombstone: 1 });
    expect(countOutcomes([])).toEqual({ emitted: 0, reemitted: 0, tombstone: 0 });
  });

  it('measures freshness of new lists only', () => {
    const now = 100_000;
    const records = [1, 2, 3].map((o) => ({ offset: String(o), timestamp: String(now - o * 1000) })) as unknown as InboundRecord[];
    const events = [1, 2, 3].map((o) => ({ offset: o, event: { eventTime: now - o * 2000 } })) as unknown as OffsetEvent[];
    const f = listFreshness([list(1), list(2, true), tombstone(3)], records, events, now);
    expect(f).toEqual([{ eventTime: 2, appendTime: 1 }]);
  });
});
