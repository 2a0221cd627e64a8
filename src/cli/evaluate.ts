/** `medtune evaluate`: flags → evaluate/run.ts (metrics, predictions, confusion matrix, run.json), then the report. */
import type { Command } from 'commander';
import type { EvaluateOptions } from '../evaluate/run.js';
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
  withOptions(c, leakageOptions(), reportOptions());
  c.action(async (o: EvaluateOptions, cmd: Command) => {
    await evaluateAndReport({ ...o, commandLine: commandLineOf(cmd) });
  });
}
