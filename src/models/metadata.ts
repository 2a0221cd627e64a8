/**
 * What medtune stores about a model folder, defined once for every consumer (predict, evaluate, serve, reports,
 * cards, UI): the `medtune` object inside config.json (transformers ignores unknown keys, so the folder stays
 * loadable elsewhere), and the model's identity — `sha256` over its weight files in name order (shards included;
 * not ood.safetensors), and `version`, which names the weights and the decision together: the first 12 hex digits of
 * the sha256 over the weights' hash and the decision settings (temperature, thresholds, abstention, the out-of-scope
 * detector, the text preparation, the reading of long documents), so that a recalibrated model gets a new version;
 * the weights' hash alone when the model has no decision settings; `medtune.version` when set.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { preprocessingProblem, type PreprocessingOptions } from '../text/clean.js';
import type { TrainedRows } from '../data/leakage.js';
import { documentProblem, type DocumentSettings } from './pooling.js';

/**
 * Options of text cleaning a model was trained with (`{ clean: { unicode: true, ... } }`, see text/clean.ts); predict
 * and the server apply the same.
 */
export type { PreprocessingOptions };

export interface AbstainSettings {
  /** abstain when the (calibrated) top probability is below this (0: only out-of-scope notes abstain) */
  below: number;
  /** out-of-scope notes abstain too (default true; needs `medtune.ood`) */
  out_of_scope?: boolean;
  /** how `below` was chosen: given on the command line, or searched for a target accuracy on validation */
  source?: 'fixed' | 'target_accuracy';
  target_accuracy?: number;
  /** share of validation predictions kept at this threshold */
  coverage?: number;
}

/** The file of the out-of-scope detector beside the weights (infer/ood.ts). */
export const OOD_FILE = 'ood.safetensors';

/** Which encoder features the out-of-scope detector reads: the first token's last hidden state, or the token mean. */
export type OodFeatures = 'cls' | 'mean';
export const OOD_FEATURES: readonly OodFeatures[] = ['cls', 'mean'];

/** The out-of-scope detector of a model (`medtune.ood`; its arrays are in ood.safetensors). */
export interface OodSettings {
  method: 'mahalanobis';
  features: OodFeatures;
  /** the Mahalanobis distance above which a note is out of scope */
  threshold: number;
  /** share of validation notes the threshold was chosen to keep in scope */
  keep: number;
  /** class means (K) and feature size (H) of ood.safetensors */
  classes: number;
  dim: number;
  /** Ledoit–Wolf shrinkage of the covariance */
  shrinkage?: number;
  /** rows the means and covariance were fitted on, and the rows the threshold was set on */
  fitted_on?: { train: number; validation: number };
  /** sha256 of ood.safetensors */
  sha256: string;
}

/** Distribution of served predictions at training time (validation split), for drift scores when serving. */
export interface MonitoringReference {
  /** share of predictions per label (single-label: top label; multi-label: label chosen) */
  labels: Record<string, number>;
  /** histogram of the top-class probability over `bins` equal bins of [0, 1] (shares, summing to 1) */
  confidence: number[];
  n: number;
}

export interface DataRecord {
  file: string;
  sha256: string;
  rows?: number;
  split?: string;
  /** the rows of `file` in this split when it is a part of the file (held out, replayed), as "1-5,9" */
  row_ids?: string;
}

export interface TrainingRecord {
  data?: DataRecord[];
  /** every row of a file this model (or a model it was trained from) was trained on: evaluating on them is refused */
  trained_on?: TrainedRows[];
  recipe?: Record<string, unknown>;
  base_model?: string;
  seed?: number;
  finished_at?: string;
  [k: string]: unknown;
}

export interface MedtuneMetadata {
  version?: string;
  /** temperature scaling of single-label logits (softmax(logits / T)) */
  temperature?: number;
  /** per-label decision thresholds of a multi-label model, by label name */
  thresholds?: Record<string, number>;
  abstain?: AbstainSettings;
  /** the out-of-scope detector (ood.safetensors beside the weights) */
  ood?: OodSettings;
  preprocessing?: PreprocessingOptions;
  /** how texts longer than the model's window are read: windows, stride, pooling (models/pooling.ts) */
  document?: DocumentSettings;
  /** sha256 identity of the model this one was trained from */
  parent_sha256?: string;
  training?: TrainingRecord;
  reference?: MonitoringReference;
}

const bad = (file: string, what: string) =>
  new MedtuneError(`${file}: "medtune.${what}"; fix or remove that key of config.json`, 'E_MODEL_WEIGHTS');
const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isProb = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v <= 1;

