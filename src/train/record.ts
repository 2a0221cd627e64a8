/**
 * Stage 5 of `medtune train`, record: best_model/ saved with its metadata (training record with data hashes and the
 * recipe, calibration, the drift reference of the validation split), the final split (test, else validation)
 * evaluated with the calibrated decision as a Predictor will make it, the TF-IDF baseline beside it, the continual-
 * learning comparison with the parent, and the reports: metrics.json, predictions.jsonl, confusion_matrix.svg,
 * report.html and run.json.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Example } from '../data/dataset.js';
import { saveModel, type ModelFolder } from '../models/auto.js';
import { modelIdentity, OOD_FILE, parseMetadata, type MedtuneMetadata } from '../models/metadata.js';
import { referenceFrom } from '../infer/drift.js';
import { decideFromProbabilities } from '../infer/decision.js';
import { predictionLines, writeEvalReport } from '../evaluate/report.js';
import { writeFileAtomic } from '../common/atomic.js';
import { resultFrom } from '../evaluate/evaluate.js';
import { trustMetrics } from '../evaluate/calibration.js';
import type { EvalResult, SplitData } from '../evaluate/types.js';
import {
  auditOf,
  checkAuditColumns,
  splitStats,
  startRecord,
  writeRunRecord,
  type AuditValues,
  type RunRecord,
} from '../evaluate/run-record.js';
import type { TrainConfig } from './config.js';
import type { Fitted } from './fit.js';
import { calibrationBlock, type Calibration } from './calibrate.js';
import { runBaseline } from './baseline.js';
import { continualReport } from './continual.js';
import type { Splits, TrainOptions } from './options.js';

/** run.json as a training run starts (command, model, seed, de-identification, audit columns). */
export function startRunRecord(o: TrainOptions): RunRecord {
  const record = startRecord({
    kind: 'train',
    command: o.commandLine,
    model: o.model,
    seed: o.seed,
    deid: o.deid ? (o.deidOperator ?? 'tag') : false,
    texts: o.texts,
    auditColumns: checkAuditColumns(o.auditColumns),
  });
  if (o.auditMinGroup !== undefined) record.audit_min_group = o.auditMinGroup;
  if (o.dataNote) record.data_note = o.dataNote;
  return record;
}

export interface RecordInput {
  o: TrainOptions;
  s: Splits;
  f: Fitted;
  c: Calibration;
  /** the model the run started from */
  model: ModelFolder;
  /** when the run started (performance.now()) */
  t0: number;
  /** run.json so far; completed and written here */
  record: RunRecord;
  log: (l: string) => void;
}

/**
 * What the saved model records about its training (`medtune.training`, `parent_sha256`): the files and rows of each
 * split with their hashes, every row it was trained on (`trained_on`, its parents' included), the recipe.
 */
function modelRecord(
  o: TrainOptions,
  s: Splits,
  cfg: TrainConfig,
  maxLength: number,
  modelDir: string,
): MedtuneMetadata {
  const { outputDir: _o, dataFingerprint: _f, classWeights, ...recipe } = cfg;
  let parent: string | undefined;
  try {
    parent = modelIdentity(modelDir).sha256;
  } catch {
    parent = undefined; // a folder without weight files of its own (e.g. a hub snapshot of links): no lineage
  }
  return {
    ...(parent ? { parent_sha256: parent } : {}),
    training: {
      base_model: o.model,
      data: s.data,
      trained_on: s.trainedOn,
      recipe: {
        ...recipe,
        maxLength,
        classWeights: classWeights ? o.classWeights : null,
        validationSplit: o.validation ? null : o.validationSplit,
        deid: o.deid ? (o.deidOperator ?? 'tag') : false,
      },
      seed: o.seed,
      finished_at: new Date().toISOString(),
    },
  };
}

