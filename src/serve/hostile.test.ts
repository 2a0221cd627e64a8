// The server under hostile and faulty conditions (issue 22): one probe per finding of the attack on `medtune serve`
// (keys, overload, full disk, broken models, slow and many connections, file modes, binding, patient text), each on
// loopback only and bounded in time, scaled down where the finding still shows (a 256-file limit instead of 1,024,
// the tiny model). Every probe failed on the server before the fixes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { createServer, type MedtuneServer, type ServeOptions } from './app.js';
import { addKey } from './keys.js';
import { ServerMetrics } from './metrics.js';
import { fixturePath } from '../testing-fixtures.js';

const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');
const skip = !tiny && 'needs ../shared (tiny-bert fixture)';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let keysFile: string;
let key: string;

type Server = MedtuneServer & { logs: string[]; base: string };

async function start(o: Partial<ServeOptions> = {}): Promise<Server> {
  const lines: string[] = [];
  const logStream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const s = await createServer({
    models: [{ name: 'tiny', dir: tiny! }],
    keys: keysFile,
    workers: 1,
    threads: 1,
    port: 0,
    logStream,
    ...o,
  });
  const base = await s.listen();
  await s.ready;
  return Object.assign(s, { logs: lines, base });
}

const call = (base: string, url: string, body?: unknown, k: string = key, signal?: AbortSignal) =>
  fetch(`${base}${url}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${k}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });

const codeOf = async (r: Response) => ((await r.json()) as { error?: { code: string } }).error?.code;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const metric = async (s: Server, re: RegExp) =>
  Number(re.exec(await (await call(s.base, '/metrics')).text())?.[1] ?? 0);

/**
 * 16 clients sending `Bearer mt_<id>_<random>` (mode `wrong`: a real id, wrong secrets) or a malformed key to
 * argv[1]; on SIGINT, prints the error codes they got.
 */
const ATTACKER = `
const [base, id, mode] = process.argv.slice(1);
const { randomBytes } = require('node:crypto');
const codes = new Set();
let stop = false;
process.on('SIGINT', () => { stop = true; });
const one = async () => {
  while (!stop) {
    const key = mode === 'wrong' ? 'mt_' + id + '_' + randomBytes(24).toString('base64url') : 'x';
    const r = await fetch(base + '/v1/diagnose', { method: 'POST', body: '{"text":"a"}', headers: {
      'content-type': 'application/json', authorization: 'Bearer ' + key } });
    codes.add((await r.json()).error.code);
    await new Promise((r) => setTimeout(r, 5)); // clients on a network, not a CPU race on this machine
  }
};
Promise.all(Array.from({ length: 16 }, one)).then(() => process.stdout.write([...codes].join(' ')));
`;

describe('medtune serve under hostile and faulty conditions', { skip }, () => {
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-hostile-'));
    keysFile = path.join(dir, 'keys.json');
    key = addKey(keysFile, 'clinic', true);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('1. 16 clients sending wrong secrets for a real key id: /health/live p99 < 100 ms; throttled', async () => {
    const s = await start();
    try {
      const id = key.split('_')[1]!;
      assert.equal((await call(s.base, '/v1/models')).status, 200, 'the valid key, checked once');
      /** /health/live latencies for `ms` while 16 clients of another process send keys made by `mode` */
      const bystander = async (mode: 'malformed' | 'wrong', ms: number) => {
        const attack = spawn(process.execPath, ['-e', ATTACKER, s.base, id, mode], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        attack.stdout.on('data', (d) => (out += d));
        const done = new Promise((r) => attack.on('exit', r));
        await sleep(200);
        const latencies: number[] = [];
        const t0 = performance.now();
        while (performance.now() - t0 < ms) {
          const t = performance.now();
          assert.equal((await fetch(`${s.base}/health/live`)).status, 200);
          latencies.push(performance.now() - t);
        }
        const valid = (await call(s.base, '/v1/diagnose', { text: 'fever' })).status;
        attack.kill('SIGINT');
        await done;
        const p99 = [...latencies].sort((a, b) => a - b)[Math.floor(latencies.length * 0.99)]!;
        return { p99, n: latencies.length, codes: out.split(' '), valid };
      };
      // the machine's own noise: the same clients with malformed keys (refused at once, before and after the fix)
      const base = await bystander('malformed', 1500);
      const r = await bystander('wrong', 3000);
      const load = os.loadavg()[0]!.toFixed(1);
      assert.ok(
        r.p99 < 100 + base.p99,
        `/health/live p99 ${r.p99.toFixed(1)} ms over ${r.n} requests; ` +
          `${base.p99.toFixed(1)} ms with malformed keys (load average ${load})`,
      );
      assert.equal(r.valid, 200, 'a client with the valid key is served during the attack');
      assert.ok(r.codes.includes('E_AUTH') && r.codes.includes('E_AUTH_THROTTLED'), r.codes.join());
      const throttled = await call(s.base, '/v1/diagnose', { text: 'a' }, `mt_${id}_${'x'.repeat(32)}`);
      assert.equal(throttled.status, 429);
      assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
    } finally {
      await s.close();
    }
  });

  it('1. an unknown key id costs what a known one costs and gets the same 401', async () => {
    const s = await start({ maxAuthFailures: 1000 });
    try {
      const id = key.split('_')[1]!;
      const secret = () => randomBytes(24).toString('base64url');
      const known: number[] = [];
      const unknown: number[] = [];
      const answers = new Set<string>();
      for (let i = 0; i < 6; i++) {
        for (const [times, token] of [
          [known, `mt_${id}_${secret()}`],
          [unknown, `mt_${randomBytes(6).toString('hex')}_${secret()}`],
        ] as const) {
          const t = performance.now();
          const r = await s.app.inject({ url: '/v1/models', headers: { authorization: `Bearer ${token}` } });
          times.push(performance.now() - t);
          answers.add(`${r.statusCode} ${r.headers['www-authenticate']} ${r.body}`);
        }
      }
      assert.equal(answers.size, 1, [...answers].join('\n'));
      assert.match([...answers][0]!, /^401 Bearer .*E_AUTH"/);
      const [k, u] = [median(known), median(unknown)];
      assert.ok(u > 0.5 * k && k > 0.5 * u, `median ${k.toFixed(1)} ms (known id) vs ${u.toFixed(1)} ms (unknown)`);
    } finally {
      await s.close();
    }
  });

  it('2. 64 clients flooding /v1/explain: /v1/diagnose ≥ 90 % served; abandoned explanations cancelled', async () => {
    const s = await start({ queueTimeoutMs: 2000 });
    try {
      const text = 'fever and cough with chest pain '.repeat(125); // 4,000 characters
      let stop = false;
      const statuses: number[] = [];
      const inFlight = new Set<AbortController>();
      const flood = Array.from({ length: 64 }, async () => {
        while (!stop) {
          const ac = new AbortController();
          inFlight.add(ac);
          const timer = setTimeout(() => ac.abort(), 3000); // the client gives up, as in the finding
          try {
            const r = await call(s.base, '/v1/explain', { text, steps: 64 }, key, ac.signal);
            statuses.push(r.status);
            await r.arrayBuffer();
            if (r.status === 429) await sleep(50);
          } catch {
            statuses.push(0);
          } finally {
            clearTimeout(timer);
            inFlight.delete(ac);
          }
        }
      });
      const served: number[] = [];
      const t0 = performance.now();
      while (performance.now() - t0 < 5000) served.push((await call(s.base, '/v1/diagnose', { text: 'fever' })).status);
      stop = true;
      for (const ac of inFlight) ac.abort();
      await Promise.all(flood);
      const ok = served.filter((x) => x === 200).length;
      assert.ok(ok >= 0.9 * served.length, `diagnose: ${ok} of ${served.length} served (${served.join(' ')})`);
      assert.ok(statuses.includes(429), 'the explain queue refuses what it cannot hold');
      // the explanations whose clients left are dropped or stopped: the worker is free for the next request
      const t = performance.now();
      assert.equal((await call(s.base, '/v1/diagnose', { text: 'fever' })).status, 200);
      assert.ok(performance.now() - t < 1500, `diagnose after the flood: ${(performance.now() - t).toFixed(0)} ms`);
      await sleep(300);
      const stopped = await metric(s, /^medtune_worker_jobs_cancelled_total (\d+)/m);
      const left = await metric(s, /^medtune_lane_refused\{lane="explain",reason="cancelled"\} (\d+)/m);
      assert.ok(stopped + left > 0, `cancelled: ${stopped} in the worker, ${left} in the queue`);
      // steps and text size are capped by options
      assert.equal((await call(s.base, '/v1/explain', { text: 'fever', steps: 256 })).status, 413);
      assert.equal((await call(s.base, '/v1/explain', { text: 'x'.repeat(10_001) })).status, 413);
    } finally {
      await s.close();
    }
  });

  it('3. the audit log on a full disk: 503 + degraded health, alive, and recovery when it is writable', async () => {
    const link = path.join(dir, 'audit.jsonl');
    symlinkSync('/dev/full', link);
    const s = await start({ auditLog: link, auditSecret: 'a-secret-of-16-chars!' });
    try {
      const first = await call(s.base, '/v1/diagnose', { text: 'fever' });
      assert.equal(first.status, 503);
      assert.equal(await codeOf(first), 'E_AUDIT_UNAVAILABLE');
      const ready = await fetch(`${s.base}/health/ready`);
      assert.equal(ready.status, 503);
      const health = (await ready.json()) as { status: string; reason: string };
      assert.equal(health.status, 'degraded');
      assert.match(health.reason, /audit log: ENOSPC/);
      assert.equal((await fetch(`${s.base}/health/live`)).status, 200, 'the process is alive');
      assert.equal(await codeOf(await call(s.base, '/v1/diagnose', { text: 'fever' })), 'E_AUDIT_UNAVAILABLE');
      // space returns (here: the path names a writable file again): writing resumes by itself
      unlinkSync(link);
      let status = 0;
      for (let i = 0; i < 40 && status !== 200; i++) {
        await sleep(100);
        status = (await fetch(`${s.base}/health/ready`)).status;
      }
      assert.equal(status, 200, 'ready again');
      assert.equal((await call(s.base, '/v1/diagnose', { text: 'fever' })).status, 200);
      const entries = readFileSync(link, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { status: number; error?: string; route: string });
      assert.equal(entries.filter((e) => e.error === 'E_AUDIT_UNAVAILABLE' && e.status === 503).length, 2);
      assert.deepEqual(entries.at(-1), { ...entries.at(-1), status: 200, route: '/v1/diagnose' });
    } finally {
      await s.close();
    }
  });

  it("3. every stream the server opens has an 'error' listener", () => {
    const src = path.join(root, 'src', 'serve');
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
    );
    for (const f of files) {
      const code = readFileSync(path.join(src, f), 'utf8');
      if (/create(Write|Read)Stream\(|new (Worker|Socket)\(|\.connect\(/.test(code))
        assert.match(code, /\.on\('error'/, `${f} opens a stream without an 'error' listener`);
    }
  });

  it('4. reload refuses a model whose weights are NaN; the old model keeps serving; metrics survive NaN', async () => {
    const model = path.join(dir, 'nan-model');
    cpSync(tiny!, model, { recursive: true });
    const s = await start({ models: [{ name: 'tiny', dir: model }] });
    try {
      const before = ((await (await call(s.base, '/v1/diagnose', { text: 'fever' })).json()) as { model: object })
        .model;
      const file = path.join(model, 'model.safetensors');
      const w = readFileSync(file);
      w.fill(0xff, 8 + Number(w.readBigUInt64LE(0))); // same size and header; every weight NaN
      writeFileSync(file, w);
      const r = await call(s.base, '/v1/admin/reload', {});
      assert.equal(r.status, 500);
      const e = ((await r.json()) as { error: { code: string; message: string } }).error;
      assert.equal(e.code, 'E_MODEL_WEIGHTS');
      assert.match(e.message, /NaN or infinite/);
      const after = await call(s.base, '/v1/diagnose', { text: 'fever' });
      assert.equal(after.status, 200);
      assert.deepEqual(((await after.json()) as { model: object }).model, before, 'the previous model serves');
    } finally {
      await s.close();
    }
    const m = new ServerMetrics();
    const nan = { probabilities: [NaN, NaN], predicted: 0, confidence: NaN, abstain: false };
    const decision = { ...nan, abstainReason: null, inScope: true, oodScore: null };
    assert.doesNotThrow(() => m.observePrediction('x', decision, ['a', 'b'], false));
  });

  it('5. slow request bodies are closed after --body-timeout-ms; other clients are served', async () => {
    const s = await start({ headersTimeoutMs: 1000, bodyTimeoutMs: 1500 });
    try {
      const { port } = new URL(s.base);
      const slow = Array.from({ length: 50 }, () => {
        const c = net.connect({ host: '127.0.0.1', port: Number(port) });
        c.on('error', () => {});
        c.write(
          'POST /v1/diagnose HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n' +
            `authorization: Bearer ${key}\r\ncontent-length: 100000\r\n\r\n{`,
        );
        const dribble = setInterval(() => c.write(' '), 400);
        const closed = new Promise<void>((r) => c.on('close', () => r()));
        return { c, dribble, closed };
      });
      assert.equal((await call(s.base, '/v1/diagnose', { text: 'fever' })).status, 200);
      const all = Promise.all(slow.map((x) => x.closed)).then(() => true);
      const inTime = await Promise.race([all, sleep(4000).then(() => false)]);
      for (const x of slow) {
        clearInterval(x.dribble);
        x.c.destroy();
      }
      assert.ok(inTime, 'every slow connection was closed within 4 s');
    } finally {
      await s.close();
    }
  });

  it('5. slow connections beyond the file limit (256 here): other clients are still served', async () => {
    const bin = path.join(root, 'bin', 'medtune.js');
    const child = spawn(
      'bash',
      [
        '-c',
        `ulimit -n 256 && exec "${process.execPath}" "${bin}" serve --model tiny="${tiny}" --keys "${keysFile}" ` +
          '--port 0 --workers 1 --threads 1 --log-level error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const sockets: net.Socket[] = [];
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr.on('data', (d) => {
          err += d;
          const m = /on (http:\/\/127\.0\.0\.1:\d+)[\s\S]*medtune: ready/.exec(err);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (c) => reject(new Error(`server exited ${c}: ${err}`)));
      });
      const port = Number(new URL(base).port);
      // 300 clients of another loopback address send a large body slowly, and hold their connections
      await Promise.all(
        Array.from(
          { length: 300 },
          () =>
            new Promise<void>((resolve) => {
              const c = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
              sockets.push(c);
              c.on('error', () => resolve());
              c.on('close', () => resolve());
              c.on('connect', () => {
                c.write(
                  'POST /v1/diagnose HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n' +
                    'content-length: 100000\r\n\r\n{',
                );
                resolve();
              });
            }),
        ),
      );
      await sleep(300);
      const within = () => AbortSignal.timeout(10_000);
      assert.equal((await fetch(`${base}/health/live`, { signal: within() })).status, 200);
      assert.equal((await call(base, '/v1/diagnose', { text: 'fever' }, key, within())).status, 200);
    } finally {
      for (const c of sockets) c.destroy();
      child.kill('SIGKILL');
    }
  });

  it('6. a keys file that others may read is refused (unless --allow-insecure-keys)', async () => {
    const open = path.join(dir, 'open-keys.json');
    addKey(open, 'x');
    chmodSync(open, 0o644);
    const o = { models: [{ name: 'tiny', dir: tiny! }], keys: open, workers: 1, threads: 1, ui: false };
    await assert.rejects(createServer(o), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_KEYS_PERMISSIONS');
      assert.match(e.message, /chmod 600/);
      return true;
    });
    const s = await createServer({
      ...o,
      allowInsecureKeys: true,
      logStream: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    await s.close();
  });

  it('7. --no-auth: the host is resolved and every address must be loopback', async () => {
    const o = { models: [{ name: 'tiny', dir: tiny! }], auth: false, workers: 1, threads: 1, ui: false };
    for (const host of ['127.0.0.1.invalid', '0.0.0.0', '::'])
      await assert.rejects(createServer({ ...o, host }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_USAGE', `${host}: ${e.message}`);
        return true;
      });
    const s = await createServer({ ...o, host: 'localhost', logStream: new Writable({ write: (_c, _e, cb) => cb() }) });
    await s.close();
  });

  it('8. names, numbers and paths sent by a client appear in no answer, log line or audit entry', async () => {
    const audit = path.join(dir, 'canary-audit.jsonl');
    const s = await start({ auditLog: audit, auditSecret: 'a-secret-of-16-chars!' });
    const canaries = ['Zelda Quibbleworth', 'MRN 55501234', 'Zelda-Quibbleworth-555-867-5309', '867-5309'];
    try {
      const answers: Response[] = [
        await call(s.base, '/v1/explain', { text: 'fever', model: 'Zelda Quibbleworth' }),
        await call(s.base, '/v1/explain', { text: 'fever', label: 'MRN 55501234' }),
        await call(s.base, '/v1/models/Zelda-Quibbleworth-555-867-5309/diagnose', { text: 'fever' }),
        await call(s.base, '/v1/models/Zelda-Quibbleworth-555-867-5309/card'),
        await call(s.base, '/Zelda-Quibbleworth-555-867-5309'),
        await call(s.base, '/v1/diagnose?note=Zelda-Quibbleworth-555-867-5309', { text: 'fever' }),
        await call(s.base, '/v1/diagnose', { text: 'fever', 'Zelda Quibbleworth': 1 }),
      ];
      const seen: string[] = [];
      for (const r of answers) seen.push(JSON.stringify([...r.headers]), await r.text());
      await sleep(100);
      seen.push(...s.logs, readFileSync(audit, 'utf8'));
      const everything = seen.join('\n');
      assert.ok(s.logs.length > 5);
      for (const c of canaries) assert.equal(everything.includes(c), false, `"${c}" was echoed`);
      const routes = readFileSync(audit, 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { route: string }).route);
      assert.ok(routes.includes('/v1/models/:name/diagnose') && routes.includes('(no route)'), routes.join());
    } finally {
      await s.close();
    }
  });
});
