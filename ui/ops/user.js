// One user: current recommendations (with reasons and strategy), segments (since when, and why), rolling
// features, recent events; and the neighbours of an item picked from the list.
import { useState } from 'preact/hooks';
import { html, Panel, Status } from './html.js';
import { api } from './api.js';
import { useLoad } from './load.js';
import * as f from './format.js';

function Recommendations({ userId, onItem, onUnauthorized }) {
  const s = useLoad(() => api.recommendations(userId), [userId], { onUnauthorized });
  const r = s.data;
  const note = r ? html`strategy <b class="strategy">${r.strategy ?? '–'}</b> · generated ${f.time(r.generatedAt)}` : null;
  return html`<${Panel} id="recommendations" title="Current recommendations" note=${note}>
    <${Status} state=${s} />
    ${r && html`
      <p class="muted small">From source event <code>${r.sourceEventId ?? '–'}</code> of ${f.time(r.sourceEventTime)}</p>
      ${r.items.length === 0 ? html`<p class="muted empty">The current list is empty.</p>` : html`
      <table class="recs">
        <thead><tr><th class="num">#</th><th>item</th><th class="num">score</th><th>why</th></tr></thead>
        <tbody>${r.items.map((it, i) => html`
          <tr class="rec" data-item-id=${it.itemId}>
            <td class="num muted">${i + 1}</td>
            <td><button class="link item-id" title="similar items" onClick=${() => onItem(it.itemId)}>${it.itemId}</button></td>
            <td class="num">${f.score(it.score)}</td>
            <td><ul class="reasons">${it.reasons.map((re) => html`<li class=${`reason kind-${re.kind ?? 'other'}`}>${re.text}</li>`)}</ul></td>
          </tr>`)}
        </tbody>
      </table>`}`}
  </${Panel}>`;
}

function Similar({ itemId, onClose, onUnauthorized }) {
  const s = useLoad(() => api.similar(itemId), [itemId], { onUnauthorized });
  const d = s.data;
  return html`<${Panel} id="similar" title=${html`Similar to <code>${itemId}</code>`} note=${html`<button class="link" onClick=${onClose}>close</button>`}>
    <${Status} state=${s} />
    ${d && html`
      ${d.title ? html`<p class="small">${d.title}</p>` : null}
      <table>
        <thead><tr><th>item</th><th>title</th><th class="num">score</th></tr></thead>
        <tbody>${d.items.map((it) => html`<tr class=${it.available === false ? 'unavailable' : ''}>
          <td><code>${it.itemId}</code></td><td>${it.title ?? '–'}${it.available === false ? ' (unavailable)' : ''}</td><td class="num">${f.score(it.score)}</td></tr>`)}
        </tbody>
      </table>
      <p class="muted small">${d.similarity ?? ''}</p>`}
  </${Panel}>`;
}

/** A time that may wrap between its date and its time of day, never inside either. */
function When({ ms }) {
  const [date, ...rest] = f.time(ms).split(' ');
  return rest.length ? html`<span class="nowrap">${date}</span> <span class="nowrap">${rest.join(' ')}</span>` : date;
}

function Segments({ userId, onUnauthorized }) {
  const s = useLoad(() => api.segments(userId), [userId], { onUnauthorized });
  const d = s.data;
  return html`<${Panel} id="user-segments" title="Segments" note=${d ? `evaluated at ${f.time(d.evaluatedAt)}` : null}>
    <${Status} state=${s} />
    ${d && (d.segments.length === 0 ? html`<p class="muted empty">In no segment.</p>` : html`
      <table>
        <thead><tr><th>segment</th><th>why</th><th>since</th><th title="when membership changes with the passage of time alone (a window emptying)">next change</th></tr></thead>
        <tbody>${d.segments.map((g) => html`<tr class="segment" data-segment-id=${g.segmentId}>
          <td><b>${g.segmentId}</b></td>
          <td>${g.why ?? '–'}</td>
          <td>${g.since !== null ? html`<${When} ms=${g.since} />${g.cause ? html` <span class="tag">${g.cause}</span>` : null}` : html`<span class="muted nowrap" title="entered before this worker version kept the entry time: the segment-changes topic has it">not recorded</span>`}</td>
          <td>${g.changesAt !== null ? html`<${When} ms=${g.changesAt} />` : html`<span class="muted">–</span>`}</td>
        </tr>`)}
        </tbody>
      </table>`)}
  </${Panel}>`;
}

