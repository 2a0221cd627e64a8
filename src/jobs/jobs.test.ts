// predict, deid and evaluate on a real redis-server with `medtune worker` processes: the outputs equal one process's
// byte for byte (predictions of a fixed model; de-id with a secret; evaluate's metrics and predictions), with one
// worker killed mid-chunk; a coordinator killed with kill -9 and started again resumes (finished chunks kept, none run
// twice); bad input gets one clear line and writes nothing: Redis unreachable, a worker with another model, an input
// that changes during the job (the queue and the job folder never hold the text), and Redis lost mid-job.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { runCli } from '../cli/program.js';
import { DEMO_DIAGNOSES, syntheticSymptoms } from '../demo/synthetic.js';
import { fixturePath, startTestRedis, tinyDemoModel, type TestRedis } from '../testing-fixtures.js';
import { runDeidTrain } from '../train/deid-train.js';
import { connectRedis } from '../tune/queue.js';
import { deidentifyFile, evaluate, predictFile } from './batch.js';
import { BATCH_QUEUE, jobFolder } from './spec.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'medtune.js');
const SECRET = 'queue-test-key';
const quiet = () => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let work: string;
let model: string;
let csv: string;
let big: string;
let jsonl: string;
let redis: TestRedis | null = null;
const workers: Worker[] = [];

interface Worker {
  p: ChildProcess;
  lines: string[];
  waitFor(re: RegExp, ms?: number): Promise<string>;
  kill(): void;
}

