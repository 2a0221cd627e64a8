// medtune's browser UI: Preact + htm as plain ES modules (no build step). This module is the shell — sign in, the
// page navigation, the disclaimer, the live region that announces page changes and results, and the focus: after
// every navigation it moves to the new page's heading. The API client is api.js, the pages are pages/*.js. No
// inline scripts or styles: the server's Content-Security-Policy forbids them. Pages: Diagnose, Review (when the
// server reviews a run), Models.
import { html, render, useEffect, useMemo, useState } from './vendor/htm-preact.js';
import { api, session } from './api.js';
import { announce, ErrorBox, focusOn } from './components.js';
import { DiagnosePage } from './pages/diagnose.js';
import { ModelsPage } from './pages/models.js';
import { ReviewPage } from './pages/review.js';

const DISCLAIMER =
  'Decision support for clinicians, not a diagnosis; not clinically validated. A clinician must review every output.';

const TITLES = { signin: 'Sign in', diagnose: 'Diagnose', review: 'Review', models: 'Models' };

function SignIn({ onSignedIn }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    session.setKey(key.trim());
    try {
      onSignedIn(await api.models());
    } catch (err) {
      session.forgetKey();
      setError(
        err.status === 401
          ? new Error(
              'This API key was not accepted: it is wrong or was revoked. ' +
                'Ask the administrator for a key (medtune serve keys add).',
            )
          : err,
      );
      focusOn('key');
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main">
    <h2 id="page-h" tabindex="-1">Sign in</h2>
    <form onSubmit=${submit}>
      <label for="key">API key</label>
      <input
        id="key"
        type="password"
        autocomplete="off"
        value=${key}
        onInput=${(e) => setKey(e.target.value)}
        aria-describedby="key-hint"
        required
      />
      <p id="key-hint" class="hint">
        The key stays in this browser tab only (session storage) and is sent with every request.
      </p>
      <button class="primary" type="submit" disabled=${busy || !key.trim()}>Sign in</button>
    </form>
    <${ErrorBox} error=${error} />
  </main>`;
}

function App() {
  const [info, setInfo] = useState(null);
  const [page, setPage] = useState('diagnose');
  const [reviewable, setReviewable] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!session.hasKey()) return;
    api.models().then(setInfo, (e) => {
      if (e.status === 401) session.forgetKey();
      setError(e);
    });
  }, []);
  useEffect(() => {
    if (!info) return;
    api.reviewSource(info.review);
    setReviewable(!!info.review);
  }, [info]);
  // every navigation (sign in, sign out, another page): the title, an announcement, the focus on the new heading
  const shown = info ? page : 'signin';
  const [navigated, setNavigated] = useState(false);
  useEffect(() => {
    document.title = `${TITLES[shown]} — medtune`;
    if (!navigated) return;
    announce(`${TITLES[shown]} page`);
    focusOn('page-h');
  }, [shown, navigated]);
  const go = (id) => {
    setNavigated(true);
    setPage(id);
  };
  // keyed by page: when Review appears (once the server says it reviews a run), the Models button stays itself
  const pages = useMemo(
    () => [['diagnose', 'Diagnose'], ...(reviewable ? [['review', 'Review']] : []), ['models', 'Models']],
    [reviewable],
  );
  const signOut = () => {
    session.forgetKey();
    setNavigated(true);
    setInfo(null);
  };
  const signedIn = (i) => {
    setError(null);
    setNavigated(true);
    setPage('diagnose');
    setInfo(i);
  };
  return html`<header>
      <h1>medtune</h1>
      ${
        info
          ? html`<nav aria-label="Pages">
              <ul>
                ${pages.map(
                  ([id, name]) =>
                    html`<li key=${id}>
                      <button aria-current=${page === id ? 'page' : undefined} onClick=${() => go(id)}>${name}</button>
                    </li>`,
                )}
                <li><button onClick=${signOut}>Sign out</button></li>
              </ul>
            </nav>`
          : null
      }
    </header>
    <div class="disclaimer" role="note">${DISCLAIMER}</div>
    <p id="announcer" class="sr-only" aria-live="polite" aria-atomic="true"></p>
    ${
      !info
        ? html`<${SignIn} onSignedIn=${signedIn} />${
              error && error.status !== 401 ? html`<${ErrorBox} error=${error} />` : null
            }`
        : null
    }
    ${info && page === 'diagnose' ? html`<${DiagnosePage} info=${info} />` : null}
    ${info && page === 'review' ? html`<${ReviewPage} />` : null}
    ${info && page === 'models' ? html`<${ModelsPage} info=${info} onInfo=${setInfo} />` : null}`;
}

render(html`<${App} />`, document.getElementById('app'));
