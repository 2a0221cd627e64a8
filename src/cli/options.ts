/**
 * The options the commands share, each defined once — one flag, one description, one default — so that `--help`
 * shows the same words for an option on every command. Groups: model, files, data columns, inference (batching),
 * decision thresholds, abstention, leakage, reports, seed, threads, precision, and the options of a training run
 * (train and tune). A flag that means something else on one command keeps its own definition there (serve's
 * `--model NAME=DIR`, augment's and clean's `--model`, train's `--batch-size`, curate's `--threshold`).
 */
import { Option, type Command } from 'commander';
import { precisionOption as setPrecisionFrom, trainingPrecisionOption } from '../tensor/precision.js';
import { DEID_OPERATORS, SCHEDULERS } from '../train/run.js';
import { checkAugmentCount } from '../text/augment.js';
import { DEFAULT_MIN_GROUP } from '../report/audit.js';
import { DEFAULT_CHUNK_ROWS } from '../jobs/batch.js';
import { choice, collect, int, num, prob } from './args.js';

/** Rows per forward pass wherever a saved model classifies (the Predictor's default). */
export const INFERENCE_BATCH_SIZE = 32;

/** Adds options (and groups of options) to a command, in order. */
export function withOptions(c: Command, ...options: (Option | Option[])[]): Command {
  for (const o of options.flat()) c.addOption(o);
  return c;
}

const opt = (flags: string, description: string) => new Option(flags, description);
const required = (flags: string, description: string) => opt(flags, description).makeOptionMandatory();
const withDefault = (text: string, dflt?: string) => (dflt ? `${text} (default: ${dflt})` : text);

// ---- model
/** The classifier a command uses (predict, evaluate, audit, calibrate, explain). */
export const modelOption = () =>
  required('--model <dir>', 'model folder (e.g. a best_model/ from medtune train) or hub name');
/** The checkpoint a command fine-tunes (train, tune, demo). */
export const baseModelOption = (dflt?: string) =>
  opt('--model <dir-or-name>', withDefault('pretrained model folder or hub name to fine-tune', dflt));

// ---- files
export const inputOption = (what: string) => required('--input <file>', what);
export const outputOption = (what: string) => required('--output <file>', what);
/** Required, unless the command has a default folder (demo). */
export const outputDirOption = (what: string, dflt?: string) => {
  const o = opt('--output-dir <dir>', `where ${what} go`);
  return dflt === undefined ? o.makeOptionMandatory() : o.default(dflt);
};
/** The labelled file audit and calibrate read: `what` says which data belong there. */
export const dataOption = (what: string) => required('--data <file>', `labelled data: ${what}`);
export const testOption = () => opt('--test <file>', 'labelled test data (CSV/TSV/JSONL/Parquet), evaluated once');
export const formatOption = (what = 'input', formats = ['csv', 'tsv', 'jsonl', 'parquet']) =>
  choice('--format <fmt>', `format of the ${what} (default: from the file extension)`, formats);
export const encodingOption = () =>
  opt('--encoding <name>', 'text encoding of the input (default utf-8, checked; e.g. latin1, windows-1252, utf-16le)');
/** --format and --encoding, on every command that reads rows. */
export const readOptions = (what: string) => [formatOption(what), encodingOption()];

// ---- data columns
export const textColumnOption = () =>
  opt('--text-column <name>', 'text column (default: detected: text, sentence, note, ...)');
export const labelColumnOption = () =>
  opt('--label-column <name>', 'label column (default: detected: label, labels, diagnosis, ...)');
export const pairColumnOption = () => opt('--text-pair-column <name>', 'second text column (sentence-pair models)');
/** The columns of a labelled file: text (and the second text of sentence pairs), label, multi-label separator. */
export const columnOptions = (o: { pair?: boolean } = {}) => [
  textColumnOption(),
  ...(o.pair === false ? [] : [pairColumnOption()]),
  labelColumnOption(),
  opt('--label-delimiter <s>', 'separator of multi-label strings').default(','),
];
/** Metrics aggregated per group of rows (e.g. the sentences of one abstract). */
export const groupOptions = () => [
  opt(
    '--group-column <name>',
    'also report metrics per group of rows (multi-label: the union of their labels; else mean probabilities)',
  ),
  opt('--group-regex <re>', 'regular expression whose first capture group is the group key'),
];

// ---- inference with a saved model
export const maxLengthOption = () =>
  opt('--max-length <n>', 'max tokens per text (default: 512 or the model maximum)').argParser(int('--max-length', 2));
