// kill -9 of a capturing server under load: every record the server counted as committed (fsynced) is in the store
// afterwards, readable with the key; at most the one record being written when it died is reported as damaged.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCapture } from '../registry/capture-store.js';
import { fixturePath } from '../testing-fixtures.js';
import { grepFolder, IDENTIFIERS, noteWithPhi } from '../registry/fixtures.js';

const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');
const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'medtune.js');

const freePort = () =>
  new Promise<number>((resolve) => {
    const srv = netServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });

describe('serve --capture, kill -9', { skip: !tiny && 'needs ../shared (tiny-bert fixture)' }, () => {
  const W = mkdtempSync(path.join(os.tmpdir(), 'medtune-capture-kill-'));
  after(() => rmSync(W, { recursive: true, force: true }));

  it('a killed server loses no committed capture record', async () => {
    const key = randomBytes(32);
    const CAP = path.join(W, 'capture');
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [bin, 'serve', '--model', `tiny=${tiny}`, '--no-auth', '--port', String(port), '--capture', CAP],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MEDTUNE_CAPTURE_KEY: key.toString('base64') } },
    );
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise((r) => child.on('exit', r));
    try {
      const t0 = Date.now();
      while (!/medtune: ready/.test(out)) {
        if (Date.now() - t0 > 60000) throw new Error(`the server did not start: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const url = `http://127.0.0.1:${port}`;
      let stop = false;
      let i = 0;
      const client = async () => {
        while (!stop)
          await fetch(`${url}/v1/diagnose`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ text: noteWithPhi(i++) }),
          }).catch(() => {});
      };
      const clients = [client(), client(), client(), client()];
      let committed = 0;
      while (committed < 40) {
        const m = await (await fetch(`${url}/metrics`)).text();
        committed = Number(/medtune_capture_records_total\{kind="case"\} (\d+)/.exec(m)?.[1] ?? 0);
      }
      child.kill('SIGKILL');
      stop = true;
      await exited;
      await Promise.all(clients);
      const { records, corrupt } = readCapture(CAP, key);
      const cases = records.filter((r) => r.kind === 'case').length;
      assert.ok(cases >= committed, `${cases} cases in the store, ${committed} committed before the kill`);
      assert.ok(corrupt.length <= 1, `damaged: ${JSON.stringify(corrupt)}`);
      assert.deepEqual(grepFolder(CAP, IDENTIFIERS), []);
      assert.deepEqual(
        IDENTIFIERS.filter((x) => out.includes(x)),
        [],
        'no identifier in the server output',
      );
    } finally {
      child.kill('SIGKILL');
    }
  });
});
