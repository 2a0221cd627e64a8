/** `medtune evaluate`: metrics, predictions (misclassified rows flagged) and a confusion matrix for a model on a labelled file. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadClassifier, modelMaxLength } from '../models/auto.js';
import { Tokenizer } from '../text/tokenizer.js';
import { encodeExamples, readLabeled } from '../data/dataset.js';
import { evaluateModel } from '../evaluate/evaluate.js';
import { writeEvalReport } from '../evaluate/report.js';
import { MedtuneError } from '../common/errors.js';
import { int, num } from './args.js';
import { leakageChecks } from '../train/prepare.js';
import { applyPreprocessing, type PreprocessingOptions } from '../text/clean.js';

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
  threshold: number;
  maxLength: number;
  batchSize: number;
  /** training data to check the test rows against (leakage) */
  train?: string;
  failOnLeakage?: boolean;
  leakageCheck?: boolean;
}

export async function runEvaluate(o: EvaluateCliOptions, log: (l: string) => void = (l) => console.log(l)): Promise<Record<string, unknown>> {
  const loaded = await loadClassifier(o.model, { log });
  const multi = loaded.model.problemType() === 'multi_label_classification';
  if (loaded.model.problemType() === 'regression') throw new MedtuneError('medtune evaluate handles classifiers; this model is a regression model', 'E_MODEL_UNSUPPORTED');
  const data = await readLabeled(o.test, { textColumn: o.textColumn, textPairColumn: o.textPairColumn, labelColumn: o.labelColumn, multiLabel: multi, labelDelimiter: o.labelDelimiter, labels: loaded.labels, groupColumn: o.groupColumn, groupRegex: o.groupRegex });
  const meta = loaded.config.medtune as { preprocessing?: PreprocessingOptions; training?: { data?: { file: string; split?: string }[] } } | undefined;
  for (const e of data.examples) {
    [e.text] = applyPreprocessing([e.text], meta?.preprocessing ?? {});
    if (e.pair !== undefined) [e.pair] = applyPreprocessing([e.pair], meta?.preprocessing ?? {});
  }
  // the leakage check: against --train, else the training file the model's metadata records (when still there)
  const trainFile = o.train ?? meta?.training?.data?.find((d) => d.split === 'train' && existsSync(d.file))?.file;
  if (trainFile && o.leakageCheck !== false) {
    const train = await readLabeled(trainFile, { textColumn: o.textColumn, labelColumn: o.labelColumn, multiLabel: multi, labelDelimiter: o.labelDelimiter, labels: loaded.labels });
    leakageChecks(train.examples, [{ name: 'test', examples: data.examples }], o, log);
  }
  if (data.skipped.length) log(`${data.skipped.length} rows skipped (${data.skipped.slice(0, 3).map((s) => `row ${s.row}: ${s.reason}`).join(', ')})`);
  const tok = Tokenizer.fromDir(loaded.dir);
  const maxLength = Math.min(o.maxLength, modelMaxLength(loaded));
  const enc = encodeExamples(data.examples, tok, maxLength);
  if (enc.truncated) log(`${enc.truncated} texts truncated to ${maxLength} tokens`);
  const result = evaluateModel(loaded.model, { examples: data.examples, enc }, { labels: loaded.labels, multiLabel: multi, padId: tok.padId, batchSize: o.batchSize, threshold: o.threshold });
  const metrics = await writeEvalReport({ outputDir: o.outputDir, split: path.basename(o.test), examples: data.examples, result, labels: loaded.labels, multiLabel: multi, groupColumn: o.groupColumn, groupRegex: o.groupRegex, threshold: o.threshold, log });
  const wrong = data.examples.filter((e, i) => JSON.stringify(result.predictions[i]) !== JSON.stringify(e.label)).length;
  log(`${wrong} of ${data.examples.length} rows misclassified; wrote metrics.json, predictions.jsonl${multi ? '' : ', confusion_matrix.svg'} to ${o.outputDir}`);
  return metrics;
}

export function registerEvaluate(program: Command): void {
  program
    .command('evaluate')
    .description('evaluate a model on a labelled file: metrics.json, predictions.jsonl (errors flagged), confusion_matrix.svg')
    .requiredOption('--model <dir>', 'model folder (e.g. a best_model/ from medtune train) or hub name')
    .requiredOption('--test <file>', 'labelled CSV/TSV/JSONL')
    .requiredOption('--output-dir <dir>', 'where the reports go')
    .option('--text-column <name>', 'text column (default: detected)')
    .option('--text-pair-column <name>', 'second text column')
    .option('--label-column <name>', 'label column (default: detected)')
    .option('--label-delimiter <s>', 'separator of multi-label strings', ',')
    .option('--group-column <name>', 'also report metrics aggregated per group')
    .option('--group-regex <re>', 'regular expression whose first capture group is the group key')
    .option('--threshold <p>', 'multi-label decision threshold', num('--threshold'), 0.5)
    .option('--max-length <n>', 'max tokens per text', int('--max-length'), 512)
    .option('--batch-size <n>', 'rows per forward pass', int('--batch-size'), 64)
    .option('--train <file>', 'training data to check for copies of test rows (default: the file the model metadata records)')
    .option('--fail-on-leakage', 'stop when test rows have copies in the training data')
    .option('--no-leakage-check', 'skip the leakage check')
    .action(async (o: EvaluateCliOptions) => {
      await runEvaluate(o);
    });
}
