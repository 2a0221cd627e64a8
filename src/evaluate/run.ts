/**
 * Evaluating a saved model on a labelled file (what `medtune evaluate` runs, and what tune and audit reuse): the file
 * is checked, classified through the Predictor (so stored calibration, thresholds and abstention apply as in
 * `predict`), and metrics.json, predictions.jsonl (misclassified rows flagged), a confusion matrix and run.json are
 * written.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { Predictor } from '../infer/predictor.js';
import { abstentionOverride, documentOverrides, type DocumentOverrides } from '../infer/model-info.js';
import {
  groupRegexOf,
  readLabeled,
  unseenNote,
  type Encoded,
  type Example,
  type LabeledData,
} from '../data/dataset.js';
import { checkNotTrainedOn, leakageChecks } from '../data/leakage.js';
import { fileSha256 } from '../models/metadata.js';
import { checkInputFile, formatOf } from '../data/readers.js';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputDir } from '../common/atomic.js';
import { evaluatePredictor, type Scores } from './evaluate.js';
import { trustMetrics } from './calibration.js';
import { writeEvalReport } from './report.js';
import {
  auditOf,
  checkAuditColumns,
  dataEntry,
  readAuditValues,
  splitStats,
  startRecord,
  writeRunRecord,
  type AuditValues,
  type RunRecord,
} from './run-record.js';
import type { EvalResult } from './types.js';

export interface EvaluateOptions extends DocumentOverrides {
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
  /** abstain below this confidence and on out-of-scope notes (overrides the model's setting; 0: out of scope only) */
  abstainBelow?: number;
  /** false: never abstain (--no-abstain) */
  abstain?: boolean;
  /** rows per forward pass (default: the Predictor's, 32) */
  batchSize?: number;
  /** training data to check the test rows against (default: the training file the model's metadata records) */
  train?: string;
  failOnLeakage?: boolean;
  leakageCheck?: boolean;
  /** demographic columns for the bias audit (--audit-column; not --group-column) */
  auditColumn?: string[];
  /** bias audit: groups with fewer rows are too small to judge */
  auditMinGroup?: number;
  /** the report may show texts (default true; --no-texts) */
  texts?: boolean;
  /** the command line, recorded in run.json */
  commandLine?: string[];
  /** computes the probabilities of the examples elsewhere (a queued evaluation: jobs/) instead of in this process */
  probabilitiesOf?: (predictor: Predictor, data: LabeledData) => Promise<Scores>;
}

/** A labelled file classified by a saved model, as evaluate and audit need it. */
export interface Classified {
  predictor: Predictor;
  data: LabeledData;
  enc: Encoded;
  result: EvalResult;
  audit: Map<number, AuditValues> | null;
}

type ClassifyInput = Omit<EvaluateOptions, 'outputDir' | 'test'> & { file: string; option: string };

/**
 * Checks, loads and classifies: the input file and its audit columns are checked before the model is loaded; then
 * every row goes through the Predictor (stored calibration, thresholds and abstention apply).
 */
export async function classifyLabeled(o: ClassifyInput, log: (l: string) => void): Promise<Classified> {
  const cols = checkAuditColumns(o.auditColumn);
  const audit = cols.length ? await readAuditValues(o.file, cols, { format: o.format, encoding: o.encoding }) : null;
  const { maxLength, batchSize, threshold } = o;
  const abstainBelow = abstentionOverride(o);
  const predictor = await Predictor.load(o.model, {
    ...{ maxLength, batchSize, threshold, abstainBelow, log },
    ...documentOverrides(o),
  });
  if (predictor.problemType === 'regression') {
    const command = o.option === '--test' ? 'evaluate' : 'audit';
    throw new MedtuneError(
      `medtune ${command} handles classifiers; this model is a regression model`,
      'E_MODEL_UNSUPPORTED',
    );
  }
  const data = await readLabeled(o.file, {
    textColumn: o.textColumn,
    textPairColumn: o.textPairColumn,
    labelColumn: o.labelColumn,
    multiLabel: predictor.multiLabel,
    labelDelimiter: o.labelDelimiter,
    labels: predictor.labels,
    groupColumn: o.groupColumn,
    groupRegex: o.groupRegex,
    format: o.format as never,
    encoding: o.encoding,
  });
  const unseen = unseenNote(data);
  if (unseen) log(unseen);
  if (o.option === '--test') {
    await checkTestLeakage({ ...o, test: o.file, outputDir: '' }, predictor, data.examples, log);
  }
  if (data.skipped.length) {
    const first = data.skipped
      .slice(0, 3)
      .map((s) => `row ${s.row}: ${s.reason}`)
      .join(', ');
    log(`${data.skipped.length} rows skipped (${first})`);
  }
  if (!data.examples.length) throw new MedtuneError(`${o.file} has no usable rows`, 'E_INPUT_EMPTY');
  const hasPair = data.examples.some((e) => e.pair !== undefined);
  const pairs = hasPair ? data.examples.map((e) => e.pair ?? '') : null;
  const enc = predictor.encode(
    data.examples.map((e) => e.text),
    pairs,
  );
  if (enc.truncated) log(predictor.cutNote(enc.truncated));
  const given = o.probabilitiesOf ? await o.probabilitiesOf(predictor, data) : undefined;
  const result = await evaluatePredictor(predictor, { examples: data.examples, enc }, given);
  return { predictor, data, enc, result, audit };
}

