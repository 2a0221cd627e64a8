// The Review page (when the server reviews a run): one case at a time, a verdict per keystroke, each review saved
// before the page moves on (a failed write stays on screen with Retry), and the reviewers' agreement.
import { html, useCallback, useEffect, useRef, useState } from '../vendor/htm-preact.js';
import { api, session } from '../api.js';
import { ErrorBox, pct, Scores } from '../components.js';

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

export function ReviewPage() {
  const [data, setData] = useState(null);
  const [i, setI] = useState(0);
  const [reviewer, setReviewer] = useState(session.reviewer());
  const [nameDraft, setNameDraft] = useState('');
  const [comment, setComment] = useState('');
  const [picking, setPicking] = useState(false);
  const [pending, setPending] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState('');
  const load = useCallback(async () => {
    try {
      setData(await api.reviewCases(500));
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
      const r = await api.addReview(review);
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
          session.setReviewer(nameDraft.trim());
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
