/**
 * The worker's time-driven work: the punctuator for idle events partitions (timed segment exits), and the
 * watchdog (no progress while there is lag, or out of the group, for ATTUNE_WATCHDOG_MS → exit 2).
 */
import type { Config } from '../config/config.js';
import type { StreamAdmin } from '../kafka/port.js';
import type { SegmentProcessor } from '../stages/segments/processor.js';
import { log } from '../log.js';
import { probeLag } from './lag-probe.js';
import { Punctuator } from './punctuator.js';
import type { Tasks } from './tasks.js';
import { runWatchdog, type WatchdogCore } from './watchdog.js';

export interface TimersDeps {
  cfg: Config;
  eventsTopic: string;
  tasks: Tasks;
  segments: Pick<SegmentProcessor, 'punctuate'>;
  watchdog: WatchdogCore;
  admin: Pick<StreamAdmin, 'endOffsets'>;
  readProgress(topic: string, partition: number): Promise<number | null>;
  sideJobFailed(err: unknown, partition: number, what: string): void;
  isStopping(): boolean;
  exit(code: number): void;
}

export function startTimers(d: TimersDeps): { stop(): void } {
  const { cfg, eventsTopic: topic, tasks } = d;
  const punctuator = cfg.segmentIdleMs > 0
    ? new Punctuator({
        everyMs: Math.min(cfg.segmentIdleMs, 5_000),
        partitions: () => tasks.assignedPartitions(topic),
        submit: (p) => tasks.sideJob(topic, p, () => d.segments.punctuate(topic, p, Date.now())).then(() => {}),
        onError: (err, p) => d.sideJobFailed(err, p, 'punctuation failed; will try again'),
        isStopping: d.isStopping,
      }).start()
    : undefined;
  const dog = cfg.watchdogMs > 0
    ? runWatchdog(d.watchdog, {
        everyMs: Math.max(250, Math.min(5_000, Math.floor(cfg.watchdogMs / 10))),
        probeLag: () => probeLag({ eventsTopic: topic, tasks, admin: d.admin, readProgress: d.readProgress }),
        onStall: (reason) => {
          if (d.isStopping()) return;
          log.error({ watchdogMs: cfg.watchdogMs }, `watchdog: ${reason}; exiting with code 2 so that the supervisor restarts the worker`);
          d.exit(2);
        },
      })
    : undefined;
  return {
    stop() {
      punctuator?.stop();
      dog?.stop();
    },
  };
}
