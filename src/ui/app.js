// medtune's browser UI: Preact + htm as plain ES modules (no build step), talking only to the documented API with
// the user's API key (typed once, kept in sessionStorage — never a cookie or the URL). No inline scripts or styles:
// the server's Content-Security-Policy forbids them. Pages: Diagnose, Review (when the server reviews a run), Models.
import { html, render, useCallback, useEffect, useMemo, useRef, useState } from './vendor/htm-preact.js';

const KEY = 'medtune.key';
const REVIEWER = 'medtune.reviewer';
const DISCLAIMER =
  'Decision support for clinicians, not a diagnosis; not clinically validated. A clinician must review every output.';

/** Calls the API with the key; throws an Error whose message is the server's (or says the server is unreachable). */
async function api(path, { method = 'GET', body } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${sessionStorage.getItem(KEY) ?? ''}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw Object.assign(
      new Error('The server cannot be reached. Check that medtune serve is running, then try again.'),
      { code: 'E_UNREACHABLE' },
    );
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new Error(data?.error?.message ?? `The server answered ${res.status}.`);
    e.code = data?.error?.code;
    e.status = res.status;
    throw e;
  }
  return data;
}

const pct = (p) => `${(100 * p).toFixed(1)} %`;

function ErrorBox({ error, onRetry }) {
  if (!error) return null;
  return html`<div class="error" role="alert">
    <strong>${error.message}</strong>
    ${onRetry ? html` <button class="secondary" onClick=${onRetry}>Retry</button>` : null}
  </div>`;
}

