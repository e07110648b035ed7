/**
 * The processor chain of the events topic for one micro-batch:
 *   decode → validate → (dead-letter the bad ones) → apply to the state store → recommend → emit.
 * It is pure orchestration: each stage's logic lives in src/processors (pure) or src/stores (I/O).
 * Every step is idempotent, so the runner may retry a whole micro-batch after a retriable error.
 */
import type { InboundRecord, OutboundRecord, StreamProducer } from '../kafka/port.js';
import type { Codec } from '../registry/codec.js';
import type { StateStore } from '../stores/state-store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Config, TopicNames } from '../config/config.js';
import { validateEvent, DEFAULT_LIMITS, type ValidationLimits } from '../processors/validate.js';
import { planIngest, type OffsetEvent } from '../processors/ingest.js';
import { recommendPopular } from '../processors/recommend-popular.js';
import { Keys } from '../stores/keys.js';
import { RecordError, isRetriable } from '../errors.js';
import { deadLetter } from './dead-letter.js';
import type { Recommendations } from '../domain/events.js';

export interface ProcessorDeps {
  cfg: Config;
  topics: TopicNames;
  codec: Codec;
  store: StateStore;
  producer: StreamProducer;
  metrics: Metrics;
  now?: () => number;
  segments?: import('./segment-processor.js').SegmentProcessor; // segments
}

export interface MicroBatchResult {
  applied: number;
  replayed: number;
  deadLettered: number;
  usersEmitted: number;
}

export class EventProcessor {
  private readonly limits: ValidationLimits;
  private readonly now: () => number;
  constructor(private readonly d: ProcessorDeps) {
    this.limits = { ...DEFAULT_LIMITS, maxIdLength: d.cfg.maxIdLength, maxFutureMs: d.cfg.maxFutureMs, minEventTime: d.cfg.minEventTime };
    this.now = d.now ?? Date.now;
  }

  async process(topic: string, partition: number, records: InboundRecord[]): Promise<MicroBatchResult> {
    const { d } = this;
    const valid: OffsetEvent[] = [];
    const dead: OutboundRecord[] = [];
    const deadCodes: RecordError[] = [];
    const now = this.now();
    for (const r of records) {
      try {
        const e = await d.codec.decodeEvent(r.value, d.cfg.maxMessageBytes);
        valid.push({ offset: Number(r.offset), event: validateEvent(e, this.limits, now) });
      } catch (err) {
        if (isRetriable(err) || !(err instanceof RecordError)) throw err;
        dead.push(deadLetter(r, err, { topic, partition, groupId: d.cfg.groupId }));
        deadCodes.push(err);
      }
    }
    // Dead letters go out before anything is resolved, so a bad record is never just dropped.
    if (dead.length) {
      await d.producer.send(d.topics.dlq, dead);
      for (const e of deadCodes) {
        d.metrics.dlq.inc({ stage: e.stage, code: e.code });
        d.metrics.eventsIn.inc({ type: 'unknown', outcome: 'dead_lettered' });
      }
    }

    const plan = planIngest(valid);
    const field = Keys.partitionField(topic, partition);
    const lastOffset = Number(records[records.length - 1].offset);
    const users = [...plan.users.entries()];
    const appliedPerUser = await Promise.all(users.map(([u, recs]) => d.store.applyUser(u, field, d.cfg.recentItems, recs)));
    await d.store.applyPopularity(field, lastOffset, plan.popularity);
    if (d.segments) await d.segments.process(topic, partition, valid, records); // segments: features, segments, TOO_LATE to the DLQ

    const applied = appliedPerUser.reduce((a, b) => a + b, 0);
    const replayed = valid.length - applied;
    for (const { event } of valid) d.metrics.eventsIn.inc({ type: event.type, outcome: 'valid' });
    if (replayed > 0) d.metrics.eventsIn.inc({ type: 'any', outcome: 'replayed' }, replayed);

    // Recommendations are re-emitted for every user of the batch, replayed or not: a crash between apply and
    // produce then loses nothing, and the source header lets consumers drop the duplicate.
    const usersEmitted = await this.emitRecommendations(topic, partition, plan.lastEvent, plan.users);
    await d.store.writeProgress(topic, partition, lastOffset);
    return { applied, replayed, deadLettered: dead.length, usersEmitted };
  }

  private async emitRecommendations(
    topic: string, partition: number,
    lastEvent: Map<string, import('../domain/events.js').UserEvent>,
    users: Map<string, [number, string, string | false, number][]>,
  ): Promise<number> {
    const { d } = this;
    if (users.size === 0) return 0;
    const n = d.cfg.recommendationCount;
    const popular = await d.store.topPopular(n + 50);
    const titles = await d.store.itemTitles(popular.map((p) => p.itemId));
    const ids = popular.map((p) => p.itemId);
    const out: OutboundRecord[] = [];
    const generatedAt = this.now();
    await Promise.all([...users.entries()].map(async ([userId, recs]) => {
      const flags = await d.store.purchasedFlags(userId, ids);
      const purchased = new Set(ids.filter((_, i) => flags[i]));
      const src = lastEvent.get(userId)!;
      const list: Recommendations = {
        userId,
        items: recommendPopular(popular, purchased, n, titles),
        strategy: 'popular-unpurchased',
        sourceEventId: src.eventId,
        sourceEventTime: src.eventTime,
        generatedAt,
      };
      await d.store.saveRecommendations(list, d.cfg.recommendationTtlSeconds);
      out.push({
        key: userId,
        value: await d.codec.encodeRecommendations(list),
        headers: { 'attune.source': `${topic}:${partition}:${recs[recs.length - 1][0]}` },
      });
    }));
    // Keep output order deterministic per partition (by source offset).
    out.sort((a, b) => srcOffset(a) - srcOffset(b));
    await d.producer.send(d.topics.recommendations, out);
    d.metrics.recommendationsOut.inc(out.length);
    return out.length;
  }
}

function srcOffset(r: OutboundRecord): number {
  const h = r.headers?.['attune.source'] ?? '';
  return Number(h.slice(h.lastIndexOf(':') + 1));
}
