/** `medtune calibrate`: flags → evaluate/calibrate-model.ts (calibration fitted on held-out data, saved). */
import type { Command } from 'commander';
import { runCalibrate, type CalibrateOptions } from '../evaluate/calibrate-model.js';
import {
  abstentionFitOptions,
  columnOptions,
  dataOption,
  inferenceOptions,
  modelOption,
  readOptions,
  precisionOption,
  withOptions,
} from './options.js';

export function registerCalibrate(program: Command): void {
  const c = program
    .command('calibrate')
    .description(
      'fit temperature scaling / per-label thresholds, the out-of-scope threshold and abstention for a model on ' +
        'held-out data',
    );
  withOptions(c, modelOption(), dataOption('held out (validation, never test)'));
  c.option('--output <dir>', 'write a calibrated copy here (default: update the model folder in place, atomically)');
  c.option(
    '--ood-data <file>',
    'training data to refit the out-of-scope detector on (default: keep it; its threshold is set on --data)',
  );
  withOptions(c, abstentionFitOptions(), columnOptions({ pair: false }), inferenceOptions(), readOptions('data'));
  withOptions(c, precisionOption());
  c.action(async (o: CalibrateOptions) => {
    await runCalibrate(o);
  });
}
