// One decision on every route, for a model trained with medtune (so it has an out-of-scope detector and abstains by
// default): /diagnose and /v1/diagnose give the same decision for the same text; a text unlike the training data is
// out of scope and abstains (the seed's `diagnosis` is then empty, `candidates` keeps the top-k); a text without a
// letter or digit is a 400; recalibrating a model (the weights unchanged) changes its version, not its sha256.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { createServer, type MedtuneServer } from '../app.js';
import { addKey } from '../keys.js';
import { runTrain } from '../../train/run.js';
import { runCalibrate } from '../../evaluate/calibrate-model.js';
import { syntheticSymptoms } from '../../demo/synthetic.js';
import { tinyDemoModel, tinyTrainOptions } from '../../testing-fixtures.js';

/** Texts far from symptom descriptions: generic English, a stock report, a recipe. */
const OUT_OF_SCOPE = [
  'The quarterly revenue of the company rose by four percent after the merger was announced to investors.',
  'Preheat the oven, whisk the eggs with sugar and flour, then bake the cake for forty minutes.',
  'A line of verse consisting of five metrical feet, as in the sonnets of the old poets.',
];

const csv = (rows: { text: string; label: string }[]) =>
  'text,label\n' + rows.map((r) => `"${r.text}",${r.label}`).join('\n') + '\n';

describe('diagnose: one decision on every route', () => {
  let dir: string;
  let key: string;
  let server: MedtuneServer;
  let inScope: string[];
  const headers = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  const post = (url: string, payload: unknown) =>
    server.app.inject({ method: 'POST', url, headers: headers(), payload: JSON.stringify(payload) });

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-diagnose-'));
    const rows = syntheticSymptoms(12, 3);
    writeFileSync(path.join(dir, 'train.csv'), csv(rows));
    writeFileSync(path.join(dir, 'calibration.csv'), csv(syntheticSymptoms(4, 99)));
    inScope = syntheticSymptoms(1, 7)
      .slice(0, 4)
      .map((r) => r.text);
    tinyDemoModel(
      path.join(dir, 'init'),
      rows.map((r) => r.text),
    );
    await runTrain(
      tinyTrainOptions({
        model: path.join(dir, 'init'),
        train: path.join(dir, 'train.csv'),
        outputDir: path.join(dir, 'run'),
        epochs: 6,
      }),
      () => {},
    );
    // the same weights, recalibrated: another abstention threshold
    await runCalibrate(
      {
        model: path.join(dir, 'run', 'best_model'),
        data: path.join(dir, 'calibration.csv'),
        output: path.join(dir, 'recalibrated'),
        abstainBelow: 0.5,
      },
      () => {},
    );
    const keys = path.join(dir, 'keys.json');
    key = addKey(keys, 'clinic');
    server = await createServer({
      models: [
        { name: 'dx', dir: path.join(dir, 'run', 'best_model') },
        { name: 'recalibrated', dir: path.join(dir, 'recalibrated') },
      ],
      keys,
      workers: 1,
      threads: 1,
      port: 0,
      logStream: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    await server.ready;
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('/diagnose and /v1/diagnose give the same decision for the same text', async () => {
    for (const text of [...inScope, ...OUT_OF_SCOPE]) {
      const v1 = JSON.parse((await post('/v1/diagnose', { text, top_k: 3 })).body).results[0];
      const seed = JSON.parse((await post('/diagnose', { text })).body);
      assert.equal(seed.abstain, v1.abstain, text);
      assert.equal(seed.abstain_reason, v1.abstain_reason, text);
      assert.equal(seed.in_scope, v1.in_scope, text);
      assert.deepEqual(seed.candidates, v1.top_k, text);
      assert.equal(seed.candidates[0].label, v1.label, 'label stays the top label');
      assert.deepEqual(seed.diagnosis, v1.abstain ? [] : v1.top_k, 'diagnosis is empty when abstaining');
      assert.equal(typeof v1.ood_score, 'number');
    }
  });

  it('a note like the training data is in scope; an unrelated text is out of scope and abstains', async () => {
    const inside = JSON.parse((await post('/v1/diagnose', { texts: inScope })).body).results;
    assert.ok(inside.filter((r: { in_scope: boolean }) => r.in_scope).length >= 3, JSON.stringify(inside));
    for (const text of OUT_OF_SCOPE) {
      const r = JSON.parse((await post('/v1/diagnose', { text })).body).results[0];
      assert.equal(r.in_scope, false, text);
      assert.ok(r.ood_score > 1, text);
      assert.equal(r.abstain, true, text);
      assert.equal(r.abstain_reason, 'out_of_scope', text);
      const seed = JSON.parse((await post('/diagnose', { text })).body);
      assert.deepEqual(seed.diagnosis, []);
      assert.equal(seed.candidates.length, 3);
      // abstain_below null: never abstain; in_scope is still reported
      const never = JSON.parse((await post('/v1/diagnose', { text, abstain_below: null })).body).results[0];
      assert.equal(never.abstain, false);
      assert.equal(never.in_scope, false);
    }
  });

  it('a zero-width, control-only or punctuation-only text is refused with 400 E_BAD_REQUEST', async () => {
    for (const text of ['\u200b\u200b\u200b', '\ufeff\u2060', '\u0007\u0001', '...!?', ' \u200d ']) {
      for (const [url, body] of [
        ['/v1/diagnose', { text }],
        ['/diagnose', { text }],
        ['/v1/diagnose', { texts: [inScope[0], text] }],
      ] as const) {
        const r = await post(url, body);
        assert.equal(r.statusCode, 400, `${url} ${JSON.stringify(text)}: ${r.body}`);
        const e = JSON.parse(r.body).error;
        assert.equal(e.code, 'E_BAD_REQUEST');
        assert.match(e.message, 'texts' in body ? /^text 2 has no letter or digit/ : /^the text has no letter/);
      }
    }
  });

  it('the version changes when only the calibration changes (the sha256 of the weights does not)', async () => {
    const a = JSON.parse((await post('/v1/models/dx/diagnose', { text: inScope[0] })).body).model;
    const b = JSON.parse((await post('/v1/models/recalibrated/diagnose', { text: inScope[0] })).body).model;
    assert.equal(a.sha256, b.sha256);
    assert.notEqual(a.version, b.version);
    assert.match(a.version, /^[0-9a-f]{12}$/);
    assert.notEqual(a.version, a.sha256.slice(0, 12), 'the version names the decision too');
  });
});
