/** `medtune train`: flags → TrainOptions → report/outputs.ts (the run, after an optional --auto-tune, and report). */
import type { Command } from 'commander';
import type { TrainOptions } from '../train/run.js';
import { trainAndReport } from '../report/outputs.js';
import { commandLineOf, fromCli, int } from './args.js';
import { addTrainOptions } from './options.js';

type TrainCliOptions = TrainOptions & { autoTune?: number; auditColumn?: string[] };

export function registerTrain(program: Command): void {
  const c = program.command('train').description('fine-tune a model on a labelled CSV/TSV/JSONL/Parquet file');
  addTrainOptions(c, 'train');
  c.option(
    '--auto-tune <n>',
    'first run a small TPE study of N trials on the validation split ' +
      '(learning rate, warm-up, batch size you did not give)',
    int('--auto-tune'),
  );
  c.action(async (o: TrainCliOptions, cmd: Command) => {
    const typed = fromCli(cmd, 'batchSize') ? ['batchSize'] : [];
    await trainAndReport({ ...o, auditColumns: o.auditColumn, commandLine: commandLineOf(cmd), fromCli: typed });
  });
}