/** How texts longer than the model's window are read: --pooling, --stride, --max-document-tokens. */
export const documentOptions = (o: { train?: boolean } = {}) => [
  choice(
    '--pooling <how>',
    'texts longer than the window: read in windows pooled by max, mean or attention, or none: cut at the window ' +
      (o.train
        ? '(default: windows with attention pooling when training texts are longer than the window)'
        : "(default: the model's reading)"),
    ['none', 'max', 'mean', 'attention'],
  ),
  opt('--stride <n>', "tokens neighbouring windows share (default: the model's, else a quarter of a window)").argParser(
    int('--stride', 0),
  ),
  opt(
    '--max-document-tokens <n>',
    "read documents up to N tokens; the rest is cut and reported (default: the model's, else 16384)",
  ).argParser(int('--max-document-tokens', 1)),
];
/** --max-length, the inference --batch-size and the reading of long texts. */
export const inferenceOptions = () => [
  maxLengthOption(),
  opt('--batch-size <n>', 'rows per forward pass').argParser(int('--batch-size')).default(INFERENCE_BATCH_SIZE),
  ...documentOptions(),
];
/** --threshold, --abstain-below and --no-abstain: override the saved model's decision. */
export const decisionOptions = () => [
  opt('--threshold <p>', "multi-label decision threshold (default: the model's tuned thresholds, else 0.5)").argParser(
    prob('--threshold'),
  ),
  opt(
    '--abstain-below <p>',
    'abstain ("refer to a clinician") below this confidence and on out-of-scope notes ' +
      "(default: the model's setting; 0: out-of-scope notes only)",
  ).argParser(prob('--abstain-below')),
  opt('--no-abstain', "never abstain, whatever the model's setting (in_scope is still reported)"),
];
/** The abstention saved with a model (train, calibrate): a threshold given or chosen for an accuracy; off; scope. */
export const abstentionFitOptions = () => [
  opt(
    '--abstain-below <p>',
    'the saved model abstains ("refer to a clinician") below this calibrated confidence and on out-of-scope notes',
  ).argParser(prob('--abstain-below')),
  opt(
    '--target-accuracy <a>',
    'choose the abstention threshold at which the answered held-out notes reach this accuracy (default 0.95)',
  ).argParser(prob('--target-accuracy')),
  opt('--no-abstain', 'the saved model never abstains (in_scope and ood_score are still reported)'),
  opt(
    '--ood-keep <share>',
    'the out-of-scope threshold keeps this share of the held-out notes in scope (default 0.95)',
  ).argParser(num('--ood-keep', { above: 0, max: 1 })),
];

// ---- checks and reports
export const leakageOptions = () => [
  opt('--fail-on-leakage', 'stop when evaluation rows have exact or near copies in the training data'),
  opt('--no-leakage-check', 'skip the check for copies of training rows in the evaluation data'),
];
export const auditColumnOption = () =>
  opt('--audit-column <name>', 'bias audit over this demographic column (repeatable: sex, age band, site)').argParser(
    collect,
  );
/** `report` passes no default: the run's own value (run.json) then stands. */
export const auditMinGroupOption = (dflt?: number) => {
  const text = 'bias audit: smaller groups are too small to judge';
  const o = opt(
    '--audit-min-group <n>',
    dflt === undefined ? `${text} (default: as the run, else ${DEFAULT_MIN_GROUP})` : text,
  );
  return o.argParser(int('--audit-min-group', 2)).default(dflt);
};
export const noTextsOption = () => opt('--no-texts', 'leave the texts of misclassified cases out of report.html');
/** What a run's report shows: the bias audit, and the texts of misclassified cases. */
export const reportOptions = () => [auditColumnOption(), auditMinGroupOption(DEFAULT_MIN_GROUP), noTextsOption()];

/** `without`: what happens without --clean (train: no cleaning; predict: the model's recorded cleaning). */
export const cleanOption = (without: string) =>
  opt(
    '--clean [steps]',
    'clean every text first: the default steps (unicode,controls,whitespace,linebreaks) or a list of them ' +
      `and lowercase,stopwords; without --clean: ${without}`,
  );

// ---- compute
/** curate and data: label spellings that differ only by case, spaces or punctuation become one label. */
export const normalizeLabelsOption = () =>
  opt('--normalize-labels', 'merge labels that differ only by case, spaces or punctuation (mapping in the summary)');
