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
  const metrics = createMetrics();
  const handler = createBatchHandler({
    tasks,
    chains: new Map([[T, chain]]),
    microBatchSize: 3,
    metrics,
    positioned: async () => {},
    atStart: async () => opts.atStart ?? true,
    retryHooks: () => NO_RETRY,
    onStateError: (err, where) => stateErrors.push(`${where} ${err.code}`),
    onProgress: (_task, last) => progress.push(last),
    fencedPauseMs: 1,
    sleep: async () => {},
  });
  return { handler, tasks, stateErrors, progress, metrics, tokens: () => tokens };
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
  it('runs micro-batches in order under one fence token, resolves each, commits as they finish', async () => {
    const seen: Array<{ offsets: string[]; token: number | undefined }> = [];
    const { handler, progress, tokens } = setUp(recordingChain(seen));
    const f = fakeBatch(T, 0, [10, 11, 12, 13, 14, 15, 16]);
    await handler(f.batch);
    expect(seen.map((s) => s.offsets)).toEqual([['10', '11', '12'], ['13', '14', '15'], ['16']]);
    expect(seen.every((s) => s.token === 1)).toBe(true);
    expect(tokens()).toBe(1);
    expect(f.resolved).toEqual(['12', '15', '16']);
    expect(progress).toEqual([12, 15, 16]);
    // after each micro-batch (the port's commit is "if the interval is due"), the last one's after the loop
    expect(f.committed).toEqual(['12', '15', '16']);
    expect(f.forced).toBe(1); // the first micro-batch of the assignment commits at once
    const later = fakeBatch(T, 0, [17, 18]);
    await handler(later.batch);
    expect([later.committed, later.forced]).toEqual([['18'], 0]);
  });

  it('reports the partition\'s lag from the batch\'s start and after each micro-batch, not for a revoked partition', async () => {
    const during: number[] = [];
    let metrics!: ReturnType<typeof setUp>['metrics'];
    const t = setUp(async () => { during.push(metrics.consumerLag.snapshot(Date.now())[0].records); });
    metrics = t.metrics;
    const f = fakeBatch(T, 0, [10, 11, 12, 13, 14, 15, 16]);
    (f.batch as { highWatermark: string }).highWatermark = '25'; // 8 more records appended since the fetch
    const now = Date.now();
    for (const r of f.batch.records) r.timestamp = String(now - 60_000 + Number(r.offset) * 1000);
    await t.handler(f.batch);
    expect(during).toEqual([15, 12, 9]);
    const [lag] = metrics.consumerLag.snapshot(now);
    expect(lag).toMatchObject({ topic: T, partition: 0, records: 8 });
    expect(lag.seconds).toBe(44); // the last processed record's age stands in for the unfetched next one's

    const other = setUp(async () => {}, { assigned: [1] });
    await other.handler(fakeBatch(T, 0, [10, 11]).batch);
    expect(other.metrics.consumerLag.snapshot(now)).toEqual([]);
  });

  it('never lets a micro-batch straddle a recovery cut, then forgets the cuts it passed', async () => {
    const seen: Array<{ offsets: string[]; token: number | undefined }> = [];
    const { handler, tasks } = setUp(recordingChain(seen));
    tasks.get(T, 0).owner.recoveryCuts = [11, 12, 20];
    await handler(fakeBatch(T, 0, [10, 11, 12, 13, 14]).batch);
    expect(seen.map((s) => s.offsets)).toEqual([['10', '11'], ['12'], ['13', '14']]);
    expect(tasks.get(T, 0).owner.recoveryCuts).toEqual([20]);
  });

  it('a fence refusal drops the rest unresolved, and later batches of the partition are not run', async () => {
    const seen: Array<{ offsets: string[]; token: number | undefined }> = [];
    const { handler, tasks } = setUp(recordingChain(seen, (r) => (r[0].offset === '13' ? new FencedError('newer owner') : undefined)));
    const f = fakeBatch(T, 0, [10, 11, 12, 13, 14, 15, 16]);
    await handler(f.batch);
    expect(f.resolved).toEqual(['12']);
    expect(f.committed).toEqual(['12', '12']);
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
    expect(f.committed).toEqual(['12']); // the micro-batch before the loss; nothing after it
  });

  it('another non-retriable error is retried, then bisected: the record failing alone is quarantined, the rest applied once', async () => {
    const runs: Array<{ offsets: string[]; quarantined: string[] }> = [];
    const chain: ChainRunner = async (_t, _p, records, q) => {
      runs.push({ offsets: records.map((r) => r.offset), quarantined: [...(q?.keys() ?? [])] });
      if (records.some((r) => r.offset === '13' && !q?.has(r.offset))) throw new RangeError('Invalid time value');
    };
    const { handler } = setUp(chain);
    const f = fakeBatch(T, 0, [10, 11, 12, 13, 14, 15]);
    await handler(f.batch);
    expect(runs).toEqual([
      { offsets: ['10', '11', '12'], quarantined: [] },
      { offsets: ['13', '14', '15'], quarantined: [] }, // fails
      { offsets: ['13', '14', '15'], quarantined: [] }, // retry 1
      { offsets: ['13', '14', '15'], quarantined: [] }, // retry 2
      { offsets: ['13', '14'], quarantined: [] }, // first half fails
      { offsets: ['13'], quarantined: [] }, // fails alone
      { offsets: ['13'], quarantined: ['13'] }, // dead-lettered by the chain
      { offsets: ['14'], quarantined: [] },
      { offsets: ['15'], quarantined: [] }, // second half of the micro-batch
    ]);
    expect(f.resolved).toEqual(['12', '15']);
    expect(f.committed).toEqual(['12', '15']);
  });

  it('passes the quarantined error on to the chain, and counts the isolated record', async () => {
    const got: unknown[] = [];
    const metrics = createMetrics();
    const tasks = new Tasks(async () => 1);
    tasks.assign([{ topic: T, partitions: [0] }]);
    const handler = createBatchHandler({
      tasks, metrics, microBatchSize: 10, positioned: async () => {}, atStart: async () => true, retryHooks: () => NO_RETRY,
      onStateError: () => {}, onProgress: () => {}, isolationRetries: 0,
      chains: new Map([[T, async (_t: string, _p: number, records: InboundRecord[], q?: ReadonlyMap<string, unknown>) => {
        if (q?.size) return void got.push(...q.values());
        if (records.some((r) => r.offset === '2' || r.offset === '5')) throw new SyntaxError('Unexpected token');
      }]]),
    });
    await handler(fakeBatch(T, 0, [0, 1, 2, 3, 4, 5, 6]).batch);
    expect(got.map((e) => (e as Error).name)).toEqual(['SyntaxError', 'SyntaxError']);
    expect((await metrics.isolated.get()).values[0].value).toBe(2);
  });

  it('a fence refusal or a lost state during a bisection is not isolated: handled as at the top', async () => {
    const fenced = setUp(async (_t, _p, records) => {
      if (records.length > 1) throw new TypeError('a bug');
      if (records[0].offset === '11') throw new FencedError('newer owner');
    });
    const f = fakeBatch(T, 0, [10, 11, 12]);
    await fenced.handler(f.batch);
    expect(fenced.tasks.get(T, 0).owner.fencedOut).toBe(true);
    expect(f.resolved).toEqual([]);

    const lost = setUp(async (_t, _p, records) => {
      if (records.length > 1) throw new TypeError('a bug');
      throw new StateLostError('guard gone');
    });
    await lost.handler(fakeBatch(T, 0, [10, 11]).batch);
    expect(lost.stateErrors).toEqual([`${T}:0 STATE_LOST`]);
  });

  it('rethrows when even the quarantined run fails (its dead letter cannot be written), unless the consumer is stopping', async () => {
    const boom = () => new ValidationError('BAD_ID', 'the dead-letter topic refuses writes');
    const { handler } = setUp(recordingChain([], () => boom()));
    await expect(handler(fakeBatch(T, 0, [10, 11]).batch)).rejects.toThrow('the dead-letter topic refuses writes');

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
