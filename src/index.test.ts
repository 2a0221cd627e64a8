// The package as a user installs it: another package imports 'medtune' through package.json's `exports` and uses the
// public API (a Predictor on a model folder, deidentify, the error catalogue).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturePath } from './testing-fixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');

describe('package exports', () => {
  let app: string;
  before(() => {
    app = mkdtempSync(path.join(os.tmpdir(), 'medtune-user-'));
    mkdirSync(path.join(app, 'node_modules'));
    symlinkSync(root, path.join(app, 'node_modules', 'medtune'), 'dir');
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'user-app', type: 'module', private: true }));
  });
  after(() => rmSync(app, { recursive: true, force: true }));

  it(
    "import { Predictor, loadClassifier, deidentify } from 'medtune' works from another package",
    { skip: !tiny && 'needs ../shared' },
    () => {
      const script = `
      import {
        Predictor, loadClassifier, deidentify, train, createServer, MedtuneError, ERROR_CATALOGUE,
      } from 'medtune';
      const p = await Predictor.load(${JSON.stringify(tiny)}, { log: () => {} });
      const [r] = p.classify(['fever and cough'], { topK: 2 });
      const d = deidentify('Seen by Dr. Chen on 01/02/2020', { operator: 'tag' });
      let code = null;
      try {
        await Predictor.load('/nonexistent/model');
      } catch (e) {
        code = e instanceof MedtuneError ? e.code : 'other';
      }
      console.log(JSON.stringify({ label: r.label, k: r.top_k.length, sha: p.identity.sha256.length, deid: d.text, code,
        types: [typeof loadClassifier, typeof train, typeof createServer], http: ERROR_CATALOGUE.E_AUTH.http }));`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: app, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      assert.match(out.label, /^LABEL_\d$/);
      assert.equal(out.k, 2);
      assert.equal(out.sha, 64);
      assert.equal(out.deid, 'Seen by [NAME] on [DATE]');
      assert.equal(out.code, 'E_MODEL_NOT_FOUND');
      assert.deepEqual(out.types, ['function', 'function', 'function']);
      assert.equal(out.http, 401);
    },
  );

  it('type declarations are shipped for the entry point', () => {
    const r = spawnSync(
      process.execPath,
      ['-e', "console.log(require('fs').existsSync(require('path').join(process.argv[1], 'dist/index.d.ts')))", root],
      { encoding: 'utf8' },
    );
    assert.equal(r.stdout.trim(), 'true');
  });
});
