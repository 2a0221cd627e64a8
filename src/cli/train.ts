/** `medtune train`: flags → TrainOptions → train/run.ts. */
import type { Command } from 'commander';
import { DEID_OPERATORS, runTrain, SCHEDULERS, type TrainOptions } from '../train/run.js';
import { checkAugmentCount } from '../text/augment.js';
import { choice, encodingOption, formatOption, fromCli, int, num, prob } from './args.js';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputDir } from '../common/atomic.js';
import { readModelConfig } from '../models/auto.js';
import { autoLearningRate } from '../train/recipe.js';
import type { TrainRunResult } from '../train/run.js';
import { runStudy, threadsPerJob } from '../tune/study.js';
import { LocalExecutor } from '../tune/local.js';
import type { Distribution } from '../tune/space.js';
import type { TrialTrainOptions } from '../tune/trial.js';
import { precisionOption } from '../tensor/precision.js';
import { collect, commandLineOf, writeRunOutputs } from './report.js';

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
  c.addOption(
    choice(
      '--recipe <name>',
      'recipe for the options below left out: auto (from the model and data) or hf (HF Trainer defaults)',
      ['auto', 'hf'],
      'auto',
    ),
  );
  if (mode === 'train')
    c.option('--epochs <n>', 'epochs (default: by dataset size; hf: 3)', num('--epochs', { above: 0 }));
  else c.option('--epochs <n>', DIST_HELP);
  if (mode === 'train')
    c.option('--learning-rate <lr>', 'peak learning rate (default: by model size; hf: 5e-5)', num('--learning-rate'));
  else c.option('--learning-rate <lr>', DIST_HELP);
  if (mode === 'train') c.option('--batch-size <n>', 'batch size', int('--batch-size'), 32);
  else c.option('--batch-size <n>', DIST_HELP);
  if (mode === 'train')
    c.option(
      '--max-length <n>',
      "max tokens per text (default: covers 95% of the training texts; hf: 128; at most the model's limit)",
      int('--max-length', 2),
    );
  else c.option('--max-length <n>', DIST_HELP);
  if (mode === 'train')
    c.option('--weight-decay <w>', 'AdamW weight decay (not on biases/LayerNorm)', num('--weight-decay'), 0.01);
  else c.option('--weight-decay <w>', DIST_HELP);
  if (mode === 'train')
    c.option(
      '--warmup <n>',
      'warm-up steps, or a ratio of all steps if < 1 (default: by model size; hf: 0)',
      num('--warmup'),
    );
  else c.option('--warmup <n>', DIST_HELP);
  if (mode === 'train')
    c.option(
      '--dropout <p>',
      "dropout of every layer (default: the model's config)",
      num('--dropout', { min: 0, below: 1 }),
    );
  else c.option('--dropout <p>', DIST_HELP);
  if (mode === 'train') c.addOption(choice('--scheduler <name>', 'learning-rate schedule', SCHEDULERS, 'linear'));
  else c.option('--scheduler <name>', DIST_HELP);
  c.option('--seed <n>', 'random seed', int('--seed', 0), 42);
  c.option('--eval-every <n>', 'evaluate every N steps (0: every epoch)', int('--eval-every', 0), 0);
  if (mode === 'train') c.option('--grad-accum <n>', 'gradient accumulation steps', int('--grad-accum'), 1);
  else c.option('--grad-accum <n>', DIST_HELP);
  c.option('--max-grad-norm <x>', 'clip the global gradient norm (0: off)', num('--max-grad-norm'), 1);
  if (mode === 'train')
    c.option(
      '--label-smoothing <e>',
      'label smoothing for cross-entropy, in [0, 1)',
      num('--label-smoothing', { min: 0, below: 1 }),
      0,
    );
  else c.option('--label-smoothing <e>', DIST_HELP);
  c.option('--metric-for-best-model <name>', 'accuracy, f1_macro, f1_micro, loss, ... (default: accuracy / f1_micro)');
  c.option(
    '--validation-split <f>',
    'fraction held out when there is no --validation file, in [0, 1) (0: none)',
    num('--validation-split', { min: 0, below: 1 }),
    0.1,
  );
  c.option('--max-steps <n>', 'stop after N optimizer steps (overrides --epochs)', int('--max-steps'));
  c.option('--early-stopping <patience>', 'stop after N evaluations without improvement', int('--early-stopping'));
  if (mode === 'train')
    c.option('--save-steps <n>', 'checkpoint every N steps (default: every epoch)', int('--save-steps'));
  if (mode === 'train')
    c.option('--save-total-limit <n>', 'keep the N newest checkpoints (0: all)', int('--save-total-limit', 0), 2);
  if (mode === 'train')
    c.option('--resume [checkpoint]', 'continue from a checkpoint folder (default: the latest in --output-dir)');
  if (mode === 'train')
    c.option('--overwrite', 'replace a previous run in --output-dir (its checkpoints, best model and reports)');
  c.option('--class-weights <spec>', '"balanced" or a JSON file {label: weight}');
  c.option('--threshold <p>', 'multi-label decision threshold', prob('--threshold'), 0.5);
  if (mode === 'train')
    c.option('--no-baseline', 'skip the TF-IDF + logistic-regression baseline reported beside the model');
  c.option(
    '--replay <file>',
    'continual learning: old training data, a share of which is trained on beside the new rows',
  );
  c.option(
    '--replay-fraction <f>',
    'share of --replay rows added (stratified), in (0, 1]',
    num('--replay-fraction', { above: 0, max: 1 }),
  );
  c.option('--add-labels', 'continuing from a fine-tuned model: allow labels it does not have (its head grows)');
  c.option(
    '--old-test <file>',
    "continual learning: the old test set, to measure forgetting (default: the parent model's recorded test file)",
  );
  c.option('--no-calibrate', 'do not fit temperature scaling / per-label thresholds on the validation split');
  c.option(
    '--abstain-below <p>',
    'the saved model abstains ("refer to a clinician") below this calibrated confidence',
    prob('--abstain-below'),
  );
  c.option(
    '--target-accuracy <a>',
    'choose the abstention threshold that reaches this accuracy on validation',
    prob('--target-accuracy'),
  );
  c.option('--deid', 'de-identify every text (PHI -> [TAG]) before tokenising');
  c.addOption(choice('--deid-operator <op>', 'with --deid: how PHI is replaced', DEID_OPERATORS, 'tag'));
  c.option(
    '--clean [steps]',
    'clean every text first (default steps, or a list: unicode,controls,whitespace,linebreaks,lowercase,stopwords); ' +
      'recorded for predict',
  );
  c.option('--augment <n>', 'add N augmented copies of each training example (training split only)', (v: string) => {
    checkAugmentCount(Number(v));
    return Number(v);
  });
  c.option('--augment-ops <list>', 'with --augment: synonym,insert,swap,delete,contextual (default: the first four)');
  c.option('--no-leakage-check', 'skip the check for copies of training rows in validation/test');
  c.option('--fail-on-leakage', 'stop when validation/test rows have exact or near copies in the training data');
  c.option('--group-column <name>', 'aggregate predictions per group for the final metrics (multi-label: union)');
  c.option('--group-regex <re>', 'regular expression whose first capture group is the group key');
  if (mode === 'train') {
    c.option('--audit-column <name>', 'bias audit over this demographic column (repeatable: sex, age band)', collect);
    c.option(
      '--audit-min-group <n>',
      'bias audit: smaller groups are too small to judge',
      int('--audit-min-group', 2),
      30,
    );
    c.option('--no-texts', 'leave the texts of misclassified cases out of report.html');
  }
  c.option('--threads <n>', 'threads', int('--threads'));
  c.option('--precision <p>', 'fp32, or bf16: bf16 matrix products, fp32 weights (AVX512-BF16 CPUs)', precisionOption);
  return c;
}

