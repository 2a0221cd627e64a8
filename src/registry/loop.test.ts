// The whole loop with a tiny model (docs/feedback.md): train → register → promote → serve the champion with capture
// → diagnose notes with made-up identifiers → review the served cases through the API → live performance → export
// → train --replay from the champion → register (lineage: parent, reviews used) → shadow → compare (paired
// bootstrap) → promote (refused when worse, unless forced) → the server follows → rollback; no failed request during
// either alias move, and no made-up identifier in the capture folder, the registry, the export or the logs.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { createServer, type MedtuneServer, type ServeOptions } from '../serve/app.js';
import { runTrain } from '../train/run.js';
import { syntheticSymptoms } from '../demo/synthetic.js';
import { tinyDemoModel, tinyTrainOptions } from '../testing-fixtures.js';
import { Registry } from './registry.js';
import { readCapture } from './capture-store.js';
import { exportServedReviews } from './served-reviews.js';
import { runCompare } from './compare.js';
import { grepFolder, IDENTIFIERS, noteWithPhi } from './fixtures.js';

const csv = (rows: { text: string; label: string }[]) =>
  'text,label\n' + rows.map((r) => `"${r.text}",${r.label}`).join('\n') + '\n';

function unlockAll(d: string): void {
  for (const e of readdirSync(d)) {
    const p = path.join(d, e);
    chmodSync(p, 0o755);
    if (statSync(p).isDirectory()) unlockAll(p);
  }
}

