// Small pieces shared by the pages: percentages, the error box, the probability bars, announcements for screen
// readers, and moving the focus after a navigation.
import { html } from './vendor/htm-preact.js';

/** A probability as a percentage: whole numbers, one decimal under 10 %. */
export const pct = (p) => `${(100 * p).toFixed(p < 0.1 ? 1 : 0)} %`;

/** Says `text` through the shell's polite live region (page changes, results, saved reviews). */
export function announce(text) {
  const el = document.getElementById('announcer');
  if (!el) return;
  el.textContent = '';
  // a change of text is what screen readers announce: clear, then set on the next frame
  window.requestAnimationFrame(() => {
    el.textContent = text;
  });
}

/** Moves the focus to the element with this id once the page has rendered (a heading or the task). */
export function focusOn(id) {
  window.requestAnimationFrame(() => document.getElementById(id)?.focus());
}

export function ErrorBox({ error, onRetry }) {
  if (!error) return null;
  return html`<div class="error" role="alert">
    <strong>${error.message}</strong>
    ${onRetry ? html` <button class="secondary" onClick=${onRetry}>Retry</button>` : null}
  </div>`;
}

/** The most probable labels as neutral bars with their percentage: a result's top_k, else its five highest. */
export function Scores({ result }) {
  const items =
    result.top_k ??
    Object.entries(result.probabilities)
      .map(([label, score]) => ({ label, score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 5);
  return html`<ol class="scores" aria-label="Most probable conditions">
    ${items.map(
      (t) =>
        html`<li>
          <span class="label">${t.label}</span>
          <span class="bar" aria-hidden="true"><span style=${{ width: `${(100 * t.score).toFixed(1)}%` }}></span></span>
          <span class="pct">${pct(t.score)}</span>
        </li>`,
    )}
  </ol>`;
}
