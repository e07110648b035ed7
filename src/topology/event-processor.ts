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
import { recommendPopular, type PopularItem } from '../processors/recommend-popular.js';
import { Keys } from '../stores/keys.js';
import { RecordError, isRetriable } from '../errors.js';
import { deadLetter } from './dead-letter.js';
import type { Recommendations } from '../domain/events.js';
import type { SegmentProcessor } from './segment-processor.js';

export interface ProcessorDeps {
  cfg: Config;
  topics: TopicNames;
  codec: Codec;
  store: StateStore;
  producer: StreamProducer;
  metrics: Metrics;
  now?: () => number;
  /** Rolling features and segments: runs first because it decides which events are too late to apply. */
  segments: SegmentProcessor;
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

    // Features and segments first: they classify lateness against the partition's watermark, dead-letter the
    // events that are too late (TOO_LATE), and those must not reach the other state either.
    const { tooLate } = await d.segments.process(topic, partition, valid, records);
    const late = new Set(tooLate.map((r) => r.offset));
    const onTime = late.size ? valid.filter((r) => !late.has(r.offset)) : valid;

    const plan = planIngest(onTime);
    const field = Keys.partitionField(topic, partition);
    const lastOffset = Number(records[records.length - 1].offset);
    const users = [...plan.users.entries()];
    const appliedPerUser = await Promise.all(users.map(([u, recs]) => d.store.applyUser(u, field, d.cfg.recentItems, recs)));
    await d.store.applyPopularity(field, lastOffset, plan.popularity);

    const applied = appliedPerUser.reduce((a, b) => a + b, 0);
    const replayed = onTime.length - applied;
    for (const { event } of onTime) d.metrics.eventsIn.inc({ type: event.type, outcome: 'valid' });
    if (replayed > 0) d.metrics.eventsIn.inc({ type: 'any', outcome: 'replayed' }, replayed);

    // Recommendations are re-emitted for every user of the batch, replayed or not: a crash between apply and
    // produce then loses nothing, and the source header lets consumers drop the duplicate.
    const usersEmitted = await this.emitRecommendations(topic, partition, plan.lastEvent, plan.users);
    await d.store.writeProgress(topic, partition, lastOffset);
    return { applied, replayed, deadLettered: dead.length + late.size, usersEmitted };
  }

  private async emitRecommendations(
    topic: string, partition: number,
    lastEvent: Map<string, import('../domain/events.js').UserEvent>,
    users: Map<string, [number, string, string | false, number][]>,
  ): Promise<number> {
    const { d } = this;
    if (users.size === 0) return 0;
    const n = d.cfg.recommendationCount;
    const pages = new PopularPages(d.store, n + 40);
    const out: OutboundRecord[] = [];
    const generatedAt = this.now();
    await Promise.all([...users.entries()].map(async ([userId, recs]) => {
      // Heavy buyers have bought most of the top items: page further down until n remain (bounded).
      const purchased = new Set<string>();
      let seen = 0;
      for (let page = 0; page < PopularPages.MAX_PAGES; page++) {
        const ids = (await pages.get(page)).map((p) => p.itemId);
        if (ids.length === 0) break;
        const flags = await d.store.purchasedFlags(userId, ids);
        ids.forEach((id, i) => { if (flags[i]) purchased.add(id); });
        seen += ids.length;
        if (seen - purchased.size >= n) break;
      }
      const popular = await pages.upTo(seen);
      const titles = await pages.titles();
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

/** Pages of the popularity ranking, each read once per micro-batch and shared by its users. */
class PopularPages {
  static readonly MAX_PAGES = 10;
  private readonly pages = new Map<number, Promise<PopularItem[]>>();
  private readonly titleCache = new Map<string, string>();
  constructor(private readonly store: StateStore, private readonly size: number) {}
  get(page: number): Promise<PopularItem[]> {
    let p = this.pages.get(page);
    if (!p) {
      p = this.store.topPopular(this.size, page * this.size).then(async (items) => {
        const t = await this.store.itemTitles(items.map((i) => i.itemId));
        for (const [k, v] of t) this.titleCache.set(k, v);
        return items;
      });
      this.pages.set(page, p);
    }
    return p;
  }
  async upTo(count: number): Promise<PopularItem[]> {
    const out: PopularItem[] = [];
    for (let i = 0; out.length < count && i < PopularPages.MAX_PAGES; i++) {
      const page = await this.get(i);
      if (page.length === 0) break;
      out.push(...page);
    }
    return out.slice(0, count);
  }
  async titles(): Promise<ReadonlyMap<string, string>> {
    return this.titleCache;
  }
}

function srcOffset(r: OutboundRecord): number {
  const h = r.headers?.['attune.source'] ?? '';
  return Number(h.slice(h.lastIndexOf(':') + 1));
}
