// The ops page (docs/ops-page.md): a search box for a user id, the user's view, and the deployment's live
// figures, experiments, segment sizes and dead letters. State lives in the URL fragment (#user=…), so a view can be linked.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { html } from './html.js';
import { initialKey, saveKey, useKey } from './api.js';
import { UserView } from './user.js';
import { DeadLetters, Live, SegmentSizes } from './ops.js';
import { Experiments } from './experiments.js';

function userFromHash() {
  return new URLSearchParams(location.hash.slice(1)).get('user');
}

function KeyForm({ onKey, reason }) {
  const [value, setValue] = useState('');
  return html`<form class="key-form panel" id="key-form" onSubmit=${(e) => { e.preventDefault(); if (value.trim()) onKey(value.trim()); }}>
    <h2>API key</h2>
    <p class="muted">${reason ?? 'The ops page reads the lookup API, which needs a key (kept in this tab only).'}</p>
    <input type="password" name="key" autocomplete="off" placeholder="x-api-key" value=${value} onInput=${(e) => setValue(e.target.value)} />
    <button type="submit">Use key</button>
  </form>`;
}

function Search({ userId, onSearch }) {
  const [value, setValue] = useState(userId ?? '');
  useEffect(() => setValue(userId ?? ''), [userId]);
  return html`<form class="search" role="search" onSubmit=${(e) => { e.preventDefault(); onSearch(value.trim()); }}>
    <input type="search" id="user-search" name="user" placeholder="user id" aria-label="user id" value=${value} onInput=${(e) => setValue(e.target.value)} />
    <button type="submit">Find user</button>
  </form>`;
}

function App() {
  const [key, setKey] = useState(() => initialKey());
  const [keyReason, setKeyReason] = useState(null);
  const [userId, setUserId] = useState(userFromHash);
  useKey(key);

  useEffect(() => {
    const onHash = () => setUserId(userFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  const onUnauthorized = (err) => {
    saveKey(null);
    setKeyReason(err.message);
    setKey(null);
  };

  const search = (id) => {
    location.hash = id ? `user=${encodeURIComponent(id)}` : '';
    setUserId(id || null);
  };

  return html`<div class="page">
    <header class="top">
      <a class="brand" href="#">Attune <span>ops</span></a>
      ${key && html`<${Search} userId=${userId} onSearch=${search} />`}
      ${key && html`<button class="link small" onClick=${() => { saveKey(null); setKey(null); setKeyReason(null); }}>forget key</button>`}
    </header>
    <main>
      ${!key ? html`<${KeyForm} reason=${keyReason} onKey=${(k) => { saveKey(k); setKey(k); }} />` : html`
        ${userId ? html`<${UserView} key=${userId} userId=${userId} onUnauthorized=${onUnauthorized} />`
          : html`<p class="muted hint">Find a user by id to see their features, segments, recommendations and recent events.</p>`}
        <h1 class="section-title">Deployment</h1>
        <${Live} onUnauthorized=${onUnauthorized} />
        <${Experiments} onUnauthorized=${onUnauthorized} />
        <${SegmentSizes} onUnauthorized=${onUnauthorized} />
        <${DeadLetters} onUnauthorized=${onUnauthorized} />`}
    </main>
  </div>`;
}

const root = document.getElementById('app');
root.textContent = ''; // the static "Loading…" placeholder: render() keeps what it did not create
render(html`<${App} />`, root);
