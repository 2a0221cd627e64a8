// The Diagnose page: a note → the de-identification preview (with the text the model reads on this server), the
// suggested conditions with calibrated probabilities (abstention, out-of-scope notes and truncation said plainly),
// and the words that drove the suggestion. A result belongs to the note and the model it was made for: once either
// changes, it is gone from the page (a request still on its way is dropped when it lands).
import { html, useEffect, useState } from '../vendor/htm-preact.js';
import { api } from '../api.js';
import { announce, ErrorBox, pct, Scores } from '../components.js';

/**
 * The note with spans highlighted, each with its type beside it: PHI (with who found it: rules, model or both) or
 * the entities of a token-classification model (with their score).
 */
function PhiText({ text, entities, testid = 'phi-text' }) {
  const parts = [];
  let pos = 0;
  for (const e of [...entities].sort((a, b) => a.start - b.start)) {
    if (e.start < pos) continue;
    parts.push(text.slice(pos, e.start));
    const tag = [e.type ?? e.label, e.source, e.score !== undefined && e.label ? pct(e.score) : null]
      .filter(Boolean)
      .join(' · ');
    parts.push(html`<mark class="phi">${text.slice(e.start, e.end)}<span class="tag">${tag}</span></mark>`);
    pos = e.end;
  }
  parts.push(text.slice(pos));
  return html`<div class="text-view" data-testid=${testid}>${parts}</div>`;
}

/** The entities a token-classification model found, highlighted in the note with type and score. */
function Entities({ res, text }) {
  const es = res.results[0].entities;
  return html`<section class="card" aria-labelledby="ent-h" data-testid="entities">
    <h3 id="ent-h">Entities</h3>
    <p class="hint">
      ${es.length} entit${es.length === 1 ? 'y' : 'ies'} found by ${res.model.name}, type and score beside each:
    </p>
    <${PhiText} text=${text} entities=${es} testid="entity-text" />
  </section>`;
}

function DeidPreview({ preview, text }) {
  const deid = preview.model_reads === 'deidentified';
  const n = preview.entities.length;
  return html`<section class="card" aria-labelledby="phi-h" data-testid="deid-preview">
    <h3 id="phi-h">De-identification preview</h3>
    <p class="hint">${n} possible PHI span${n === 1 ? '' : 's'} found, highlighted with their type:</p>
    <${PhiText} text=${text} entities=${preview.entities} />
    <h3>What the model reads on this server</h3>
    <p data-testid="model-reads">
      ${
        deid
          ? 'This server de-identifies every note before the model reads it. The model reads exactly this:'
          : 'This server does not de-identify notes: the model reads the original text, exactly as typed ' +
            '(names and numbers included). Start the server with --deid to change that.'
      }
    </p>
    <div class="text-view" data-testid="model-text">${preview.model_text}</div>
  </section>`;
}

