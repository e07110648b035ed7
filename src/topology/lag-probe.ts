/**
 * The watchdog's lag: end offset minus the progress applied, over this worker's events partitions. What the
 * worker finished since its assignment is known without Redis, so a Redis outage cannot hide the lag.
 */
import type { StreamAdmin } from '../kafka/port.js';
import type { Tasks } from './tasks.js';

export interface LagProbeDeps {
  eventsTopic: string;
  tasks: Tasks;
  admin: Pick<StreamAdmin, 'endOffsets'>;
  readProgress(topic: string, partition: number): Promise<number | null>;
}

export async function probeLag(d: LagProbeDeps): Promise<number> {
  const assigned = d.tasks.assignedPartitions(d.eventsTopic);
  if (assigned.length === 0) return 0;
  const ends = await d.admin.endOffsets(d.eventsTopic);
  let lag = 0;
  for (const p of assigned) {
    const applied = d.tasks.get(d.eventsTopic, p).owner.processedUpTo ?? (await d.readProgress(d.eventsTopic, p)) ?? -1;
    lag += Math.max(0, Number(ends.get(p) ?? 0) - applied - 1);
  }
  return lag;
}
