// serve --registry: the champion is served and followed when the alias moves — atomically, under load, with no
// failed request — also when the alias moves again while a reload runs; a champion whose folder fails its sha256
// check is refused (the previous version keeps serving, health degraded); --shadow answers are recorded, never
// returned; a server refuses to start on a champion that fails its check.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createServer, type MedtuneServer } from './app.js';
import { Registry } from '../registry/registry.js';
import { readCapture } from '../registry/capture-store.js';
import { modelRun } from '../registry/fixtures.js';
import { fixturePath } from '../testing-fixtures.js';

const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function unlockAll(d: string): void {
  for (const e of readdirSync(d)) {
    const p = path.join(d, e);
    chmodSync(p, 0o755);
    if (statSync(p).isDirectory()) unlockAll(p);
  }
}

describe('serve --registry', { skip: !tiny && 'needs ../shared (tiny-bert fixture)' }, () => {
  let W: string;
  let REG: string;
  let CAP: string;
  const v: string[] = [];
  let s: MedtuneServer;
  const key = randomBytes(32);

  before(async () => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-follow-'));
    REG = path.join(W, 'registry');
    CAP = path.join(W, 'capture');
    const reg = Registry.open(REG);
    for (const [i, t] of [undefined, 0.5, 2, 3].entries())
      v.push((await reg.register(modelRun(W, `run-${i}`, t), 'dx')).version.version);
    await reg.promote(`dx@${v[0]}`, 'champion');
    reg.close();
    s = await createServer({
      models: [{ name: 'dx', dir: '', registry: true }],
      registry: REG,
      registryPollMs: 50,
      auth: false,
      workers: 1,
      threads: 1,
      port: 0,
      capture: CAP,
      captureKey: key,
      shadow: `dx@${v[3]}`,
      logLevel: 'fatal',
    });
    await s.ready;
  });
  after(async () => {
    await s.close();
    unlockAll(W);
    rmSync(W, { recursive: true, force: true });
  });

  /** Diagnoses from 4 clients until stopped: every status and the version that answered. */
  function load() {
    const seen: { status: number; version?: string }[] = [];
    let stop = false;
    const client = async () => {
      while (!stop) {
        const r = await s.app.inject({
          method: 'POST',
          url: '/v1/diagnose',
          headers: { 'content-type': 'application/json' },
          payload: '{"text":"fever and a dry cough"}',
        });
        seen.push({
          status: r.statusCode,
          version: r.statusCode === 200 ? JSON.parse(r.body).model.version : undefined,
        });
      }
    };
    const running = Promise.all([client(), client(), client(), client()]);
    return {
      seen,
      stop: async () => {
        stop = true;
        await running;
      },
    };
  }

  const served = async () =>
    JSON.parse(
      (
        await s.app.inject({
          method: 'POST',
          url: '/v1/diagnose',
          headers: { 'content-type': 'application/json' },
          payload: '{"text":"fever"}',
        })
      ).body,
    ).model.version as string;

  async function until(f: () => Promise<boolean>, ms = 20000): Promise<void> {
    const t0 = Date.now();
    while (!(await f())) {
      if (Date.now() - t0 > ms) throw new Error('timed out');
      await sleep(25);
    }
  }

  it('serves the champion and follows promote and rollback with no failed request under load', async () => {
    assert.equal(await served(), v[0]);
    const l = load();
    const reg = Registry.open(REG);
    await reg.promote(`dx@${v[1]}`, 'champion');
    await until(async () => (await served()) === v[1]);
    // moved again while the reload runs: promote v2, then at once roll back (to v1)
    await reg.promote(`dx@${v[2]}`, 'champion');
    await sleep(60);
    const { to } = await reg.rollback('dx');
    assert.equal(to, v[1]);
    reg.close();
    await sleep(1500);
    await until(async () => (await served()) === v[1]);
    await l.stop();
    const failed = l.seen.filter((x) => x.status !== 200);
    assert.equal(failed.length, 0, `failed: ${JSON.stringify(failed.slice(0, 3))}`);
    assert.ok(l.seen.length > 20);
    assert.ok(l.seen.some((x) => x.version === v[0]) && l.seen.some((x) => x.version === v[1]));
    assert.ok(
      l.seen.every((x) => x.version !== v[3]),
      'the shadow never answers',
    );
  });

  it('a champion failing its sha256 check is refused: the previous version serves, health says why', async () => {
    const reg = Registry.open(REG);
    const f = path.join(reg.folderOf('dx', v[0]!), 'config.json');
    chmodSync(f, 0o644);
    writeFileSync(f, readFileSync(f, 'utf8') + '\n');
    // the alias moved by hand past the promote check
    reg.db.prepare("UPDATE aliases SET version = ? WHERE name = 'dx' AND alias = 'champion'").run(v[0]);
    reg.close();
    await until(async () => JSON.parse((await s.app.inject({ url: '/health/ready' })).body).status === 'degraded');
    const h = JSON.parse((await s.app.inject({ url: '/health/ready' })).body);
    assert.match(h.reason, /registry: .*fails its sha256 check: config.json was changed/);
    assert.equal(await served(), v[1]);
    await assert.rejects(
      createServer({ models: [{ name: 'dx', dir: '', registry: true }], registry: REG, auth: false, port: 0 }),
      /fails its sha256 check/,
    );
  });

  it('--shadow: the shadow version answers captured cases; recorded, never returned', async () => {
    await s.capture()!.flush();
    const recs = readCapture(CAP, key).records;
    const shadows = recs.filter((r) => r.kind === 'shadow');
    assert.ok(shadows.length > 0);
    assert.ok(shadows.every((r) => r.kind === 'shadow' && r.model.version === v[3]));
    const cases = new Set(recs.filter((r) => r.kind === 'case').map((r) => (r.kind === 'case' ? r.id : 0)));
    assert.ok(shadows.every((r) => r.kind === 'shadow' && cases.has(r.case_id)));
  });
});
