/**
 * The user and segment readers over the worker's Redis state, read-only. They key users by the worker's own
 * pseudonymizer (src/stages/rights/pseudonym.ts, same key), read the same keys the worker writes (stores/keys.ts)
 * and decode them with the worker's own code: the feature state through FeatureView, segment timing through the
 * compiled rules. Nothing here writes, and nothing adds per-user state.
 *
 * What comes back names the user by the raw id of the request: the stored list holds the pseudonym (Redis keeps
 * no raw id), which is swapped back here.
 */
import type { RedisClient } from '../stores/redis-client.js';
import { Keys } from '../stores/keys.js';
import type { Pseudonymizer } from '../stages/rights/pseudonym.js';
import type { SegmentSetup } from '../stages/segments/setup.js';
import { parseSince, type PendingChange, type SegmentSince } from '../stages/segments/stored.js';
import { createFeatureView, type FeatureView } from '../stages/segments/features/view.js';
import { parseFeatureState } from '../stages/segments/features/state.js';
import { readStoredList } from '../stores/stored-list.js';
import type { ExperimentsConfig } from '../experiments/model.js';
import { parseCounts } from '../experiments/counts.js';
import { experimentsReport, type ExperimentsReport } from '../experiments/report-format.js';
import type { SegmentSize, UserEvents, UserFeatures, UserRecommendations, UserSegment, UserSegments, WindowFeatures } from './readers.js';

export interface UserStateDeps {
  redis: RedisClient;
  keyPrefix: string;
  /** The events topic (its partitions name the fields of the applied offsets and the segment state keys). */
  eventsTopic: string;
  pseudonymizer: Pseudonymizer;
  segments: SegmentSetup;
}

/** The counts hash as numbers: event types, and firstSeen/lastSeen apart. */
function splitCounts(raw: Record<string, string>): { counts: Record<string, number>; firstSeen: number | null; lastSeen: number | null } {
  const counts: Record<string, number> = {};
  let firstSeen: number | null = null;
  let lastSeen: number | null = null;
  for (const [k, v] of Object.entries(raw)) {
    if (k === 'firstSeen') firstSeen = Number(v);
    else if (k === 'lastSeen') lastSeen = Number(v);
    else counts[k] = Number(v);
  }
  return { counts, firstSeen, lastSeen };
}

export class RedisUserReaders {
  private readonly keys: Keys;
  private readonly descriptions: Map<string, string | null>;

  constructor(private readonly d: UserStateDeps) {
    this.keys = new Keys(d.keyPrefix);
    this.descriptions = new Map(d.segments.rules.segments.map((s) => [s.id, s.description]));
  }

  private pseudonym(userId: string): string {
    return this.d.pseudonymizer.pseudonym(userId);
  }

  async recommendations(userId: string): Promise<UserRecommendations | null> {
    const r = await readStoredList(this.d.redis, this.keys.userRecommendations(this.pseudonym(userId)));
    if (!r) return null;
    // Lists stored before recommendation ids and experiments have neither.
    return {
      userId, strategy: r.strategy, sourceEventId: r.sourceEventId, sourceEventTime: r.sourceEventTime, generatedAt: r.generatedAt,
      recommendationId: r.recommendationId ?? null, assignments: r.assignments ?? [], items: r.items,
    };
  }

  /**
   * The user's feature hash, decoded: the view, the stored segments, the pending changes and the event time to
   * read at — the watermark of the user's partition (what the worker evaluates with; the user's `o:` field names
   * the partition), or the user's last event when the partition has none.
   */
  private async featureState(p: string): Promise<{ view: FeatureView; segments: string[]; since: SegmentSince; pending: PendingChange[]; now: number | null } | null> {
    const fields = await this.d.redis.hgetall(this.keys.userFeatures(p));
    if (!fields.s) return null;
    const view = createFeatureView(parseFeatureState(fields.s), this.d.segments.featureConfig);
    const segments = fields.seg ? (JSON.parse(fields.seg) as string[]) : [];
    let since: SegmentSince = {};
    try {
      since = parseSince(fields.since);
    } catch { /* unreadable: since unknown (null), as for a state written before it was kept */ }
    const pending: PendingChange[] = [];
    let partition: number | null = null;
    const prefix = `o:${this.d.eventsTopic}:`;
    for (const [k, v] of Object.entries(fields)) {
      if (k.startsWith('lc:')) pending.push(...(JSON.parse(v) as PendingChange[]));
      else if (k.startsWith(prefix)) partition = Number(k.slice(prefix.length));
    }
    let now = view.lastSeen;
    if (partition !== null) {
      const wm = await this.d.redis.hget(this.keys.partitionSegmentState(this.d.eventsTopic, partition), 'wm');
      if (wm !== null && Number.isFinite(Number(wm))) now = Math.max(now ?? 0, Number(wm));
    }
    return { view, segments, since, pending, now };
  }