/** Validates the `medtune` key of a config.json (absent: {}). Unknown keys are kept for newer versions. */
export function parseMetadata(raw: unknown, file = 'config.json', labels?: string[]): MedtuneMetadata {
  if (raw === undefined || raw === null) return {};
  if (!isObj(raw)) throw bad(file, 'must be an object');
  const m = raw as MedtuneMetadata & Record<string, unknown>;
  if (m.version !== undefined && (typeof m.version !== 'string' || !m.version.trim()))
    throw bad(file, 'version must be a non-empty string');
  if (
    m.temperature !== undefined &&
    !(typeof m.temperature === 'number' && m.temperature > 0 && Number.isFinite(m.temperature))
  ) {
    throw bad(file, 'temperature must be a positive number');
  }
  if (m.thresholds !== undefined) {
    if (!isObj(m.thresholds) || !Object.values(m.thresholds).every(isProb))
      throw bad(file, 'thresholds must map label names to numbers in [0, 1]');
    const unknown = labels ? Object.keys(m.thresholds).filter((k) => !labels.includes(k)) : [];
    if (unknown.length)
      throw bad(file, `thresholds names labels the model does not have: ${unknown.slice(0, 5).join(', ')}`);
  }
  if (m.abstain !== undefined && !(isObj(m.abstain) && isProb(m.abstain.below)))
    throw bad(file, 'abstain.below must be a number in [0, 1]');
  if (m.ood !== undefined) {
    const d = m.ood;
    if (
      !isObj(d) ||
      d.method !== 'mahalanobis' ||
      !OOD_FEATURES.includes(d.features) ||
      !(typeof d.threshold === 'number' && d.threshold > 0) ||
      !isProb(d.keep) ||
      !Number.isInteger(d.classes) ||
      !Number.isInteger(d.dim) ||
      !(typeof d.sha256 === 'string' && /^[0-9a-f]{64}$/.test(d.sha256))
    )
      throw bad(
        file,
        `ood must be { method: "mahalanobis", features: ${OOD_FEATURES.join('|')}, threshold > 0, keep, classes, ` +
          'dim, sha256 }',
      );
  }
  if (m.preprocessing !== undefined) {
    const problem = preprocessingProblem(m.preprocessing);
    if (problem) throw bad(file, problem);
  }
  if (m.document !== undefined) {
    const problem = documentProblem(m.document);
    if (problem) throw bad(file, problem);
  }
  if (
    m.parent_sha256 !== undefined &&
    !(typeof m.parent_sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.parent_sha256))
  ) {
    throw bad(file, 'parent_sha256 must be 64 hex digits');
  }
  if (m.training !== undefined && !isObj(m.training)) throw bad(file, 'training must be an object');
  if (m.reference !== undefined) {
    const r = m.reference;
    if (
      !isObj(r) ||
      !isObj(r.labels) ||
      !Array.isArray(r.confidence) ||
      !r.confidence.every((x) => typeof x === 'number')
    ) {
      throw bad(file, 'reference must be { labels: {label: share}, confidence: [shares], n }');
    }
  }
  return m;
}

/** Weight files of a model folder in name order (what its identity hashes). */
export function weightFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter(
      (f) => /\.(safetensors|bin)$/.test(f) && !f.startsWith('.') && f !== 'optimizer.safetensors' && f !== OOD_FILE,
    )
    .sort();
}

export interface ModelIdentity {
  sha256: string;
  version: string;
}

/** Feeds a file's bytes into a hash, 1 MiB at a time (memory stays flat for large models). */
function hashFile(h: ReturnType<typeof createHash>, file: string): void {
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
}

/** What decides, besides the weights (the part of the metadata a version names), in a canonical order. */
export function decisionRecord(meta: MedtuneMetadata): Record<string, unknown> | null {
  const { temperature, thresholds, abstain, ood, preprocessing, document } = meta;
  const rec = { temperature, thresholds, abstain, ood, preprocessing, document };
  const sorted = (v: unknown): unknown =>
    isObj(v)
      ? Object.fromEntries(
          Object.keys(v)
            .filter((k) => v[k] !== undefined)
            .sort()
            .map((k) => [k, sorted(v[k])]),
        )
      : v;
  const out = sorted(rec) as Record<string, unknown>;
  return Object.keys(out).length ? out : null;
}

/** The version of weights (their sha256) under decision settings. */
export function versionOf(sha256: string, meta: MedtuneMetadata): string {
  if (meta.version) return meta.version;
  const rec = decisionRecord(meta);
  if (!rec) return sha256.slice(0, 12);
  return createHash('sha256')
    .update(`${sha256}\n${JSON.stringify(rec)}`)
    .digest('hex')
    .slice(0, 12);
}

/** sha256 over the bytes of the weight files in name order; the version names it with the decision settings. */
export function modelIdentity(dir: string, meta: MedtuneMetadata = {}): ModelIdentity {
  const files = weightFiles(dir);
  if (!files.length)
    throw new MedtuneError(
      `${dir} has no weights: ` +
        'expected model.safetensors, model.safetensors.index.json with shards, or pytorch_model.bin',
      'E_MODEL_WEIGHTS',
    );
  const h = createHash('sha256');
  for (const f of files) hashFile(h, path.join(dir, f));
  const sha256 = h.digest('hex');
  return { sha256, version: versionOf(sha256, meta) };
}

/** sha256 of one file (data files recorded in metadata, reports and cards). */
export function fileSha256(file: string): string {
  if (!existsSync(file)) throw new MedtuneError(`${file} does not exist`, 'E_INPUT_NOT_FOUND');
  const h = createHash('sha256');
  hashFile(h, file);
  return h.digest('hex');
}
