/**
 * Test support: locating ../shared (read-only data beside the checkout; MEDTUNE_SHARED overrides), a tiny model, a
 * redis-server of a test's own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createScratchModel } from './demo/scratch.js';
import { DEMO_DIAGNOSES } from './demo/synthetic.js';
import type { TrainOptions } from './train/options.js';

export function sharedDir(): string | null {
  const candidates = [
    process.env.MEDTUNE_SHARED,
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared'),
    path.resolve(process.cwd(), '..', 'shared'),
  ].filter((x): x is string => !!x);
  return candidates.find((c) => existsSync(path.join(c, 'fixtures'))) ?? null;
}

export function fixturePath(...parts: string[]): string | null {
  const s = sharedDir();
  if (!s) return null;
  const p = path.join(s, ...parts);
  return existsSync(p) ? p : null;
}

/**
 * The small model the command tests train: a 1-layer BERT with hidden size 32, made from scratch (seed 1) for the
 * demo's diagnoses, with a WordPiece vocabulary built from `texts`.
 */
export function tinyDemoModel(dir: string, texts: string[]): void {
  createScratchModel(dir, texts, [...DEMO_DIAGNOSES].sort(), 1, { hidden: 32, layers: 1 });
}

export interface TestRedis {
  url: string;
  port: number;
  /** stops the server (its data is gone: it keeps none on disk) */
  stop(): void;
  /** starts it again on the same port, empty */
  start(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((res) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.end();
        res(true);
      });
      c.on('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not start on port ${port}`);
}

/**
 * A redis-server on a free port, keeping nothing on disk; null when redis-server is not installed (the caller skips
 * its test), unless MEDTUNE_REQUIRE_REDIS=1 (then it throws).
 */
export async function startTestRedis(): Promise<TestRedis | null> {
  const bin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!bin) {
    if (process.env.MEDTUNE_REQUIRE_REDIS) throw new Error('redis-server is not installed (.ci/run installs it)');
    return null;
  }
  const port = await freePort();
  let server: ChildProcess | null = null;
  const r: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => {
      server?.kill('SIGKILL');
      server = null;
    },
    start: async () => {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
      server = spawn(bin, args, { stdio: 'ignore' });
      await waitForPort(port);
    },
  };
  await r.start();
  return r;
}

/**
 * `runTrain` options for the tiny demo model (`tinyDemoModel`): 3 epochs at 2e-3, batches of 16, 48 tokens, a 0.2
 * validation split, no baseline and no checkpoints (what the review, retraining and feedback-loop tests train with).
 */
export function tinyTrainOptions(
  o: Pick<TrainOptions, 'model' | 'train' | 'outputDir'> & Partial<TrainOptions>,
): TrainOptions {
  return {
    epochs: 3,
    learningRate: 2e-3,
    batchSize: 16,
    maxLength: 48,
    weightDecay: 0.01,
    warmup: 0.1,
    scheduler: 'linear',
    seed: 3,
    evalEvery: 0,
    gradAccum: 1,
    maxGradNorm: 1,
    labelSmoothing: 0,
    validationSplit: 0.2,
    baseline: false,
    checkpoints: false,
    ...o,
  };
}