/** run.json at the end of training: data files with sha256, the model written, the recipe, the duration. */
function completeRecord(
  x: RecordInput,
  medtune: MedtuneMetadata,
  identity: { version: string; sha256: string },
  finalSplit: string,
): RunRecord {
  const { outputDir: _o, dataFingerprint: _f, classWeights: _w, ...recipe } = x.f.cfg;
  const data = (medtune.training?.data ?? []).map((d) => ({
    split: d.split ?? '',
    file: d.file,
    sha256: d.sha256,
    ...(d.rows !== undefined ? { rows: d.rows } : {}),
  }));
  return {
    ...x.record,
    finished_at: new Date().toISOString(),
    duration_seconds: (performance.now() - x.t0) / 1000,
    data,
    model: { source: x.o.model, dir: path.resolve(x.o.outputDir, 'best_model'), ...identity },
    evaluated_split: finalSplit,
    recipe: { ...recipe, maxLength: x.f.maxLength, classWeights: x.o.classWeights ?? null },
  };
}

/**
 * The saved model's metadata: what it inherits from the model it started from (its text preparation, not its decision:
 * calibration, abstention, the detector and the drift reference belong to the parent's weights), what this run
 * records, what was fitted; the drift reference of validation. Returns it with the bytes of ood.safetensors.
 */
function savedMetadata(x: RecordInput): { medtune: MedtuneMetadata; files: Record<string, Uint8Array[]> } {
  const { o, s, f, c } = x;
  const inherited = parseMetadata((f.loaded.config as { medtune?: unknown }).medtune);
  const { temperature: _t, thresholds: _th, abstain: _a, ood: _o, reference: _r, version: _v, ...kept } = inherited;
  const medtune: MedtuneMetadata = {
    ...kept,
    ...modelRecord(o, s, f.cfg, f.maxLength, x.model.dir),
    ...(c.fitted ?? {}),
  };
  const files: Record<string, Uint8Array[]> = {};
  if (c.ood) {
    const { bytes, sha256 } = c.ood.detector.serialize();
    files[OOD_FILE] = bytes;
    medtune.ood = { ...c.ood.settings, sha256 };
  }
  if (f.validation) {
    const probs = c.apply(f.trainer.evaluate(f.validation).probabilities);
    const scores = c.ood?.validationScores;
    medtune.reference = referenceFrom(
      probs.map((p, i) => decideFromProbabilities(p, c.settings, scores?.[i] ?? null)),
      s.trainData.labels,
    );
  }
  return { medtune, files };
}

/** Stage 5: the model saved with what it records, the final evaluation, the baseline, the reports and run.json. */
export async function recordRun(
  x: RecordInput,
): Promise<{ result: EvalResult; baseline: Record<string, unknown> | null }> {
  const { o, s, f, c, log } = x;
  const { labels, multiLabel } = s.trainData;
  const final = { ...(f.test ?? f.validation!), split: f.test ? 'test' : 'validation' };
  const { medtune, files } = savedMetadata(x);
  const bestDir = path.join(o.outputDir, 'best_model');
  const config = { ...f.loaded.config, medtune };
  saveModel(bestDir, f.loaded.model, config, { tokenizerFrom: f.loaded.dir, files });
  // the final split, as the saved model (through a Predictor) will classify it
  const raw = f.trainer.evaluate(final);
  const result = {
    ...resultFrom(c.apply(raw.probabilities), final.examples, c.settings, raw.metrics.loss, c.oodScores(final)),
    cut: final.enc.cut,
  };
  const baseline = o.baseline !== false ? runBaseline(s, final.examples, f.cfg.threshold, o.groupColumn, log) : null;
  const calibration = calibrationBlock(c, raw, final, f.cfg.threshold);
  const gold = final.examples.map((e) => e.label);
  const trust = trustMetrics(result, gold, multiLabel);
  const identity = modelIdentity(bestDir, medtune);
  const continual = await continualReport({ o, s, parent: x.model, bestDir, log });
  const extra = {
    ...(continual ? { continual } : {}),
    train_seconds: (performance.now() - x.t0) / 1000,
    model: { version: identity.version, sha256: identity.sha256 },
    ...(calibration ? { calibration } : {}),
    ...trust,
    ...(baseline ? { baseline } : {}),
  };
  await writeEvalReport({
    outputDir: o.outputDir,
    split: final.split,
    examples: final.examples,
    result,
    labels,
    multiLabel,
    groupColumn: o.groupColumn,
    groupRegex: o.groupRegex,
    extra,
    log,
    audit: auditOf(final.examples, (f.test ? s.audit.test : s.audit.validation) ?? null),
  });
  if (f.review) writeReviewPredictions(x);
  recordSplits(x);
  writeRunRecord(o.outputDir, completeRecord(x, medtune, identity, final.split));
  logOutcome(x, { split: final.split, calibration, bestDir, version: identity.version });
  return { result, baseline };
}

