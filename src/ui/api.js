// The API client of the browser UI: every call the app makes, to the documented API only (/docs), with the user's
// API key (typed once, kept in the tab's sessionStorage — never a cookie or the URL). Errors carry the server's
// message and code, or say that the server cannot be reached.

const KEY = 'medtune.key';

/**
 * Calls the API with the key; throws an Error whose message is the server's (or says the server is unreachable).
 * @param {string} path
 * @param {{ method?: string, body?: unknown }} [options]
 */
async function call(path, { method = 'GET', body } = {}) {
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

const post = (path, body) => call(path, { method: 'POST', body });
const modelPath = (name) => `/v1/models/${encodeURIComponent(name)}`;

/** The key of this tab. The reviewer is the key's name (the server says it), never typed. */
export const session = {
  hasKey: () => !!sessionStorage.getItem(KEY),
  setKey: (key) => sessionStorage.setItem(KEY, key),
  forgetKey: () => sessionStorage.removeItem(KEY),
};

/** What the Review page reviews: a run's cases (--review) or captured served cases (--capture); set on first load. */
let served = false;
const reviewsPath = () => (served ? '/v1/served/reviews' : '/v1/reviews');

/** The routes the UI uses, one function each (shapes: docs/serving.md and /docs). */
export const api = {
  /** GET /v1/models: served models, labels, monitoring (drift and its alert threshold), the server's limits */
  models: () => call('/v1/models'),
  /** GET /v1/models/NAME/card: the model card, its example notes and the run's headline metrics */
  card: (model) => call(`${modelPath(model)}/card`),
  /** POST /v1/models/NAME/diagnose with one text */
  diagnose: (model, text, topK) => post(`${modelPath(model)}/diagnose`, { text, top_k: topK }),
  /** POST /v1/models/NAME/entities with one text (token-classification models): spans with label and score */
  entities: (model, text) => post(`${modelPath(model)}/entities`, { text }),
  /** POST /v1/deid: the PHI spans found and the text the model reads on this server */
  deid: (text) => post('/v1/deid', { text }),
  /** POST /v1/explain: integrated-gradients word scores */
  explain: (text, model) => post('/v1/explain', { text, model }),
  /** GET /v1/review/cases (a run's cases) or GET /v1/served/cases (captured served cases; `source: "served"`) */
  reviewCases: (limit) => call(`${served ? '/v1/served/cases' : '/v1/review/cases'}?limit=${limit}`),
  /** what the Review page reviews, as GET /v1/models says: 'run', 'served' or null */
  reviewSource: (source) => {
    served = source === 'served';
  },
  /** POST /v1/reviews (or /v1/served/reviews): stores one review by this key; answers with it, the case's reviews */
  addReview: (review) => post(reviewsPath(), review),
  /** DELETE /v1/reviews/ID (or /v1/served/reviews/ID): undoes one of this key's reviews */
  undoReview: (id) => call(`${reviewsPath()}/${encodeURIComponent(id)}`, { method: 'DELETE' }),
  /** GET /v1/models/NAME/performance: live figures against reviewed served cases (404 without --capture) */
  performance: (model) => call(`${modelPath(model)}/performance`),
};
