// The diagnosis API: every route and every documented error through inject(), then real sockets: concurrency,
// batching equal to one-at-a-time, TLS, graceful shutdown, reload without failed requests, key revocation, a
// multi-label model with sigmoid scores, and a canary test that no log or audit line contains patient text.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { createServer, SERVE_DEFAULTS, type MedtuneServer, type ServeOptions } from './app.js';
import { addKey, revokeKey } from './keys.js';
import { UI_ROOT } from './static-ui.js';
import { Predictor } from '../infer/predictor.js';
import { fixturePath } from '../testing-fixtures.js';

const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');
const multi = fixturePath('fixtures', 'hf', 'tiny-bert-multilabel');
const skip = !tiny && 'needs ../shared (tiny-bert fixture)';

let dir: string;
let keysFile: string;
let userKey: string;
let adminKey: string;

/** A log stream that keeps every line (to search for patient text). */
function logSink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { stream, lines };
}

async function start(o: Partial<ServeOptions> = {}): Promise<MedtuneServer & { logs: string[] }> {
  const sink = logSink();
  const s = await createServer({
    models: [{ name: 'tiny', dir: tiny! }],
    keys: keysFile,
    workers: 1,
    threads: 1,
    logStream: sink.stream,
    port: 0,
    ...o,
  });
  await s.ready;
  return Object.assign(s, { logs: sink.lines });
}

const auth = (k = userKey) => ({ authorization: `Bearer ${k}` });
const post = (s: MedtuneServer, url: string, payload: unknown, headers: Record<string, string> = auth()) =>
  s.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });

function assertError(r: { statusCode: number; body: string }, status: number, code: string): void {
  assert.equal(r.statusCode, status, r.body);
  const b = JSON.parse(r.body) as { error: { code: string; message: string } };
  assert.equal(b.error.code, code, r.body);
  assert.ok(b.error.message.length > 10, r.body);
}