const DIST_HELP =
  'a value as in train, or a distribution: loguniform:LO:HI, uniform:LO:HI, int:LO:HI[:log], choice:A,B';

/**
 * --auto-tune N: a small TPE study (median pruning) on the validation split over the recipe options the user left
 * out — learning rate around the automatic one, warm-up, batch size — in OUTPUT/auto-tune/, then the final training
 * with the best trial's values (evaluated on --test as usual).
 */
export async function runAutoTune(
  o: TrainOptions & { autoTune: number },
  log: (l: string) => void = (l) => console.log(l),
): Promise<TrainRunResult> {
  if (!o.validation && o.validationSplit === 0)
    throw new MedtuneError(
      '--auto-tune selects on validation data: pass --validation or keep --validation-split > 0',
      'E_NO_EVAL_DATA',
    );
  const { config } = await readModelConfig(o.model);
  const lr = autoLearningRate(
    (config as { hidden_size?: number; dim?: number }).hidden_size ?? (config as { dim?: number }).dim ?? 768,
  );
  const params: Record<string, Distribution> = {};
  if (o.learningRate === undefined)
    params.learningRate = { type: 'float', low: lr / 4, high: Math.min(1e-2, lr * 4), log: true };
  if (o.warmup === undefined) params.warmup = { type: 'float', low: 0, high: 0.2, log: false };
  if (!o.fromCli?.includes('batchSize')) params.batchSize = { type: 'categorical', choices: [16, 32] };
  if (!Object.keys(params).length)
    throw new MedtuneError(
      '--auto-tune has nothing to tune: --learning-rate, --warmup and --batch-size are all given',
      'E_SEARCH_SPACE',
    );
  prepareOutputDir(o.outputDir);
  const dir = path.join(o.outputDir, 'auto-tune');
  const threads = threadsPerJob(1, o.threads);
  const { autoTune: n, fromCli: _f, ...base } = o;
  const executor = new LocalExecutor(threads);
  let best;
  try {
    best = (
      await runStudy(
        {
          base: { ...base, test: undefined } as TrialTrainOptions,
          space: { params, fixed: {} },
          sampler: 'tpe',
          pruner: 'median',
          trials: n,
          startupTrials: Math.max(2, Math.floor(n / 3)),
          seed: o.seed,
          studyName: 'auto-tune',
          storage: path.join(dir, 'study.sqlite'),
          outputDir: dir,
          metric: o.metricForBestModel ?? (o.multiLabel ? 'f1_micro' : 'accuracy'),
          direction: o.metricForBestModel === 'loss' ? 'minimize' : 'maximize',
          jobs: 1,
          retries: 1,
          heartbeatTimeout: 120,
          executor,
          threads,
        },
        log,
      )
    ).best;
  } finally {
    await executor.close();
  }
  log(
    `auto-tune: best of ${n} trials: ${JSON.stringify(best.params)} (validation ${best.value}); ` +
      'training the final model with it',
  );
  return runTrain({ ...base, ...(best.params as Partial<TrainOptions>) }, log);
}

export function registerTrain(program: Command): void {
  const c = program.command('train').description('fine-tune a model on a labelled CSV/TSV/JSONL/Parquet file');
  addTrainOptions(c, 'train');
  c.option(
    '--auto-tune <n>',
    'first run a small TPE study of N trials on the validation split ' +
      '(learning rate, warm-up, batch size you did not give)',
    int('--auto-tune'),
  );
  c.action(async (o: TrainOptions & { autoTune?: number; auditColumn?: string[] }, cmd: Command) => {
    const log = (l: string) => console.log(l);
    const run = { ...o, auditColumns: o.auditColumn, commandLine: commandLineOf(cmd) };
    const { outputDir } = o.autoTune
      ? await runAutoTune(
          { ...run, autoTune: o.autoTune, fromCli: fromCli(cmd, 'batchSize') ? ['batchSize'] : [] },
          log,
        )
      : await runTrain(run, log);
    await writeRunOutputs(outputDir, { texts: o.texts, minGroup: o.auditMinGroup, card: true, log });
  });
}
