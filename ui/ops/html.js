// htm bound to Preact: JSX-like templates in tagged strings, no compiler.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);

/** A panel's frame: title, optional note on the right, body. `id` names it for links and tests. */
export function Panel({ id, title, note, children }) {
  return html`<section class="panel" id=${id}>
    <header><h2>${title}</h2>${note ? html`<span class="note">${note}</span>` : null}</header>
    <div class="panel-body">${children}</div>
  </section>`;
}

/** What a panel shows instead of its data: loading, an API error (its code and message), or "nothing stored". */
export function Status({ state }) {
  if (state.loading) return html`<p class="muted">Loading…</p>`;
  if (state.error) {
    const e = state.error;
    if (e.status === 404) return html`<p class="muted empty">${e.message}</p>`;
    return html`<p class="error"><code>${e.code}</code> ${e.message}</p>`;
  }
  return null;
}
