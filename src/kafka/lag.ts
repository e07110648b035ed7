/** Consumer-group lag of a topic: end offset minus committed offset, summed over partitions. */
import type { StreamAdmin } from './port.js';

export async function groupLag(admin: StreamAdmin, groupId: string, topic: string): Promise<{ lag: number; end: number }> {
  const [ends, committed] = await Promise.all([admin.endOffsets(topic), admin.groupOffsets(groupId, topic)]);
  let lag = 0;
  let end = 0;
  for (const [p, high] of ends) {
    const h = Number(high);
    const c = Number(committed.get(p) ?? -1);
    end += h;
    lag += c < 0 ? h : Math.max(0, h - c);
  }
  return { lag, end };
}
