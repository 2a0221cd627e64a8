/** `medtune demo`: flags → demo/run.ts (the main job on built-in synthetic data, offline). */
import type { Command } from 'commander';
import { runDemo, type DemoOptions } from '../demo/run.js';
import { int } from './args.js';
import { baseModelOption, outputDirOption, seedOption, withOptions } from './options.js';

export function registerDemo(program: Command): void {
  const c = program
    .command('demo')
    .description(
      'fine-tune a small BERT on built-in synthetic symptom descriptions -> diagnoses (offline, under a minute)',
    );
  withOptions(
    c,
    outputDirOption('data, model and reports', 'medtune-demo'),
    baseModelOption('a 2-layer BERT initialised from scratch'),
    seedOption(1),
  );
  c.option('--epochs <n>', 'epochs (default 12 from scratch, 5 from a checkpoint)', int('--epochs'));
  c.option('--demographics', 'add sex and age_band columns with an injected disparity, and show the bias audit');
  c.action(async (o: DemoOptions) => {
    await runDemo(o);
  });
}