describe('medtune serve', { skip }, () => {
  let s: MedtuneServer & { logs: string[] };
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-serve-'));
    keysFile = path.join(dir, 'keys.json');
    userKey = addKey(keysFile, 'clinic-a');
    adminKey = addKey(keysFile, 'ops', true);
    s = await start({ rateLimit: 1000, auditLog: path.join(dir, 'audit.jsonl'), auditSecret: 'a-secret-of-16-chars!' });
  });
  after(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keys file: mode 0600, only hashes', () => {
    assert.equal(readFileSync(keysFile, 'utf8').includes(userKey.split('_')[2]!), false, 'the secret is not stored');
    if (process.platform !== 'win32')
      assert.equal(spawnSync('stat', ['-c', '%a', keysFile], { encoding: 'utf8' }).stdout.trim(), '600');
  });

  it('POST /v1/diagnose: one text and several, probabilities or top-k, model identity, timing headers', async () => {
    const r = await post(s, '/v1/diagnose', { text: 'fever and a dry cough' });
    assert.equal(r.statusCode, 200, r.body);
    const b = JSON.parse(r.body);
    assert.equal(b.model.name, 'tiny');
    assert.match(b.model.sha256, /^[0-9a-f]{64}$/);
    assert.equal(b.model.version, b.model.sha256.slice(0, 12));
    assert.equal(b.results.length, 1);
    const p = Object.values(b.results[0].probabilities as Record<string, number>);
    assert.ok(Math.abs(p.reduce((a, v) => a + v, 0) - 1) < 1e-6, 'softmax sums to 1');
    assert.equal(b.results[0].truncated_tokens, 0);
    assert.equal(b.results[0].abstain, false);
    for (const h of ['x-request-id', 'x-queue-time', 'x-inference-time']) assert.ok(r.headers[h], h);
    assert.equal(r.headers['x-request-id'], b.request_id);
    const r2 = await post(s, '/v1/diagnose', { texts: ['a', 'chest pain radiating to the left arm'], top_k: 2 });
    const b2 = JSON.parse(r2.body);
    assert.equal(b2.results.length, 2);
    assert.equal(b2.results[0].top_k.length, 2);
    assert.equal(b2.results[0].probabilities, undefined);
    assert.ok(b2.results[0].top_k[0].score >= b2.results[0].top_k[1].score);
  });

  it('truncation is reported, never silent', async () => {
    const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
    const b = JSON.parse((await post(s, '/v1/diagnose', { text: long })).body);
    assert.ok(b.results[0].truncated_tokens > 0, JSON.stringify(b.results[0]));
  });

  it("POST /v1/models/NAME/diagnose, POST /diagnose (the seed's shape), GET /v1/models", async () => {
    assert.equal((await post(s, '/v1/models/tiny/diagnose', { text: 'fever' })).statusCode, 200);
    const seed = JSON.parse((await post(s, '/diagnose', { text: 'fever' })).body);
    assert.equal(seed.diagnosis.length, 3);
    assert.ok(typeof seed.diagnosis[0].label === 'string' && typeof seed.diagnosis[0].score === 'number');
    const m = JSON.parse((await s.app.inject({ method: 'GET', url: '/v1/models', headers: auth() })).body);
    assert.equal(m.default_model, 'tiny');
    assert.deepEqual(m.models[0].labels, ['LABEL_0', 'LABEL_1', 'LABEL_2']);
    assert.equal(m.limits.max_texts, 64);
    assert.equal(m.models[0].monitoring.reference, false);
  });

  it('health routes are open; /metrics and /docs need a key', async () => {
    for (const url of ['/health/live', '/health/ready'])
      assert.equal((await s.app.inject({ url })).statusCode, 200, url);
    assertError(await s.app.inject({ url: '/metrics' }), 401, 'E_AUTH');
    assertError(await s.app.inject({ url: '/docs/json' }), 401, 'E_AUTH');
    const metrics = await s.app.inject({ url: '/metrics', headers: auth() });
    assert.equal(metrics.statusCode, 200);
    for (const name of [
      'medtune_http_requests_total',
      'medtune_predictions_total',
      'medtune_batch_size',
      'medtune_prediction_confidence',
      'medtune_model_info',
      'medtune_queue_depth',
    ]) {
      assert.ok(metrics.body.includes(name), name);
    }
    const docs = JSON.parse((await s.app.inject({ url: '/docs/json', headers: auth() })).body);
    assert.equal(docs.openapi.slice(0, 1), '3');
    for (const p of ['/v1/diagnose', '/v1/models', '/diagnose', '/health/ready', '/v1/admin/reload'])
      assert.ok(docs.paths[p], p);
  });

  it('every bad request gets the catalogue status and JSON error, and the server keeps serving', async () => {
    assertError(await post(s, '/v1/diagnose', '{"text": "Ann" x}'), 400, 'E_BAD_REQUEST');
    assertError(
      await s.app.inject({
        method: 'POST',
        url: '/v1/diagnose',
        headers: { ...auth(), 'content-type': 'text/plain' },
        payload: 'fever',
      }),
      415,
      'E_UNSUPPORTED_MEDIA',
    );
    assertError(await post(s, '/v1/diagnose', {}), 400, 'E_BAD_REQUEST');
    assertError(await post(s, '/v1/diagnose', { text: '   ' }), 400, 'E_BAD_REQUEST');
    assertError(await post(s, '/v1/diagnose', { text: 42 }), 400, 'E_BAD_REQUEST');
    assertError(await post(s, '/v1/diagnose', { texts: ['a', 7] }), 400, 'E_BAD_REQUEST');
    assertError(await post(s, '/v1/diagnose', { text: 'a', texts: ['b'] }), 400, 'E_BAD_REQUEST');
    assertError(await post(s, '/v1/diagnose', { texts: [] }), 400, 'E_BAD_REQUEST');
    assertError(await post(s, '/v1/diagnose', { text: 'a', extra: 1 }), 400, 'E_BAD_REQUEST');
    assertError(await post(s, '/v1/diagnose', { text: 'a', top_k: 9 }), 400, 'E_BAD_REQUEST');
    assertError(await post(s, '/v1/diagnose', { texts: Array.from({ length: 65 }, () => 'a') }), 413, 'E_TOO_LARGE');
    assertError(await post(s, '/v1/diagnose', { text: 'x'.repeat(SERVE_DEFAULTS.maxChars + 1) }), 413, 'E_TOO_LARGE');
    assertError(await post(s, '/v1/diagnose', { text: 'x'.repeat(2_000_000) }), 413, 'E_TOO_LARGE');
    assertError(await post(s, '/v1/models/nope/diagnose', { text: 'a' }), 404, 'E_UNKNOWN_MODEL');
    assertError(await post(s, '/v1/diagnose', { text: 'a' }, {}), 401, 'E_AUTH');
    assertError(
      await post(s, '/v1/diagnose', { text: 'a' }, { authorization: 'Bearer mt_000000000000_' + 'x'.repeat(32) }),
      401,
      'E_AUTH',
    );
    assertError(await post(s, '/v1/diagnose', { text: 'a' }, { authorization: 'Basic abc' }), 401, 'E_AUTH');
    assertError(await s.app.inject({ url: '/v1/nothing', headers: auth() }), 404, 'E_NOT_FOUND');
    assertError(await post(s, '/v1/admin/reload', {}), 403, 'E_FORBIDDEN');
    assert.equal((await post(s, '/v1/diagnose', { text: 'still serving' })).statusCode, 200);
  });

  it('batched results equal one-at-a-time results (max abs difference ≤ 1e-5) for mixed lengths', async () => {
    const texts = [
      'fever',
      'a persistent dry cough for three weeks with night sweats and weight loss',
      'rash',
      'chest pain, sweating and nausea since this morning',
      'headache',
    ];
    const together = JSON.parse((await post(s, '/v1/diagnose', { texts })).body).results;
    const offline = await Predictor.load(tiny!, { log: () => {} });
    for (let i = 0; i < texts.length; i++) {
      const alone = JSON.parse((await post(s, '/v1/diagnose', { text: texts[i] })).body).results[0];
      const ref = offline.classify([texts[i]!])[0]!;
      for (const l of Object.keys(ref.probabilities)) {
        assert.ok(
          Math.abs(together[i].probabilities[l] - alone.probabilities[l]) <= 1e-5,
          `text ${i} ${l}: batched vs alone`,
        );
        assert.ok(
          Math.abs(alone.probabilities[l] - ref.probabilities[l]!) <= 1e-5,
          `text ${i} ${l}: server vs Predictor`,
        );
      }
    }
  });

  it("each text is decided once, in the worker, with its own request's abstain_below (even in one batch)", async () => {
    const text = 'a persistent dry cough for three weeks';
    const asked = [1, null, undefined, 1] as const;
    const answers = await Promise.all(
      asked.map(async (below) => {
        const r = await post(s, '/v1/diagnose', below === undefined ? { text } : { text, abstain_below: below });
        return JSON.parse(r.body).results[0];
      }),
    );
    for (const [i, below] of asked.entries()) {
      const ref = (await Predictor.load(tiny!, { abstainBelow: below, log: () => {} })).classify([text])[0]!;
      assert.equal(answers[i].abstain, ref.abstain, `request ${i}`);
      assert.equal(answers[i].abstain_reason, ref.abstain_reason, `request ${i}`);
      assert.deepEqual(answers[i].label, ref.label, `request ${i}`);
    }
    assert.equal(answers[0].abstain, true);
    assert.equal(answers[0].abstain_reason, 'low_confidence');
    assert.equal(answers[1].abstain, false);
  });

  it('rate limit per key: 429 with retry-after', async () => {
    const limited = await start({ rateLimit: 2 });
    try {
      assert.equal((await post(limited, '/v1/diagnose', { text: 'a' })).statusCode, 200);
      assert.equal((await post(limited, '/v1/diagnose', { text: 'a' })).statusCode, 200);
      const r = await post(limited, '/v1/diagnose', { text: 'a' });
      assertError(r, 429, 'E_RATE_LIMIT');
      assert.ok(r.headers['retry-after']);
      assert.equal(
        (await post(limited, '/v1/diagnose', { text: 'a' }, auth(adminKey))).statusCode,
        200,
        'other keys are not limited',
      );
      assert.equal((await limited.app.inject({ url: '/health/ready' })).statusCode, 200);
    } finally {
      await limited.close();
    }
  });

  it('queue full (429), queue timeout (503), not ready (503), body limit (413)', async () => {
    const slow = await start({ maxConcurrentRequests: 1, maxWaitMs: 300, bodyLimit: 2000 });
    try {
      // the key is checked once (scrypt, off the event loop), then cached: both requests below start at once
      assert.equal((await slow.app.inject({ url: '/v1/models', headers: auth() })).statusCode, 200);
      const [a, b] = await Promise.all([
        post(slow, '/v1/diagnose', { text: 'a' }),
        post(slow, '/v1/diagnose', { text: 'b' }),
      ]);
      const statuses = [a.statusCode, b.statusCode].sort();
      assert.deepEqual(statuses, [200, 429]);
      assertError(
        [a, b].find((r) => r.statusCode === 429)!,
        429,
        'E_QUEUE_FULL',
      );
      assertError(await post(slow, '/v1/diagnose', { text: 'x'.repeat(3000) }), 413, 'E_TOO_LARGE');
    } finally {
      await slow.close();
    }
    const late = await start({ queueTimeoutMs: 1, maxWaitMs: 100 });
    try {
      assertError(await post(late, '/v1/diagnose', { text: 'a' }), 503, 'E_QUEUE_TIMEOUT');
    } finally {
      await late.close();
    }
    const loading = await createServer({
      models: [{ name: 'tiny', dir: tiny! }],
      keys: keysFile,
      workers: 1,
      threads: 1,
      logStream: logSink().stream,
    });
    try {
      const r = await post(loading, '/v1/diagnose', { text: 'a' });
      if (!loading.isReady()) {
        assertError(r, 503, 'E_NOT_READY');
        assert.equal((await loading.app.inject({ url: '/health/ready' })).statusCode, 503);
      }
      await loading.ready;
      assert.equal((await loading.app.inject({ url: '/health/ready' })).statusCode, 200);
    } finally {
      await loading.close();
    }
  });

  it('refuses unsafe or impossible settings at start', async () => {
    const bad = (o: Partial<ServeOptions>, re: RegExp) =>
      assert.rejects(createServer({ models: [{ name: 'tiny', dir: tiny! }], workers: 1, threads: 1, ...o }), re);
    await bad({}, /needs API keys/);
    await bad({ auth: false, host: '0.0.0.0' }, /only allowed on a loopback/);
    await bad({ keys: keysFile, workers: 64, threads: 64 }, /cores/);
    await bad({ keys: keysFile, models: [{ name: 'a b', dir: tiny! }] }, /model name/);
    await bad({ keys: path.join(dir, 'none.json') }, /does not exist/);
    await bad({ keys: keysFile, models: [{ name: 'x', dir: path.join(dir, 'nope') }] }, /does not exist/);
  });

  it(
    'a multi-label model is served with per-label sigmoid scores',
    { skip: !multi && 'needs tiny-bert-multilabel' },
    async () => {
      const m = await start({ models: [{ name: 'multi', dir: multi! }] });
      try {
        const b = JSON.parse((await post(m, '/v1/diagnose', { text: 'fever and cough' })).body);
        const probs = Object.values(b.results[0].probabilities as Record<string, number>);
        assert.equal(probs.length, 4);
        assert.ok(Math.abs(probs.reduce((a, v) => a + v, 0) - 1) > 1e-3, 'sigmoid scores do not sum to 1');
        const offline = (await Predictor.load(multi!, { log: () => {} })).classify(['fever and cough'])[0]!;
        assert.deepEqual(b.results[0].label, offline.label);
        for (const [l, p] of Object.entries(offline.probabilities))
          assert.ok(Math.abs(b.results[0].probabilities[l] - p) < 1e-5);
      } finally {
        await m.close();
      }
    },
  );

  it('canary: made-up names, MRNs and phone numbers never reach a log line or the audit log', async () => {
    const canaries = ['Zebulon Quackenbush', 'MRN 48213377', '(617) 555-0199', 'Xanthippe Morgenstern'];
    const notes = [
      `Zebulon Quackenbush, MRN 48213377, seen for fever; call (617) 555-0199.`,
      `Xanthippe Morgenstern reports chest pain. MRN 48213377.`,
    ];
    await post(s, '/v1/diagnose', { texts: notes });
    await post(s, '/v1/diagnose', { text: notes[0] });
    await post(s, '/diagnose', { text: notes[1] });
    await post(s, '/v1/diagnose', `{"text": "${notes[0]}" broken`);
    await post(s, '/v1/diagnose', { text: notes[0], bogus: notes[1] });
    await post(s, '/v1/diagnose', { text: notes[1] + 'x'.repeat(20001) });
    await post(s, '/v1/diagnose', { text: notes[0] }, { authorization: `Bearer ${notes[0]}` });
    await new Promise((r) => setTimeout(r, 200));
    const audit = readFileSync(path.join(dir, 'audit.jsonl'), 'utf8');
    const everything = [...s.logs, audit].join('\n');
    assert.ok(s.logs.length > 10 && audit.split('\n').length > 5, 'logs and audit were written');
    for (const c of canaries) {
      assert.equal(everything.includes(c), false, `"${c}" appears in the logs or the audit log`);
      for (const part of c.split(' '))
        if (part.length > 4 && !/^\d+$/.test(part)) assert.equal(everything.includes(part), false, part);
    }
    assert.equal(everything.includes('48213377'), false);
    const entry = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((e) => e.inputs?.length === 2);
    assert.ok(entry, 'an audit entry with the two inputs');
    assert.match(entry.inputs[0], /^[0-9a-f]{64}$/, 'inputs are HMACs');
    assert.equal(entry.key, 'clinic-a');
    assert.equal(entry.model.name, 'tiny');
    assert.equal(entry.status, 200);
    assert.ok(entry.results.length === 2 && entry.latency_ms >= 0);
  });

  it('model monitoring: drift against the reference saved with the model, in /v1/models and /metrics', async () => {
    const m = path.join(dir, 'with-reference');
    cpSync(tiny!, m, { recursive: true });
    const cfg = JSON.parse(readFileSync(path.join(m, 'config.json'), 'utf8'));
    // a reference where the model always said LABEL_2 with high confidence: today's traffic differs
    const reference = { labels: { LABEL_2: 1 }, confidence: [0, 0, 0, 0, 0, 0, 0, 0, 0, 1], n: 500 };
    writeFileSync(path.join(m, 'config.json'), JSON.stringify({ ...cfg, medtune: { reference } }));
    const d = await start({ models: [{ name: 'ref', dir: m }], driftWindow: 100 });
    try {
      for (let i = 0; i < 6; i++)
        await post(d, '/v1/diagnose', { texts: Array.from({ length: 10 }, (_, k) => `note ${i} ${k} fever`) });
      const info = JSON.parse((await d.app.inject({ url: '/v1/models', headers: auth() })).body).models[0];
      assert.equal(info.monitoring.reference, true);
      assert.equal(info.monitoring.drift.window, 60);
      assert.ok(
        info.monitoring.drift.confidence_psi > 0.2 && info.monitoring.drift.alert,
        JSON.stringify(info.monitoring),
      );
      const metrics = (await d.app.inject({ url: '/metrics', headers: auth() })).body;
      assert.match(metrics, /medtune_drift_psi\{model="ref",kind="confidence"\} [0-9.]+/);
      assert.match(metrics, /medtune_predictions_total\{model="ref",label="LABEL_\d"\} \d+/);
    } finally {
      await d.close();
    }
  });

  it('--deid de-identifies before the model and counts what it replaced', async () => {
    const d = await start({ deid: true });
    try {
      const b = JSON.parse(
        (await post(d, '/v1/diagnose', { text: 'Seen by Dr. Chen on 01/02/2020; call 617-555-0134.' })).body,
      );
      assert.equal(b.results[0].deid_entities, 3);
    } finally {
      await d.close();
    }
  });
});

