// Small pieces shared by the pages: the error box and the probability bars.
import { html } from './vendor/htm-preact.js';

export const pct = (p) => `${(100 * p).toFixed(1)} %`;

export function ErrorBox({ error, onRetry }) {
  if (!error) return null;
  return html`<div class="error" role="alert">
    <strong>${error.message}</strong>
    ${onRetry ? html` <button class="secondary" onClick=${onRetry}>Retry</button>` : null}
  </div>`;
}

/** The most probable labels as bars: a result's top_k, else its five highest probabilities. */
export function Scores({ result }) {
  const items =
    result.top_k ??
    Object.entries(result.probabilities)
      .map(([label, score]) => ({ label, score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 5);
  return html`<ol class="scores" aria-label="Most probable diagnoses">
    ${items.map(
      (t) =>
        html`<li>
          <span>${t.label}</span>
          <meter min="0" max="1" value=${t.score} aria-label=${`${t.label}: ${pct(t.score)}`}></meter>
          <span class="pct">${pct(t.score)}</span>
        </li>`,
    )}
  </ol>`;
}
