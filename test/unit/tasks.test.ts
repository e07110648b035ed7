import { describe, it, expect } from 'vitest';
import { Tasks } from '../../src/topology/tasks.js';
import { currentFence } from '../../src/stores/guard.js';
import { FencedError } from '../../src/errors.js';

const T = 'attune.events';

describe('tasks and their ownership state', () => {
  it('takes a fence token once per assignment generation, and a new one after each assignment', async () => {
    const taken: string[] = [];
    const tasks = new Tasks(async (topic, p) => { taken.push(`${topic}:${p}`); return taken.length; });
    tasks.assign([{ topic: T, partitions: [0, 2] }]);
    const t0 = tasks.get(T, 0);
    const seen: Array<number | undefined> = [];
    const job = async () => { seen.push(currentFence()?.token); };
    await tasks.fenced(t0, job);
    await tasks.fenced(t0, job);
    expect(taken).toEqual([`${T}:0`]);
    tasks.assign([{ topic: T, partitions: [0] }]);
    await tasks.fenced(t0, job);
    expect(seen).toEqual([1, 1, 2]);
    expect(currentFence()).toBeUndefined();
  });

  it('a new assignment resets what the old one knew, except the recovery cut that positioning sets', () => {
    const tasks = new Tasks(async () => 1);
    tasks.assign([{ topic: T, partitions: [0, 1] }]);
    const o = tasks.get(T, 1).owner;
    Object.assign(o, { fence: 7, fencedOut: true, startAt: '5', processedUpTo: 9, recoveryCuts: [12] });
    tasks.assign([{ topic: T, partitions: [0] }]);
    expect(o).toMatchObject({ assigned: false, fence: undefined, fencedOut: false, startAt: undefined, processedUpTo: undefined, recoveryCuts: [12] });
    expect(tasks.assignedPartitions(T)).toEqual([0]);
  });

  it('a partition that is not assigned gets no token: its job is refused before it runs', async () => {
    const tasks = new Tasks(async () => 1);
    tasks.assign([{ topic: 'attune.items', partitions: [3] }]);
    let ran = false;
    await expect(tasks.fenced(tasks.get(T, 3), async () => { ran = true; })).rejects.toBeInstanceOf(FencedError);
    expect(ran).toBe(false);
    expect(tasks.assignedPartitions('attune.items')).toEqual([3]);
    expect(tasks.assignedPartitions(T)).toEqual([]);
  });
});
