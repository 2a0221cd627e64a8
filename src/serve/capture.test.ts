// Case capture, served-case review and live performance in a running server (in-process, tiny-bert): made-up
// identifiers never reach the capture folder, the logs or the metrics; the queue and reviews; the performance route
// and gauges; a full disk pauses capture while serving continues (health degraded, metrics), and capture resumes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { createServer, type MedtuneServer, type ServeOptions } from './app.js';
import { addKey } from './keys.js';
import { readCapture, type CaseRecord } from '../registry/capture-store.js';
import { fixturePath } from '../testing-fixtures.js';
import { grepFolder, IDENTIFIERS, noteWithPhi } from '../registry/fixtures.js';

const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');

describe('serve --capture', { skip: !tiny && 'needs ../shared (tiny-bert fixture)' }, () => {
  let W: string;
  let CAP: string;
  let s: MedtuneServer;
  const logs: string[] = [];
  const key = randomBytes(32);
  let userKey: string;
  let otherKey: string;
  const auth = (k = userKey) => ({ authorization: `Bearer ${k}` });
  const post = (url: string, body: unknown, k?: string) =>
    s.app.inject({
      method: 'POST',
      url,
      headers: { ...auth(k), 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
  const get = (url: string, k?: string) => s.app.inject({ url, headers: auth(k) });

  before(async () => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-capture-'));
    CAP = path.join(W, 'capture');
    const keys = path.join(W, 'keys.json');
    userKey = addKey(keys, 'dr-lee');
    otherKey = addKey(keys, 'dr-ng');
    const o: ServeOptions = {
      models: [{ name: 'tiny', dir: tiny! }],
      keys,
      workers: 1,
      threads: 1,
      port: 0,
      capture: CAP,
      captureKey: key,
      captureRandomShare: 0.5,
      logStream: new Writable({
        write(chunk, _e, cb) {
          logs.push(String(chunk));
          cb();
        },
      }),
    };
    s = await createServer(o);
    await s.ready;
  });
  after(async () => {
    await s.close();
    rmSync(W, { recursive: true, force: true });
  });

  it('captures each case de-identified and encrypted: model version, decision, time and key name', async () => {
    for (let i = 0; i < 16; i++) assert.equal((await post('/v1/diagnose', { text: noteWithPhi(i) })).statusCode, 200);
    assert.equal((await post('/v1/diagnose', { texts: [noteWithPhi(1), noteWithPhi(2)] })).statusCode, 200);
    await flush(s);
    const { records, corrupt } = readCapture(CAP, key);
    const cases = records.filter((r): r is CaseRecord => r.kind === 'case');
    assert.equal(cases.length, 18);
    assert.equal(corrupt.length, 0);
    const c = cases[0]!;
    assert.equal(c.model.name, 'tiny');
    assert.match(c.model.version, /^[0-9a-f]{12}$/);
    assert.equal(c.key, 'dr-lee');
    assert.match(c.text, /\[NAME\].*\[ID\].*\[PHONE\]/);
    assert.ok(Object.keys(c.decision.probabilities).length === 3 && typeof c.decision.abstain === 'boolean');
    assert.ok(Date.now() - Date.parse(c.time) < 60_000);
    assert.deepEqual(grepFolder(CAP, [...IDENTIFIERS, 'fever', 'dr-lee']), [], 'nothing readable in the folder');
    assert.deepEqual(
      IDENTIFIERS.filter((x) => logs.join('').includes(x)),
      [],
      'no identifier in the logs',
    );
    assert.throws(() => readCapture(CAP, randomBytes(32)), /another key/);
  });

  it('the review queue: flagged random sample, prioritised cases with reasons, others hidden', async () => {
    const q = JSON.parse((await get('/v1/served/cases')).body);
    assert.equal(q.source, 'served');
    assert.ok(q.total > 0);
    assert.ok(q.cases.every((c: { reasons: string[] }) => c.reasons.length > 0));
    for (const c of q.cases as { stream: string; reasons: string[] }[])
      assert.equal(c.stream === 'random', c.reasons.includes('random_sample'));
    const first = q.cases[0];
    const r1 = await post('/v1/served/reviews', { case_id: first.id, verdict: 'model' });
    assert.equal(r1.statusCode, 201, r1.body);
    assert.equal(JSON.parse(r1.body).review.label, first.predicted);
    const seen = JSON.parse((await get('/v1/served/cases', otherKey)).body).cases.find(
      (c: { id: number }) => c.id === first.id,
    );
    assert.deepEqual([seen.reviews.length, seen.hidden_reviews], [0, 1], 'hidden from another reviewer');
    const bad = await post('/v1/served/reviews', { case_id: first.id, verdict: 'other', label: 'NOPE' });
    assert.equal(bad.statusCode, 400);
    const spoof = await post('/v1/served/reviews', { case_id: first.id, verdict: 'model', reviewer: 'x' });
    assert.equal(spoof.statusCode, 400);
    const other = await post('/v1/served/reviews', { case_id: first.id, verdict: 'other', label: 'LABEL_2' }, otherKey);
    assert.equal(other.statusCode, 201);
    const undo = await s.app.inject({
      method: 'DELETE',
      url: `/v1/served/reviews/${JSON.parse(other.body).review.id}`,
      headers: auth(otherKey),
    });
    assert.equal(undo.statusCode, 200, undo.body);
    const notMine = await s.app.inject({
      method: 'DELETE',
      url: `/v1/served/reviews/${JSON.parse(r1.body).review.id}`,
      headers: auth(otherKey),
    });
    assert.equal(notMine.statusCode, 404);
  });

  it('live performance: per window, random stream apart, intervals and n; the gauges', async () => {
    const q = JSON.parse((await get('/v1/served/cases?limit=500')).body);
    for (const c of q.cases as { id: number; predicted: string; stream: string }[])
      await post('/v1/served/reviews', { case_id: c.id, verdict: c.id % 3 ? 'model' : 'other', label: 'LABEL_0' });
    const p = JSON.parse((await get('/v1/models/tiny/performance')).body);
    assert.deepEqual(
      p.windows.map((w: { window: string }) => w.window),
      ['24h', '7d', 'all'],
    );
    const all = p.windows[2];
    assert.ok(all.random.n + all.prioritised.n === p.reviewed && p.reviewed > 0, JSON.stringify(p));
    const acc = (all.random.n ? all.random : all.prioritised).accuracy;
    assert.ok(acc.low <= acc.value && acc.value <= acc.high);
    assert.match(p.alert.message, /no validation accuracy|randomly sampled/);
    const e = all.estimated;
    assert.ok(e.n === p.captured && e.answered.n + e.abstained.n + e.out_of_scope.n === e.n, JSON.stringify(e));
    assert.ok(e.accuracy.low <= e.accuracy.value && e.accuracy.value <= e.accuracy.high);
    const m = (await get('/metrics')).body;
    const gauges = ['medtune_live_accuracy', 'medtune_live_reviewed_cases', 'medtune_capture_records_total'];
    for (const g of [...gauges, 'medtune_estimated_accuracy', 'medtune_estimated_performance_alert'])
      assert.ok(m.includes(g), g);
    assert.match(m, /medtune_capture_paused 0/);
    assert.equal((await get('/v1/models/nope/performance')).statusCode, 404);
  });

  it('disk full: serving continues, capture pauses, says so in /health/ready and the metrics, resumes', async () => {
    await flush(s);
    const today = new Date().toISOString().slice(0, 10);
    const file = path.join(CAP, `${today}.mtcap`);
    const kept = readFileSync(file);
    unlinkSync(file);
    symlinkSync('/dev/full', file);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await post('/v1/diagnose', { text: noteWithPhi(i) })).statusCode, 200);
      await flush(s);
      const h = await s.app.inject({ url: '/health/ready' });
      assert.equal(h.statusCode, 200, 'capture is not required: the server stays in rotation');
      assert.equal(JSON.parse(h.body).status, 'degraded');
      assert.match(JSON.parse(h.body).reason, /capture: paused \(ENOSPC: no space left on the device\)/);
      const m = (await get('/metrics')).body;
      assert.match(m, /medtune_capture_paused 1/);
      assert.match(m, /medtune_capture_dropped_total\{reason="(write|paused)"\} [1-9]/);
    } finally {
      unlinkSync(file);
      writeFileSync(file, kept, { mode: 0o600 });
    }
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await post('/v1/diagnose', { text: noteWithPhi(5) })).statusCode, 200);
    await flush(s);
    assert.equal(JSON.parse((await s.app.inject({ url: '/health/ready' })).body).status, 'ready');
    assert.equal(readCapture(CAP, key).corrupt.length, 0, 'no partial record left behind');
  });
});

/** Waits for the capture of answered requests to be committed. */
async function flush(s: MedtuneServer): Promise<void> {
  await s.capture()?.flush();
}