function SignIn({ onSignedIn }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    sessionStorage.setItem(KEY, key.trim());
    try {
      onSignedIn(await api('/v1/models'));
    } catch (err) {
      sessionStorage.removeItem(KEY);
      setError(
        err.status === 401
          ? new Error(
              'This API key was not accepted: it is wrong or was revoked. ' +
                'Ask the administrator for a key (medtune serve keys add).',
            )
          : err,
      );
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main">
    <h2>Sign in</h2>
    <form onSubmit=${submit}>
      <label for="key">API key</label>
      <input
        id="key"
        type="password"
        autocomplete="off"
        value=${key}
        onInput=${(e) => setKey(e.target.value)}
        required
      />
      <p class="hint">The key stays in this browser tab only (session storage) and is sent with every request.</p>
      <button class="primary" type="submit" disabled=${busy || !key.trim()}>Sign in</button>
    </form>
    <${ErrorBox} error=${error} />
  </main>`;
}

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

function Scores({ result }) {
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

function DiagnosePage({ info }) {
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
  const doPreview = () =>
    run('preview', async () => setPreview(await api('/v1/deid', { method: 'POST', body: { text } })));
  const doDiagnose = () =>
    run('diagnose', async () => {
      setExplanation(null);
      const labels = info.models.find((m) => m.name === model)?.labels.length ?? 5;
      setResult(
        await api(`/v1/models/${encodeURIComponent(model)}/diagnose`, {
          method: 'POST',
          body: { text, top_k: Math.min(5, labels) },
        }),
      );
    });
  const doExplain = () =>
    run('explain', async () => setExplanation(await api('/v1/explain', { method: 'POST', body: { text, model } })));
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

const asText = (x) => (Array.isArray(x) ? x.join(', ') || '(none)' : x);

function LabelPicker({ labels, onPick, onCancel }) {
  const [q, setQ] = useState('');
  const input = useRef(null);
  useEffect(() => input.current?.focus(), []);
  const shown = labels.filter((l) => l.toLowerCase().includes(q.toLowerCase())).slice(0, 50);
  return html`<div class="card">
    <label for="label-search">Other label (type to search, Enter picks the first, Escape cancels)</label>
    <input
      id="label-search"
      ref=${input}
      type="text"
      value=${q}
      onInput=${(e) => setQ(e.target.value)}
      onKeyDown=${(e) => {
        if (e.key === 'Enter' && shown[0]) onPick(shown[0]);
        if (e.key === 'Escape') onCancel();
      }}
    />
    <ul class="labels-list">
      ${shown.map((l) => html`<li><button onClick=${() => onPick(l)}>${l}</button></li>`)}
    </ul>
  </div>`;
}

function ReviewPage() {
  const [data, setData] = useState(null);
  const [i, setI] = useState(0);
  const [reviewer, setReviewer] = useState(sessionStorage.getItem(REVIEWER) ?? '');
  const [nameDraft, setNameDraft] = useState('');
  const [comment, setComment] = useState('');
  const [picking, setPicking] = useState(false);
  const [pending, setPending] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState('');
  const load = useCallback(async () => {
    try {
      setData(await api('/v1/review/cases?limit=500'));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, []);
  useEffect(() => {
    load();
  }, [load]);
  const c = data?.cases?.[i];
  const submit = async (verdict, label) => {
    const review = {
      case_id: c.id,
      reviewer,
      verdict,
      ...(label ? { label } : {}),
      ...(comment.trim() ? { comment: comment.trim() } : {}),
    };
    setPending(review);
    setError(null);
    try {
      const r = await api('/v1/reviews', { method: 'POST', body: review });
      // saved before moving on; a failed write stays on screen with Retry
      data.cases[i].reviews = [...(data.cases[i].reviews ?? []), r.review];
      setData({ ...data, agreement: r.agreement });
      setPending(null);
      setComment('');
      setSaved(`Saved: case ${c.id} — ${verdict}${label ? ` (${label})` : ''}.`);
      setI((k) => Math.min(k + 1, data.cases.length - 1));
    } catch (e) {
      setError(e);
    }
  };
  const onKey = (e) => {
    if (!c || picking || ['INPUT', 'TEXTAREA', 'SELECT'].includes(e.target.tagName)) return;
    const actions = {
      1: () => submit('gold'),
      2: () => submit('model'),
      3: () => setPicking(true),
      4: () => submit('unclear'),
      j: () => setI((k) => Math.min(k + 1, data.cases.length - 1)),
      k: () => setI((k) => Math.max(k - 1, 0)),
      ArrowRight: () => setI((k) => Math.min(k + 1, data.cases.length - 1)),
      ArrowLeft: () => setI((k) => Math.max(k - 1, 0)),
      c: () => document.getElementById('comment')?.focus(),
    };
    const a = actions[e.key];
    if (a) {
      e.preventDefault();
      a();
    }
  };
  if (!reviewer) {
    return html`<main id="main">
      <h2>Review</h2>
      <form
        onSubmit=${(e) => {
          e.preventDefault();
          sessionStorage.setItem(REVIEWER, nameDraft.trim());
          setReviewer(nameDraft.trim());
        }}
      >
        <label for="reviewer">Your name (recorded with each review)</label>
        <input id="reviewer" type="text" value=${nameDraft} onInput=${(e) => setNameDraft(e.target.value)} required />
        <button class="primary" type="submit" disabled=${!nameDraft.trim()}>Start reviewing</button>
      </form>
    </main>`;
  }
  if (!data)
    return html`<main id="main">
      <h2>Review</h2>
      <${ErrorBox} error=${error} onRetry=${load} />${error ? null : html`<p>Loading cases…</p>`}
    </main>`;
  if (!c)
    return html`<main id="main">
      <h2>Review</h2>
      <p>This run has no misclassified or low-confidence cases to review.</p>
    </main>`;
  const ag = data.agreement;
  const top = Object.entries(c.probabilities)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([label, score]) => ({ label, score }));
  const reviews = (c.reviews ?? [])
    .map((r) => `${r.reviewer}: ${r.verdict}${r.label ? ` → ${r.label}` : ''}`)
    .join('; ');
  const reviewers = `${ag.reviewers.length} reviewer${ag.reviewers.length === 1 ? '' : 's'}`;
  const kappa =
    ag.cohen_kappa !== null
      ? `Cohen's κ ${ag.cohen_kappa.toFixed(2)} on ${ag.cases_shared} shared cases`
      : ag.fleiss_kappa !== null
        ? `Fleiss' κ ${ag.fleiss_kappa.toFixed(2)} on ${ag.cases_shared} shared cases`
        : 'no case has two reviewers yet';
  return html`<main id="main" tabindex="-1" onKeyDown=${onKey} data-testid="review">
    <h2>Review case ${i + 1} of ${data.total}</h2>
    <p class="keys hint">
      Keys: <kbd>1</kbd> gold is right · <kbd>2</kbd> model is right · <kbd>3</kbd> other label ·${' '}
      <kbd>4</kbd> unclear · <kbd>c</kbd> comment · <kbd>j</kbd>/<kbd>k</kbd> next/previous. Reviewer: ${reviewer}.
    </p>
    <section class="card" aria-labelledby="case-h">
      <h3 id="case-h">Case ${c.id} ${c.correct ? '(low confidence)' : '(misclassified)'}</h3>
      <div class="text-view">${c.text}</div>
      <table>
        <tbody>
          <tr>
            <th scope="row">Gold label</th>
            <td data-testid="gold">${asText(c.gold)}</td>
          </tr>
          <tr>
            <th scope="row">Model</th>
            <td>${asText(c.predicted)} (${pct(c.confidence)})</td>
          </tr>
          <tr>
            <th scope="row">Reviews</th>
            <td data-testid="reviews">${reviews || 'none yet'}</td>
          </tr>
        </tbody>
      </table>
      <${Scores} result=${{ top_k: top }} />
      <label for="comment">Comment (optional)</label>
      <input
        id="comment"
        type="text"
        value=${comment}
        onInput=${(e) => setComment(e.target.value)}
        onKeyDown=${(e) => {
          if (e.key === 'Escape') e.target.blur();
        }}
      />
      <div class="verdicts">
        <button class="secondary" onClick=${() => submit('gold')}>1 · Gold is right</button>
        <button class="secondary" onClick=${() => submit('model')}>2 · Model is right</button>
        <button class="secondary" onClick=${() => setPicking(true)}>3 · Other label</button>
        <button class="secondary" onClick=${() => submit('unclear')}>4 · Unclear</button>
      </div>
      ${
        picking
          ? html`<${LabelPicker}
              labels=${data.labels}
              onPick=${(l) => {
                setPicking(false);
                submit('other', l);
              }}
              onCancel=${() => setPicking(false)}
            />`
          : null
      }
    </section>
    <${ErrorBox}
      error=${error ? new Error(`Not saved: ${error.message}`) : null}
      onRetry=${pending ? () => submit(pending.verdict, pending.label) : null}
    />
    <p class="saved" role="status" aria-live="polite">${saved}</p>
    <p class="meta">Agreement: ${ag.reviews} reviews of ${ag.cases_reviewed} cases by ${reviewers}${'; '}${kappa}.</p>
  </main>`;
}

/** A small, safe Markdown subset (headings, lists, tables, paragraphs, code, bold): text is never inserted as HTML. */
function Markdown({ source }) {
  const body = source.replace(/^---\n[\s\S]*?\n---\n/, '');
  const blocks = body.split(/\n{2,}/);
  const inline = (s) =>
    s
      .split(/(\*\*[^*]+\*\*|`[^`]+`)/)
      .map((p) =>
        p.startsWith('**')
          ? html`<strong>${p.slice(2, -2)}</strong>`
          : p.startsWith('`')
            ? html`<code>${p.slice(1, -1)}</code>`
            : p,
      );
  return html`<div class="markdown">
    ${blocks.map((b) => {
      const lines = b.split('\n');
      const h = /^(#{1,4}) (.*)$/.exec(lines[0]);
      if (h && lines.length === 1)
        return h[1].length <= 2 ? html`<h3>${inline(h[2])}</h3>` : html`<h4>${inline(h[2])}</h4>`;
      if (lines.every((l) => /^\s*[-*] /.test(l)))
        return html`<ul>
          ${lines.map((l) => html`<li>${inline(l.replace(/^\s*[-*] /, ''))}</li>`)}
        </ul>`;
      if (lines.length >= 2 && lines.every((l) => l.trim().startsWith('|'))) {
        const cells = (l) =>
          l
            .trim()
            .replace(/^\||\|$/g, '')
            .split('|')
            .map((x) => x.trim());
        const rows = lines.filter((l) => !/^\s*\|[\s:|-]+\|\s*$/.test(l));
        return html`<table>
          <thead>
            <tr>
              ${cells(rows[0]).map((x) => html`<th scope="col">${inline(x)}</th>`)}
            </tr>
          </thead>
          <tbody>
            ${rows.slice(1).map(
              (r) =>
                html`<tr>
                  ${cells(r).map((x) => html`<td>${inline(x)}</td>`)}
                </tr>`,
            )}
          </tbody>
        </table>`;
      }
      if (lines[0].startsWith('```')) return html`<pre><code>${lines.slice(1, -1).join('\n')}</code></pre>`;
      return html`<p>${inline(b)}</p>`;
    })}
  </div>`;
}

function ModelsPage({ info }) {
  const [cards, setCards] = useState({});
  const [error, setError] = useState(null);
  useEffect(() => {
    Promise.all(
      info.models.map((m) => api(`/v1/models/${encodeURIComponent(m.name)}/card`).then((c) => [m.name, c])),
    ).then((entries) => setCards(Object.fromEntries(entries)), setError);
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

function App() {
  const [info, setInfo] = useState(null);
  const [page, setPage] = useState('diagnose');
  const [reviewable, setReviewable] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!sessionStorage.getItem(KEY)) return;
    api('/v1/models').then(setInfo, (e) => {
      if (e.status === 401) sessionStorage.removeItem(KEY);
      setError(e);
    });
  }, []);
  useEffect(() => {
    if (info)
      api('/v1/review/cases?limit=1').then(
        () => setReviewable(true),
        () => setReviewable(false),
      );
  }, [info]);
  const pages = useMemo(
    () => [['diagnose', 'Diagnose'], ...(reviewable ? [['review', 'Review']] : []), ['models', 'Models']],
    [reviewable],
  );
  const signOut = () => {
    sessionStorage.removeItem(KEY);
    setInfo(null);
  };
  return html` <header>
      <h1>medtune</h1>
      ${
        info
          ? html`<nav aria-label="Pages">
              <ul>
                ${pages.map(
                  ([id, name]) =>
                    html`<li>
                      <button aria-current=${page === id ? 'page' : undefined} onClick=${() => setPage(id)}>
                        ${name}
                      </button>
                    </li>`,
                )}
                <li><button onClick=${signOut}>Sign out</button></li>
              </ul>
            </nav>`
          : null
      }
    </header>
    <div class="disclaimer" role="note">${DISCLAIMER}</div>
    ${
      !info
        ? html`<${SignIn}
              onSignedIn=${(i) => {
                setError(null);
                setInfo(i);
              }}
            />${error && error.status !== 401 ? html`<${ErrorBox} error=${error} />` : null}`
        : null
    }
    ${info && page === 'diagnose' ? html`<${DiagnosePage} info=${info} />` : null}
    ${info && page === 'review' ? html`<${ReviewPage} />` : null}
    ${info && page === 'models' ? html`<${ModelsPage} info=${info} />` : null}`;
}

render(html`<${App} />`, document.getElementById('app'));
