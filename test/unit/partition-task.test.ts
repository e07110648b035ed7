import { describe, it, expect } from 'vitest';
import { PartitionTask, backoffMs } from '../../src/topology/partition-task.js';
import { StateStoreUnavailableError, ValidationError } from '../../src/errors.js';

const hooks = (cont = () => true) => ({ onRetry: () => {}, shouldContinue: cont, onRecovered: () => {} });

describe('PartitionTask', () => {
  it('runs micro-batches one at a time in submission order', async () => {
    const task = new PartitionTask<number>('t', 0);
    const log: string[] = [];
    const job = (n: number, ms: number) => async () => { log.push(`start ${n}`); await new Promise((r) => setTimeout(r, ms)); log.push(`end ${n}`); return n; };
    const res = await Promise.all([task.submit(job(1, 30), hooks()), task.submit(job(2, 1), hooks())]);
    expect(res).toEqual([1, 2]);
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2']);
    task.close();
  });
  it('retries retriable errors and then succeeds', async () => {
    const task = new PartitionTask<string>('t', 0);
    let calls = 0;
    let recovered = false;
    const res = await task.submit(async () => { if (++calls < 3) throw new StateStoreUnavailableError('down'); return 'ok'; },
      { ...hooks(), onRecovered: () => { recovered = true; } });
    expect(res).toBe('ok');
    expect(calls).toBe(3);
    expect(recovered).toBe(true);
    task.close();
  });
  it('fails fast on non-retriable errors and keeps serving later jobs', async () => {
    const task = new PartitionTask<string>('t', 0);
    await expect(task.submit(async () => { throw new ValidationError('BAD_ID', 'bad'); }, hooks())).rejects.toThrow('bad');
    await expect(task.submit(async () => 'next', hooks())).resolves.toBe('next');
    task.close();
  });
  it('stops retrying when told to', async () => {
    const task = new PartitionTask<string>('t', 0);
    await expect(task.submit(async () => { throw new StateStoreUnavailableError('down'); }, hooks(() => false))).rejects.toThrow('down');
    task.close();
  });
  it('backs off exponentially up to a cap', () => {
    expect(backoffMs(1)).toBe(200);
    expect(backoffMs(2)).toBe(400);
    expect(backoffMs(30)).toBe(10_000);
  });
});