async function until<T>(f: () => T | undefined | false, what: string, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** `medtune worker` in its own process group (killing the group kills its sandboxed chunk process too). */
function startWorker(): Worker {
  const p = spawn(
    process.execPath,
    [bin, 'worker', '--queue', redis!.url, '--lock-duration', '2000', '--threads', '1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, CI: '1', MEDTUNE_DEID_SECRET: SECRET },
    },
  );
  const lines: string[] = [];
  let tail = '';
  p.stdout!.on('data', (d: Buffer) => {
    const parts = (tail + d.toString()).split('\n');
    tail = parts.pop()!;
    lines.push(...parts);
  });
  p.stderr!.on('data', (d: Buffer) => lines.push(`stderr: ${d.toString().trim()}`));
  const w: Worker = {
    p,
    lines,
    waitFor: (re, ms) =>
      until(() => lines.find((l) => re.test(l)), `a worker line ${re} (has: ${lines.join(' | ')})`, ms),
    kill: () => {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    },
  };
  workers.push(w);
  return w;
}

function stopWorkers(): void {
  for (const w of workers.splice(0)) w.kill();
}

async function cli(args: string[]): Promise<{ exit: number; stderr: string }> {
  let stderr = '';
  const exit = await runCli(['node', 'medtune', ...args], (s) => (stderr += s));
  return { exit, stderr };
}

const read = (f: string) => readFileSync(f, 'utf8');

/** The predictions of big.csv by one process. */
async function bigReference(): Promise<string> {
  const reference = path.join(work, 'big-single.jsonl');
  if (!existsSync(reference)) await predictFile({ model, input: big, output: reference, log: quiet });
  return read(reference);
}
const doneChunks = (dir: string) =>
  existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.done.json')).length : 0;

describe('batch jobs on the Redis queue', () => {
  const single = { predict: '', deid: '', evaluate: '' };

  before(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'medtune-jobs-'));
    const rows = syntheticSymptoms(15, 3); // 315 rows
    const note = (r: { text: string }, i: number) =>
      `Seen by Dr. ${['Ann Lee', 'John Smith', 'Maria Garcia'][i % 3]} on 0${(i % 9) + 1}/12/2021. ${r.text}`;
    // the tiny model's labels are LABEL_0… for the demo's diagnoses in name order
    const label = (r: { label: string }) => `LABEL_${[...DEMO_DIAGNOSES].sort().indexOf(r.label)}`;
    csv = path.join(work, 'notes.csv');
    writeFileSync(csv, 'text,label\n' + rows.map((r, i) => `"${note(r, i)}",${label(r)}`).join('\n') + '\n');
    big = path.join(work, 'big.csv');
    const more = syntheticSymptoms(30, 4); // 630 rows
    writeFileSync(big, 'text,label\n' + more.map((r, i) => `"${note(r, i)}",${label(r)}`).join('\n') + '\n');
    jsonl = path.join(work, 'notes.jsonl');
    writeFileSync(
      jsonl,
      rows.map((r, i) => JSON.stringify({ id: i, note: note(r, i), mrn: `MRN ${100200 + i}` })).join('\n') + '\n',
    );
    model = path.join(work, 'model');
    tinyDemoModel(
      model,
      rows.map((r) => r.text),
    );
    // one process: the outputs the queue must reproduce
    single.predict = path.join(work, 'single.jsonl');
    await predictFile({ model, input: csv, output: single.predict, log: quiet });
    single.deid = path.join(work, 'single-deid.jsonl');
    await deidentifyFile({ input: jsonl, output: single.deid, operator: 'surrogate', secret: SECRET, log: quiet });
    single.evaluate = path.join(work, 'single-eval');
    await evaluate({ model, test: csv, outputDir: single.evaluate }, quiet);
    redis = await startTestRedis();
  });
  after(() => {
    stopWorkers();
    redis?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('Redis unreachable: one clear line naming the URL, exit 2, nothing written', async () => {
    const url = 'redis://127.0.0.1:1';
    const out = path.join(work, 'unreachable.jsonl');
    for (const args of [
      ['predict', '--model', model, '--input', csv, '--output', out, '--queue', url],
      ['deid', '--input', jsonl, '--output', out, '--queue', url],
      ['evaluate', '--model', model, '--test', csv, '--output-dir', path.join(work, 'unreachable'), '--queue', url],
      ['worker', '--queue', url],
      ['predict', '--model', model, '--input', csv, '--output', out, '--queue', 'http://x'],
    ]) {
      const r = await cli(args);
      assert.equal(r.exit, 2, r.stderr);
      assert.match(
        r.stderr.trim(),
        /^medtune: [^\n]*(redis:\/\/127\.0\.0\.1:1|http:\/\/x)[^\n]* \((E_QUEUE_UNREACHABLE|E_USAGE)\)$/,
      );
      assert.ok(!existsSync(out) && !existsSync(jobFolder('predict', out)));
    }
  });

  it('two workers, one killed mid-chunk: predict, deid and evaluate equal one process byte for byte', async (t) => {
    if (!redis) return t.skip('redis-server is not installed (apt-get install redis-server)');
    const [a, b] = [startWorker(), startWorker()];
    const out = path.join(work, 'queued.jsonl');
    const run = predictFile({ model, input: csv, output: out, queue: redis.url, chunkRows: 32, log: quiet });
    const started = await a.waitFor(/chunk \d+\/\d+ .* started/);
    a.kill();
    const chunk = /chunk (\d+\/\d+)/.exec(started)![1]!;
    await run;
    assert.equal(read(out), read(single.predict));
    assert.ok(
      !a.lines.some((l) => l.includes(`chunk ${chunk} `) && / done in /.test(l)),
      'the killed worker finished it',
    );
    await b.waitFor(new RegExp(`chunk ${chunk} .* done in `));
    assert.ok(!existsSync(jobFolder('predict', out)), 'the job folder is removed');
    const deid = path.join(work, 'queued-deid.jsonl');
    const o = { input: jsonl, output: deid, operator: 'surrogate' as const, secret: SECRET, log: quiet };
    await deidentifyFile({ ...o, queue: redis.url, chunkRows: 40 });
    assert.equal(read(deid), read(single.deid));
    const ev = path.join(work, 'queued-eval');
    await evaluate({ model, test: csv, outputDir: ev, queue: redis.url, chunkRows: 200 }, quiet);
    // (vega numbers the gradients of the SVGs one process draws: the second one's is gradient_1)
    const same = (f: string) => read(f).replace(/gradient_\d+/g, 'gradient');
    for (const f of ['predictions.jsonl', 'metrics.json', 'confusion_matrix.svg'])
      assert.ok(same(path.join(ev, f)) === same(path.join(single.evaluate, f)), `${f} differs`);
  });

  it('the coordinator killed with kill -9 and started again: finished chunks kept, none run twice', async (t) => {
    if (!redis) return t.skip('redis-server is not installed');
    stopWorkers();
    const w = startWorker();
    const out = path.join(work, 'resumed.jsonl');
    const dir = jobFolder('predict', out);
    const args = ['predict', '--model', model, '--input', big, '--output', out, '--queue', redis.url];
    const chunked = [...args, '--chunk-rows', '32'];
    const first = spawn(process.execPath, [bin, ...chunked], { stdio: 'ignore' });
    await until(() => doneChunks(dir) >= 2, 'two chunks done');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const kept = doneChunks(dir);
    assert.ok(kept < 20, `the job was still running (${kept} of 20 chunks done)`);
    const again = spawn(process.execPath, [bin, ...chunked], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    again.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = await new Promise((r) => again.once('exit', r));
    assert.equal(exit, 0, stderr);
    const resumed = /resuming queue job (\w+): (\d+) of 20 chunks were done \(kept\)/.exec(stderr);
    assert.ok(resumed && Number(resumed[2]) >= kept, stderr);
    assert.equal(read(out), await bigReference());
    for (let i = 1; i <= 20; i++) {
      const runs: string[] = w.lines.filter(
        (l) => l.includes(`job ${resumed![1]} chunk ${i}/20 `) && / done in /.test(l),
      );
      assert.equal(runs.length, 1, `chunk ${i} ran once:\n${w.lines.join('\n')}`);
    }
  });

  it('a worker whose model differs refuses its chunks; after three tries the job stops, naming the rows', async (t) => {
    if (!redis) return t.skip('redis-server is not installed');
    stopWorkers();
    const other = path.join(work, 'model-copy');
    cpSync(model, other, { recursive: true });
    const out = path.join(work, 'mismatch.jsonl');
    const logs: string[] = [];
    const run = predictFile({
      model: other,
      input: csv,
      output: out,
      queue: redis.url,
      chunkRows: 32,
      log: (l) => logs.push(l),
    });
    await until(() => existsSync(path.join(jobFolder('predict', out), 'job.json')), 'the job');
    writeFileSync(path.join(other, 'vocab.txt'), read(path.join(other, 'vocab.txt')) + 'extra\n');
    startWorker();
    await assert.rejects(run, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_JOB_FAILED');
      assert.match(
        e.message,
        /^rows \d+–\d+ of .*notes\.csv: it failed 3 times \(last: worker .*sha256.*\(E_JOB_WORKER\)\)/,
      );
      return true;
    });
    assert.ok(!existsSync(out));
  });

  it('an input that changes during the job is refused and nothing is written; no text on the queue', async (t) => {
    if (!redis) return t.skip('redis-server is not installed');
    stopWorkers();
    const input = path.join(work, 'changing.jsonl');
    cpSync(jsonl, input);
    const out = path.join(work, 'changing-deid.jsonl');
    const dir = jobFolder('deid', out);
    const o = { input, output: out, operator: 'tag' as const, secret: SECRET, log: quiet };
    const run = deidentifyFile({ ...o, queue: redis.url, chunkRows: 100 });
    await until(() => existsSync(path.join(dir, 'job.json')), 'the job');
    // what the queue and the job folder hold: paths, row ranges, hashes; no note, no MRN, no secret
    const conn = await connectRedis(redis.url);
    const q = new Queue(BATCH_QUEUE, { connection: conn });
    const queued = JSON.stringify((await q.getJobs(['waiting'])).map((j) => j.data)) + read(path.join(dir, 'job.json'));
    await q.close();
    conn.disconnect();
    assert.match(queued, /changing\.jsonl/);
    for (const text of ['Seen by', 'Smith', 'MRN', 'fever', SECRET]) assert.ok(!queued.includes(text), text);
    const bytes = read(input);
    writeFileSync(input, bytes.replace('Smith', 'Smyth'));
    startWorker();
    await assert.rejects(run, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_INPUT_CHANGED');
      assert.match(e.message, /changed during the job.*nothing was written/);
      return true;
    });
    assert.ok(!existsSync(out) && !existsSync(dir));
  });

  it('Redis lost mid-job: said once, and the job goes on when it is back', async (t) => {
    if (!redis) return t.skip('redis-server is not installed');
    if (!workers.length) startWorker();
    const out = path.join(work, 'lost.jsonl');
    const dir = jobFolder('predict', out);
    const logs: string[] = [];
    const run = predictFile({
      model,
      input: big,
      output: out,
      queue: redis.url,
      chunkRows: 32,
      log: (l) => logs.push(l),
    });
    await until(() => doneChunks(dir) >= 1, 'a chunk done');
    redis.stop();
    await sleep(1500);
    await redis.start();
    await run;
    assert.equal(read(out), await bigReference());
    assert.equal(logs.filter((l) => l.startsWith('lost the Redis server')).length, 1, logs.join('\n'));
    assert.ok(logs.some((l) => /is back/.test(l)));
  });
  it('deid --model on the queue: rules ∪ the de-identification model, the same bytes as one process', async (t) => {
    const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');
    if (!redis || !tiny) return t.skip('needs redis-server and ../shared (tiny-bert)');
    const deidModel = path.join(work, 'deid-model');
    await runDeidTrain({ model: tiny, outputDir: deidModel, notes: 40, epochs: 1, maxLength: 64, log: quiet });
    const o = { input: jsonl, operator: 'tag' as const, model: deidModel, log: quiet };
    const one = path.join(work, 'single-deid-model.jsonl');
    await deidentifyFile({ ...o, output: one });
    assert.match(read(one), /"source":"(model|both)"|"source":"rules"/);
    const w = startWorker();
    const queued = path.join(work, 'queued-deid-model.jsonl');
    await deidentifyFile({ ...o, output: queued, queue: redis.url, chunkRows: 100 });
    w.kill();
    assert.equal(read(queued), read(one));
  });
});
