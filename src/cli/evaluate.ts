/**
 * `medtune evaluate`: metrics, predictions (misclassified rows flagged) and a confusion matrix for a saved model on a
 * labelled file, through the Predictor (so stored calibration, thresholds and abstention apply as in `predict`).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { Predictor } from '../infer/predictor.js';
import { existsSync } from 'node:fs';
import { groupRegexOf, readLabeled, type Example } from '../data/dataset.js';
import { leakageChecks } from '../train/prepare.js';
import { checkInputFile, formatOf } from '../data/readers.js';
import { evaluatePredictor } from '../evaluate/evaluate.js';
import { trustMetrics } from '../evaluate/calibration.js';
import { writeEvalReport } from '../evaluate/report.js';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputDir } from '../common/atomic.js';
import { encodingOption, formatOption, int, prob } from './args.js';

export interface EvaluateCliOptions {
  model: string;
  test: string;
  outputDir: string;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  labelDelimiter?: string;
  groupColumn?: string;
  groupRegex?: string;
  format?: string;
  encoding?: string;
  /** multi-label threshold for every label (default: the model's tuned thresholds, else 0.5) */
  threshold?: number;
  maxLength?: number;
  /** abstain below this confidence (overrides the model's setting; 0: never) */
  abstainBelow?: number;
  batchSize: number;
  /** training data to check the test rows against (default: the training file the model's metadata records) */
  train?: string;
  failOnLeakage?: boolean;
  leakageCheck?: boolean;
}

/** Copies of test rows in the training data inflate every metric: checked against --train, else the recorded file. */
async function checkTestLeakage(o: EvaluateCliOptions, p: Predictor, test: Example[], log: (l: string) => void): Promise<void> {
  if (o.leakageCheck === false) return;
  const trainFile = o.train ?? p.metadata.training?.data?.find((d) => d.split === 'train' && existsSync(d.file))?.file;
  if (!trainFile) return;
  const train = await readLabeled(trainFile, { textColumn: o.textColumn, labelColumn: o.labelColumn, multiLabel: p.multiLabel, labelDelimiter: o.labelDelimiter, labels: p.labels });
  leakageChecks(train.examples, [{ name: 'test', examples: test }], o, log);
}

export async function runEvaluate(o: EvaluateCliOptions, log: (l: string) => void = (l) => console.log(l)): Promise<Record<string, unknown>> {
  checkInputFile(o.test, '--test');
  if (o.train) checkInputFile(o.train, '--train');
  formatOf(o.test, o.format);
  groupRegexOf(o.groupColumn, o.groupRegex);
  prepareOutputDir(o.outputDir);
  const predictor = await Predictor.load(o.model, { maxLength: o.maxLength, batchSize: o.batchSize, threshold: o.threshold, abstainBelow: o.abstainBelow, log });
  if (predictor.problemType === 'regression') throw new MedtuneError('medtune evaluate handles classifiers; this model is a regression model', 'E_MODEL_UNSUPPORTED');
  const multi = predictor.multiLabel;
  const data = await readLabeled(o.test, {
    textColumn: o.textColumn, textPairColumn: o.textPairColumn, labelColumn: o.labelColumn, multiLabel: multi, labelDelimiter: o.labelDelimiter,
    labels: predictor.labels, groupColumn: o.groupColumn, groupRegex: o.groupRegex, format: o.format as never, encoding: o.encoding,
  });
  await checkTestLeakage(o, predictor, data.examples, log);
  if (data.skipped.length) log(`${data.skipped.length} rows skipped (${data.skipped.slice(0, 3).map((s) => `row ${s.row}: ${s.reason}`).join(', ')})`);
  if (!data.examples.length) throw new MedtuneError(`${o.test} has no usable rows`, 'E_INPUT_EMPTY');
  const hasPair = data.examples.some((e) => e.pair !== undefined);
  const enc = predictor.encode(data.examples.map((e) => e.text), hasPair ? data.examples.map((e) => e.pair ?? '') : null);
  if (enc.truncated) log(`${enc.truncated} texts truncated to ${predictor.maxLength} tokens`);
  const result = await evaluatePredictor(predictor, { examples: data.examples, enc });
  const threshold = o.threshold ?? predictor.settings.threshold;
  const trust = trustMetrics(result.probabilities, result.predictions, data.examples.map((e) => e.label), result.abstained, multi);
  const extra = { ...trust, ...(predictor.settings.temperature !== 1 ? { temperature: predictor.settings.temperature } : {}), model: { version: predictor.identity.version, sha256: predictor.identity.sha256 } };
  const metrics = await writeEvalReport({ outputDir: o.outputDir, split: path.basename(o.test), examples: data.examples, result, labels: predictor.labels, multiLabel: multi, groupColumn: o.groupColumn, groupRegex: o.groupRegex, threshold, extra, log });
  const sel = trust.selective as { aurc: number; accuracy_at_coverage: Record<string, number> };
  log(`selective: AURC ${sel.aurc.toFixed(4)}, accuracy at 80% coverage ${sel.accuracy_at_coverage['0.8']!.toFixed(4)}${trust.abstention ? `; abstained on ${(trust.abstention as { abstained: number }).abstained} rows` : ''}`);
  const wrong = data.examples.filter((e, i) => JSON.stringify(result.predictions[i]) !== JSON.stringify(e.label)).length;
  log(`${wrong} of ${data.examples.length} rows misclassified; wrote metrics.json, predictions.jsonl${multi ? '' : ', confusion_matrix.svg'} to ${o.outputDir}`);
  return metrics;
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('evaluate a model on a labelled file: metrics.json, predictions.jsonl (errors flagged), confusion_matrix.svg')
    .requiredOption('--model <dir>', 'model folder (e.g. a best_model/ from medtune train) or hub name')
    .requiredOption('--test <file>', 'labelled CSV/TSV/JSONL/Parquet')
    .requiredOption('--output-dir <dir>', 'where the reports go')
    .option('--text-column <name>', 'text column (default: detected)')
    .option('--text-pair-column <name>', 'second text column')
    .option('--label-column <name>', 'label column (default: detected)')
    .option('--label-delimiter <s>', 'separator of multi-label strings', ',')
    .option('--group-column <name>', 'also report metrics aggregated per group')
    .option('--group-regex <re>', 'regular expression whose first capture group is the group key')
    .option('--threshold <p>', 'multi-label decision threshold (default: the model\'s tuned thresholds, else 0.5)', prob('--threshold'))
    .option('--abstain-below <p>', 'abstain ("refer to a clinician") below this confidence (default: the model\'s setting; 0: never)', prob('--abstain-below'))
    .option('--max-length <n>', 'max tokens per text (default: 512 or the model maximum)', int('--max-length', 2))
    .option('--batch-size <n>', 'rows per forward pass', int('--batch-size'), 64)
    .addOption(formatOption('test file'))
    .addOption(encodingOption())
    .option('--train <file>', 'training data to check for copies of test rows (default: the file the model metadata records)')
    .option('--fail-on-leakage', 'stop when test rows have copies in the training data')
    .option('--no-leakage-check', 'skip the leakage check')
    .action(async (o: EvaluateCliOptions) => {
      await runEvaluate(o);
    });
}
