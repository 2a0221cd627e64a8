// `medtune serve` as a process: the Dockerfile's exact start command and health check, SIGHUP reload, SIGTERM
// graceful exit 0, refusals at start in the one-line form, and the keys subcommands.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturePath } from '../testing-fixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'bin', 'medtune.js');
const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');

const freePort = () =>
  new Promise<number>((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => res(p));
    });
  });

/** The Dockerfile's CMD and HEALTHCHECK (exec form), as argv arrays. */
function dockerfileCommands(): { cmd: string[]; health: string[] } {
  const text = readFileSync(path.join(root, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(text)![1]!) as string[];
  const health = JSON.parse(/^HEALTHCHECK .*? CMD (\[.*\])$/m.exec(text)![1]!) as string[];
  return { cmd, health };
}

function waitFor(child: ChildProcess, re: RegExp, ms = 30000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}:\n${text}`)), ms);
    const on = (d: Buffer) => {
      text += String(d);
      if (re.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    };
    child.stderr!.on('data', on);
    child.stdout!.on('data', on);
    child.on('exit', (c) => {
      clearTimeout(timer);
      reject(new Error(`exited ${c}:\n${text}`));
    });
  });
}

const run = (args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1' } });

describe('medtune serve (process)', { skip: !tiny && 'needs ../shared' }, () => {
  let dir: string;
  let keys: string;
  let key: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-servecli-'));
    keys = path.join(dir, 'keys', 'keys.json');
    mkdirSync(path.dirname(keys));
    const r = run(['serve', 'keys', 'add', 'clinic', '--keys', keys]);
    assert.equal(r.status, 0, r.stderr);
    key = r.stdout.trim();
    assert.match(key, /^mt_[0-9a-f]{12}_[\w-]{32}$/);
    assert.match(r.stderr, /shown once/);
    cpSync(tiny!, path.join(dir, 'models', 'model'), { recursive: true });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keys: list shows names, never secrets; the file is 0600; revoke marks it', () => {
    assert.equal(statSync(keys).mode & 0o777, 0o600);
    const l = run(['serve', 'keys', 'list', '--keys', keys]);
    assert.match(l.stdout, /^clinic\t[0-9a-f]{12}\tuser\t/);
    assert.equal(l.stdout.includes(key.split('_')[2]!), false);
    run(['serve', 'keys', 'add', 'temp', '--keys', keys]);
    assert.equal(run(['serve', 'keys', 'revoke', 'temp', '--keys', keys]).status, 0);
    assert.match(run(['serve', 'keys', 'list', '--keys', keys]).stdout, /temp\t.*revoked/);
    const again = run(['serve', 'keys', 'revoke', 'temp', '--keys', keys]);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /^medtune: no active key named temp .*\(E_USAGE\)\n$/);
  });

  it('refusals at start are one line with exit 2', () => {
    const cases: [string[], RegExp][] = [
      [['serve', '--model', tiny!], /needs API keys.*\(E_USAGE\)/],
      [['serve', '--model', tiny!, '--no-auth', '--host', '0.0.0.0'], /only allowed on a loopback.*\(E_USAGE\)/],
      [['serve', '--keys', keys], /--model.*\(E_USAGE\)/],
      [['serve', '--model', path.join(dir, 'nope'), '--keys', keys], /does not exist.*\(E_MODEL_NOT_FOUND\)/],
      [['serve', '--model', tiny!, '--keys', keys, '--workers', '2', '--threads', '2'], /\(E_USAGE\)/],
      [['serve', '--model', tiny!, '--keys', keys, '--audit-log', path.join(dir, 'a.jsonl')], /secret.*\(E_USAGE\)/],
      [['serve', '--model', tiny!, '--keys', keys, '--port', '70000'], /--port.*\(E_USAGE\)/],
    ];
    for (const [args, re] of cases) {
      const r = spawnSync(process.execPath, [bin, ...args], {
        encoding: 'utf8',
        env: { ...process.env, MEDTUNE_AUDIT_SECRET: '' },
        timeout: 20000,
      });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('medtune:'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, re);
    }
  });

  it("the Dockerfile's start command serves, its health check passes, SIGHUP reloads, SIGTERM exits 0", async () => {
    const { cmd, health } = dockerfileCommands();
    assert.deepEqual(cmd.slice(0, 3), ['node', 'bin/medtune.js', 'serve']);
    const port = await freePort();
    const mapped = cmd.slice(1).map((a) =>
      a
        .replace('/models/model', path.join(dir, 'models', 'model'))
        .replace('/keys/keys.json', keys)
        .replace(/^8080$/, String(port)),
    );
    const child = spawn(process.execPath, mapped, {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env },
    });
    try {
      const out = await waitFor(child, /medtune: ready/);
      assert.match(out, /WARNING: serving plain HTTP on 0\.0\.0\.0/);
      const hc = spawnSync(
        health[0] === 'node' ? process.execPath : health[0]!,
        health.slice(1).map((a) => a.replace(':8080', `:${port}`)),
        { encoding: 'utf8', timeout: 10000 },
      );
      assert.equal(hc.status, 0, `health check failed: ${hc.stderr}`);
      const r = await fetch(`http://127.0.0.1:${port}/v1/diagnose`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: '{"text":"fever"}',
      });
      assert.equal(r.status, 200);
      child.kill('SIGHUP');
      await waitFor(child, /models reloaded \(SIGHUP\)/);
      const exit = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
      child.kill('SIGTERM');
      assert.equal(await exit, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
