/** `medtune train`: flags → TrainOptions → train/run.ts. */
import type { Command } from 'commander';
import { DEID_OPERATORS, runTrain, SCHEDULERS, type TrainOptions } from '../train/run.js';
import { checkAugmentCount } from '../text/augment.js';
import { choice, encodingOption, formatOption, int, num, prob } from './args.js';

export { classWeightsFor, runTrain, type TrainOptions, type TrainOptions as TrainCliOptions } from '../train/run.js';

/** The options of `train`; `tune` takes the same, with the recipe options as constants or distributions. */
export function addTrainOptions(c: Command, mode: 'train' | 'tune'): Command {
  c.requiredOption('--model <dir-or-name>', 'pretrained model folder or hub name');
  c.requiredOption('--train <file>', 'training data');
  c.option('--validation <file>', 'validation data (default: a stratified split of --train)');
  c.option('--test <file>', 'test data, evaluated once with the best model');
  c.requiredOption('--output-dir <dir>', 'where best_model/, metrics.json and logs go');
  c.option('--text-column <name>', 'text column (default: detected)');
  c.option('--text-pair-column <name>', 'second text column');
  c.option('--label-column <name>', 'label column (default: detected)');
  c.option('--multi-label', 'labels are lists or delimited strings');
  c.option('--label-delimiter <s>', 'separator of multi-label strings', ',');
  c.addOption(formatOption('data files'));
  c.addOption(encodingOption());
  c.addOption(choice('--recipe <name>', 'recipe for the options below left out: auto (from the model and data) or hf (HF Trainer defaults)', ['auto', 'hf'], 'auto'));
  if (mode === 'train') c.option('--epochs <n>', 'epochs (default: by dataset size; hf: 3)', num('--epochs', { above: 0 }));
  else c.option('--epochs <n>', DIST_HELP);
  if (mode === 'train') c.option('--learning-rate <lr>', 'peak learning rate (default: by model size; hf: 5e-5)', num('--learning-rate'));
  else c.option('--learning-rate <lr>', DIST_HELP);
  if (mode === 'train') c.option('--batch-size <n>', 'batch size', int('--batch-size'), 32);
  else c.option('--batch-size <n>', DIST_HELP);
  if (mode === 'train') c.option('--max-length <n>', 'max tokens per text (default: covers 95% of the training texts; hf: 128; at most the model\'s limit)', int('--max-length', 2));
  else c.option('--max-length <n>', DIST_HELP);
  if (mode === 'train') c.option('--weight-decay <w>', 'AdamW weight decay (not on biases/LayerNorm)', num('--weight-decay'), 0.01);
  else c.option('--weight-decay <w>', DIST_HELP);
  if (mode === 'train') c.option('--warmup <n>', 'warm-up steps, or a ratio of all steps if < 1 (default: by model size; hf: 0)', num('--warmup'));
  else c.option('--warmup <n>', DIST_HELP);
  if (mode === 'train') c.option('--dropout <p>', 'dropout of every layer (default: the model\'s config)', num('--dropout', { min: 0, below: 1 }));
  else c.option('--dropout <p>', DIST_HELP);
  if (mode === 'train') c.addOption(choice('--scheduler <name>', 'learning-rate schedule', SCHEDULERS, 'linear'));
  else c.option('--scheduler <name>', DIST_HELP);
  c.option('--seed <n>', 'random seed', int('--seed', 0), 42);
  c.option('--eval-every <n>', 'evaluate every N steps (0: every epoch)', int('--eval-every', 0), 0);
  if (mode === 'train') c.option('--grad-accum <n>', 'gradient accumulation steps', int('--grad-accum'), 1);
  else c.option('--grad-accum <n>', DIST_HELP);
  c.option('--max-grad-norm <x>', 'clip the global gradient norm (0: off)', num('--max-grad-norm'), 1);
  if (mode === 'train') c.option('--label-smoothing <e>', 'label smoothing for cross-entropy, in [0, 1)', num('--label-smoothing', { min: 0, below: 1 }), 0);
  else c.option('--label-smoothing <e>', DIST_HELP);
  c.option('--metric-for-best-model <name>', 'accuracy, f1_macro, f1_micro, loss, ... (default: accuracy / f1_micro)');
  c.option('--validation-split <f>', 'fraction held out when there is no --validation file, in [0, 1) (0: none)', num('--validation-split', { min: 0, below: 1 }), 0.1);
  c.option('--max-steps <n>', 'stop after N optimizer steps (overrides --epochs)', int('--max-steps'));
  c.option('--early-stopping <patience>', 'stop after N evaluations without improvement', int('--early-stopping'));
  if (mode === 'train') c.option('--save-steps <n>', 'checkpoint every N steps (default: every epoch)', int('--save-steps'));
  if (mode === 'train') c.option('--save-total-limit <n>', 'keep the N newest checkpoints (0: all)', int('--save-total-limit', 0), 2);
  if (mode === 'train') c.option('--resume [checkpoint]', 'continue from a checkpoint folder (default: the latest in --output-dir)');
  if (mode === 'train') c.option('--overwrite', 'replace a previous run in --output-dir (its checkpoints, best model and reports)');
  c.option('--class-weights <spec>', '"balanced" or a JSON file {label: weight}');
  c.option('--threshold <p>', 'multi-label decision threshold', prob('--threshold'), 0.5);
  if (mode === 'train') c.option('--no-baseline', 'skip the TF-IDF + logistic-regression baseline reported beside the model');
  c.option('--no-calibrate', 'do not fit temperature scaling / per-label thresholds on the validation split');
  c.option('--abstain-below <p>', 'the saved model abstains ("refer to a clinician") below this calibrated confidence', prob('--abstain-below'));
  c.option('--target-accuracy <a>', 'choose the abstention threshold that reaches this accuracy on validation', prob('--target-accuracy'));
  c.option('--deid', 'de-identify every text (PHI -> [TAG]) before tokenising');
  c.addOption(choice('--deid-operator <op>', 'with --deid: how PHI is replaced', DEID_OPERATORS, 'tag'));
  c.option('--clean [steps]', 'clean every text first (default steps, or a list: unicode,controls,whitespace,linebreaks,lowercase,stopwords); recorded for predict');
  c.option('--augment <n>', 'add N augmented copies of each training example (training split only)', (v: string) => { checkAugmentCount(Number(v)); return Number(v); });
  c.option('--augment-ops <list>', 'with --augment: synonym,insert,swap,delete,contextual (default: the first four)');
  c.option('--no-leakage-check', 'skip the check for copies of training rows in validation/test');
  c.option('--fail-on-leakage', 'stop when validation/test rows have exact or near copies in the training data');
  c.option('--group-column <name>', 'aggregate predictions per group for the final metrics (multi-label: union)');
  c.option('--group-regex <re>', 'regular expression whose first capture group is the group key');
  c.option('--threads <n>', 'threads', int('--threads'));
  return c;
}

const DIST_HELP = 'a value as in train, or a distribution: loguniform:LO:HI, uniform:LO:HI, int:LO:HI[:log], choice:A,B';

export function registerTrain(program: Command): void {
  const c = program.command('train').description('fine-tune a model on a labelled CSV/TSV/JSONL/Parquet file');
  addTrainOptions(c, 'train');
  c.action(async (o: TrainOptions) => {
    await runTrain(o);
  });
}
