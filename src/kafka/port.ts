/**
 * The Kafka port: the only Kafka surface the topology uses. kafkajs is unmaintained; a KafkaJS-compatible
 * client can replace it by implementing these interfaces (see kafkajs-client.ts) without touching processors.
 */
export interface Header {
  [key: string]: string;
}

export interface InboundRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: string;
  headers: Record<string, Buffer | string | undefined>;
}

export interface OutboundRecord {
  key: string | Buffer | null;
  value: Buffer | null;
  headers?: Header;
}

/** One fetched batch of one partition, with the controls the runner needs. */
export interface PartitionBatch {
  topic: string;
  partition: number;
  records: InboundRecord[];
  highWatermark: string;
  /** Marks everything up to and including this offset as done (it will be committed). */
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  /**
   * Commits the resolved offsets when the commit interval is due; `now`: this partition's at once (the first
   * micro-batch of an assignment, so that the group shows the new owner's progress without waiting the interval).
   */
  commit(now?: boolean): Promise<void>;
  /** False once the consumer is stopping: finish the current micro-batch, then return. */
  isRunning(): boolean;
  /** True when the partition was revoked or sought since the fetch: drop the rest of the batch. */
  isStale(): boolean;
  pause(): () => void;
}

export type BatchHandler = (batch: PartitionBatch) => Promise<void>;

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface StreamConsumer {
  connect(): Promise<void>;
  subscribe(topics: string[]): Promise<void>;
  /**
   * `commitOffsets`: whether resolved offsets are committed to the group. Only the worker's own group commits; a
   * reader with a throw-away group (it seeks where it wants) must not, or each run leaves a group with offsets
   * that the broker keeps for offsets.retention.minutes (7 days by default).
   */
  run(handler: BatchHandler, opts: { partitionsConsumedConcurrently: number; commitOffsets: boolean }): Promise<void>;
  /** Called after each group join with this member's assignment. */
  onAssigned(cb: (assigned: TopicPartitions[]) => void | Promise<void>): void;
  /** Called when the consumer crashes (the client gave up); `restart` says whether it will rejoin by itself. */
  onCrash(cb: (err: Error, restart: boolean) => void): void;
  seek(topic: string, partition: number, offset: string): void;
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface StreamProducer {
  connect(): Promise<void>;
  /**
   * Produces the records in order, in requests of at most the producer's `maxRequestBytes` each (kafka/chunk.ts).
   * Rejects with a ProduceError, retriable or not as the client says; requests before the failing one landed.
   */
  send(topic: string, records: OutboundRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** The default cap of one produce request: half the broker's default message.max.bytes. */
export const DEFAULT_MAX_REQUEST_BYTES = 524_288;

export interface TopicSpec {
  topic: string;
  partitions: number;
  compacted?: boolean;
  /** The broker stamps each record with its append time (message.timestamp.type=LogAppendTime), whatever the producer says. */
  logAppendTime?: boolean;
  /** retention.ms of the topic; absent: the broker's default. */
  retentionMs?: number;
}

export interface StreamAdmin {
  connect(): Promise<void>;
  ensureTopics(specs: TopicSpec[]): Promise<string[]>;
  /** High watermark per partition. */
  endOffsets(topic: string): Promise<Map<number, string>>;
  /** The earliest retained offset of each partition (where a rebuild replays from). */
  startOffsets(topic: string): Promise<Map<number, string>>;
  /**
   * Per partition, the first offset whose record timestamp is at or after `timestamp` (ms), or the high watermark
   * when there is none.
   */
  offsetsAt(topic: string, timestamp: number): Promise<Map<number, string>>;
  /** Deletes the topics that exist among these; returns the deleted ones. */
  deleteTopics(topics: string[]): Promise<string[]>;
  /** The group's committed offset per partition (-1 when none). */
  groupOffsets(groupId: string, topic: string): Promise<Map<number, string>>;
  disconnect(): Promise<void>;
}

export interface StreamClient {
  consumer(opts: { groupId: string; sessionTimeoutMs?: number }): StreamConsumer;
  /** `maxRequestBytes`: the cap of one produce request (default DEFAULT_MAX_REQUEST_BYTES). */
  producer(opts?: { maxRequestBytes?: number }): StreamProducer;
  admin(): StreamAdmin;
}