/**
 * review_predictions.jsonl: the review split (--review-split) classified as the saved model does, in the format of
 * predictions.jsonl — what the review queue (medtune serve --review RUN_DIR) draws its cases from.
 */
function writeReviewPredictions(x: RecordInput): void {
  const { s, f, c, o } = x;
  const raw = f.trainer.evaluate(f.review!);
  const result = resultFrom(c.apply(raw.probabilities), s.review, c.settings, raw.metrics.loss, c.oodScores(f.review!));
  const lines = predictionLines({
    examples: s.review,
    result,
    labels: s.trainData.labels,
    multiLabel: s.trainData.multiLabel,
  });
  writeFileAtomic(path.join(o.outputDir, 'review_predictions.jsonl'), lines.join('\n') + '\n');
  x.log(`review split: ${s.review.length} rows classified into ${path.join(o.outputDir, 'review_predictions.jsonl')}`);
}

/** run.json's data statistics of each split (rows, classes, token lengths, skipped rows, audit columns). */
function recordSplits(x: RecordInput): void {
  const { s, f } = x;
  const stats = (examples: Example[], d: SplitData, skipped: Skipped, a: Map<number, AuditValues> | null) =>
    splitStats({
      examples,
      enc: d.enc,
      labels: s.trainData.labels,
      maxLength: f.maxLength,
      skipped,
      ...(a ? { audit: a } : {}),
    });
  x.record.splits.train = stats(s.train, f.train, s.trainData.skipped, s.audit.train);
  if (f.validation)
    x.record.splits.validation = stats(s.validation, f.validation, s.skipped?.validation, s.audit.validation);
  if (f.test) x.record.splits.test = stats(s.test, f.test, s.skipped?.test, s.audit.test);
}
type Skipped = { row: number; reason: string }[] | undefined;

/** The closing lines: calibration's effect on the final split, where the model and the reports are. */
function logOutcome(
  x: RecordInput,
  r: { split: string; calibration: Record<string, unknown> | null; bestDir: string; version: string },
): void {
  const { o, log } = x;
  const n = (k: string) => (r.calibration![k] as number).toFixed(4);
  if (r.calibration?.ece_before !== undefined)
    log(
      `calibration on ${r.split}: ECE ${n('ece_before')} → ${n('ece_after')}, ` +
        `NLL ${n('nll_before')} → ${n('nll_after')}`,
    );
  if (r.calibration?.f1_micro_tuned !== undefined)
    log(`thresholds on ${r.split}: micro-F1 ${n('f1_micro_at_0_5')} at 0.5, ${n('f1_micro_tuned')} tuned`);
  log(`best model:  ${r.bestDir} (version ${r.version})`);
  log(
    `metrics:     ${path.join(o.outputDir, 'metrics.json')} (${r.split}), ` +
      `predictions: ${path.join(o.outputDir, 'predictions.jsonl')}` +
      `${x.s.trainData.multiLabel ? '' : `, ${path.join(o.outputDir, 'confusion_matrix.svg')}`}`,
  );
}
