/**
 * A local trial process (forked by the study runner, one per running trial, so memory never accumulates across
 * trials): receives {type: 'run', spec}, reports evaluations and heartbeats over IPC, waits for the runner's pruning
 * decision after each evaluation, and exits after {type: 'done'}. It exits when its parent goes away (kill -9).
 */
import { runTrial, type TrialSpec } from './trial.js';

type FromParent = { type: 'run'; spec: TrialSpec } | { type: 'decision'; step: number; prune: boolean };

const send = (m: unknown) => new Promise<void>((res) => (process.send ? process.send(m, () => res()) : res()));
const waiting = new Map<number, (prune: boolean) => void>();

process.on('disconnect', () => process.exit(1));
process.on('message', (m: FromParent) => {
  if (m.type === 'decision') waiting.get(m.step)?.(m.prune);
  if (m.type !== 'run') return;
  const beat = setInterval(() => void send({ type: 'heartbeat' }), 2000);
  void runTrial(m.spec, {
    report: (step, value) =>
      new Promise<boolean>((res) => {
        waiting.set(step, (p) => {
          waiting.delete(step);
          res(p);
        });
        void send({ type: 'eval', step, value });
      }),
  }).then(async (outcome) => {
    clearInterval(beat);
    await send({ type: 'done', outcome });
    process.disconnect();
  });
});