/**
 * Rows the model was trained on (its recorded `trained_on`: training files, replayed rows, reviewed corrections, its
 * parents') are refused as test rows; copies of test rows in the training data (--train, else the recorded file)
 * inflate every metric and are reported.
 */
async function checkTestLeakage(
  o: EvaluateOptions,
  p: Predictor,
  test: Example[],
  log: (l: string) => void,
): Promise<void> {
  if (o.leakageCheck === false) return;
  const rows = { name: 'test', file: o.test, sha256: fileSha256(o.test), rows: test.map((e) => e.row) };
  checkNotTrainedOn(p.metadata.training?.trained_on ?? [], [rows], o);
  const trainFile = o.train ?? p.metadata.training?.data?.find((d) => d.split === 'train' && existsSync(d.file))?.file;
  if (!trainFile) return;
  const train = await readLabeled(trainFile, {
    textColumn: o.textColumn,
    labelColumn: o.labelColumn,
    multiLabel: p.multiLabel,
    labelDelimiter: o.labelDelimiter,
    labels: p.labels,
  });
  leakageChecks(train.examples, [{ name: 'test', examples: test }], o, log);
}

/** run.json of an evaluation: the model's identity, the test file with sha256, its statistics and groups. */
function recordEvaluation(o: EvaluateOptions, c: Classified, record: RunRecord, t0: number): void {
  const { predictor: p, data, enc, audit } = c;
  const split = path.basename(o.test);
  const stats = splitStats({
    examples: data.examples,
    enc,
    labels: p.labels,
    maxLength: p.maxLength,
    skipped: data.skipped,
    ...(audit ? { audit } : {}),
  });
  writeRunRecord(o.outputDir, {
    ...record,
    finished_at: new Date().toISOString(),
    duration_seconds: (Date.now() - t0) / 1000,
    evaluated_split: split,
    model: { source: o.model, dir: path.resolve(p.dir), version: p.identity.version, sha256: p.identity.sha256 },
    data: [dataEntry(split, o.test, data.examples.length)],
    splits: { [split]: stats },
    ...(o.auditMinGroup !== undefined ? { audit_min_group: o.auditMinGroup } : {}),
  });
}

export async function runEvaluate(
  o: EvaluateOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  checkInputFile(o.test, '--test');
  if (o.train) checkInputFile(o.train, '--train');
  formatOf(o.test, o.format);
  groupRegexOf(o.groupColumn, o.groupRegex);
  prepareOutputDir(o.outputDir);
  const auditColumns = checkAuditColumns(o.auditColumn);
  const { commandLine: command, model, texts } = o;
  const record = startRecord({ kind: 'evaluate', command, model, texts, auditColumns });
  const c = await classifyLabeled({ ...o, file: o.test, option: '--test' }, log);
  const { predictor, data, result } = c;
  const multi = predictor.multiLabel;
  const trust = trustMetrics(
    result,
    data.examples.map((e) => e.label),
    multi,
  );
  const temperature = predictor.settings.temperature !== 1 ? { temperature: predictor.settings.temperature } : {};
  const { version, sha256 } = predictor.identity;
  const extra = { ...trust, ...temperature, model: { version, sha256 } };
  const metrics = await writeEvalReport({
    outputDir: o.outputDir,
    split: path.basename(o.test),
    examples: data.examples,
    result,
    labels: predictor.labels,
    multiLabel: multi,
    groupColumn: o.groupColumn,
    groupRegex: o.groupRegex,
    extra,
    log,
    audit: auditOf(data.examples, c.audit),
  });
  recordEvaluation(o, c, record, t0);
  const sel = trust.selective as { aurc: number; accuracy_at_coverage: Record<string, number> };
  const ab = trust.abstention as
    { abstained: number; coverage: number; out_of_scope: number; low_confidence: number } | undefined;
  const at80 = sel.accuracy_at_coverage['0.8']!.toFixed(4);
  const abstained = ab?.abstained
    ? `; abstained on ${ab.abstained} rows (${ab.out_of_scope} out of scope, ${ab.low_confidence} low confidence), ` +
      `answering ${(100 * ab.coverage).toFixed(1)}%`
    : '';
  log(`selective: AURC ${sel.aurc.toFixed(4)}, accuracy at 80% coverage ${at80}${abstained}`);
  const wrong = data.examples.filter(
    (e, i) => JSON.stringify(result.predictions[i]) !== JSON.stringify(e.label),
  ).length;
  const files = `metrics.json, predictions.jsonl${multi ? '' : ', confusion_matrix.svg'}, run.json`;
  log(`${wrong} of ${data.examples.length} rows misclassified; wrote ${files} to ${o.outputDir}`);
  return metrics;
}