describe('medtune serve: routes behind the UI', { skip }, () => {
  let d3: string;
  let s3: MedtuneServer;
  let k3: string;
  let k3b: string;
  before(async () => {
    d3 = mkdtempSync(path.join(os.tmpdir(), 'medtune-serve3-'));
    const keys = path.join(d3, 'keys.json');
    k3 = addKey(keys, 'rev');
    k3b = addKey(keys, 'rev2');
    const run = path.join(d3, 'run');
    mkdirSync(run);
    const p = (a: number, b: number, c: number) => ({ LABEL_0: a, LABEL_1: b, LABEL_2: c });
    writeFileSync(
      path.join(run, 'predictions.jsonl'),
      [
        {
          row: 1,
          text: 'fever and cough',
          label: 'LABEL_0',
          predicted: 'LABEL_1',
          correct: false,
          probabilities: p(0.2, 0.7, 0.1),
        },
        {
          row: 2,
          text: 'rash on arms',
          label: 'LABEL_2',
          predicted: 'LABEL_2',
          correct: true,
          probabilities: p(0.3, 0.25, 0.45),
        },
        {
          row: 3,
          text: 'headache',
          label: 'LABEL_1',
          predicted: 'LABEL_1',
          correct: true,
          probabilities: p(0.01, 0.98, 0.01),
        },
        {
          row: 4,
          text: 'chest pain',
          label: 'LABEL_2',
          predicted: 'LABEL_0',
          correct: false,
          probabilities: p(0.9, 0.05, 0.05),
        },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n') + '\n',
    );
    s3 = await createServer({
      models: [{ name: 'tiny', dir: tiny! }],
      keys,
      workers: 1,
      threads: 1,
      review: run,
      logStream: logSink().stream,
    });
    await s3.ready;
  });
  after(async () => {
    await s3.close();
    rmSync(d3, { recursive: true, force: true });
  });
  const as = (k: string) => ({ authorization: `Bearer ${k}` });

  it('POST /v1/deid previews PHI spans; POST /v1/explain explains; both check their input', async () => {
    const d = JSON.parse((await post(s3, '/v1/deid', { text: 'Seen by Dr. Chen on 01/02/2020.' }, as(k3))).body);
    assert.equal(d.text, 'Seen by [NAME] on [DATE].');
    assert.deepEqual(d.entities.map((e: { type: string }) => e.type).sort(), ['DATE_TIME', 'PERSON']);
    const e = JSON.parse((await post(s3, '/v1/explain', { text: 'fever and a dry cough', steps: 8 }, as(k3))).body);
    assert.equal(e.words.length, 5);
    assert.ok(e.completeness_error < 1e-3);
    assert.equal(e.model.name, 'tiny');
    assertError(await post(s3, '/v1/deid', { text: ' ' }, as(k3)), 400, 'E_BAD_REQUEST');
    const tooLong = 'x'.repeat(SERVE_DEFAULTS.maxChars + 1);
    assertError(await post(s3, '/v1/explain', { text: tooLong }, as(k3)), 413, 'E_TOO_LARGE');
    assertError(await post(s3, '/v1/explain', { text: 'fever', label: 'NOPE' }, as(k3)), 400, 'E_BAD_REQUEST');
    assertError(await post(s3, '/v1/explain', { text: 'fever', model: 'nope' }, as(k3)), 404, 'E_UNKNOWN_MODEL');
    assertError(await post(s3, '/v1/deid', { text: 'fever' }, {}), 401, 'E_AUTH');
  });

  it(
    'the model card route; ' + 'the review cases (errors first, most confident first) and reviews with agreement',
    async () => {
      const card = JSON.parse((await s3.app.inject({ url: '/v1/models/tiny/card', headers: as(k3) })).body);
      assert.equal(card.markdown, null);
      assert.match(card.validation_status, /not clinically validated/);
      const cases = JSON.parse((await s3.app.inject({ url: '/v1/review/cases?limit=10', headers: as(k3) })).body);
      assert.deepEqual(
        cases.cases.map((c: { id: number }) => c.id),
        [4, 1, 2],
        'errors by confidence, then the low-confidence correct one',
      );
      // the reviewer is the key's name, never a field of the request
      assertError(
        await post(s3, '/v1/reviews', { case_id: 4, reviewer: 'ann', verdict: 'gold' }, as(k3)),
        400,
        'E_BAD_REQUEST',
      );
      const r1 = await post(s3, '/v1/reviews', { case_id: 4, verdict: 'gold' }, as(k3));
      assert.equal(r1.statusCode, 201, r1.body);
      assert.equal(JSON.parse(r1.body).review.label, 'LABEL_2');
      await post(s3, '/v1/reviews', { case_id: 4, verdict: 'other', label: 'LABEL_1' }, as(k3b));
      const ag = JSON.parse((await post(s3, '/v1/reviews', { case_id: 1, verdict: 'model' }, as(k3b))).body).agreement;
      assert.deepEqual(ag.reviewers, ['rev', 'rev2']);
      assert.equal(ag.cases_shared, 1);
      assertError(await post(s3, '/v1/reviews', { case_id: 99, verdict: 'gold' }, as(k3)), 400, 'E_BAD_REQUEST');
      assertError(await post(s3, '/v1/reviews', { case_id: 4, verdict: 'maybe' }, as(k3)), 400, 'E_BAD_REQUEST');
      assertError(await post(s3, '/v1/reviews', { case_id: 4, verdict: 'other' }, as(k3)), 400, 'E_BAD_REQUEST');
      assertError(await s3.app.inject({ url: '/v1/review/cases?limit=abc', headers: as(k3) }), 400, 'E_BAD_REQUEST');
    },
  );

  it(
    'the UI is served without a key, under a strict Content-Security-Policy; ' + 'the API behind it needs one',
    async () => {
      const root = await s3.app.inject({ url: '/' });
      assert.equal(root.statusCode, 302);
      const index = await s3.app.inject({ url: '/ui/' });
      assert.equal(index.statusCode, 200);
      assert.match(index.body, /<script type="module" src="app.js"><\/script>/);
      const csp = String(index.headers['content-security-policy']);
      assert.match(csp, /script-src 'self'/);
      assert.match(csp, /style-src 'self'(;|$)/);
      assert.equal((await s3.app.inject({ url: '/ui/vendor/htm-preact.js' })).statusCode, 200);
      assert.equal((await s3.app.inject({ url: '/ui/app.js' })).statusCode, 200);
      assertError(await s3.app.inject({ url: '/v1/models' }), 401, 'E_AUTH');
    },
  );

  it('every UI module, and every module it imports, is served as JavaScript under the same CSP', async () => {
    const modules = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? modules(path.join(dir, e.name)) : e.name.endsWith('.js') ? [path.join(dir, e.name)] : [],
      );
    const files = modules(UI_ROOT).map((f) => path.relative(UI_ROOT, f).split(path.sep).join('/'));
    assert.ok(files.includes('app.js') && files.includes('api.js') && files.some((f) => f.startsWith('pages/')));
    for (const f of files) {
      const r = await s3.app.inject({ url: `/ui/${f}` });
      assert.equal(r.statusCode, 200, f);
      assert.match(String(r.headers['content-type']), /^(text|application)\/javascript/, f);
      assert.match(String(r.headers['content-security-policy']), /script-src 'self'/, f);
      for (const [, spec] of r.body.matchAll(/^import [^;]*?from '(\.[^']+)';$/gm)) {
        const url = new URL(spec!, `http://x/ui/${f}`).pathname;
        assert.equal((await s3.app.inject({ url })).statusCode, 200, `${f} imports ${url}`);
      }
    }
  });

  it('without --review the review routes say how to enable them', async () => {
    const plain = await createServer({
      models: [{ name: 'tiny', dir: tiny! }],
      keys: path.join(d3, 'keys.json'),
      workers: 1,
      threads: 1,
      ui: false,
      logStream: logSink().stream,
    });
    try {
      assertError(await plain.app.inject({ url: '/v1/review/cases', headers: as(k3) }), 404, 'E_NOT_FOUND');
      assert.equal(
        (await plain.app.inject({ url: '/ui/' })).statusCode,
        401,
        '--no-ui: nothing is served without a key',
      );
    } finally {
      await plain.close();
    }
  });
});

