/**
 * `medtune evaluate`: flags → evaluate/run.ts (metrics, predictions, confusion matrix, run.json), then the report;
 * with --queue the probabilities come from `medtune worker` processes (jobs/).
 */
import type { Command } from 'commander';
import { withQueue, type QueuedEvaluateOptions } from '../jobs/batch.js';
import { evaluateAndReport } from '../report/outputs.js';
import { commandLineOf } from './args.js';
import {
  columnOptions,
  decisionOptions,
  groupOptions,
  inferenceOptions,
  leakageOptions,
  modelOption,
  outputDirOption,
  queueOptions,
  readOptions,
  reportOptions,
  testOption,
  precisionOption,
  withOptions,
} from './options.js';

export function registerEvaluate(program: Command): void {
  const c = program
    .command('evaluate')
    .description(
      'evaluate a model on a labelled file: metrics.json, predictions.jsonl (errors flagged), confusion_matrix.svg',
    );
  withOptions(
    c,
    modelOption(),
    testOption().makeOptionMandatory(),
    outputDirOption('the reports'),
    columnOptions(),
    groupOptions(),
    decisionOptions(),
    inferenceOptions(),
    readOptions('test file'),
    precisionOption(),
  );
  c.option(
    '--train <file>',
    "training data to check the test rows against (default: the model's recorded training file)",
  );
  withOptions(c, leakageOptions(), reportOptions(), queueOptions());
  c.action(async (o: QueuedEvaluateOptions, cmd: Command) => {
    await evaluateAndReport(await withQueue({ ...o, commandLine: commandLineOf(cmd) }, (l) => console.log(l)));
  });
}
