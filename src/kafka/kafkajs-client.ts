/** The Kafka port implemented with kafkajs. */
import { Kafka, logLevel, Partitioners, type Consumer, type Producer, type Admin, CompressionTypes } from 'kafkajs';
// kafkajs spreads its error classes into module.exports, which Node's ESM loader cannot see as named exports.
import kafkajs from 'kafkajs';
import type {
  StreamClient, StreamConsumer, StreamProducer, StreamAdmin, BatchHandler, TopicPartitions, TopicSpec, OutboundRecord,
} from './port.js';
import { DEFAULT_MAX_REQUEST_BYTES } from './port.js';
import { chunkByBytes } from './chunk.js';
import { log } from '../log.js';
import { ProduceError, errorMessage } from '../errors.js';
import { withKafkaHints, type KafkaTransport } from '../security/transport.js';

// Route kafkajs's logs into ours at warn and above: its info lines are noise for operators.
const kafkaLogCreator = () => ({ namespace, level, log: entry }: { namespace: string; level: number; log: { message: string } & Record<string, unknown> }) => {
  const { message, ...rest } = entry;
  if (level === logLevel.ERROR) log.error({ namespace, ...rest }, message);
  else if (level === logLevel.WARN) log.warn({ namespace, ...rest }, message);
};

export class KafkajsClient implements StreamClient {
  private readonly kafka: Kafka;
  /** `transport`: TLS and SASL (kafkaTransport(cfg) in security/transport.ts); connect() failures they explain name the setting. */
  constructor(brokers: string[], clientId: string, transport: KafkaTransport = {}) {
    this.kafka = withKafkaHints(new Kafka({
      brokers,
      clientId,
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator,
      retry: { initialRetryTime: 200, retries: 8 },
      ...(transport.ssl !== undefined ? { ssl: transport.ssl } : {}),
      ...(transport.sasl !== undefined ? { sasl: transport.sasl } : {}),
    }), transport, brokers);
  }
  consumer(opts: { groupId: string; sessionTimeoutMs?: number }): StreamConsumer {
    const sessionTimeout = opts.sessionTimeoutMs ?? 30_000;
    return new KafkajsConsumer(
      this.kafka.consumer({
        groupId: opts.groupId,
        sessionTimeout,
        // A third of the session timeout at most (Kafka's rule of thumb), so one lost heartbeat is not fatal.
        heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
        // Must be at least the broker's largest message, or a big record stalls the partition.
        maxBytesPerPartition: 1_048_576 * 2,
        // kafkajs leaves the group on stop only after the fetch long-poll in flight returns (5 s by default): kept
        // short so that a stopped worker is out of the group before the next one joins, within the shutdown budget.
        // Otherwise the stopped member rejoins once and may be handed the partitions for a generation (issue 16).
        maxWaitTimeInMs: 1_000,
        retry: { retries: 10 },
      }),
    );
  }
  producer(opts: { maxRequestBytes?: number } = {}): StreamProducer {
    // The default (murmur2) partitioner matches the Java client, so other producers agree on a user's partition.
    return new KafkajsProducer(
      this.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner }),
      opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
    );
  }
  admin(): StreamAdmin {
    return new KafkajsAdmin(this.kafka.admin());
  }
}

class KafkajsConsumer implements StreamConsumer {
  constructor(private readonly c: Consumer) {}
  connect() { return this.c.connect(); }
  async subscribe(topics: string[]) {
    for (const topic of topics) await this.c.subscribe({ topic, fromBeginning: true });
  }
  async run(handler: BatchHandler, opts: { partitionsConsumedConcurrently: number; commitOffsets: boolean }) {
    await this.c.run({
      // Only what the runner resolves is committed: auto-resolve would mark unprocessed records as done.
      eachBatchAutoResolve: false,
      autoCommit: opts.commitOffsets,
      autoCommitInterval: 2_000,
      partitionsConsumedConcurrently: opts.partitionsConsumedConcurrently,
      eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale, pause }) => {
        let resolved: string | undefined;
        const commitNow = () => (resolved === undefined ? Promise.resolve() : commitOffsetsIfNecessary({
          topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(BigInt(resolved) + 1n) }] }],
        }));
        await handler({
          topic: batch.topic,
          partition: batch.partition,
          records: batch.messages.map((m) => ({
            offset: m.offset, key: m.key, value: m.value, timestamp: m.timestamp,
            headers: (m.headers ?? {}) as Record<string, Buffer | string | undefined>,
          })),
          highWatermark: batch.highWatermark,
          resolveOffset: (offset) => { resolved = offset; resolveOffset(offset); },
          heartbeat,
          commit: (now) => (!opts.commitOffsets ? Promise.resolve() : now ? commitNow() : commitOffsetsIfNecessary()),
          isRunning,
          isStale,
          pause,
        });
      },
    });
  }
  onAssigned(cb: (assigned: TopicPartitions[]) => void | Promise<void>) {
    this.c.on(this.c.events.GROUP_JOIN, (e) => {
      const a = e.payload.memberAssignment as Record<string, number[]>;
      void cb(Object.entries(a).map(([topic, partitions]) => ({ topic, partitions })));
    });
  }
  onCrash(cb: (err: Error, restart: boolean) => void) {
    this.c.on(this.c.events.CRASH, (e) => cb(e.payload.error, Boolean(e.payload.restart)));
  }
  seek(topic: string, partition: number, offset: string) { this.c.seek({ topic, partition, offset }); }
  stop() { return this.c.stop(); }
  disconnect() { return this.c.disconnect(); }
}

