/**
 * Local trials: each runs in its own process (`trial-process.js`, forked with its share of the threads), so a
 * trial's memory is returned to the system when it ends (transformers #13019: trials leaking until OOM).
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrialOutcome, TrialSpec } from './trial.js';

export interface ExecutorIO {
  /** an evaluation arrived; resolves true to stop the trial */
  report: (step: number, value: number) => boolean | Promise<boolean>;
  /** the trial is alive (worker: who runs it) */
  heartbeat: (worker?: string) => void;
  /** the trial (re)started from its first evaluation on a worker (queue: a stalled job picked up again) */
  restarted?: (worker?: string) => void;
}

export interface TrialExecutor {
  run(spec: TrialSpec, io: ExecutorIO): Promise<TrialOutcome>;
  close(): Promise<void>;
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'trial-process.js');

export class LocalExecutor implements TrialExecutor {
  private children = new Set<import('node:child_process').ChildProcess>();
  constructor(private threads: number) {}

  run(spec: TrialSpec, io: ExecutorIO): Promise<TrialOutcome> {
    const t0 = Date.now();
    const child = fork(CHILD, [], {
      env: { ...process.env, MEDTUNE_THREADS: String(this.threads), CI: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.children.add(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    return new Promise<TrialOutcome>((resolve) => {
      let outcome: TrialOutcome | null = null;
      child.on('message', (m: { type: string; step?: number; value?: number; outcome?: TrialOutcome }) => {
        if (m.type === 'heartbeat') io.heartbeat();
        else if (m.type === 'eval') {
          void Promise.resolve(io.report(m.step!, m.value!)).then((prune) => {
            if (child.connected) child.send({ type: 'decision', step: m.step, prune });
          });
        } else if (m.type === 'done') outcome = m.outcome!;
      });
      child.on('exit', (code, signal) => {
        this.children.delete(child);
        const last = stderr.trim().split('\n').filter(Boolean).pop();
        resolve(
          outcome ?? {
            state: 'failed',
            seconds: (Date.now() - t0) / 1000,
            code: 'E_INTERNAL',
            error:
              'the trial process ended without a result ' +
              `(${signal ? `signal ${signal}` : `exit code ${code}`}${last ? `: ${last.slice(0, 200)}` : ''})`,
          },
        );
      });
      child.send({ type: 'run', spec });
    });
  }

  async close(): Promise<void> {
    for (const c of this.children) c.kill('SIGTERM');
  }
}
