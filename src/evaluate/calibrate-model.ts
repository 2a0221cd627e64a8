/**
 * Calibrating an existing model on held-out labelled data, never the test set (what `medtune calibrate` runs):
 * temperature scaling (single-label) or per-label F1-optimal thresholds (multi-label), the out-of-scope threshold
 * (or the whole detector, refitted on --ood-data TRAIN_FILE), and abstention (on by default: the model's target
 * accuracy, else 0.95; --abstain-below P; --no-abstain); written into config.json's `medtune` object (and
 * ood.safetensors), in place (atomically) or into a copy.
 */
import { copyFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Predictor } from '../infer/predictor.js';
import { documentOverrides, type DocumentOverrides } from '../infer/model-info.js';
import { decideFromProbabilities } from '../infer/decision.js';
import { referenceFrom } from '../infer/drift.js';
import { readLabeled } from '../data/dataset.js';
import { checkInputFile, formatOf } from '../data/readers.js';
import { prepareOutputDir, writeDirAtomic, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { readJson } from '../io/hf.js';
import { fileSha256, type MedtuneMetadata, type OodFeatures } from '../models/metadata.js';
import { forwardPasses } from '../infer/forward.js';
import { DEFAULT_OOD_KEEP, fitDetector, keepThreshold, OodDetector, type FittedDetector } from '../infer/ood.js';
import {
  calibrationReport,
  DEFAULT_TARGET_ACCURACY,
  fitCalibration,
  withTemperature,
  type FittedCalibration,
} from './calibration.js';
import { multiLabelMetrics } from './metrics.js';

export interface CalibrateOptions extends DocumentOverrides {
  model: string;
  data: string;
  output?: string;
  abstainBelow?: number;
  targetAccuracy?: number;
  /** false (--no-abstain): the model never abstains */
  abstain?: boolean;
  /** share of --data the out-of-scope threshold keeps in scope (default: the model's, else 0.95) */
  oodKeep?: number;
  /** training data to refit the out-of-scope detector's means and covariance on (default: keep them) */
  oodData?: string;
  textColumn?: string;
  labelColumn?: string;
  labelDelimiter?: string;
  format?: string;
  encoding?: string;
  maxLength?: number;
  batchSize?: number;
}

/**
 * Writes the fitted settings into a model folder's config.json (replacing earlier ones; a version name set by hand
 * is dropped, since the decision changed), in place or as a copy (every file of the folder copied, ood.safetensors
 * included); a refitted detector (`ood`) replaces ood.safetensors.
 */
export function writeCalibration(
  modelDir: string,
  fitted: FittedCalibration,
  extra: Partial<MedtuneMetadata>,
  output?: string,
  ood?: OodDetector,
): string {
  const cfgFile = path.join(modelDir, 'config.json');
  const cfg = readJson<Record<string, unknown> & { medtune?: MedtuneMetadata }>(cfgFile);
  const { temperature: _t, thresholds: _th, abstain: _a, version: _v, ...rest } = cfg.medtune ?? {};
  const medtune: MedtuneMetadata = { ...rest, ...extra, ...fitted } as MedtuneMetadata;
  const text = JSON.stringify({ ...cfg, medtune }, null, 2) + '\n';
  if (!output || path.resolve(output) === path.resolve(modelDir)) {
    if (ood) ood.write(modelDir);
    writeFileAtomic(cfgFile, text);
    return modelDir;
  }
  writeDirAtomic(output, (tmp) => {
    for (const f of readdirSync(modelDir)) {
      if (f === 'config.json' || f.startsWith('.') || statSync(path.join(modelDir, f)).isDirectory()) continue;
      copyFileSync(path.join(modelDir, f), path.join(tmp, f));
    }
    if (ood) ood.write(tmp);
    writeFileAtomic(path.join(tmp, 'config.json'), text);
  });
  return output;
}

/** Calibration on the model's own test file would make its test metrics meaningless: refused. Training data: warned. */
function checkNotTestData(file: string, meta: MedtuneMetadata, log: (l: string) => void): void {
  const recorded = meta.training?.data ?? [];
  if (!recorded.length) return;
  const sha = fileSha256(file);
  const same = recorded.filter((d) => d.sha256 === sha).map((d) => d.split);
  if (same.includes('test'))
    throw new MedtuneError(
      `${file} is this model's test file (same sha256 as recorded at training); ` +
        'calibrate on validation data, never on test',
      'E_USAGE',
    );
  if (same.includes('train'))
    log(
      `warning: ${file} is this model's training file; ` +
        'calibration on data the model was trained on is too confident — prefer a held-out split',
    );
}

/** The labelled rows of a file, read with the model's label map. */
async function readRowsFor(file: string, o: CalibrateOptions, p: Predictor) {
  const data = await readLabeled(file, {
    textColumn: o.textColumn,
    labelColumn: o.labelColumn,
    multiLabel: p.multiLabel,
    labelDelimiter: o.labelDelimiter,
    labels: p.labels,
    format: o.format as never,
    encoding: o.encoding,
  });
  if (!data.examples.length) throw new MedtuneError(`${file} has no usable rows`, 'E_INPUT_EMPTY');
  return data;
}

/** Encoder features of texts, of the kind the detector reads. */
function featuresOf(p: Predictor, texts: string[], kind: OodFeatures): number[][] {
  return forwardPasses(p.loaded.model, p.encode(texts), { padId: p.tokenizer.padId, features: kind }).features!;
}

/**
 * The out-of-scope detector refitted: its threshold on this data (keeping --ood-keep, else the model's share), and
 * with --ood-data its means and covariance on that training data too; null when the model has none and no
 * --ood-data is given.
 */
async function refitDetector(
  o: CalibrateOptions,
  p: Predictor,
  texts: string[],
  log: (l: string) => void,
): Promise<FittedDetector | null> {
  const stored = p.metadata.ood;
  if (!o.oodData && !stored) {
    log('out-of-scope detector: none (pass --ood-data TRAIN_FILE to fit one on the training data)');
    return null;
  }
  const kind: OodFeatures = stored?.features ?? 'mean';
  const keep = o.oodKeep ?? stored?.keep;
  const validation = featuresOf(p, texts, kind);
  if (!o.oodData) {
    const threshold = keepThreshold(
      validation.map((f) => new OodDetector(p.ood!.fit, 1).distance(f)),
      keep ?? DEFAULT_OOD_KEEP,
    );
    const detector = new OodDetector(p.ood!.fit, threshold);
    log(`out-of-scope threshold ${threshold.toFixed(3)} (was ${stored!.threshold.toFixed(3)}), set on this data`);
    return {
      detector,
      settings: { ...stored!, threshold, keep: keep ?? DEFAULT_OOD_KEEP },
      validationScores: validation.map((f) => detector.score(f)),
    };
  }
  if (fileSha256(o.oodData) === fileSha256(o.data))
    throw new MedtuneError('--ood-data is the training data and --data held-out data: give two files', 'E_USAGE');
  const train = await readRowsFor(o.oodData, o, p);
  const d = fitDetector({
    train: featuresOf(
      p,
      train.examples.map((e) => e.text),
      kind,
    ),
    classOf: train.examples.map((e) => (p.multiLabel ? 0 : (e.label as number))),
    validation,
    features: kind,
    keep,
  });
  log(`out-of-scope detector refitted on ${train.examples.length} rows of ${o.oodData}`);
  return d;
}

/** The abstention target: given, else the model's, else the default (single-label, abstention not off or fixed). */
function targetOf(o: CalibrateOptions, p: Predictor): number | undefined {
  if (o.targetAccuracy !== undefined || o.abstain === false || o.abstainBelow !== undefined || p.multiLabel)
    return o.targetAccuracy;
  return p.metadata.abstain?.target_accuracy ?? (p.metadata.abstain ? undefined : DEFAULT_TARGET_ACCURACY);
}

/** Calibration and abstention fitted on the data (in-scope rows for the confidence threshold). */
function fitOn(
  o: CalibrateOptions,
  p: Predictor,
  data: { probs: number[][]; gold: (number | number[])[]; inScope?: boolean[] },
  log: (l: string) => void,
): FittedCalibration {
  const { probs, gold, inScope } = data;
  const targetAccuracy = targetOf(o, p);
  const dflt = o.targetAccuracy === undefined && targetAccuracy !== undefined;
  const unreachable = dflt ? (why: string) => log(`abstention: ${why}; no confidence threshold is set`) : undefined;
  const stored = p.metadata.abstain;
  const abstainBelow =
    o.abstainBelow ?? (targetAccuracy === undefined && stored && o.abstain !== false ? stored.below : undefined);
  const fitted = fitCalibration(probs, gold, p.labels, p.multiLabel, {
    abstainBelow,
    targetAccuracy,
    inScope,
    unreachable,
  });
  if (o.abstain === false) delete fitted.abstain;
  else if (inScope) fitted.abstain = { ...(fitted.abstain ?? { below: 0, source: 'fixed' }), out_of_scope: true };
  return fitted;
}

/**
 * --output is a folder for the calibrated copy: it is replaced as a whole when the copy is complete, so it must be a
 * new folder or a model folder (config.json) — never a file, nor a folder of other files.
 */
function checkCalibrateOutput(output: string): void {
  if (existsSync(output)) {
    const isDir = statSync(output).isDirectory();
    if (!isDir || (readdirSync(output).length && !existsSync(path.join(output, 'config.json'))))
      throw new MedtuneError(
        `--output ${output} ${isDir ? 'is a folder of other files' : 'is a file'}; the calibrated model is a folder ` +
          'that replaces what is there: give a new folder name (or a model folder to replace)',
        'E_OUTPUT_PATH',
      );
  }
  prepareOutputDir(path.dirname(path.resolve(output)), '--output');
}

export async function runCalibrate(
  o: CalibrateOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<FittedCalibration> {
  checkInputFile(o.data, '--data');
  formatOf(o.data, o.format);
  if (o.oodData) checkInputFile(o.oodData, '--ood-data');
  if (o.abstainBelow !== undefined && o.targetAccuracy !== undefined)
    throw new MedtuneError('give --abstain-below or --target-accuracy, not both', 'E_USAGE');
  if (o.abstain === false && (o.abstainBelow !== undefined || o.targetAccuracy !== undefined))
    throw new MedtuneError('--no-abstain turns abstention off; drop --abstain-below / --target-accuracy', 'E_USAGE');
  if (o.output) checkCalibrateOutput(o.output);
  // uncalibrated: the fit starts from the model's own probabilities
  const p = await Predictor.load(o.model, {
    maxLength: o.maxLength,
    batchSize: o.batchSize,
    calibrated: false,
    abstainBelow: null,
    log: () => {},
    ...documentOverrides(o),
  });
  if (p.problemType === 'regression')
    throw new MedtuneError('calibration is for classifiers; this is a regression model', 'E_MODEL_UNSUPPORTED');
  checkNotTestData(o.data, p.metadata, log);
  const data = await readRowsFor(o.data, o, p);
  const texts = data.examples.map((e) => e.text);
  const probs = p.logitsOf(p.encode(texts)).map((row) => p.decide(row).probabilities);
  const gold = data.examples.map((e) => e.label);
  const ood = await refitDetector(o, p, texts, log);
  const fitted = fitOn(o, p, { probs, gold, inScope: ood?.validationScores.map((x) => x <= 1) }, log);
  log(`calibration data: ${data.examples.length} rows of ${o.data} (held-out data, never the test set)`);
  logFitted(fitted, probs, gold, p.labels, log);
  const settings = {
    ...p.settings,
    temperature: fitted.temperature ?? 1,
    thresholds: fitted.thresholds ? p.labels.map((l) => fitted.thresholds![l]!) : undefined,
    abstainBelow: fitted.abstain?.below ?? null,
    abstainOutOfScope: !!fitted.abstain?.out_of_scope,
  };
  // the served confidence distribution changes with calibration: the drift reference is taken again, from this data
  const calibrated = fitted.temperature ? withTemperature(probs, fitted.temperature) : probs;
  const reference = referenceFrom(
    calibrated.map((q, i) => decideFromProbabilities(q, settings, ood?.validationScores[i] ?? null)),
    p.labels,
  );
  const serialized = ood?.detector.serialize();
  const extra = { reference, ...(ood ? { ood: { ...ood.settings, sha256: serialized!.sha256 } } : {}) };
  const dir = writeCalibration(p.dir, fitted, extra, o.output, ood?.detector);
  log(
    `wrote the calibration into ${path.join(dir, 'config.json')} ` +
      `(medtune.temperature/thresholds/abstain${ood ? '/ood, ood.safetensors' : ''}, and the drift reference)`,
  );
  return fitted;
}

/** What was fitted, and what it does on this data. */
function logFitted(
  fitted: FittedCalibration,
  probs: number[][],
  gold: (number | number[])[],
  labels: string[],
  log: (l: string) => void,
): void {
  if (fitted.temperature !== undefined) {
    const r = calibrationReport(probs, gold as number[], fitted.temperature);
    log(
      `temperature ${fitted.temperature.toFixed(4)}: ECE ${r.ece_before!.toFixed(4)} → ${r.ece_after!.toFixed(4)}, ` +
        `NLL ${r.nll_before!.toFixed(4)} → ${r.nll_after!.toFixed(4)} (on this data; accuracy unchanged)`,
    );
  }
  if (fitted.thresholds) {
    const g = gold as number[][];
    const at = (th: (c: number) => number) =>
      multiLabelMetrics(
        probs.map((q) => q.map((v, c) => (v >= th(c) ? 1 : 0))),
        g,
        labels,
      ).f1_micro;
    log(
      `per-label thresholds (F1-optimal): micro-F1 ${at(() => 0.5).toFixed(4)} at 0.5 → ` +
        `${at((c) => fitted.thresholds![labels[c]!]!).toFixed(4)} tuned (on this data)`,
    );
  }
  const a = fitted.abstain;
  if (!a) return log('abstention: off (--no-abstain, or the model had none)');
  log(
    `abstain${a.out_of_scope ? ' on out-of-scope notes and' : ''} below confidence ${a.below.toFixed(4)}` +
      `${a.target_accuracy ? ` (target accuracy ${a.target_accuracy})` : ''}: ` +
      `answers ${(100 * (a.coverage ?? 1)).toFixed(1)}% of this data`,
  );
}
