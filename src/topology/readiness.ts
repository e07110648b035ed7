/**
 * What /readyz answers, and the hooks a partition task calls while it retries a micro-batch: a worker is ready
 * when it is in the group, Redis answers, and no partition is retrying.
 */
import type { PartitionBatch } from '../kafka/port.js';
import type { Metrics } from '../metrics/metrics.js';
import type { RedisHealth } from '../stores/redis-health.js';
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import type { TaskHooks } from './partition-task.js';

export class Readiness {
  joined = false;
  stopping = false;
  health: RedisHealth | undefined;
  private readonly retrying = new Set<string>();
  private lastError = '';

  constructor(private readonly metrics: Metrics) {}

  verdict(): { ok: boolean; reason?: string } {
    return this.stopping ? { ok: false, reason: 'stopping' }
      : this.health && !this.health.ok ? { ok: false, reason: `Redis unreachable: ${this.health.lastError}` }
      : !this.joined ? { ok: false, reason: 'joining the consumer group' }
      : this.retrying.size > 0 ? { ok: false, reason: `retrying: ${this.lastError}` }
      : { ok: true };
  }

  /** Hooks for a micro-batch of `batch`: retry while the batch is current and the worker is not stopping. */
  retryHooks(batch: PartitionBatch): TaskHooks {
    const key = `${batch.topic}:${batch.partition}`;
    return {
      shouldContinue: () => batch.isRunning() && !batch.isStale() && !this.stopping,
      onRetry: async (err, attempt, delayMs) => {
        this.retrying.add(key);
        this.lastError = (err as { code?: string }).code ?? 'error';
        this.metrics.ready.set(0);
        this.metrics.retries.inc({ code: this.lastError });
        log.warn({ topic: batch.topic, partition: batch.partition, attempt, delayMs, err: errorMessage(err) }, 'retriable error; retrying the micro-batch');
        try { await batch.heartbeat(); } catch { /* a rebalance will tell the loop through isStale() */ }
      },
      onRecovered: () => {
        this.retrying.delete(key);
        if (this.retrying.size === 0) this.metrics.ready.set(1);
        log.info({ topic: batch.topic, partition: batch.partition }, 'recovered');
      },
    };
  }
}
