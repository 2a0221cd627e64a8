// The Models page: each served model's version, labels, calibration, abstention, drift, the run's metrics and its
// model card.
import { html, useEffect, useState } from '../vendor/htm-preact.js';
import { api } from '../api.js';
import { ErrorBox } from '../components.js';
import { Markdown } from '../markdown.js';

export function ModelsPage({ info }) {
  const [cards, setCards] = useState({});
  const [error, setError] = useState(null);
  useEffect(() => {
    Promise.all(info.models.map((m) => api.card(m.name).then((c) => [m.name, c]))).then(
      (entries) => setCards(Object.fromEntries(entries)),
      setError,
    );
  }, [info]);
  return html`<main id="main">
    <h2>Models</h2>
    <${ErrorBox} error=${error} /> ${info.models.map((m) => {
      const card = cards[m.name];
      const drift = m.monitoring.drift;
      const driftText = drift
        ? `label PSI ${drift.label_psi.toFixed(3)}, confidence PSI ${drift.confidence_psi.toFixed(3)} ` +
          `over ${drift.window} predictions${drift.alert ? ' — re-validate the model' : ''}`
        : m.monitoring.reference
          ? 'not enough predictions yet'
          : 'no reference saved with this model';
      return html`<section class="card" aria-labelledby=${`m-${m.name}`}>
        <h3 id=${`m-${m.name}`}>${m.name}</h3>
        <table>
          <tbody>
            <tr>
              <th scope="row">Version</th>
              <td>${m.version} <span class="meta">(sha256 ${m.sha256.slice(0, 16)}…)</span></td>
            </tr>
            <tr>
              <th scope="row">Labels</th>
              <td>${m.labels.length}: ${m.labels.slice(0, 12).join(', ')}${m.labels.length > 12 ? ', …' : ''}</td>
            </tr>
            <tr>
              <th scope="row">Calibration</th>
              <td>temperature ${m.temperature.toFixed(3)}; abstains below ${m.abstain_below ?? 'never'}</td>
            </tr>
            <tr>
              <th scope="row">Drift</th>
              <td>${driftText}</td>
            </tr>
            ${
              card?.metrics
                ? Object.entries(card.metrics)
                    .filter(([k]) => /^(accuracy|f1_macro|f1_micro|roc_auc_ovr|split)$/.test(k))
                    .map(
                      ([k, v]) =>
                        html`<tr>
                          <th scope="row">${k}</th>
                          <td>${typeof v === 'number' ? v.toFixed(4) : v}</td>
                        </tr>`,
                    )
                : null
            }
          </tbody>
        </table>
        ${card ? html`<p class="warning">${card.validation_status}</p>` : null}
        ${
          card?.markdown
            ? html`<details>
                <summary>Model card</summary>
                <${Markdown} source=${card.markdown} />
              </details>`
            : card
              ? html`<p class="hint">This model folder has no model card (README.md).</p>`
              : null
        }
      </section>`;
    })}
  </main>`;
}