describe('the loop: served cases → a better model', () => {
  let W: string;
  const f = (n: string) => path.join(W, n);
  const key = randomBytes(32);
  const logs: string[] = [];
  let s: MedtuneServer | null = null;
  let A = '';
  let B = '';
  /** the served notes: a made-up name, MRN and phone before a synthetic symptom description, and its label */
  const served = syntheticSymptoms(3, 31).map((r, i) => ({
    text: `${noteWithPhi(i)} ${r.text}`,
    symptom: r.text,
    label: r.label,
  }));

  const serve = async (o: Partial<ServeOptions> = {}) => {
    s = await createServer({
      models: [{ name: 'dx', dir: '', registry: true }],
      registry: f('registry'),
      registryPollMs: 50,
      auth: false,
      workers: 1,
      threads: 1,
      port: 0,
      capture: f('capture'),
      captureKey: key,
      captureRandomShare: 0.5,
      logStream: new Writable({
        write(chunk, _e, cb) {
          logs.push(String(chunk));
          cb();
        },
      }),
      ...o,
    });
    await s.ready;
    return s;
  };
  const diagnose = (text: string) =>
    s!.app.inject({
      method: 'POST',
      url: '/v1/diagnose',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ text }),
    });

  /** Reviews every case of the queue not reviewed yet with its true label (through the API); returns the queue. */
  const reviewQueue = async () => {
    const q = JSON.parse((await s!.app.inject({ url: '/v1/served/cases?limit=500' })).body);
    for (const c of q.cases as { id: number; text: string; predicted: string; reviews: unknown[] }[]) {
      if (c.reviews.length) continue;
      const truth = served.find((n) => c.text.endsWith(n.symptom))!.label;
      const verdict = truth === c.predicted ? { verdict: 'model' } : { verdict: 'other', label: truth };
      const r = await s!.app.inject({
        method: 'POST',
        url: '/v1/served/reviews',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ case_id: c.id, ...verdict }),
      });
      assert.equal(r.statusCode, 201, r.body);
    }
    return q as { total: number };
  };

  before(async () => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-loop-'));
    const rows = syntheticSymptoms(12, 3);
    writeFileSync(f('train.csv'), csv(rows));
    writeFileSync(f('test.csv'), csv(syntheticSymptoms(2, 11)));
    tinyDemoModel(
      f('init'),
      rows.map((r) => r.text),
    );
    await runTrain(
      tinyTrainOptions({ model: f('init'), train: f('train.csv'), test: f('test.csv'), outputDir: f('run-a') }),
      () => {},
    );
  });
  after(async () => {
    await s?.close();
    unlockAll(W);
    rmSync(W, { recursive: true, force: true });
  });

  it('register and promote the first model; serve its champion with capture; review served cases', async () => {
    const reg = Registry.open(f('registry'));
    A = (await reg.register(f('run-a/best_model'), 'dx')).version.version;
    await reg.promote(`dx@${A}`, 'champion');
    assert.ok(reg.get('dx').validation?.accuracy !== null);
    reg.close();
    await serve();
    for (const n of served) assert.equal((await diagnose(n.text)).statusCode, 200);
    await s!.capture()!.flush();
    const q = await reviewQueue();
    assert.ok(q.total >= 10, `queue of ${q.total}`);
    const perf = JSON.parse((await s!.app.inject({ url: '/v1/models/dx/performance' })).body);
    assert.equal(perf.version, A);
    assert.equal(perf.reviewed, q.total);
    const random = perf.windows[2].random;
    assert.ok(random.n > 0 && random.accuracy.low <= random.accuracy.value, JSON.stringify(random));
    assert.ok(perf.validation.accuracy > 0);
  });

  it('export, train --replay from the champion, register with lineage; shadow; compare', async () => {
    const exported = exportServedReviews({ capture: f('capture'), output: f('served.csv'), key, log: () => {} });
    assert.ok(exported.rows >= 10);
    const reg = Registry.open(f('registry'));
    const champion = reg.folderOf('dx', reg.get('dx').version);
    await runTrain(
      tinyTrainOptions({
        model: champion,
        train: f('served.csv'),
        replay: f('train.csv'),
        replayFraction: 0.5,
        test: f('test.csv'),
        outputDir: f('run-b'),
      }),
      () => {},
    );
    B = (await reg.register(f('run-b/best_model'), 'dx')).version.version;
    const vb = reg.get(`dx@${B}`);
    assert.equal(vb.lineage.parent?.version, A);
    assert.equal(vb.lineage.reviews.length, 1);
    assert.equal(vb.lineage.reviews[0]!.cases, exported.rows);
    await reg.promote(`dx@${B}`, 'challenger');
    reg.close();
    // the challenger in shadow on new traffic
    await s!.close();
    await serve({ shadow: 'dx@challenger' });
    for (const n of served.slice(0, 12)) assert.equal((await diagnose(n.text)).statusCode, 200);
    await s!.capture()!.flush();
    const shadows = readCapture(f('capture'), key).records.filter((r) => r.kind === 'shadow');
    assert.ok(shadows.length > 0 && shadows.every((r) => r.kind === 'shadow' && r.model.version === B));
    await reviewQueue(); // the new cases: B was not trained on them
    const reg2 = Registry.open(f('registry'));
    const res = await runCompare(reg2, `dx@${A}`, `dx@${B}`, { test: f('test.csv'), capture: f('capture'), key });
    reg2.close();
    assert.deepEqual(
      res.results.map((r) => r.on),
      ['reviewed', 'test'],
    );
    assert.ok(res.results[0]!.n < exported.rows + 12, 'the cases B was trained on are left out');
    for (const r of res.results) {
      assert.ok(r.n > 0);
      assert.ok(Math.abs(r.difference.value - (r.accuracy_b - r.accuracy_a)) < 1e-9);
      assert.ok(r.difference.low <= r.difference.value && r.difference.value <= r.difference.high);
    }
  });

  it('promote (forced only when worse) and roll back: the server follows with no failed request', async () => {
    const seen: { status: number; version?: string }[] = [];
    let stop = false;
    const client = async () => {
      for (let i = 0; !stop; i++) {
        const r = await diagnose(served[i % served.length]!.text);
        seen.push({ status: r.statusCode, version: r.statusCode === 200 ? JSON.parse(r.body).model.version : '' });
      }
    };
    const load = Promise.all([client(), client()]);
    const version = async () => JSON.parse((await diagnose('fever and cough')).body).model.version as string;
    const until = async (v: string) => {
      const t0 = Date.now();
      while ((await version()) !== v) {
        if (Date.now() - t0 > 30000) throw new Error(`the server did not move to ${v}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const reg = Registry.open(f('registry'));
    const worse = reg.comparisons('dx', A, B).find((c) => c.on === 'reviewed')!.diff < 0;
    if (worse) await assert.rejects(reg.promote(`dx@${B}`, 'champion'), /worse than the champion .*--force/);
    await reg.promote(`dx@${B}`, 'champion', { force: worse });
    await until(B);
    assert.deepEqual(await reg.rollback('dx'), { from: B, to: A });
    await until(A);
    reg.close();
    stop = true;
    await load;
    assert.equal(seen.filter((x) => x.status !== 200).length, 0);
    assert.ok(seen.some((x) => x.version === B));
  });

  it('no made-up identifier in the capture folder, the registry, the export or the logs', () => {
    assert.deepEqual(grepFolder(f('capture'), IDENTIFIERS), []);
    assert.deepEqual(grepFolder(f('registry'), IDENTIFIERS), []);
    assert.deepEqual(
      IDENTIFIERS.filter((x) => readFileSync(f('served.csv'), 'utf8').includes(x)),
      [],
    );
    assert.deepEqual(
      IDENTIFIERS.filter((x) => logs.join('').includes(x)),
      [],
    );
  });
});