export const seedOption = (dflt = 42) => opt('--seed <n>', 'random seed').argParser(int('--seed', 0)).default(dflt);
export const threadsOption = () => opt('--threads <n>', 'threads (default: all cores)').argParser(int('--threads'));
/** What --precision means, for inference commands and (without int8) for training. */
export const PRECISION_HELP = {
  inference:
    'fp32; bf16 (bf16 matrix products where faster than fp32 on this CPU); or int8 (int8 linear layers: ' +
    'per-channel weights, per-row activations, VNNI where the CPU has it)',
  training: 'fp32, or bf16: bf16 matrix products where faster than fp32 on this CPU, fp32 weights',
};
/**
 * `set: false` (bench): the value is only checked where the command applies it, after its --backend.
 * `training`: int8 is refused in one line (it is for inference).
 */
export const precisionOption = (o: { set?: boolean; training?: boolean } = {}) => {
  const p = opt('--precision <p>', o.training ? PRECISION_HELP.training : PRECISION_HELP.inference);
  if (o.set === false) return p;
  return p.argParser(o.training ? trainingPrecisionOption : setPrecisionFrom);
};

// ---- the Redis queue (tune, predict, deid, evaluate; `medtune worker`)
/** Batch commands on the queue: chunks of rows for `medtune worker` processes (jobs/). */
export const queueOptions = () => [
  opt(
    '--queue <redis-url>',
    'run in chunks on `medtune worker` processes through this Redis server (rerun the same command to resume)',
  ),
  opt('--chunk-rows <n>', 'with --queue: rows per chunk (predict: rounded up to a multiple of --batch-size)')
    .argParser(int('--chunk-rows'))
    .default(DEFAULT_CHUNK_ROWS),
];
/** `medtune worker` and its alias `medtune tune worker`. */
export const workerOptions = () => [
  required('--queue <redis-url>', 'the Redis server the coordinators use'),
  opt('--study <name>', 'also run the trials of this tune study').default('default'),
  opt('--concurrency <n>', 'jobs (trials, chunks) at a time on this worker').argParser(int('--concurrency')).default(1),
  opt('--threads <n>', 'threads per job (default: cores / concurrency)').argParser(int('--threads')),
  opt('--lock-duration <ms>', 'a job whose worker is silent this long is taken by another worker')
    .argParser(int('--lock-duration', 1000))
    .default(30000),
];

// ---- a training run (train and tune)
const DIST_HELP =
  'a value as in train, or a distribution: loguniform:LO:HI, uniform:LO:HI, int:LO:HI[:log], choice:A,B';

