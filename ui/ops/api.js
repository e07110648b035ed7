// The lookup API as the page sees it: the API key, the requests, and every field the page reads from an answer.
// The panels only use the shapes returned here, so a renamed field of the API (docs/api.md) is an edit of this
// module alone.

const KEY_STORE = 'attune.apiKey';

/**
 * The API key: from the URL fragment (#key=…, taken out of the address bar at once so it is neither bookmarked nor
 * shared by copying the URL), else from this tab's sessionStorage. Null: the page asks for it.
 */
export function initialKey() {
  const params = new URLSearchParams(location.hash.slice(1));
  const fromUrl = params.get('key');
  if (fromUrl) {
    sessionStorage.setItem(KEY_STORE, fromUrl);
    params.delete('key');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
    return fromUrl;
  }
  return sessionStorage.getItem(KEY_STORE);
}

export function saveKey(key) {
  if (key) sessionStorage.setItem(KEY_STORE, key);
  else sessionStorage.removeItem(KEY_STORE);
}

/** An answer other than 2xx, with the API's {error: {code, message}} when it sent one. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let apiKey = null;
export function useKey(key) {
  apiKey = key;
}

async function get(path) {
  let res;
  try {
    res = await fetch(path, { headers: { 'x-api-key': apiKey ?? '', accept: 'application/json' } });
  } catch (err) {
    throw new ApiError(0, 'UNREACHABLE', `the API does not answer (${err.message}): is \`attune api\` running?`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const e = body && body.error;
    throw new ApiError(res.status, (e && e.code) || `HTTP_${res.status}`, (e && e.message) || `${res.status} ${res.statusText}`);
  }
  return body;
}

const enc = encodeURIComponent;

/** null stays null; a number stays a number; anything else becomes null (the page never shows "undefined"). */
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v) => (typeof v === 'string' ? v : null);
const list = (v) => (Array.isArray(v) ? v : []);

function toRecommendations(b) {
  return {
    strategy: str(b.strategy),
    sourceEventId: str(b.sourceEventId),
    sourceEventTime: num(b.sourceEventTime),
    generatedAt: num(b.generatedAt),
    items: list(b.items).map((it) => ({
      itemId: String(it.itemId),
      score: num(it.score),
      reasons: list(it.reasons).map((r) => ({ kind: str(r.kind), text: str(r.text) ?? '', relatedItemId: str(r.relatedItemId) })),
    })),
  };
}

function toSegments(b) {
  return {
    evaluatedAt: num(b.evaluatedAt),
    segments: list(b.segments).map((s) => ({
      segmentId: String(s.segmentId),
      why: str(s.description),
      since: num(s.since),
      cause: str(s.cause),
      changesAt: num(s.changesAt),
    })),
  };
}

function toFeatures(b) {
  const rec = b.recencyMs ?? {};
  const ses = b.session ?? {};
  return {
    firstSeen: num(b.firstSeen),
    lastSeen: num(b.lastSeen),
    totalEvents: num(b.totalEvents) ?? 0,
    country: str(b.country),
    device: str(b.device),
    evaluatedAt: num(b.evaluatedAt),
    windows: list(b.windows).map((w) => ({
      window: String(w.window), views: num(w.views) ?? 0, clicks: num(w.clicks) ?? 0, addToCarts: num(w.addToCarts) ?? 0,
      purchases: num(w.purchases) ?? 0, monetary: num(w.monetary) ?? 0,
    })),
    recencyMs: { any: num(rec.any), purchase: num(rec.purchase), view: num(rec.view) },
    session: { count: num(ses.count) ?? 0, active: ses.active === true, currentLengthMs: num(ses.currentLengthMs) ?? 0, currentEvents: num(ses.currentEvents) ?? 0 },
    topCategories: list(b.topCategories).map((c) => ({ category: String(c.category), score: num(c.score) ?? 0 })),
    counts: b.counts && typeof b.counts === 'object' ? b.counts : {},
  };
}

function toEvents(b) {
  return {
    counts: b.counts && typeof b.counts === 'object' ? b.counts : {},
    firstSeen: num(b.firstSeen),
    lastSeen: num(b.lastSeen),
    recentItems: list(b.recentItems).map(String),
    purchases: list(b.purchases).map((p) => ({ itemId: String(p.itemId), at: num(p.at) })),
  };
}

function toSimilar(b) {
  return {
    itemId: String(b.itemId),
    title: str(b.title),
    similarity: str(b.similarity),
    items: list(b.items).map((it) => ({ itemId: String(it.itemId), title: str(it.title), score: num(it.score), available: it.available ?? null })),
  };
}

