// The Review page (when the server reviews a run): one case at a time, a verdict per keystroke wherever the focus
// is on the page, each review saved before the page moves on (a failed write stays on screen with Retry), undo,
// progress, and a "done" state after the last case. The reviewer is the API key's name (the server decides);
// other reviewers' verdicts on a case stay hidden until one has given one's own. Each case keeps its own comment.
import { html, useEffect, useRef, useState } from '../vendor/htm-preact.js';
import { api } from '../api.js';
import { announce, ErrorBox, focusOn, pct, Scores } from '../components.js';

const asText = (x) => (Array.isArray(x) ? x.join(', ') || '(none)' : x);
const VERDICT_TEXT = {
  gold: 'the recorded label is right',
  model: 'the model is right',
  other: 'another label',
  unclear: 'unclear',
};
const REASON_TEXT = {
  out_of_scope: 'out of scope',
  abstained: 'the model abstained',
  disagreement: 'the shadow model disagrees',
  low_confidence: 'low confidence',
  random_sample: 'random sample (for an unbiased estimate)',
};
const verdictText = (r) => `${VERDICT_TEXT[r.verdict]}${r.verdict === 'other' && r.label ? ` (${r.label})` : ''}`;
const TYPING = ['INPUT', 'TEXTAREA', 'SELECT'];

function LabelPicker({ labels, onPick, onCancel }) {
  const [q, setQ] = useState('');
  const input = useRef(null);
  useEffect(() => input.current?.focus(), []);
  const shown = labels.filter((l) => l.toLowerCase().includes(q.toLowerCase())).slice(0, 50);
  return html`<div class="card">
    <label for="label-search">Another label (type to search, Enter picks the first, Escape cancels)</label>
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

/** The reviews of a case one may see, or how many are hidden until one's own verdict. */
function Others({ c, reviewer }) {
  const others = (c.reviews ?? []).filter((r) => r.reviewer !== reviewer);
  if (c.hidden_reviews)
    return html`${c.hidden_reviews} from other reviewers, hidden until you give your verdict (so that it is your own).`;
  if (!others.length) return 'none from other reviewers';
  return others.map((r) => `${r.reviewer}: ${verdictText(r)}`).join('; ');
}

function Agreement({ ag }) {
  const reviewers = `${ag.reviewers.length} reviewer${ag.reviewers.length === 1 ? '' : 's'}`;
  const kappa =
    ag.cohen_kappa !== null
      ? `Cohen's κ ${ag.cohen_kappa.toFixed(2)} on ${ag.cases_shared} shared cases`
      : ag.fleiss_kappa !== null
        ? `Fleiss' κ ${ag.fleiss_kappa.toFixed(2)} on ${ag.cases_shared} shared cases`
        : 'no case has two reviewers yet';
  return html`<p class="meta" data-testid="agreement">
    Agreement: ${ag.reviews} reviews of ${ag.cases_reviewed} cases by ${reviewers}; ${kappa}.
  </p>`;
}

function Progress({ progress }) {
  return html`<p class="progress" data-testid="progress">
    You have reviewed ${progress.reviewed} of ${progress.total} cases.
    <span class="bar" aria-hidden="true"
      ><span style=${{ width: `${((100 * progress.reviewed) / Math.max(1, progress.total)).toFixed(1)}%` }}></span
    ></span>
  </p>`;
}

function Keys({ served }) {
  return html`<p class="keys hint">
    Keys: ${served ? null : html`<kbd>1</kbd> recorded label is right · `}<kbd>2</kbd> model is right ·${' '}
    <kbd>3</kbd> another label ·${' '} <kbd>4</kbd> unclear · <kbd>c</kbd> comment · <kbd>u</kbd> undo ·
    <kbd>j</kbd>/<kbd>k</kbd> next/previous.
  </p>`;
}