/**
 * Whether a kafkajs failure may pass. kafkajs marks each error `retriable` and retries those itself; when its
 * retries run out it throws KafkaJSNumberOfRetriesExceeded, which is marked non-retriable (for kafkajs: stop
 * retrying) although its cause, a broker away or a leader moving, may well pass: so the cause decides. Anything
 * that is not a KafkaJSError (a TypeError from a bad record) is a bug, not an outage.
 */
const { KafkaJSError, KafkaJSNumberOfRetriesExceeded } = kafkajs;

export function isRetriableKafkaError(err: unknown): boolean {
  if (err instanceof KafkaJSNumberOfRetriesExceeded) return err.cause !== undefined && isRetriableKafkaError(err.cause);
  return err instanceof KafkaJSError && err.retriable;
}

/** A failure of the producer as a ProduceError, retriable as kafkajs says, with kafkajs's error as its cause. */
export function toProduceError(err: unknown, what: string): ProduceError {
  return new ProduceError(`${what} failed: ${errorMessage(err)}`, { retriable: isRetriableKafkaError(err), cause: err });
}

/**
 * Produces in requests cut by bytes (kafka/chunk.ts), one after the other so that the records keep their order.
 * A record too large for the broker on its own fails its request non-retriably (MESSAGE_TOO_LARGE): the batch
 * handler then isolates the source record whose output it is (topology/isolation.ts); dead-letter copies are cut
 * to fit before they get here (stages/dead-letter/record.ts fitDeadLetter), so they never fail that way.
 */
export class KafkajsProducer implements StreamProducer {
  constructor(private readonly p: Pick<Producer, 'connect' | 'send' | 'disconnect'>, private readonly maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES) {}
  async connect() {
    await this.p.connect().catch((err: unknown) => { throw toProduceError(err, 'connecting the producer'); });
  }
  async send(topic: string, records: OutboundRecord[]) {
    if (records.length === 0) return;
    const chunks = chunkByBytes(records, this.maxRequestBytes);
    let sent = 0;
    for (const messages of chunks) {
      await this.p
        .send({ topic, acks: -1, compression: CompressionTypes.None, messages })
        .catch((err: unknown) => {
          throw toProduceError(err, `producing ${messages.length} records to ${topic} (request ${chunks.indexOf(messages) + 1} of ${chunks.length}, ${sent} records sent before it)`);
        });
      sent += messages.length;
    }
  }
  disconnect() { return this.p.disconnect(); }
}

class KafkajsAdmin implements StreamAdmin {
  constructor(private readonly a: Admin) {}
  connect() { return this.a.connect(); }
  async ensureTopics(specs: TopicSpec[]): Promise<string[]> {
    const existing = new Set(await this.a.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length === 0) return [];
    // waitForLeaders is not used: kafkajs's wait gives up on UNKNOWN_TOPIC_OR_PARTITION ("This server does not
    // host this topic-partition"), which a broker answers for a moment after creating a topic. Poll instead.
    await this.a.createTopics({
      waitForLeaders: false,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions,
        replicationFactor: 1,
        configEntries: [
          ...(s.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
          ...(s.logAppendTime ? [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] : []),
          ...(s.retentionMs !== undefined ? [{ name: 'retention.ms', value: String(s.retentionMs) }] : []),
        ],
      })),
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const meta = await this.a.fetchTopicMetadata({ topics: missing.map((s) => s.topic) });
        const ready = meta.topics.every((t) => {
          const want = missing.find((s) => s.topic === t.name)?.partitions ?? 0;
          return t.partitions.length >= want && t.partitions.every((p) => p.leader >= 0);
        });
        // Leaders in the metadata are not enough: ListOffsets can still answer NOT_LEADER for a moment.
        if (ready) {
          for (const t of missing) await this.a.fetchTopicOffsets(t.topic);
          break;
        }
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error(`topics ${missing.map((s) => s.topic).join(', ')} have no leaders after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return missing.map((s) => s.topic);
  }
  async deleteTopics(topics: string[]): Promise<string[]> {
    const existing = new Set(await this.a.listTopics());
    const doomed = topics.filter((t) => existing.has(t));
    if (doomed.length) await this.a.deleteTopics({ topics: doomed, timeout: 30_000 });
    return doomed;
  }
  async endOffsets(topic: string) {
    const res = await this.a.fetchTopicOffsets(topic);
    return new Map(res.map((r) => [r.partition, r.high]));
  }
  async offsetsAt(topic: string, timestamp: number) {
    const [at, ends] = await Promise.all([this.a.fetchTopicOffsetsByTimestamp(topic, timestamp), this.a.fetchTopicOffsets(topic)]);
    const high = new Map(ends.map((r) => [r.partition, r.high]));
    // kafkajs answers -1 for a partition with no record at or after the time: nothing to read there.
    return new Map(at.map((r) => [r.partition, Number(r.offset) < 0 ? high.get(r.partition) ?? '0' : r.offset]));
  }
  async startOffsets(topic: string) {
    const res = await this.a.fetchTopicOffsets(topic);
    return new Map(res.map((r) => [r.partition, r.low]));
  }
  async groupOffsets(groupId: string, topic: string) {
    const res = await this.a.fetchOffsets({ groupId, topics: [topic] });
    const out = new Map<number, string>();
    for (const t of res) for (const p of t.partitions) out.set(p.partition, p.offset);
    return out;
  }
  disconnect() { return this.a.disconnect(); }
}