function toSegmentSizes(b) {
  return list(b.segments).map((s) => ({ segmentId: String(s.segmentId), why: str(s.description), members: num(s.members) ?? 0 }));
}

function toDeadLetters(b) {
  return list(b.deadLetters).map((d) => ({
    topic: str(d.topic), partition: num(d.partition), offset: str(d.offset) ?? String(d.offset ?? ''), time: num(d.time),
    stage: str(d.stage), code: str(d.code), reason: str(d.reason),
    source: d.source ? `${d.source.topic ?? '?'}:${d.source.partition ?? '?'}:${d.source.offset ?? '?'}` : null,
  }));
}

/** Series points as uPlot wants them: [seconds[], values[]]. */
function toSeries(points) {
  const pts = list(points);
  return [pts.map((p) => num(p.t) / 1000), pts.map((p) => num(p.v))];
}

function toLive(b) {
  const f = b.freshness ?? {};
  const s = b.series ?? {};
  return {
    eventsPerSecond: num(b.eventsPerSecond),
    lagRecords: num(b.lag && b.lag.records),
    lagSeconds: num(b.lag && b.lag.seconds),
    freshness: {
      appendP50: num(f.appendTime && f.appendTime.p50), appendP99: num(f.appendTime && f.appendTime.p99),
      eventP50: num(f.eventTime && f.eventTime.p50), eventP99: num(f.eventTime && f.eventTime.p99),
    },
    series: { eventsPerSecond: toSeries(s.eventsPerSecond), lagRecords: toSeries(s.lagRecords), freshnessP99: toSeries(s.freshnessP99) },
    at: num(b.at),
  };
}

function toRate(r) {
  const x = r ?? {};
  return { rate: num(x.rate), lo: num(x.lo), hi: num(x.hi), p: x.vsControl ? num(x.vsControl.p) : null };
}

/** variant id → share; only numbers (a share is shown as a percentage). */
function toShares(v) {
  const out = {};
  if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (num(x) !== null) out[k] = x;
  return out;
}

function toExperiment(e) {
  const b = e.bandit;
  const best = e.best;
  return {
    id: String(e.id),
    layer: str(e.layer),
    traffic: num(e.traffic),
    allocation: str(e.allocation),
    control: str(e.control),
    impressions: num(e.impressions) ?? 0,
    variants: list(e.variants).map((v) => ({
      id: String(v.id), strategy: str(v.strategy),
      impressions: num(v.impressions) ?? 0, clicks: num(v.clicks) ?? 0, conversions: num(v.conversions) ?? 0,
      ctr: toRate(v.ctr), conversion: toRate(v.conversion),
    })),
    ctrChiSquareP: e.ctrChiSquare ? num(e.ctrChiSquare.p) : null,
    best: best ? { variant: String(best.variant), isControl: best.isControl === true, p: num(best.p), significantAt: num(best.significantAt) } : null,
    bandit: b ? {
      minExploration: num(b.minExploration), perSegment: b.perSegment === true, shares: toShares(b.shares),
      segments: list(b.segments).map((s) => ({ segment: String(s.segment), impressions: num(s.impressions) ?? 0, shares: toShares(s.shares) })),
    } : null,
    unknownVariants: list(e.unknownVariants).map(String),
    verdict: str(e.verdict) ?? '',
  };
}

function toExperiments(b) {
  return {
    confidence: num(b.confidence) ?? 0.95,
    experiments: list(b.experiments).map(toExperiment),
    unknownExperiments: list(b.unknownExperiments).map(String),
  };
}

export const api = {
  recommendations: (userId) => get(`/v1/users/${enc(userId)}/recommendations`).then(toRecommendations),
  segments: (userId) => get(`/v1/users/${enc(userId)}/segments`).then(toSegments),
  features: (userId) => get(`/v1/users/${enc(userId)}/features`).then(toFeatures),
  events: (userId, limit = 20) => get(`/v1/users/${enc(userId)}/events?limit=${limit}`).then(toEvents),
  similar: (itemId, limit = 10) => get(`/v1/items/${enc(itemId)}/similar?limit=${limit}`).then(toSimilar),
  segmentSizes: () => get('/v1/segments').then(toSegmentSizes),
  deadLetters: (limit = 20) => get(`/v1/dead-letters?limit=${limit}`).then(toDeadLetters),
  live: () => get('/v1/live').then(toLive),
  experiments: () => get('/v1/experiments').then(toExperiments),
};
