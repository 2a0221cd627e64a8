/**
 * Calibrating an existing model on held-out labelled data, never the test set (what `medtune calibrate` runs):
 * temperature scaling (single-label) or per-label F1-optimal thresholds (multi-label), optionally the abstention
 * threshold; written into config.json's `medtune` object, in place (atomically) or into a copy.
 */
import { copyFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { Predictor } from '../infer/predictor.js';
import { decideFromProbabilities } from '../infer/decision.js';
import { referenceFrom } from '../infer/drift.js';
import { readLabeled } from '../data/dataset.js';
import { checkInputFile, formatOf } from '../data/readers.js';
import { prepareOutputDir, writeDirAtomic, writeFileAtomic } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { readJson } from '../io/hf.js';
import { fileSha256, type MedtuneMetadata } from '../models/metadata.js';
import { calibrationReport, fitCalibration, withTemperature, type FittedCalibration } from './calibration.js';
import { multiLabelMetrics } from './metrics.js';

export interface CalibrateOptions {
  model: string;
  data: string;
  output?: string;
  abstainBelow?: number;
  targetAccuracy?: number;
  textColumn?: string;
  labelColumn?: string;
  labelDelimiter?: string;
  format?: string;
  encoding?: string;
  maxLength?: number;
  batchSize?: number;
}

/** Writes the fitted settings into a model folder's config.json (replacing earlier ones), in place or as a copy. */
export function writeCalibration(
  modelDir: string,
  fitted: FittedCalibration,
  extra: Partial<MedtuneMetadata>,
  output?: string,
): string {
  const cfgFile = path.join(modelDir, 'config.json');
  const cfg = readJson<Record<string, unknown> & { medtune?: MedtuneMetadata }>(cfgFile);
  const { temperature: _t, thresholds: _th, abstain: _a, ...rest } = cfg.medtune ?? {};
  const medtune: MedtuneMetadata = { ...rest, ...extra, ...fitted } as MedtuneMetadata;
  const text = JSON.stringify({ ...cfg, medtune }, null, 2) + '\n';
  if (!output || path.resolve(output) === path.resolve(modelDir)) {
    writeFileAtomic(cfgFile, text);
    return modelDir;
  }
  writeDirAtomic(output, (tmp) => {
    for (const f of readdirSync(modelDir)) {
      if (f === 'config.json' || f.startsWith('.') || statSync(path.join(modelDir, f)).isDirectory()) continue;
      copyFileSync(path.join(modelDir, f), path.join(tmp, f));
    }
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

export async function runCalibrate(
  o: CalibrateOptions,
  log: (l: string) => void = (l) => console.log(l),
): Promise<FittedCalibration> {
  checkInputFile(o.data, '--data');
  formatOf(o.data, o.format);
  if (o.abstainBelow !== undefined && o.targetAccuracy !== undefined)
    throw new MedtuneError('give --abstain-below or --target-accuracy, not both', 'E_USAGE');
  if (o.output) prepareOutputDir(path.dirname(path.resolve(o.output)), '--output');
  // uncalibrated: the fit starts from the model's own probabilities
  const p = await Predictor.load(o.model, {
    maxLength: o.maxLength,
    batchSize: o.batchSize,
    calibrated: false,
    abstainBelow: null,
    log: () => {},
  });
  if (p.problemType === 'regression')
    throw new MedtuneError('calibration is for classifiers; this is a regression model', 'E_MODEL_UNSUPPORTED');
  checkNotTestData(o.data, p.metadata, log);
  const data = await readLabeled(o.data, {
    textColumn: o.textColumn,
    labelColumn: o.labelColumn,
    multiLabel: p.multiLabel,
    labelDelimiter: o.labelDelimiter,
    labels: p.labels,
    format: o.format as never,
    encoding: o.encoding,
  });
  if (!data.examples.length) throw new MedtuneError(`${o.data} has no usable rows`, 'E_INPUT_EMPTY');
  const enc = p.encode(data.examples.map((e) => e.text));
  const probs = p.logitsOf(enc).map((row) => p.decide(row).probabilities);
  const gold = data.examples.map((e) => e.label);
  const fitted = fitCalibration(probs, gold, p.labels, p.multiLabel, {
    abstainBelow: o.abstainBelow,
    targetAccuracy: o.targetAccuracy,
  });
  log(`calibration data: ${data.examples.length} rows of ${o.data} (held-out data, never the test set)`);
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
        p.labels,
      ).f1_micro;
    log(
      `per-label thresholds (F1-optimal): micro-F1 ${at(() => 0.5).toFixed(4)} at 0.5 → ` +
        `${at((c) => fitted.thresholds![p.labels[c]!]!).toFixed(4)} tuned (on this data)`,
    );
  }
  if (fitted.abstain)
    log(
      `abstain below confidence ${fitted.abstain.below.toFixed(4)}` +
        `${fitted.abstain.target_accuracy ? ` (target accuracy ${fitted.abstain.target_accuracy})` : ''}: ` +
        `keeps ${(100 * (fitted.abstain.coverage ?? 1)).toFixed(1)}% of this data`,
    );
  const settings = {
    ...p.settings,
    temperature: fitted.temperature ?? 1,
    thresholds: fitted.thresholds ? p.labels.map((l) => fitted.thresholds![l]!) : undefined,
    abstainBelow: fitted.abstain?.below ?? null,
  };
  // the served confidence distribution changes with calibration: the drift reference is taken again, from this data
  const calibrated = fitted.temperature ? withTemperature(probs, fitted.temperature) : probs;
  const reference = referenceFrom(
    calibrated.map((q) => decideFromProbabilities(q, settings)),
    p.labels,
  );
  const dir = writeCalibration(p.dir, fitted, { reference }, o.output);
  log(
    `wrote the calibration into ${path.join(dir, 'config.json')} ` +
      '(medtune.temperature/thresholds/abstain, and the drift reference)',
  );
  return fitted;
}
