// The deployment as a whole: live throughput, lag and freshness (from Prometheus, polled), segment sizes and the
// latest dead letters.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html, Panel, Status } from './html.js';
import { api } from './api.js';
import { useLoad } from './load.js';
import * as f from './format.js';

export const LIVE_POLL_MS = 5000;

/** The window the charts show, as /v1/live's series cover it: the 15 minutes up to its `at`. */
export const LIVE_WINDOW_S = 900;

/**
 * One uPlot chart of a [seconds[], values[]] series over [from, to] (s), rebuilt when the data changes (at most 60
 * points). The x range is fixed, not fitted: a new deployment's first sample would otherwise stretch it over years.
 */
function Chart({ id, label, series, colour, format, from, to }) {
  const el = useRef(null);
  const empty = !series[1].some((v) => v !== null);
  useEffect(() => {
    if (!el.current || empty) return undefined;
    const width = Math.max(260, el.current.clientWidth || 320);
    const plot = new uPlot({
      width, height: 150,
      // the page shows times in UTC (event times are the data's clock); uPlot's axes would use the viewer's zone
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      legend: { show: false },
      cursor: { y: false },
      series: [{}, { label, stroke: colour, width: 2, fill: `${colour}22`, value: (_u, v) => format(v) }],
      axes: [{ space: 60 }, { size: 56, values: (_u, vs) => vs.map((v) => format(v)) }],
      scales: { x: { time: true, range: () => [from, to] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
    }, series, el.current);
    return () => plot.destroy();
  }, [series, from, to]);
  // No samples in the range: the workers do not report the metric (yet), or Prometheus has not scraped them.
  if (empty) return html`<div class="chart chart-empty" id=${id}><span class="muted small">no samples in the last 15 minutes</span></div>`;
  return html`<div class="chart" id=${id} ref=${el}></div>`;
}

function Figure({ label, value, id }) {
  return html`<div class="figure" id=${id}><span class="figure-value">${value}</span><span class="figure-label">${label}</span></div>`;
}

export function Live({ onUnauthorized }) {
  const s = useLoad(() => api.live(), [], { everyMs: LIVE_POLL_MS, onUnauthorized });
  const d = s.data;
  // A 503 is the API saying Prometheus cannot be read: a state of the deployment, not a failure of the page.
  const down = s.error && s.error.status === 503;
  const to = d && d.at !== null ? d.at / 1000 : Date.now() / 1000;
  const from = to - LIVE_WINDOW_S;
  return html`<${Panel} id="live" title="Live" note=${d ? `updated ${f.time(d.at)} · every ${LIVE_POLL_MS / 1000} s` : null}>
    ${down ? html`<p class="warn" id="prometheus-down"><b>Prometheus not reachable.</b> <span class="muted">${s.error.message}</span></p>`
      : html`<${Status} state=${s} />`}
    ${d && html`
      <div class="figures">
        <${Figure} id="live-throughput" label="events/s" value=${f.number(d.eventsPerSecond, 1)} />
        <${Figure} id="live-lag" label=${`lag (records) · ${f.seconds(d.lagSeconds)} behind`} value=${f.number(d.lagRecords)} />
        <${Figure} id="live-freshness" label="freshness p50 / p99 (append → emit)" value=${`${f.seconds(d.freshness.appendP50)} / ${f.seconds(d.freshness.appendP99)}`} />
        <${Figure} label="event time → emit, p50 / p99" value=${`${f.seconds(d.freshness.eventP50)} / ${f.seconds(d.freshness.eventP99)}`} />
      </div>
      <div class="charts">
        <div><h3>Throughput (events/s)</h3><${Chart} id="chart-throughput" label="events/s" series=${d.series.eventsPerSecond} from=${from} to=${to} colour="#3b6fd8" format=${(v) => f.number(v, 0)} /></div>
        <div><h3>Lag (records)</h3><${Chart} id="chart-lag" label="records" series=${d.series.lagRecords} from=${from} to=${to} colour="#d8723b" format=${(v) => f.number(v, 0)} /></div>
        <div><h3>Freshness p99 (s)</h3><${Chart} id="chart-freshness" label="p99 s" series=${d.series.freshnessP99} from=${from} to=${to} colour="#2e9d62" format=${(v) => (v === null ? '–' : v.toFixed(2))} /></div>
      </div>`}
  </${Panel}>`;
}

export function SegmentSizes({ onUnauthorized }) {
  const s = useLoad(() => api.segmentSizes(), [], { onUnauthorized });
  const rows = s.data;
  const max = rows ? Math.max(1, ...rows.map((r) => r.members)) : 1;
  return html`<${Panel} id="segment-sizes" title="Segment sizes">
    <${Status} state=${s} />
    ${rows && (rows.length === 0 ? html`<p class="muted empty">No segments defined.</p>` : html`
      <table>
        <thead><tr><th>segment</th><th>rule</th><th class="num">members</th><th class="bar-col"></th></tr></thead>
        <tbody>${rows.map((r) => html`<tr class="segment-size" data-segment-id=${r.segmentId}>
          <td><b>${r.segmentId}</b></td><td class="muted small">${r.why ?? '–'}</td><td class="num members">${f.number(r.members)}</td>
          <td class="bar-col"><span class="bar"><span class="bar-fill" style=${`width:${(100 * r.members) / max}%`}></span></span></td></tr>`)}
        </tbody>
      </table>`)}
  </${Panel}>`;
}

export function DeadLetters({ onUnauthorized }) {
  const s = useLoad(() => api.deadLetters(20), [], { onUnauthorized });
  const rows = s.data;
  return html`<${Panel} id="dead-letters" title="Latest dead letters" note="newest first; never the record's key or value">
    <${Status} state=${s} />
    ${rows && (rows.length === 0 ? html`<p class="muted empty">No dead letters.</p>` : html`
      <table>
        <thead><tr><th>when</th><th>code</th><th>stage</th><th>reason</th><th>source record</th></tr></thead>
        <tbody>${rows.map((d) => html`<tr class="dead-letter">
          <td class="nowrap">${f.time(d.time)}</td><td><code class="code">${d.code ?? '–'}</code></td><td>${d.stage ?? '–'}</td>
          <td class="reason-text">${d.reason ?? '–'}</td><td class="nowrap small"><code>${d.source ?? '–'}</code></td></tr>`)}
        </tbody>
      </table>`)}
  </${Panel}>`;
}