  async segments(userId: string): Promise<UserSegments | null> {
    const st = await this.featureState(this.pseudonym(userId));
    if (!st) return null;
    const next = st.now === null ? new Map<string, number>() : this.d.segments.rules.nextChangeTimes(st.view, st.now);
    const segments: UserSegment[] = st.segments.map((id) => {
      // The entry the segment stage keeps (since); for a state written before it kept them, the latest pending one.
      const kept = st.since[id];
      const entry = kept ? { eventTime: kept[0], cause: kept[1] }
        : st.pending.filter((c) => c.segmentId === id && c.change === 'enter').sort((a, b) => b.eventTime - a.eventTime)[0];
      return {
        segmentId: id,
        description: this.descriptions.get(id) ?? null,
        since: entry?.eventTime ?? null,
        cause: entry?.cause ?? null,
        changesAt: next.get(id) ?? null,
      };
    });
    return { userId, segments, evaluatedAt: st.now };
  }

  async features(userId: string): Promise<UserFeatures | null> {
    const p = this.pseudonym(userId);
    const [st, rawCounts] = await Promise.all([this.featureState(p), this.d.redis.hgetall(this.keys.userCounts(p))]);
    if (!st) return null;
    const { view } = st;
    const now = st.now ?? 0;
    const windows: WindowFeatures[] = view.config.windows.map((w) => ({
      window: w.name,
      views: view.count({ type: 'view', window: w }, now),
      clicks: view.count({ type: 'click', window: w }, now),
      addToCarts: view.count({ type: 'add_to_cart', window: w }, now),
      purchases: view.count({ type: 'purchase', window: w }, now),
      monetary: view.rfm(w, now).monetary,
    }));
    const s = view.session(now);
    return {
      userId,
      firstSeen: view.firstSeen,
      lastSeen: view.lastSeen,
      totalEvents: view.totalEvents,
      country: view.context.country,
      device: view.context.device,
      evaluatedAt: st.now,
      windows,
      recencyMs: { any: view.recencyMs(null, now), purchase: view.recencyMs('purchase', now), view: view.recencyMs('view', now) },
      session: { count: s.count, active: s.active, currentLengthMs: s.currentLengthMs, currentEvents: s.currentEvents },
      topCategories: view.topCategories(5, now),
      counts: splitCounts(rawCounts).counts,
    };
  }

  async events(userId: string, limit: number): Promise<UserEvents | null> {
    const p = this.pseudonym(userId);
    const [rawCounts, recent, purchased] = await Promise.all([
      this.d.redis.hgetall(this.keys.userCounts(p)),
      this.d.redis.lrange(this.keys.userRecent(p), 0, limit - 1),
      this.d.redis.zrevrange(this.keys.userPurchased(p), 0, limit - 1, 'WITHSCORES'),
    ]);
    if (Object.keys(rawCounts).length === 0 && recent.length === 0 && purchased.length === 0) return null;
    const purchases: UserEvents['purchases'] = [];
    for (let i = 0; i < purchased.length; i += 2) purchases.push({ itemId: purchased[i]!, at: Number(purchased[i + 1]) });
    const c = splitCounts(rawCounts);
    return { userId, counts: c.counts, firstSeen: c.firstSeen, lastSeen: c.lastSeen, recentItems: recent, purchases };
  }

  /** Every rule of the file, in file order, with its count (0 when none counted yet), then counted ids no rule names. */
  async segmentSizes(): Promise<SegmentSize[]> {
    const raw = await this.d.redis.hgetall(this.keys.segmentCounts());
    const out: SegmentSize[] = this.d.segments.rules.segments.map((s) => ({ segmentId: s.id, description: s.description, members: Number(raw[s.id] ?? 0) }));
    for (const [id, v] of Object.entries(raw)) if (!this.descriptions.has(id)) out.push({ segmentId: id, description: null, members: Number(v) });
    return out;
  }
}

/**
 * The experiments report over the counts hash (`{g}:experiments`), with one HGETALL per request: the same read
 * and the same report as `attune experiments report --json`, so the page shows what the bandits decide from.
 */
export class RedisExperimentsReader {
  private readonly key: string;

  /** `config` null: no experiments file (ATTUNE_EXPERIMENTS unset). */
  constructor(private readonly redis: RedisClient, keyPrefix: string, private readonly config: ExperimentsConfig | null) {
    this.key = new Keys(keyPrefix).experimentCounts();
  }

  async report(): Promise<ExperimentsReport> {
    // Without a file there is nothing to summarise, and no read: counts left by another file are not listed as unknown.
    if (this.config === null) return experimentsReport({ experiments: [] }, new Map());
    return experimentsReport(this.config, parseCounts(await this.redis.hgetall(this.key)));
  }
}