function Features({ userId, onUnauthorized }) {
  const s = useLoad(() => api.features(userId), [userId], { onUnauthorized });
  const d = s.data;
  return html`<${Panel} id="features" title="Rolling features" note=${d ? `at ${f.time(d.evaluatedAt)}` : null}>
    <${Status} state=${s} />
    ${d && html`
      <dl class="facts">
        <div><dt>first seen</dt><dd>${f.time(d.firstSeen)}</dd></div>
        <div><dt>last seen</dt><dd>${f.time(d.lastSeen)}</dd></div>
        <div><dt>events</dt><dd>${f.number(d.totalEvents)}</dd></div>
        <div><dt>country · device</dt><dd>${d.country ?? '–'} · ${d.device ?? '–'}</dd></div>
        <div><dt>since last event · purchase · view</dt><dd>${f.duration(d.recencyMs.any)} · ${f.duration(d.recencyMs.purchase)} · ${f.duration(d.recencyMs.view)}</dd></div>
        <div><dt>sessions</dt><dd>${f.number(d.session.count)}${d.session.active ? ` (active: ${d.session.currentEvents} events, ${f.duration(d.session.currentLengthMs)})` : ''}</dd></div>
      </dl>
      ${d.windows.length > 0 && html`<table class="windows">
        <thead><tr><th>window</th><th class="num">views</th><th class="num">clicks</th><th class="num">add to cart</th><th class="num">purchases</th><th class="num">spent</th></tr></thead>
        <tbody>${d.windows.map((w) => html`<tr><td>${w.window}</td><td class="num">${f.number(w.views)}</td><td class="num">${f.number(w.clicks)}</td>
          <td class="num">${f.number(w.addToCarts)}</td><td class="num">${f.number(w.purchases)}</td><td class="num">${f.number(w.monetary, 2)}</td></tr>`)}
        </tbody>
      </table>`}
      ${d.topCategories.length > 0 && html`<p class="small">Top categories: <span class="tags">${d.topCategories.map((c) => html`<span class="tag" title="decayed affinity">${c.category} ${c.score.toFixed(2)}</span>`)}</span></p>`}`}
  </${Panel}>`;
}

function Events({ userId, onItem, onUnauthorized }) {
  const s = useLoad(() => api.events(userId, 20), [userId], { onUnauthorized });
  const d = s.data;
  return html`<${Panel} id="events" title="Recent events">
    <${Status} state=${s} />
    ${d && html`
      <p class="small">${Object.entries(d.counts).map(([k, v], i) => html`${i ? ' · ' : ''}<b>${f.number(v)}</b> ${k}`)}</p>
      <div class="two">
        <div>
          <h3>Recent items <span class="muted small">(newest first)</span></h3>
          <ul class="chips">${d.recentItems.map((it) => html`<li><button class="link" onClick=${() => onItem(it)}>${it}</button></li>`)}</ul>
        </div>
        <div>
          <h3>Purchases</h3>
          <table class="compact"><tbody>${d.purchases.map((p) => html`<tr><td><code>${p.itemId}</code></td><td class="muted">${f.time(p.at)}</td></tr>`)}</tbody></table>
          ${d.purchases.length === 0 ? html`<p class="muted empty">None.</p>` : null}
        </div>
      </div>`}
  </${Panel}>`;
}

export function UserView({ userId, onUnauthorized }) {
  const [item, setItem] = useState(null);
  return html`<div class="user" data-user-id=${userId}>
    <h1 class="user-title">User <code>${userId}</code></h1>
    <div class="grid">
      <div class="col">
        <${Recommendations} userId=${userId} onItem=${setItem} onUnauthorized=${onUnauthorized} />
        ${item && html`<${Similar} itemId=${item} onClose=${() => setItem(null)} onUnauthorized=${onUnauthorized} />`}
        <${Events} userId=${userId} onItem=${setItem} onUnauthorized=${onUnauthorized} />
      </div>
      <div class="col">
        <${Segments} userId=${userId} onUnauthorized=${onUnauthorized} />
        <${Features} userId=${userId} onUnauthorized=${onUnauthorized} />
      </div>
    </div>
  </div>`;
}
