// The Diagnose page: a note → the de-identification preview, the suggested labels with calibrated probabilities
// (abstention and truncation said plainly), and the words that drove the prediction.
import { html, useState } from '../vendor/htm-preact.js';
import { api } from '../api.js';
import { ErrorBox, Scores } from '../components.js';

/** The note with PHI spans highlighted (type shown beside each span). */
function PhiText({ text, entities }) {
  const parts = [];
  let pos = 0;
  for (const e of [...entities].sort((a, b) => a.start - b.start)) {
    if (e.start < pos) continue;
    parts.push(text.slice(pos, e.start));
    parts.push(
      html`<mark class="phi" title=${e.type}>${text.slice(e.start, e.end)}<span class="tag">${e.type}</span></mark>`,
    );
    pos = e.end;
  }
  parts.push(text.slice(pos));
  return html`<div class="text-view" data-testid="phi-text">${parts}</div>`;
}

/** Words highlighted green (for the label) or red (against it), four strengths. */
function ExplainedText({ explanation }) {
  const max = Math.max(1e-12, ...explanation.words.map((w) => Math.abs(w.score)));
  const parts = [];
  let pos = 0;
  for (const w of explanation.words) {
    parts.push(explanation.text.slice(pos, w.start));
    const level = Math.min(4, Math.max(1, Math.ceil((4 * Math.abs(w.score)) / max)));
    const cls = `w ${w.score >= 0 ? 'pos' : 'neg'}${level}`;
    parts.push(
      html`<span class=${cls} title=${`${w.score >= 0 ? '+' : ''}${w.score.toFixed(3)}`}
        >${explanation.text.slice(w.start, w.end)}</span
      >`,
    );
    pos = w.end;
  }
  parts.push(explanation.text.slice(pos));
  return html`<div>
    <p class="legend hint">
      <span class="pos3">green</span> words spoke for <strong>${explanation.label}</strong>,
      <span class="neg3">red</span> words against it; stronger colour, larger effect (hover for the score).
    </p>
    <div class="text-view" data-testid="explanation">${parts}</div>
    <p class="meta">
      Integrated gradients over the word embeddings; completeness error
      ${explanation.completeness_error.toExponential(1)}.
    </p>
  </div>`;
}

export function DiagnosePage({ info }) {
  const [text, setText] = useState('');
  const [model, setModel] = useState(info.default_model);
  const [preview, setPreview] = useState(null);
  const [result, setResult] = useState(null);
  const [explanation, setExplanation] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState('');
  const maxChars = info.limits.max_chars;
  const run = async (what, fn) => {
    if (!text.trim()) return setError(new Error('Type or paste a note first.'));
    if (text.length > maxChars)
      return setError(new Error(`The note has ${text.length} characters; the limit is ${maxChars}. Shorten it.`));
    setBusy(what);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy('');
    }
  };
  const doPreview = () => run('preview', async () => setPreview(await api.deid(text)));
  const doDiagnose = () =>
    run('diagnose', async () => {
      setExplanation(null);
      const labels = info.models.find((m) => m.name === model)?.labels.length ?? 5;
      setResult(await api.diagnose(model, text, Math.min(5, labels)));
    });
  const doExplain = () => run('explain', async () => setExplanation(await api.explain(text, model)));
  const r = result?.results?.[0];
  return html`<main id="main">
    <h2>Diagnose a note</h2>
    ${
      info.models.length > 1
        ? html`<label for="model">Model</label>
            <select id="model" value=${model} onChange=${(e) => setModel(e.target.value)}>
              ${info.models.map((m) => html`<option value=${m.name}>${m.name} (version ${m.version})</option>`)}
            </select>`
        : null
    }
    <label for="note">Clinical note</label>
    <textarea
      id="note"
      value=${text}
      onInput=${(e) => {
        setText(e.target.value);
        setPreview(null);
      }}
      aria-describedby="note-hint"
    ></textarea>
    <p id="note-hint" class="hint">
      ${text.length} / ${maxChars} characters.
      ${info.limits.deid ? 'The server de-identifies notes before the model sees them.' : ''}
    </p>
    <button class="secondary" onClick=${doPreview} disabled=${!!busy}>Preview de-identification</button>
    <button class="primary" onClick=${doDiagnose} disabled=${!!busy}>Diagnose</button>
    ${r ? html`<button class="secondary" onClick=${doExplain} disabled=${!!busy}>Explain</button>` : null}
    <p class="sr-only" aria-live="polite">${busy ? `${busy}…` : ''}</p>
    <${ErrorBox} error=${error} />
    ${
      preview
        ? html`<section class="card" aria-labelledby="phi-h">
            <h3 id="phi-h">De-identification preview</h3>
            <p class="hint">${preview.entities.length} PHI spans found, highlighted with their type:</p>
            <${PhiText} text=${text} entities=${preview.entities} />
            <h3>The text the model will see</h3>
            <div class="text-view">${preview.text}</div>
          </section>`
        : null
    }
    ${
      r
        ? html`<section class="card" aria-labelledby="res-h">
            <h3 id="res-h">Suggestion</h3>
            ${
              r.abstain
                ? html`<div class="abstain" role="alert" data-testid="abstain">
                    Not sure — refer to a clinician.
                    <p>${r.abstain_reason}</p>
                  </div>`
                : null
            }
            ${
              r.truncated_tokens
                ? html`<div class="warning" role="status">
                    The note was too long: the last ${r.truncated_tokens} tokens were not read by the model.
                  </div>`
                : null
            }
            <${Scores} result=${r} />
            <p class="meta">
              Model ${result.model.name}, version ${result.model.version}. Probabilities are calibrated on the model's
              validation data.
            </p>
          </section>`
        : null
    }
    ${
      explanation
        ? html`<section class="card" aria-labelledby="exp-h">
            <h3 id="exp-h">Why: ${explanation.label}</h3>
            <${ExplainedText} explanation=${explanation} />
          </section>`
        : null
    }
  </main>`;
}
