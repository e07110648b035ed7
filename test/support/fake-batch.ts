/** An in-memory PartitionBatch (the Kafka port) for unit tests of the runtime: records what the handler did. */
import type { InboundRecord, PartitionBatch } from '../../src/kafka/port.js';

export interface FakeBatch {
  batch: PartitionBatch;
  resolved: string[];
  commits: number;
  /** How many of the commits were forced (`now`). */
  forced: number;
  /** The last resolved offset at each commit call (undefined: none resolved yet). */
  committed: Array<string | undefined>;
  heartbeats: number;
  running: boolean;
  stale: boolean;
}

export function record(offset: number): InboundRecord {
  return { offset: String(offset), key: null, value: null, timestamp: '0', headers: {} };
}

export function fakeBatch(topic: string, partition: number, offsets: number[]): FakeBatch {
  const f: FakeBatch = {
    resolved: [], commits: 0, forced: 0, committed: [], heartbeats: 0, running: true, stale: false,
    batch: {
      topic,
      partition,
      records: offsets.map(record),
      highWatermark: String(offsets[offsets.length - 1] + 1),
      resolveOffset: (o) => { f.resolved.push(o); },
      heartbeat: async () => { f.heartbeats++; },
      commit: async (now) => { f.commits++; if (now) f.forced++; f.committed.push(f.resolved[f.resolved.length - 1]); },
      isRunning: () => f.running,
      isStale: () => f.stale,
      pause: () => () => {},
    },
  };
  return f;
}
