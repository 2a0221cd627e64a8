/** `medtune worker`: flags → jobs/worker.ts (trials of tune studies and chunks of predict, deid, evaluate jobs). */
import type { Command } from 'commander';
import { runWorker, type WorkerOptions } from '../jobs/worker.js';
import { withOptions, workerOptions } from './options.js';

export function registerWorker(program: Command): void {
  const c = program
    .command('worker')
    .description(
      'run the jobs of a Redis --queue: tune trials and chunks of predict, deid and evaluate ' +
        '(their paths must exist on this machine)',
    );
  withOptions(c, workerOptions()).action(async (o: WorkerOptions) => {
    await runWorker(o);
  });
}
