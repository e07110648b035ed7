import { describe, it, expect } from 'vitest';
import { createBatchHandler, microBatch, type ChainRunner } from '../../src/topology/batch-handler.js';
import { Tasks } from '../../src/topology/tasks.js';
import { NO_RETRY } from '../../src/topology/partition-task.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { currentFence } from '../../src/stores/guard.js';
import { FencedError, StateLostError, ValidationError } from '../../src/errors.js';
import type { InboundRecord } from '../../src/kafka/port.js';
import { fakeBatch } from '../support/fake-batch.js';

const T = 'attune.events';

function setUp(chain: ChainRunner, opts: { atStart?: boolean; assigned?: number[] } = {}) {
  let tokens = 0;
  const tasks = new Tasks(async () => ++tokens);
  tasks.assign([{ topic: T, partitions: opts.assigned ?? [0] }]);
  const stateErrors: string[] = [];
  const progress: number[] = [];
  const handler = createBatchHandler({
    tasks,
    chains: new Map([[T, chain]]),
    microBatchSize: 3,
    metrics: createMetrics(),
    positioned: async () => {},
    atStart: async () => opts.atStart ?? true,
    retryHooks: () => NO_RETRY,
    onStateError: (err, where) => stateErrors.push(`${where} ${err.code}`),
    onProgress: (_task, last) => progress.push(last),
    fencedPauseMs: 1,
  });
  return { handler, tasks, stateErrors, progress, tokens: () => tokens };
}

/** A chain that records each micro-batch's offsets and the fence token it ran under. */
function recordingChain(seen: Array<{ offsets: string[]; token: number | undefined }>, fail?: (records: InboundRecord[]) => unknown): ChainRunner {
  return async (_t, _p, records) => {
    seen.push({ offsets: records.map((r) => r.offset), token: currentFence()?.token });
    const err = fail?.(records);
    if (err) throw err;
  };
}

describe('batch handler', () => {
  it('runs micro-batches in order under one fence token, resolves each, commits once', async () => {
    const seen: Array<{ offsets: string[]; token: number | undefined }> = [];
    const { handler, progress, tokens } = setUp(recordingChain(seen));
    const f = fakeBatch(T, 0, [10, 11, 12, 13, 14, 15, 16]);
    await handler(f.batch);
    expect(seen.map((s) => s.offsets)).toEqual([['10', '11', '12'], ['13', '14', '15'], ['16']]);
    expect(seen.every((s) => s.token === 1)).toBe(true);
    expect(tokens()).toBe(1);
    expect(f.resolved).toEqual(['12', '15', '16']);
    expect(progress).toEqual([12, 15, 16]);
    expect(f.commits).toBe(1);
  });

  it('never lets a micro-batch straddle the recovery cut, then forgets the cut', async () => {
    const seen: Array<{ offsets: string[]; token: number | undefined }> = [];
    const { handler, tasks } = setUp(recordingChain(seen));
    tasks.get(T, 0).owner.recoveryCut = 11;
    await handler(fakeBatch(T, 0, [10, 11, 12, 13, 14]).batch);
    expect(seen.map((s) => s.offsets)).toEqual([['10', '11'], ['12', '13', '14']]);
    expect(tasks.get(T, 0).owner.recoveryCut).toBeUndefined();
  });

  it('a fence refusal drops the rest unresolved, and later batches of the partition are not run', async () => {
    const seen: Array<{ offsets: string[]; token: number | undefined }> = [];
    const { handler, tasks } = setUp(recordingChain(seen, (r) => (r[0].offset === '13' ? new FencedError('newer owner') : undefined)));
    const f = fakeBatch(T, 0, [10, 11, 12, 13, 14, 15, 16]);
    await handler(f.batch);
    expect(f.resolved).toEqual(['12']);
    expect(f.commits).toBe(1);
    expect(tasks.get(T, 0).owner.fencedOut).toBe(true);
    const next = fakeBatch(T, 0, [13, 14]);
    await handler(next.batch);
    expect(seen).toHaveLength(2);
    expect(next.heartbeats).toBe(1);
    expect(next.resolved).toEqual([]);
    expect(next.commits).toBe(0);
  });

  it('a partition that is not assigned any more gets no token and runs nothing', async () => {
    const seen: Array<{ offsets: string[]; token: number | undefined }> = [];
    const { handler, tasks, tokens } = setUp(recordingChain(seen), { assigned: [1] });
    const f = fakeBatch(T, 0, [10, 11]);
    await handler(f.batch);
    expect(seen).toEqual([]);
    expect(tokens()).toBe(0);
    expect(tasks.get(T, 0).owner.fencedOut).toBe(true);
    expect(f.resolved).toEqual([]);
  });

  it('a lost state stops the batch: reported once, nothing resolved or committed after it', async () => {
    const seen: Array<{ offsets: string[]; token: number | undefined }> = [];
    const { handler, stateErrors } = setUp(recordingChain(seen, (r) => (r[0].offset === '13' ? new StateLostError('guard gone') : undefined)));
    const f = fakeBatch(T, 0, [10, 11, 12, 13, 14, 15]);
    await handler(f.batch);
    expect(stateErrors).toEqual([`${T}:0 STATE_LOST`]);
    expect(f.resolved).toEqual(['12']);
    expect(f.commits).toBe(0);
  });

  it('another non-retriable error is rethrown to the client, unless the consumer is stopping', async () => {
    const boom = () => new ValidationError('X', 'a bug, not a record');
    const { handler } = setUp(recordingChain([], () => boom()));
    await expect(handler(fakeBatch(T, 0, [10, 11]).batch)).rejects.toThrow('a bug, not a record');

    const stopping = setUp(async () => { f.running = false; throw boom(); });
    const f = fakeBatch(T, 0, [10, 11, 12, 13]);
    await stopping.handler(f.batch);
    expect(f.resolved).toEqual([]);
    expect(f.commits).toBe(1);
  });

  it('a batch that does not start where the partition must is dropped unprocessed', async () => {
    const seen: Array<{ offsets: string[]; token: number | undefined }> = [];
    const { handler } = setUp(recordingChain(seen), { atStart: false });
    const f = fakeBatch(T, 0, [10, 11]);
    await handler(f.batch);
    expect(seen).toEqual([]);
    expect(f.commits).toBe(0);
  });

  it('stops between micro-batches when the partition is revoked', async () => {
    const seen: Array<{ offsets: string[]; token: number | undefined }> = [];
    const f = fakeBatch(T, 0, [10, 11, 12, 13, 14]);
    const { handler } = setUp(async (t, p, r) => { await recordingChain(seen)(t, p, r); f.stale = true; });
    await handler(f.batch);
    expect(seen).toHaveLength(1);
    expect(f.resolved).toEqual(['12']);
  });
});

describe('microBatch', () => {
  it('takes at most size records and ends at the cut', () => {
    const recs = [5, 6, 7, 8].map((o) => ({ offset: String(o) }));
    expect(microBatch(recs, 0, 3).map((r) => r.offset)).toEqual(['5', '6', '7']);
    expect(microBatch(recs, 0, 3, 6).map((r) => r.offset)).toEqual(['5', '6']);
    expect(microBatch(recs, 2, 3, 8).map((r) => r.offset)).toEqual(['7', '8']);
  });
});