describe('medtune serve over real sockets', { skip }, () => {
  let d2: string;
  let keys2: string;
  let key: string;
  let admin: string;
  before(() => {
    d2 = mkdtempSync(path.join(os.tmpdir(), 'medtune-serve2-'));
    keys2 = path.join(d2, 'keys.json');
    key = addKey(keys2, 'c');
    admin = addKey(keys2, 'a', true);
  });
  after(() => rmSync(d2, { recursive: true, force: true }));

  const call = (base: string, body: unknown, k = key) =>
    fetch(`${base}/v1/diagnose`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${k}` },
      body: JSON.stringify(body),
    });

  it('concurrent clients: every request answered, batches coalesced', async () => {
    const s = await createServer({
      models: [{ name: 'tiny', dir: tiny! }],
      keys: keys2,
      workers: 1,
      threads: 1,
      port: 0,
      maxWaitMs: 20,
      logStream: logSink().stream,
    });
    const base = await s.listen();
    await s.ready;
    try {
      const texts = Array.from({ length: 120 }, (_, i) => `patient ${i} has ${'fever and cough '.repeat(1 + (i % 7))}`);
      const rs = await Promise.all(texts.map((t) => call(base, { text: t })));
      assert.deepEqual([...new Set(rs.map((r) => r.status))], [200]);
      const bodies = await Promise.all(rs.map((r) => r.json() as Promise<{ results: unknown[] }>));
      assert.ok(bodies.every((b) => b.results.length === 1));
      const metrics = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
      const count = Number(/medtune_batch_size_count (\d+)/.exec(metrics)![1]);
      assert.ok(count < 120, `120 requests in ${count} batches`);
    } finally {
      await s.close();
    }
  });

  it('TLS with --tls-cert/--tls-key', { skip: !existsSync('/usr/bin/openssl') && 'needs openssl' }, async () => {
    const cert = path.join(d2, 'cert.pem');
    const pkey = path.join(d2, 'key.pem');
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        pkey,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const s = await createServer({
      models: [{ name: 'tiny', dir: tiny! }],
      keys: keys2,
      workers: 1,
      threads: 1,
      port: 0,
      tls: { cert, key: pkey },
      logStream: logSink().stream,
    });
    const base = await s.listen();
    await s.ready;
    try {
      assert.match(base, /^https:/);
      const https = await import('node:https');
      const status = await new Promise<number>((res, rej) => {
        https
          .get(`${base}/health/ready`, { rejectUnauthorized: false }, (resp) => {
            resp.resume();
            res(resp.statusCode!);
          })
          .on('error', rej);
      });
      assert.equal(status, 200);
    } finally {
      await s.close();
    }
  });

  it('graceful shutdown: an in-flight request completes; then the port is closed', async () => {
    const s = await createServer({
      models: [{ name: 'tiny', dir: tiny! }],
      keys: keys2,
      workers: 1,
      threads: 1,
      port: 0,
      maxWaitMs: 300,
      logStream: logSink().stream,
    });
    const base = await s.listen();
    await s.ready;
    const inflight = call(base, { text: 'fever' });
    await new Promise((r) => setTimeout(r, 50));
    const closing = s.close();
    const r = await inflight;
    assert.equal(r.status, 200);
    await closing;
    await assert.rejects(fetch(`${base}/health/live`));
  });

  it('reload swaps models without a failed request; revoked keys stop working', async () => {
    const modelDir = path.join(d2, 'model');
    cpSync(tiny!, modelDir, { recursive: true });
    const s = await createServer({
      models: [{ name: 'tiny', dir: modelDir }],
      keys: keys2,
      workers: 1,
      threads: 1,
      port: 0,
      logStream: logSink().stream,
    });
    const base = await s.listen();
    await s.ready;
    try {
      const before = (await (await call(base, { text: 'fever' })).json()) as { model: { sha256: string } };
      // a new version of the model: different weights, a version name in the metadata
      const cfg = JSON.parse(readFileSync(path.join(modelDir, 'config.json'), 'utf8'));
      writeFileSync(path.join(modelDir, 'config.json'), JSON.stringify({ ...cfg, medtune: { version: 'v2' } }));
      const w = readFileSync(path.join(modelDir, 'model.safetensors'));
      w[w.length - 1] ^= 1;
      writeFileSync(path.join(modelDir, 'model.safetensors'), w);
      let stop = false;
      const statuses: number[] = [];
      const load = (async () => {
        while (!stop) statuses.push((await call(base, { text: 'cough and fever' })).status);
      })();
      const rr = await fetch(`${base}/v1/admin/reload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(rr.status, 200, await rr.text());
      await new Promise((r) => setTimeout(r, 100));
      stop = true;
      await load;
      assert.ok(statuses.length > 3, `${statuses.length} requests during the reload`);
      assert.deepEqual([...new Set(statuses)], [200], 'no failed request during the reload');
      const after = (await (await call(base, { text: 'fever' })).json()) as {
        model: { sha256: string; version: string };
      };
      assert.notEqual(after.model.sha256, before.model.sha256);
      assert.equal(after.model.version, 'v2');

      // a broken folder: the reload fails with its error, and the previous model keeps serving
      writeFileSync(path.join(modelDir, 'model.safetensors'), Buffer.alloc(64, 3));
      const bad = await fetch(`${base}/v1/admin/reload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(bad.status, 500);
      assert.equal(((await bad.json()) as { error: { code: string } }).error.code, 'E_MODEL_WEIGHTS');
      const still = (await (await call(base, { text: 'fever' })).json()) as { model: { version: string } };
      assert.equal(still.model.version, 'v2', 'the previous model still serves');

      revokeKey(keys2, 'c');
      await new Promise((r) => setTimeout(r, 1100));
      const denied = await call(base, { text: 'fever' });
      assert.equal(denied.status, 401);
      assert.equal(((await denied.json()) as { error: { code: string } }).error.code, 'E_AUTH');
      assert.equal((await call(base, { text: 'fever' }, admin)).status, 200);
    } finally {
      await s.close();
    }
  });
});
