// `medtune tune` end to end on a tiny model: kill -9 mid-study and rerun (finished trials kept, the running one
// failed and retried, the study completes); bad input (one line, exit 2, before any trial); a real redis-server on a
// free port with two queue workers, one killed mid-trial: every trial ends complete or failed, none lost, none run
// twice to completion.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './program.js';
import { Command } from 'commander';
import { registerTune } from './tune.js';
import { runTune, type TuneOptions as TuneCliOptions } from '../tune/run.js';
import { startTestRedis, tinyDemoModel } from '../testing-fixtures.js';
import { syntheticSymptoms } from '../demo/synthetic.js';
import { StudyStore, type Trial } from '../tune/storage.js';
import { spaceSignature } from '../tune/space.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'medtune.js');
let work: string;
let model: string;
let trainCsv: string;
const quiet = () => {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Common flags: a small search space over a tiny model (each trial takes a few seconds). */
const flags = (out: string, extra: string[] = []) => [
  '--model',
  model,
  '--train',
  trainCsv,
  '--output-dir',
  out,
  '--learning-rate',
  'loguniform:5e-4:5e-3',
  '--batch-size',
  'choice:8,16',
  '--epochs',
  '4',
  '--max-length',
  '32',
  '--no-leakage-check',
  '--no-calibrate',
  '--startup-trials',
  '2',
  ...extra,
];

async function cli(args: string[]): Promise<{ exit: number; stderr: string }> {
  let stderr = '';
  const exit = await runCli(['node', 'medtune', ...args], (s) => {
    stderr += s;
  });
  return { exit, stderr };
}

function trialsOf(file: string): Trial[] {
  const s = new StudyStore(file, { readonly: true });
  try {
    const study = s.studies()[0];
    return study ? s.trials(study.id) : [];
  } finally {
    s.close();
  }
}

/** Polls until `pred` holds on the study's trials (or fails after `ms`). */
async function waitFor(file: string, pred: (t: Trial[]) => boolean, ms = 60_000): Promise<Trial[]> {
  const t0 = Date.now();
  for (;;) {
    const ts = existsSync(file)
      ? (() => {
          try {
            return trialsOf(file);
          } catch {
            return [];
          }
        })()
      : [];
    if (pred(ts)) return ts;
    if (Date.now() - t0 > ms)
      throw new Error(
        `timed out waiting; trials: ${JSON.stringify(ts.map((t) => [t.number, t.state, t.intermediate.length]))}`,
      );
    await sleep(100);
  }
}

const finishedLines = (dir: string) =>
  readFileSync(path.join(dir, 'train.log'), 'utf8')
    .split('\n')
    .filter((l) => / finished: /.test(l)).length;

describe('medtune tune', () => {
  before(() => {
    work = mkdtempSync(path.join(os.tmpdir(), 'medtune-tune-'));
    const rows = syntheticSymptoms(8, 5);
    trainCsv = path.join(work, 'train.csv');
    writeFileSync(trainCsv, 'text,label\n' + rows.map((r) => `"${r.text}",${r.label}`).join('\n') + '\n');
    model = path.join(work, 'init');
    tinyDemoModel(
      model,
      rows.map((r) => r.text),
    );
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('bad input: one clear line and exit 2, before any trial runs', async () => {
    const out = path.join(work, 'bad');
    const spaceFile = path.join(work, 'space.json');
    writeFileSync(spaceFile, JSON.stringify({ 'learning-rate': 'loguniform:1e-5:1e-3', momentum: 'uniform:0:1' }));
    const notDb = path.join(work, 'not-a-db.sqlite');
    writeFileSync(notDb, 'hello, this is not SQLite at all'.repeat(40));
    const base = ['--model', model, '--train', trainCsv, '--output-dir', out];
    const probes: [string, string[], string][] = [
      ['empty space', [...base, '--learning-rate', '1e-3'], 'E_SEARCH_SPACE'],
      ['reversed range', [...base, '--learning-rate', 'loguniform:5e-4:1e-5'], 'E_SEARCH_SPACE'],
      ['log scale over 0', [...base, '--learning-rate', 'loguniform:0:1e-3'], 'E_SEARCH_SPACE'],
      ['batch size not whole', [...base, '--batch-size', 'uniform:8:32'], 'E_SEARCH_SPACE'],
      ['unknown parameter', [...base, '--space', spaceFile], 'E_SEARCH_SPACE'],
      [
        'flag and file disagree',
        [...base, '--space', spaceFile, '--learning-rate', 'uniform:1e-5:1e-3'],
        'E_SEARCH_SPACE',
      ],
      [
        'jobs above the cores',
        [...base, '--learning-rate', 'loguniform:1e-5:1e-3', '--jobs', String(os.availableParallelism() + 1)],
        'E_USAGE',
      ],
      [
        'redis unreachable',
        [...base, '--learning-rate', 'loguniform:1e-5:1e-3', '--queue', 'redis://127.0.0.1:1'],
        'E_QUEUE_UNREACHABLE',
      ],
      [
        'storage is not a database',
        [...base, '--learning-rate', 'loguniform:1e-5:1e-3', '--storage', notDb],
        'E_STUDY_STORAGE',
      ],
    ];
    for (const [name, args, code] of probes) {
      const r = await cli(['tune', ...args]);
      assert.equal(r.exit, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr.trim(), new RegExp(`^medtune: [^\\n]+ \\(${code}\\)$`), name);
    }
    const redis = await cli([
      'tune',
      ...base,
      '--learning-rate',
      'loguniform:1e-5:1e-3',
      '--queue',
      'redis://127.0.0.1:1',
    ]);
    assert.match(redis.stderr, /redis:\/\/127\.0\.0\.1:1/, 'the message names the URL');
    // a study file holding this study with another search space
    const other = path.join(work, 'other.sqlite');
    const s = new StudyStore(other);
    const space = { params: { batchSize: { type: 'categorical' as const, choices: [8, 16] } }, fixed: {} };
    s.openStudy({
      name: 'default',
      direction: 'maximize',
      metric: 'accuracy',
      space,
      signature: spaceSignature(space),
      settings: {},
    });
    s.close();
    const mismatch = await cli(['tune', ...base, '--learning-rate', 'loguniform:1e-5:1e-3', '--storage', other]);
    assert.match(mismatch.stderr, /another search space.*\(E_STUDY_MISMATCH\)/);
    // every trial failing (a label column the data does not have): stops after three, exit 2
    const failing = await cli([
      'tune',
      ...flags(path.join(work, 'failing'), ['--label-column', 'nope', '--retries', '0', '--trials', '5']),
    ]);
    assert.equal(failing.exit, 2, failing.stderr);
    assert.match(
      failing.stderr,
      /no trial of study "default" completed \(3 failed.*E_INPUT_COLUMN.*\(E_TRIALS_FAILED\)/,
    );
  });

  it('kill -9 mid-study, rerun: finished trials kept, the running one retried, the study completes', async () => {
    const out = path.join(work, 'killed');
    const db = path.join(out, 'study.sqlite');
    const child = spawn(process.execPath, [bin, 'tune', ...flags(out, ['--trials', '2'])], {
      stdio: 'ignore',
      env: { ...process.env, CI: '1' },
    });
    // kill once one trial has ended and the next one has reported an evaluation (so it is mid-run)
    const before = await waitFor(
      db,
      (ts) =>
        ts.some((t) => t.state === 'complete') && ts.some((t) => t.state === 'running' && t.intermediate.length >= 1),
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const done = before.filter((t) => t.state === 'complete');
    const running = before.find((t) => t.state === 'running')!;
    const lines: string[] = [];
    const r = await runTune(optionsFrom(flags(out, ['--trials', '2'])), (l) => lines.push(l));
    assert.ok(
      lines.some((l) =>
        l.includes(`trial ${running.number}: failed (interrupted: the tune process running it is gone); retried`),
      ),
      lines.join('\n'),
    );
    const after = r.trials;
    for (const t of done)
      assert.deepEqual(
        [after.find((u) => u.number === t.number)!.state, after.find((u) => u.number === t.number)!.value],
        ['complete', t.value],
        'a finished trial is kept as it was',
      );
    const failed = after.find((t) => t.number === running.number)!;
    assert.equal(failed.state, 'failed');
    const retry = after.find((t) => t.retryOf === running.number)!;
    assert.ok(retry && ['complete', 'pruned'].includes(retry.state), JSON.stringify(retry));
    assert.deepEqual(retry.params, failed.params);
    assert.equal(after.filter((t) => t.state === 'complete' || t.state === 'pruned').length, 2);
    for (const f of ['best_model/config.json', 'tune_report.html', 'best_params.json'])
      assert.ok(existsSync(path.join(out, f)), f);
    const html = readFileSync(path.join(out, 'tune_report.html'), 'utf8');
    assert.ok(html.includes('Parallel coordinates') && html.includes('<svg') && !html.includes('<script'));
  });

  it('a real redis-server: two workers, one killed mid-trial; every trial ends once, none lost', async (t) => {
    const redis = await startTestRedis();
    if (!redis) {
      t.skip('redis-server is not installed (apt-get install redis-server)');
      return;
    }
    const workers: ChildProcess[] = [];
    try {
      const url = redis.url;
      const out = path.join(work, 'queue');
      const db = path.join(out, 'study.sqlite');
      const worker = () => {
        const w = spawn(
          process.execPath,
          [bin, 'tune', 'worker', '--queue', url, '--lock-duration', '2000', '--threads', '1'],
          { stdio: 'ignore', detached: true, env: { ...process.env, CI: '1' } },
        );
        workers.push(w);
        return w;
      };
      const [a] = [worker(), worker()];
      const study = runTune(
        optionsFrom(flags(out, ['--trials', '4', '--jobs', '2', '--queue', url, '--retries', '0'])),
        quiet,
      );
      const mid = await waitFor(db, (ts) =>
        ts.some((x) => x.state === 'running' && x.worker?.endsWith(`:${a!.pid}`) && x.intermediate.length >= 1),
      );
      process.kill(-a!.pid!, 'SIGKILL'); // the worker and its sandboxed trial process
      const victim = mid.find((x) => x.state === 'running' && x.worker?.endsWith(`:${a!.pid}`))!;
      const r = await study;
      assert.equal(r.trials.length, 4, 'no trial lost or added');
      for (const x of r.trials)
        assert.ok(['complete', 'pruned', 'failed'].includes(x.state), `trial ${x.number}: ${x.state}`);
      for (const x of r.trials.filter((y) => y.state !== 'failed')) {
        assert.equal(
          finishedLines(path.join(out, 'trials', `trial-${String(x.number).padStart(4, '0')}`)),
          1,
          `trial ${x.number} ran to completion once`,
        );
      }
      const again = r.trials.find((x) => x.number === victim.number)!;
      assert.ok(
        again.state === 'failed' || !again.worker?.endsWith(`:${a!.pid}`),
        'the killed trial finished elsewhere or failed',
      );
    } finally {
      for (const w of workers)
        try {
          process.kill(-w.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      redis.stop();
    }
  });
});

/** The options runTune gets from these flags (through the real command-line parser). */
function optionsFrom(args: string[]): TuneCliOptions {
  let captured: TuneCliOptions | null = null;
  const program = buildTuneOnly((o) => {
    captured = o;
  });
  program.parse(['node', 'medtune', 'tune', ...args]);
  return captured!;
}

function buildTuneOnly(onParse: (o: TuneCliOptions) => void): Command {
  const p = new Command();
  registerTune(p);
  const tune = p.commands.find((c) => c.name() === 'tune')!;
  tune.action((o: TuneCliOptions) => onParse(o));
  return p;
}
