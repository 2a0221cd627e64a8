// The Models page: each served model's version, the conditions it knows, calibration and abstention in words, its
// headline metrics with 95 % intervals beside the TF-IDF baseline, drift as an alert against its stated threshold
// (refreshed every 30 s, with the readings of this tab kept as a short history), and its model card (Markdown
// rendered by marked and sanitised by DOMPurify: markdown.js).
import { html, useEffect, useState } from '../vendor/htm-preact.js';
import { api } from '../api.js';
import { announce, ErrorBox, pct } from '../components.js';
import { Markdown } from '../markdown.js';

const REFRESH_MS = 30_000;
const HISTORY = 'medtune.drift';
const KEEP = 10;

/** A metric's value for people: shares as percentages, ROC-AUC and loss as numbers. */
const value = (key, v) =>
  typeof v !== 'number' ? '–' : key === 'loss' || key === 'roc_auc_ovr' ? v.toFixed(3) : `${(100 * v).toFixed(1)} %`;
const range = (key, ci) => (ci ? `${value(key, ci[0])} to ${value(key, ci[1])}` : '–');

function Metrics({ headline }) {
  if (!headline) return html`<p class="hint">No evaluation of this model was found beside it (metrics.json).</p>`;
  return html`<div class="scroll" tabindex="0" role="region" aria-label="Headline metrics (scrolls sideways)">
      <table data-testid="metrics">
        <caption>
          On the ${headline.split} split (${headline.n ?? '–'} notes)
        </caption>
        <thead>
          <tr>
            <th scope="col">metric</th>
            <th scope="col">model</th>
            <th scope="col">95 % interval</th>
            <th scope="col">baseline</th>
          </tr>
        </thead>
        <tbody>
          ${headline.metrics.map(
            (x) =>
              html`<tr>
                <th scope="row">${x.name}</th>
                <td>${value(x.key, x.value)}</td>
                <td>${range(x.key, x.ci)}</td>
                <td>${x.baseline === null ? '–' : value(x.key, x.baseline)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </div>
    <p class="hint">
      ${
        headline.baseline
          ? `Baseline: ${headline.baseline}. A model that does not beat it is not worth its cost.`
          : 'The run made no baseline.'
      }${' '}
      ${headline.intervals ? `Intervals: ${headline.intervals}.` : ''}
    </p>`;
}

/** The drift readings this tab has seen, per model (sessionStorage: they outlive a change of page). */
function remember(name, drift) {
  const all = JSON.parse(sessionStorage.getItem(HISTORY) ?? '{}');
  const list = all[name] ?? [];
  const last = list[list.length - 1];
  const reading = { time: new Date().toISOString(), ...drift };
  if (!last || last.label_psi !== drift.label_psi || last.confidence_psi !== drift.confidence_psi)
    all[name] = [...list, reading].slice(-KEEP);
  sessionStorage.setItem(HISTORY, JSON.stringify(all));
  return all[name] ?? [];
}

const clock = (iso) => new Date(iso).toLocaleTimeString();

function Drift({ m, updated }) {
  const d = m.monitoring.drift;
  const at = m.monitoring.drift_alert_at;
  if (!d)
    return html`<p data-testid="drift">
      ${
        m.monitoring.reference
          ? 'Drift: not enough predictions yet to compare with the validation data.'
          : 'Drift: not monitored (no reference saved with this model).'
      }
    </p>`;
  const history = remember(m.name, d);
  const numbers =
    `label PSI ${d.label_psi.toFixed(2)}, confidence PSI ${d.confidence_psi.toFixed(2)} over the last ` +
    `${d.window} predictions; an alert is raised at PSI ${at}`;
  return html`<div data-testid="drift">
    ${
      d.alert
        ? html`<div class="alert" role="alert">
            <strong>Drift detected.</strong> The notes sent lately differ from the model's validation data (${numbers}).
            Its accuracy here is unknown: re-validate it before relying on it.
          </div>`
        : html`<p class="ok-note"><strong>No drift detected</strong> (${numbers}).</p>`
    }
    <details>
      <summary>
        Drift readings in this tab (last ${KEEP}; checked every ${REFRESH_MS / 1000} s, last at ${updated})
      </summary>
      <table>
        <thead>
          <tr>
            <th scope="col">time</th>
            <th scope="col">label PSI</th>
            <th scope="col">confidence PSI</th>
            <th scope="col">status</th>
          </tr>
        </thead>
        <tbody>
          ${history.map(
            (h) =>
              html`<tr>
                <td>${clock(h.time)}</td>
                <td>${h.label_psi.toFixed(2)}</td>
                <td>${h.confidence_psi.toFixed(2)}</td>
                <td>${h.alert ? 'drift' : 'no drift'}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </details>
  </div>`;
}

const est = (e, pctOf = true) =>
  e
    ? pctOf
      ? `${(100 * e.value).toFixed(1)} % (${(100 * e.low).toFixed(1)} to ${(100 * e.high).toFixed(1)})`
      : `${e.value.toFixed(3)} (${e.low.toFixed(3)} to ${e.high.toFixed(3)})`
    : '–';

/** Live performance against reviewed served cases (serve --capture): the random stream apart, per window. */
function Live({ perf }) {
  if (!perf) return null;
  const row = (w, stream) => {
    const f = w[stream];
    return html`<tr>
      <th scope="row">${w.window}, ${stream === 'random' ? 'random sample' : 'prioritised'}</th>
      <td>${f.n}</td>
      <td>${est(f.accuracy)}</td>
      <td>${est(f.macro_f1)}</td>
      <td>${est(f.ece, false)}</td>
    </tr>`;
  };
  return html`<h4>How well it does now</h4>
    <p class=${perf.alert.active ? 'warning' : 'hint'} data-testid="live-alert">${perf.alert.message}</p>
    <div class="scroll" tabindex="0" role="region" aria-label="Live performance (scrolls sideways)">
      <table data-testid="live">
        <caption>
          Version ${perf.version} against ${perf.reviewed} reviewed served cases (95 % bootstrap intervals)
        </caption>
        <thead>
          <tr>
            <th scope="col">window, stream</th>
            <th scope="col">reviewed</th>
            <th scope="col">accuracy</th>
            <th scope="col">macro-F1</th>
            <th scope="col">calibration error</th>
          </tr>
        </thead>
        <tbody>
          ${perf.windows.flatMap((w) => [row(w, 'random'), row(w, 'prioritised')])}
        </tbody>
      </table>
    </div>
    <p class="hint">
      The random sample estimates how the model does on the notes it is sent. Prioritised cases were chosen because they
      were doubtful (out of scope, abstained, disagreement, low confidence): their figures are lower by design.
    </p>
    <${Estimated} perf=${perf} />`;
}

/** The estimate from the calibrated confidence of every captured case, before review (CBPE), per window. */
function Estimated({ perf }) {
  if (perf.estimated_skipped) return html`<p class="hint" data-testid="estimated">${perf.estimated_skipped}</p>`;
  const part = (e) => (e.n ? `${e.n}: ${est(e.accuracy)}` : '0');
  const row = (w) => {
    const e = w.estimated;
    return html`<tr>
      <th scope="row">${w.window}</th>
      <td>${e.n}</td>
      <td>${est(e.accuracy)}</td>
      <td>${e.macro_f1 == null ? '–' : `${(100 * e.macro_f1).toFixed(1)} %`}</td>
      <td>${part(e.answered)}</td>
      <td>${part(e.abstained)}</td>
      <td>${part(e.out_of_scope)}</td>
    </tr>`;
  };
  return html`<h4>Estimated before review</h4>
    <div class="scroll" tabindex="0" role="region" aria-label="Estimated performance (scrolls sideways)">
      <table data-testid="estimated">
        <caption>
          Version ${perf.version} on all ${perf.captured} captured cases, from its calibrated confidence (95 %
          intervals)
        </caption>
        <thead>
          <tr>
            <th scope="col">window</th>
            <th scope="col">captured</th>
            <th scope="col">estimated accuracy</th>
            <th scope="col">estimated macro-F1</th>
            <th scope="col">answered</th>
            <th scope="col">abstained</th>
            <th scope="col">out of scope</th>
          </tr>
        </thead>
        <tbody>
          ${perf.windows.map(row)}
        </tbody>
      </table>
    </div>
    <p class="hint">
      Each answer counts as right with the probability the model gave it. This holds only while the probabilities stay
      calibrated on the notes it is sent, and it cannot see a change in what the right answer is for the same notes:
      reviewed cases can.
    </p>`;
}

function ModelCard({ m, card, updated, perf }) {
  const below = m.abstain_below;
  return html`<section class="card" aria-labelledby=${`m-${m.name}`}>
    <h3 id=${`m-${m.name}`}>${m.name}</h3>
    <table>
      <tbody>
        <tr>
          <th scope="row">Version</th>
          <td>${m.version} <span class="meta">(sha256 ${m.sha256.slice(0, 16)}…)</span></td>
        </tr>
        <tr>
          <th scope="row">Conditions it knows</th>
          <td>${m.labels.length}: ${m.labels.join(', ')}</td>
        </tr>
        <tr>
          <th scope="row">Calibration</th>
          <td>
            ${
              m.temperature !== 1
                ? `Probabilities calibrated on validation data (temperature ${m.temperature.toFixed(2)}).`
                : 'Probabilities as the model gives them (no calibration).'
            }
          </td>
        </tr>
        <tr>
          <th scope="row">Abstention</th>
          <td>${below ? `Holds back when its top probability is under ${pct(below)}.` : 'Never holds back.'}</td>
        </tr>
      </tbody>
    </table>
    <${Drift} m=${m} updated=${updated} />
    <${Live} perf=${perf} />
    <h4>How well it did</h4>
    ${card ? html`<${Metrics} headline=${card.headline} />` : html`<p class="hint">Loading…</p>`}
    ${card ? html`<p class="warning">${card.validation_status}</p>` : null}
    ${
      card?.markdown
        ? html`<details class="model-card">
            <summary>Model card</summary>
            <${Markdown} source=${card.markdown} />
          </details>`
        : card
          ? html`<p class="hint">This model folder has no model card (README.md).</p>`
          : null
    }
  </section>`;
}

export function ModelsPage({ info, onInfo }) {
  const [cards, setCards] = useState({});
  const [perf, setPerf] = useState({});
  const [error, setError] = useState(null);
  const [updated, setUpdated] = useState(() => new Date().toLocaleTimeString());
  useEffect(() => {
    Promise.all(info.models.map((m) => api.card(m.name).then((c) => [m.name, c]))).then(
      (entries) => setCards(Object.fromEntries(entries)),
      setError,
    );
  }, [info.models.map((m) => m.sha256).join()]);
  // live performance (only with --capture), with each refresh
  useEffect(() => {
    if (!info.capture) return;
    Promise.all(
      info.models.map((m) =>
        api.performance(m.name).then(
          (p) => [m.name, p],
          () => [m.name, null],
        ),
      ),
    ).then((entries) => setPerf(Object.fromEntries(entries)));
  }, [info, updated]);
  // drift refreshes by itself; a new alert is announced
  useEffect(() => {
    const t = setInterval(async () => {
      try {
        const next = await api.models();
        const was = new Set(info.models.filter((m) => m.monitoring.drift?.alert).map((m) => m.name));
        const fresh = next.models.filter((m) => m.monitoring.drift?.alert && !was.has(m.name));
        if (fresh.length) announce(`Drift detected for ${fresh.map((m) => m.name).join(', ')}.`);
        setUpdated(new Date().toLocaleTimeString());
        onInfo(next);
      } catch {
        // the next tick tries again; the page keeps what it shows
      }
    }, REFRESH_MS);
    return () => clearInterval(t);
  }, [info]);
  return html`<main id="main">
    <h2 id="page-h" tabindex="-1">Models</h2>
    <${ErrorBox} error=${error} />
    ${info.models.map(
      (m) => html`<${ModelCard} m=${m} card=${cards[m.name]} updated=${updated} perf=${perf[m.name]} />`,
    )}
  </main>`;
}