/** The options of `train`; `tune` takes the same, with the recipe options as constants or distributions. */
export function addTrainOptions(c: Command, mode: 'train' | 'tune'): Command {
  const train = mode === 'train';
  /** a recipe option: tune takes a value or a distribution instead */
  const recipe = (o: Option) => c.addOption(train ? o : opt(o.flags, DIST_HELP));
  withOptions(
    c,
    baseModelOption().makeOptionMandatory(),
    required('--train <file>', 'training data'),
    opt('--validation <file>', 'validation data (default: a stratified split of --train)'),
    testOption(),
    outputDirOption('best_model/, metrics.json and logs'),
    columnOptions(),
    opt('--multi-label', 'labels are lists or delimited strings'),
    choice(
      '--task <task>',
      'what is learnt: a label per text, or per token (data: CoNLL/IOB .tsv/.conll/.iob, or JSONL text + spans)',
      ['sequence-classification', 'token-classification'],
    ),
    opt('--recall-target <r>', 'token classification: entity threshold chosen on validation for this recall').argParser(
      num('--recall-target', { above: 0, below: 1 }),
    ),
    readOptions('data files'),
    choice(
      '--recipe <name>',
      'recipe for the options below left out: auto (from the model and data) or hf (HF Trainer defaults)',
      ['auto', 'hf'],
      'auto',
    ),
  );
  recipe(opt('--epochs <n>', 'epochs (default: by dataset size; hf: 3)').argParser(num('--epochs', { above: 0 })));
  recipe(
    opt('--learning-rate <lr>', 'peak learning rate (default: by model size; hf: 5e-5)').argParser(
      num('--learning-rate'),
    ),
  );
  recipe(opt('--batch-size <n>', 'batch size').argParser(int('--batch-size')).default(32));
  recipe(
    opt(
      '--max-length <n>',
      "max tokens per text (default: covers 95% of the training texts; hf: 128; at most the model's limit)",
    ).argParser(int('--max-length', 2)),
  );
  withOptions(
    c,
    documentOptions({ train: true }),
    choice(
      '--head <kind>',
      'pooled (windows pooled, then one output layer) or label-attention: label-wise attention over the tokens ' +
        'of every window (multi-label, LAAT/PLM-ICD)',
      ['pooled', 'label-attention'],
    ),
  );
  recipe(
    opt('--weight-decay <w>', 'AdamW weight decay (not on biases/LayerNorm)')
      .argParser(num('--weight-decay'))
      .default(0.01),
  );
  recipe(
    opt('--warmup <n>', 'warm-up steps, or a ratio of all steps if < 1 (default: by model size; hf: 0)').argParser(
      num('--warmup'),
    ),
  );
  recipe(
    opt('--dropout <p>', "dropout of every layer (default: the model's config)").argParser(
      num('--dropout', { min: 0, below: 1 }),
    ),
  );
  recipe(choice('--scheduler <name>', 'learning-rate schedule', SCHEDULERS, 'linear'));
  withOptions(
    c,
    seedOption(),
    opt('--eval-every <n>', 'evaluate every N steps (0: every epoch)').argParser(int('--eval-every', 0)).default(0),
  );
  recipe(opt('--grad-accum <n>', 'gradient accumulation steps').argParser(int('--grad-accum')).default(1));
  c.option('--max-grad-norm <x>', 'clip the global gradient norm (0: off)', num('--max-grad-norm'), 1);
  recipe(
    opt('--label-smoothing <e>', 'label smoothing for cross-entropy, in [0, 1)')
      .argParser(num('--label-smoothing', { min: 0, below: 1 }))
      .default(0),
  );
  c.option('--metric-for-best-model <name>', 'accuracy, f1_macro, f1_micro, loss, ... (default: accuracy / f1_micro)');
  c.option(
    '--validation-split <f>',
    'fraction held out when there is no --validation file, in [0, 1) (0: none)',
    num('--validation-split', { min: 0, below: 1 }),
    0.1,
  );
  c.option(
    '--review-split <f>',
    'fraction of the training rows held out for expert review (review_predictions.jsonl; serve --review RUN_DIR)',
    num('--review-split', { min: 0, below: 1 }),
  );
  c.option('--max-steps <n>', 'stop after N optimizer steps (overrides --epochs)', int('--max-steps'));
  c.option('--early-stopping <patience>', 'stop after N evaluations without improvement', int('--early-stopping'));
  if (train) {
    c.option('--save-steps <n>', 'checkpoint every N steps (default: every epoch)', int('--save-steps'));
    c.option('--save-total-limit <n>', 'keep the N newest checkpoints (0: all)', int('--save-total-limit', 0), 2);
    c.option('--resume [checkpoint]', 'continue from a checkpoint folder (default: the latest in --output-dir)');
    c.option('--overwrite', 'replace a previous run in --output-dir (its checkpoints, best model and reports)');
  }
  c.option('--class-weights <spec>', '"balanced" or a JSON file {label: weight}');
  c.option('--threshold <p>', 'multi-label decision threshold', prob('--threshold'), 0.5);
  if (train) c.option('--no-baseline', 'skip the TF-IDF + logistic-regression baseline reported beside the model');
  addContinualOptions(c);
  c.option('--no-calibrate', 'do not fit temperature scaling / per-label thresholds on the validation split');
  withOptions(c, abstentionFitOptions());
  addTextPrepOptions(c);
  withOptions(c, groupOptions(), train ? reportOptions() : [], threadsOption(), precisionOption({ training: true }));
  return c;
}

/** Continual learning from a fine-tuned model: replayed old rows, new labels, forgetting on the old test set. */
function addContinualOptions(c: Command): void {
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
}

/** De-identification, cleaning, augmentation and the leakage check of the training data. */
function addTextPrepOptions(c: Command): void {
  c.option('--deid', 'de-identify every text (PHI -> [TAG]) before tokenising');
  c.addOption(choice('--deid-operator <op>', 'with --deid: how PHI is replaced', DEID_OPERATORS, 'tag'));
  c.option('--deid-model <dir>', 'with --deid: a de-identification model (medtune deid train) beside the rules');
  c.addOption(cleanOption('none (the steps given are recorded with the model for predict)'));
  c.option('--augment <n>', 'add N augmented copies of each training example (training split only)', (v: string) => {
    checkAugmentCount(Number(v));
    return Number(v);
  });
  c.option('--augment-ops <list>', 'with --augment: synonym,insert,swap,delete,contextual (default: the first four)');
  withOptions(c, leakageOptions());
}