/** The review session: cases, position, one comment per case, undo, and the keys (on the whole page). */
function useReview() {
  const [data, setData] = useState(null);
  const [i, setI] = useState(0);
  const [drafts, setDrafts] = useState({});
  const [picking, setPicking] = useState(false);
  const [pending, setPending] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState([]);
  const [done, setDone] = useState(false);
  const saving = useRef(false);
  const load = async () => {
    try {
      const d = await api.reviewCases(500);
      setData(d);
      const first = d.cases.findIndex((c) => !(c.reviews ?? []).some((r) => r.reviewer === d.reviewer));
      setI(Math.max(0, first));
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  const cases = data?.cases ?? [];
  const c = cases[i];
  /** Moves by `by` cases (relative, so that keys pressed faster than the page renders all count). */
  const move = (by) => {
    setDone(false);
    setI((k) => Math.max(0, Math.min(cases.length - 1, k + by)));
  };
  const patchCase = (id, r) =>
    setData((d) => ({
      ...d,
      agreement: r.agreement,
      progress: r.progress,
      cases: d.cases.map((x) =>
        x.id === id ? { ...x, reviews: r.case_reviews, hidden_reviews: r.hidden_reviews } : x,
      ),
    }));
  const submit = async (verdict, label) => {
    // one verdict at a time, none in the "done" state: a key pressed twice never saves twice
    if (!c || saving.current || done) return;
    saving.current = true;
    const comment = (drafts[c.id] ?? '').trim();
    const review = { case_id: c.id, verdict, ...(label ? { label } : {}), ...(comment ? { comment } : {}) };
    setPending(review);
    setError(null);
    try {
      const r = await api.addReview(review);
      patchCase(c.id, r);
      setPending(null);
      setDrafts((d) => ({ ...d, [c.id]: '' }));
      setSaved((s) => [...s, { review: r.review, index: i }]);
      const last = i === cases.length - 1;
      const next = last ? 'All cases are done.' : `Now case ${i + 2} of ${cases.length}.`;
      announce(`Saved for case ${i + 1}: ${verdictText(r.review)}. ${next}`);
      if (last) setDone(true);
      else setI(i + 1);
      focusOn(last ? 'done-h' : 'case');
    } catch (e) {
      setError(e);
    } finally {
      saving.current = false;
    }
  };
  const undo = async () => {
    const top = saved[saved.length - 1];
    if (!top || saving.current) return;
    saving.current = true;
    try {
      const r = await api.undoReview(top.review.id);
      patchCase(top.review.case_id, r);
      setSaved((s) => s.slice(0, -1));
      setDone(false);
      setI(top.index);
      announce(`Undone: your verdict on case ${top.index + 1}. Case ${top.index + 1} is shown again.`);
      focusOn('case');
    } catch (e) {
      setError(e);
    } finally {
      saving.current = false;
    }
  };
  return {
    ...{ data, load, cases, c, i, move, drafts, setDrafts, picking, setPicking, pending, error, saved, done },
    ...{ submit, undo },
  };
}

export function ReviewPage() {
  const s = useReview();
  const [started, setStarted] = useState(false);
  useEffect(() => {
    s.load();
  }, []);
  // the keys work wherever the focus is on the page, except while typing (comment, label search); the listener
  // reads the session of the latest render (a ref), so a key pressed right after a change acts on what is shown
  const live = useRef(s);
  live.current = s;
  useEffect(() => {
    if (!started) return undefined;
    const onKey = (e) => {
      const r = live.current;
      if (e.ctrlKey || e.metaKey || e.altKey || r.picking || TYPING.includes(e.target.tagName)) return;
      const actions = {
        1: () => r.data?.source !== 'served' && r.submit('gold'),
        2: () => r.submit('model'),
        3: () => !r.done && r.setPicking(true),
        4: () => r.submit('unclear'),
        u: () => r.undo(),
        j: () => r.move(1),
        k: () => r.move(-1),
        ArrowRight: () => r.move(1),
        ArrowLeft: () => r.move(-1),
        c: () => document.getElementById('comment')?.focus(),
      };
      const a = actions[e.key];
      if (a) {
        e.preventDefault();
        a();
      }
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [started]);
  if (!s.data)
    return html`<main id="main">
      <h2 id="page-h" tabindex="-1">Review</h2>
      <${ErrorBox} error=${s.error} onRetry=${s.load} />${s.error ? null : html`<p>Loading cases…</p>`}
    </main>`;
  if (!s.cases.length)
    return html`<main id="main">
      <h2 id="page-h" tabindex="-1">Review</h2>
      <p>
        ${
          s.data.source === 'served'
            ? 'No served case to review yet: none was captured, or none was doubtful or drawn for the random sample.'
            : 'This run has no misclassified or low-confidence cases to review.'
        }
      </p>
    </main>`;
  if (!started)
    return html`<main id="main">
      <h2 id="page-h" tabindex="-1">Review</h2>
      <p>
        ${
          s.data.source === 'served'
            ? `${s.data.total} served cases (de-identified): a random sample, for an unbiased estimate of how the ` +
              'served model does, taken in turn with doubtful cases (out of scope, abstained, disagreement, low ' +
              'confidence). Record the true outcome.'
            : `${s.data.total} cases of the run: the model's errors, most confident first, then its low-confidence ` +
              'answers.'
        }
        You review as <strong data-testid="reviewer">${s.data.reviewer}</strong> (the name of your API key). Other
        reviewers' verdicts on a case stay hidden until you give yours.
      </p>
      <${Progress} progress=${s.data.progress} />
      <${Keys} served=${s.data.source === 'served'} />
      <button
        class="primary"
        onClick=${() => {
          setStarted(true);
          focusOn('case');
        }}
      >
        Start reviewing
      </button>
    </main>`;
  return html`<main id="main" data-testid="review">
    <h2 id="page-h" tabindex="-1">Review</h2>
    <${Progress} progress=${s.data.progress} />
    <${Keys} served=${s.data.source === 'served'} />
    ${s.done ? html`<${Done} s=${s} />` : html`<${CaseView} s=${s} />`}
    <${ErrorBox}
      error=${s.error ? new Error(`Not saved: ${s.error.message}`) : null}
      onRetry=${s.pending ? () => s.submit(s.pending.verdict, s.pending.label) : null}
    />
    <p class="saved" data-testid="saved">
      ${
        s.saved.length
          ? html`Saved: case ${s.saved[s.saved.length - 1].index + 1},${' '}
              ${verdictText(s.saved[s.saved.length - 1].review)}.${' '}
              <button class="secondary" onClick=${s.undo}>Undo (u)</button>`
          : null
      }
    </p>
    <${Agreement} ag=${s.data.agreement} />
  </main>`;
}

function Done({ s }) {
  const left = s.data.progress.total - s.data.progress.reviewed;
  return html`<section class="card" aria-labelledby="done-h" data-testid="done">
    <h3 id="done-h" tabindex="-1">Done: that was the last case</h3>
    <p>
      ${
        left
          ? `${left} case${left === 1 ? ' has' : 's have'} no verdict of yours yet.`
          : 'Every case has a verdict of yours. Thank you.'
      }
    </p>
    <button class="secondary" onClick=${() => s.move(-s.cases.length)}>Back to the first case</button>
    <button class="secondary" onClick=${s.undo} disabled=${!s.saved.length}>Undo the last verdict</button>
  </section>`;
}

function CaseView({ s }) {
  const { c, data } = s;
  const mine = (c.reviews ?? []).filter((r) => r.reviewer === data.reviewer);
  const served = data.source === 'served';
  return html`<section id="case" class="card task" tabindex="-1" aria-labelledby="case-h" data-case=${c.id}>
    <h3 id="case-h">
      Case ${s.i + 1} of ${s.cases.length}${' '}
      <span class="meta"
        >(${
          served
            ? c.reasons.map((x) => REASON_TEXT[x]).join(', ')
            : c.correct
              ? 'low confidence'
              : 'the model disagrees with the recorded label'
        })</span
      >
    </h3>
    <div class="text-view">${c.text}</div>
    <table>
      <tbody>
        ${
          served
            ? null
            : html`<tr>
                <th scope="row">Recorded label</th>
                <td data-testid="gold">${asText(c.gold)}</td>
              </tr>`
        }
        <tr>
          <th scope="row">Model</th>
          <td>${asText(c.predicted)} (${pct(c.confidence)})</td>
        </tr>
        <tr>
          <th scope="row">Your verdict</th>
          <td data-testid="mine">${mine.length ? verdictText(mine[mine.length - 1]) : 'none yet'}</td>
        </tr>
        <tr>
          <th scope="row">Other reviewers</th>
          <td data-testid="reviews"><${Others} c=${c} reviewer=${data.reviewer} /></td>
        </tr>
        <tr>
          <th scope="row">Source</th>
          <td class="meta">
            ${
              served
                ? `served ${new Date(c.time).toLocaleString()} by version ${c.model.version}` +
                  `${c.stream === 'random' ? ' (random sample)' : ''}`
                : `row ${c.id} of the run's predictions`
            }
          </td>
        </tr>
      </tbody>
    </table>
    <${Scores}
      result=${{
        top_k: Object.entries(c.probabilities)
          .sort((a, b) => b[1] - a[1])
          .slice(0, 5)
          .map(([label, score]) => ({ label, score })),
      }}
    />
    <label for="comment">Comment on this case (optional; Escape returns to the keys)</label>
    <input
      id="comment"
      type="text"
      value=${s.drafts[c.id] ?? ''}
      onInput=${(e) => s.setDrafts((d) => ({ ...d, [c.id]: e.target.value }))}
      onKeyDown=${(e) => {
        if (e.key === 'Escape') focusOn('case');
      }}
    />
    <div class="verdicts">
      ${
        served
          ? null
          : html`<button class="secondary" onClick=${() => s.submit('gold')}>1 · Recorded label is right</button>`
      }
      <button class="secondary" onClick=${() => s.submit('model')}>2 · Model is right</button>
      <button class="secondary" onClick=${() => s.setPicking(true)}>3 · Another label</button>
      <button class="secondary" onClick=${() => s.submit('unclear')}>4 · Unclear</button>
    </div>
    ${
      s.picking
        ? html`<${LabelPicker}
            labels=${data.labels}
            onPick=${(l) => {
              s.setPicking(false);
              s.submit('other', l);
            }}
            onCancel=${() => {
              s.setPicking(false);
              focusOn('case');
            }}
          />`
        : null
    }
  </section>`;
}
