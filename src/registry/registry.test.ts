// The model registry: immutable content-addressed versions with lineage and validation figures, aliases, promotion
// (sha256 checked; a worse champion refused unless forced), rollback, and its bad inputs through the CLI.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../cli/program.js';
import { fixturePath } from '../testing-fixtures.js';
import { Registry } from './registry.js';
import { modelRun } from './fixtures.js';

const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');

async function cli(...args: string[]): Promise<{ exit: number; err: string; out: string }> {
  let err = '';
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    const exit = await runCli(['node', 'medtune', ...args], (s) => (err += s));
    return { exit, err, out };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

describe('model registry', { skip: !tiny && 'needs ../shared (tiny-bert fixture)' }, () => {
  let W: string;
  let REG: string;
  let v1: string;
  let v2: string;
  before(() => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-registry-'));
    REG = path.join(W, 'registry');
  });
  after(() => {
    // the version folders are read-only: make them writable again to remove them
    const unlock = (d: string): void => {
      for (const e of readdirSync(d)) {
        const p = path.join(d, e);
        chmodSync(p, 0o755);
        if (statSync(p).isDirectory()) unlock(p);
      }
    };
    unlock(W);
    rmSync(W, { recursive: true, force: true });
  });

  it('register: an immutable version named by the model version, with lineage and validation; idempotent', async () => {
    const a = modelRun(W, 'run-a', undefined, 0.9);
    const r = await cli('models', 'register', a, '--name', 'dx', '--registry', REG);
    assert.equal(r.exit, 0, r.err);
    v1 = r.out.trim();
    assert.match(v1, /^[0-9a-f]{12}$/);
    const again = await cli('models', 'register', a, '--name', 'dx', '--registry', REG);
    assert.equal(again.out.trim(), v1);
    assert.match(again.err, /already registered/);
    const reg = Registry.open(REG);
    const v = reg.get(`dx@${v1}`);
    assert.equal(v.lineage.run, path.dirname(a));
    assert.equal(v.validation?.accuracy, 0.9);
    assert.ok(v.files.some((f) => f.file === 'model.safetensors'));
    const weights = path.join(reg.folderOf('dx', v1), 'model.safetensors');
    assert.equal(statSync(weights).mode & 0o222, 0, 'version files are read-only');
    reg.close();
    const b = modelRun(W, 'run-b', 0.5, 0.92);
    v2 = (await cli('models', 'register', b, '--name', 'dx', '--registry', REG)).out.trim();
    assert.notEqual(v2, v1, 'another decision setting is another version');
    const list = await cli('models', 'list', '--registry', REG);
    assert.equal(list.out.trim().split('\n').length, 2, list.out);
  });

  it('promote, show, rollback; a missing version and a missing champion are clear errors', async () => {
    const missing = await cli('models', 'promote', 'dx@0123456789ab', '--alias', 'champion', '--registry', REG);
    assert.equal(missing.exit, 2);
    assert.match(missing.err, /dx has no version 0123456789ab .*E_REGISTRY/);
    const none = await cli('models', 'show', 'nope', '--registry', REG);
    assert.match(none.err, /no model named nope/);
    const noChampion = await cli('models', 'show', 'dx', '--registry', REG);
    assert.match(noChampion.err, /dx has no champion yet/);
    assert.equal((await cli('models', 'promote', `dx@${v1}`, '--alias', 'champion', '--registry', REG)).exit, 0);
    const p2 = await cli('models', 'promote', `dx@${v2}`, '--alias', 'champion', '--registry', REG);
    assert.equal(p2.exit, 0, p2.err);
    assert.match(p2.err, /not compared/);
    const shown = JSON.parse((await cli('models', 'show', 'dx', '--registry', REG)).out);
    assert.equal(shown.version, v2);
    assert.deepEqual(shown.aliases, ['champion']);
    assert.equal(shown.history.length, 2);
    const rb = await cli('models', 'rollback', 'dx', '--registry', REG);
    assert.equal(rb.exit, 0, rb.err);
    assert.match(rb.err, new RegExp(`${v2} → ${v1}`));
    const again = await cli('models', 'rollback', 'dx', '--registry', REG);
    assert.equal(again.exit, 2);
    assert.match(again.err, /no earlier champion/);
  });

  it('a worse challenger is refused as champion unless --force, saying why', async () => {
    const reg = Registry.open(REG);
    reg.recordComparison({
      name: 'dx',
      a: v1,
      b: v2,
      on: 'reviewed',
      data: 'cap',
      n: 50,
      metric: 'accuracy',
      diff: -0.1,
      low: -0.2,
      high: -0.02,
    });
    reg.close();
    const refused = await cli('models', 'promote', `dx@${v2}`, '--alias', 'champion', '--registry', REG);
    assert.equal(refused.exit, 2);
    assert.match(
      refused.err,
      /refused: .* is worse than the champion .*-0\.100 \[95 % CI -0\.200, -0\.020\] on 50 reviewed cases.*--force/,
    );
    const forced = await cli('models', 'promote', `dx@${v2}`, '--alias', 'champion', '--force', '--registry', REG);
    assert.equal(forced.exit, 0, forced.err);
    assert.match(forced.err, /forced/);
    const h = JSON.parse((await cli('models', 'show', 'dx', '--registry', REG)).out).history;
    assert.equal(h[h.length - 1].forced, true);
  });

  it('a version folder changed on disk fails its sha256 check on promote', async () => {
    const reg = Registry.open(REG);
    const f = path.join(reg.folderOf('dx', v1), 'config.json');
    reg.close();
    chmodSync(f, 0o644);
    writeFileSync(f, readFileSync(f, 'utf8') + ' ');
    const r = await cli('models', 'promote', `dx@${v1}`, '--alias', 'challenger', '--registry', REG);
    assert.equal(r.exit, 2);
    assert.match(r.err, /fails its sha256 check: config.json was changed \(E_REGISTRY\)/);
    const notReg = await cli('models', 'list', '--registry', path.join(W, 'nothing'));
    assert.match(notReg.err, /is not a model registry/);
  });
});