/** Word scores, strongest first: the explanation in words and signed numbers (no colour needed). */
function TopWords({ explanation }) {
  const top = [...explanation.words]
    .filter((w) => w.score !== 0)
    .sort((a, b) => Math.abs(b.score) - Math.abs(a.score))
    .slice(0, 8);
  return html`<table class="top-words" data-testid="top-words">
    <caption>
      The words that weighed most, strongest first
    </caption>
    <thead>
      <tr>
        <th scope="col">word</th>
        <th scope="col">score</th>
        <th scope="col">effect</th>
      </tr>
    </thead>
    <tbody>
      ${top.map(
        (w) =>
          html`<tr>
            <td>${explanation.text.slice(w.start, w.end)}</td>
            <td class="num">${signed(w.score)}</td>
            <td>${w.score > 0 ? `for ${explanation.label}` : `against ${explanation.label}`}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

const signed = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;

/** The note with each word marked for (solid underline) or against (dotted) the label, its score in the text. */
function ExplainedText({ explanation }) {
  const max = Math.max(1e-12, ...explanation.words.map((w) => Math.abs(w.score)));
  const parts = [];
  let pos = 0;
  for (const w of explanation.words) {
    parts.push(explanation.text.slice(pos, w.start));
    const level = Math.min(4, Math.max(1, Math.ceil((4 * Math.abs(w.score)) / max)));
    const strong = level >= 3;
    parts.push(
      html`<span class=${`w ${w.score >= 0 ? 'pos' : 'neg'}${level}`} data-score=${w.score}
        >${explanation.text.slice(w.start, w.end)}${
          strong ? html`<sub class="score">${signed(w.score)}</sub>` : null
        }</span
      >`,
    );
    pos = w.end;
  }
  parts.push(explanation.text.slice(pos));
  return html`<div>
    <p class="legend hint">
      <span class="pos3">Green, underlined</span>${' '}words spoke for <strong>${explanation.label}</strong>;${' '}
      <span class="neg3">red, dotted</span>${' '}words against it. The strongest carry their score; the table below
      lists the words that weighed most.
    </p>
    <div class="text-view" data-testid="explanation">${parts}</div>
    <${TopWords} explanation=${explanation} />
    <p class="meta">
      Integrated gradients over the word embeddings; completeness error${' '}
      ${explanation.completeness_error.toExponential(1)}.
    </p>
  </div>`;
}

/** The banner of a result the model does not stand behind: out of scope, or not confident enough. */
function Abstention({ r }) {
  const outOfScope = r.abstain_reason === 'out_of_scope' || r.in_scope === false;
  if (outOfScope)
    return html`<div class="abstain" role="alert" data-testid="out-of-scope">
      This note is outside what the model was trained on — decide without it.
      <p>It does not look like the notes the model learned from, so its suggestions below mean little here.</p>
    </div>`;
  if (!r.abstain) return null;
  return html`<div class="abstain" role="alert" data-testid="abstain">
    The model is not confident (${pct(r.score)}) — decide without it.
    <p>It holds back when its most probable condition is below its confidence threshold.</p>
  </div>`;
}

/** The conditions the model can suggest, and the example notes its card gives. */
function Knows({ labels, examples, onExample }) {
  return html`<details class="knows">
    <summary>
      What this model can suggest: ${labels.length} conditions${examples.length ? ', example notes' : ''}
    </summary>
    <p class="hint">
      It only knows these conditions: a patient with another condition still gets one of them, or an abstention.
    </p>
    <ul class="label-list" data-testid="conditions">
      ${labels.map((l) => html`<li>${l}</li>`)}
    </ul>
    ${
      examples.length
        ? html`<p>Example notes (from the model card):</p>
            <ul class="examples">
              ${examples.map(
                (x, i) =>
                  html`<li>
                    <button class="secondary" onClick=${() => onExample(x)} aria-label=${`Use example note ${i + 1}`}>
                      Use
                    </button>
                    ${' '}<q>${x}</q>
                  </li>`,
              )}
            </ul>`
        : html`<p class="hint">The model card gives no example notes.</p>`
    }
  </details>`;
}

export function DiagnosePage({ info }) {
  const [text, setText] = useState('');
  const [model, setModel] = useState(info.default_model);
  const [examples, setExamples] = useState([]);
  // each answer keeps the note and the model it was made for; only an answer for the current ones is shown
  const [preview, setPreview] = useState(null);
  const [result, setResult] = useState(null);
  const [explanation, setExplanation] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState('');
  const maxChars = info.limits.max_chars;
  const m = info.models.find((x) => x.name === model) ?? info.models[0];
  useEffect(() => {
    setExamples([]);
    api.card(model).then(
      (c) => setExamples(c.examples ?? []),
      () => setExamples([]),
    );
  }, [model]);
  const current = (a) => (a && a.text === text && a.model === model ? a.value : null);
  const run = async (what, fn) => {
    if (!text.trim()) return setError(new Error('Type or paste a note first.'));
    if (text.length > maxChars)
      return setError(new Error(`The note has ${text.length} characters; the limit is ${maxChars}. Shorten it.`));
    setBusy(what);
    setError(null);
    try {
      const value = await fn();
      return { text, model, value };
    } catch (e) {
      setError(e);
      return null;
    } finally {
      setBusy('');
    }
  };
  const doPreview = async () => {
    const a = await run('De-identifying', () => api.deid(text));
    if (a) setPreview(a);
    if (a) announce(`De-identification preview: ${a.value.entities.length} possible PHI spans found.`);
  };
  const tagger = m.task === 'token-classification';
  const doEntities = async () => {
    const a = await run('Finding entities', () => api.entities(model, text));
    if (a) setResult(a);
    if (a) announce(`${a.value.results[0].entities.length} entities found.`);
  };
  const doDiagnose = async () => {
    if (tagger) return doEntities();
    const a = await run('Diagnosing', () => api.diagnose(model, text, Math.min(5, m.labels.length)));
    if (!a) return;
    setResult(a);
    const r = a.value.results[0];
    const top = r.top_k?.[0];
    announce(
      r.abstain
        ? `The model is not confident (${pct(r.score)}): decide without it.`
        : `Suggestion: ${top?.label ?? r.label}, ${pct(top?.score ?? r.score)}.`,
    );
  };
  const doExplain = async () => {
    const a = await run('Explaining', () => api.explain(text, model));
    if (a) setExplanation(a);
    if (a) announce(`Explanation for ${a.value.label} shown below the suggestion.`);
  };
  const res = current(result);
  const r = res?.results?.[0];
  const exp = current(explanation);
  const prev = current(preview);
  return html`<main id="main">
    <h2 id="page-h" tabindex="-1">Diagnose a note</h2>
    <p class="meta" data-testid="model-version">Model <strong>${m.name}</strong>, version <code>${m.version}</code>.</p>
    ${
      info.models.length > 1
        ? html`<label for="model">Model</label>
            <select id="model" value=${model} onChange=${(e) => setModel(e.target.value)}>
              ${info.models.map((x) => html`<option value=${x.name}>${x.name} (version ${x.version})</option>`)}
            </select>`
        : null
    }
    <${Knows}
      labels=${tagger ? [...new Set(m.labels.filter((l) => l !== 'O').map((l) => l.slice(2)))] : m.labels}
      examples=${examples}
      onExample=${(x) => setText(x)}
    />
    <label for="note">Clinical note</label>
    <textarea id="note" value=${text} onInput=${(e) => setText(e.target.value)} aria-describedby="note-hint"></textarea>
    <p id="note-hint" class="hint">
      ${text.length} / ${maxChars} characters.${' '}
      ${
        info.limits.deid
          ? 'This server de-identifies notes before the model reads them.'
          : 'This server gives the model the note as typed (no de-identification).'
      }
    </p>
    <button class="secondary" onClick=${doPreview} disabled=${!!busy}>Preview de-identification</button>
    <button class="primary" onClick=${doDiagnose} disabled=${!!busy}>${tagger ? 'Find entities' : 'Diagnose'}</button>
    ${r && !tagger ? html`<button class="secondary" onClick=${doExplain} disabled=${!!busy}>Explain</button>` : null}
    <p class="sr-only" aria-live="polite">${busy ? `${busy}…` : ''}</p>
    <${ErrorBox} error=${error} />
    ${prev ? html`<${DeidPreview} preview=${prev} text=${text} />` : null}
    ${r && tagger && r.entities ? html`<${Entities} res=${res} text=${text} />` : null}
    ${
      r && !tagger
        ? html`<section class="card" aria-labelledby="res-h" data-testid="result">
            <h3 id="res-h">Suggestion</h3>
            <${Abstention} r=${r} />
            ${
              r.truncated_tokens
                ? html`<div class="warning" role="status">
                    The note was too long: the last ${r.truncated_tokens} tokens were not read by the model.
                  </div>`
                : null
            }
            <${Scores} result=${r} />
            <p class="meta">
              Model ${res.model.name}, version ${res.model.version}. The percentages are calibrated: of the notes where
              the model said 80 %, about 8 in 10 were right on its validation data.
            </p>
          </section>`
        : null
    }
    ${
      exp
        ? html`<section class="card" aria-labelledby="exp-h">
            <h3 id="exp-h">Why: ${exp.label}</h3>
            <${ExplainedText} explanation=${exp} />
          </section>`
        : null
    }
  </main>`;
}
