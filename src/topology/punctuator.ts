/**
 * The punctuator (Kafka Streams' wall-clock punctuation): while a partition is idle, its event-time watermark
 * follows the wall clock so that timed segment exits still fire. Each tick submits one punctuation per assigned
 * events partition as a job of the partition's task, so it never runs alongside a micro-batch; a partition whose
 * punctuation is still queued or running is skipped, and a failed one is simply tried at the next tick.
 */
export interface PunctuatorDeps {
  everyMs: number;
  /** The partitions to punctuate now (the assigned events partitions). */
  partitions(): Iterable<number>;
  /** Runs the punctuation of a partition as a job of its task (reading the wall clock when the job runs). */
  submit(partition: number): Promise<void>;
  onError(err: unknown, partition: number): void;
  isStopping(): boolean;
}

export class Punctuator {
  private readonly inFlight = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly d: PunctuatorDeps) {}

  start(): this {
    this.timer = setInterval(() => this.tick(), this.d.everyMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: a punctuation for each partition that has none in flight. */
  tick(): void {
    const { d } = this;
    for (const p of d.partitions()) {
      if (d.isStopping() || this.inFlight.has(p)) continue;
      this.inFlight.add(p);
      d.submit(p)
        .catch((err) => d.onError(err, p))
        .finally(() => this.inFlight.delete(p));
    }
  }
}
