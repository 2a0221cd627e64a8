/**
 * What is known about a model folder without loading its weights: label map, problem type, max input length, the
 * `medtune` metadata, the identity (sha256 of the weight files) and the decision settings that follow from them.
 * The server's HTTP thread uses this (the weights live in its inference workers); the Predictor builds on it.
 */
import path from 'node:path';
import { labelsOf, readModelConfig, resolveMaxLength, type ModelConfig } from '../models/auto.js';
import { problemTypeOf, type ProblemType } from '../models/heads.js';
import { modelIdentity, parseMetadata, type MedtuneMetadata, type ModelIdentity } from '../models/metadata.js';
import { documentSettingsOf, type DocumentSettings, type Pooling } from '../models/pooling.js';
import { DEFAULT_MAX_DOCUMENT_TOKENS, windowSpec } from '../text/windows.js';
import { MedtuneError } from '../common/errors.js';
import { withAbstention, type DecisionSettings } from './decision.js';

export interface DecisionOverrides {
  /** multi-label threshold for every label; when given it wins over the thresholds stored with the model */
  threshold?: number;
  /**
   * abstain below this confidence and on out-of-scope notes; null: never abstain; undefined: the model's stored
   * setting
   */
  abstainBelow?: number | null;
  /** apply the stored temperature (default true) */
  calibrated?: boolean;
}

/** How a command reads long texts with a model (overriding the model's `medtune.document`). */
export interface DocumentOverrides {
  /** none: cut texts at the window; max/mean/attention: read them in windows, pooled so (default: the model's) */
  pooling?: Pooling | 'none';
  /** tokens neighbouring windows share (default: the model's, else a quarter of the window) */
  stride?: number;
  /** read documents up to this many tokens (default: the model's, else 16,384) */
  maxDocumentTokens?: number;
}

/** The document options of a command's options object (what Predictor.load takes). */
export function documentOverrides(o: DocumentOverrides): DocumentOverrides {
  return { pooling: o.pooling, stride: o.stride, maxDocumentTokens: o.maxDocumentTokens };
}

export interface ModelInfo {
  dir: string;
  config: ModelConfig;
  labels: string[];
  problemType: ProblemType;
  multiLabel: boolean;
  metadata: MedtuneMetadata;
  identity: ModelIdentity;
  maxLength: number;
  settings: DecisionSettings;
  /** how long texts are read: in windows of `maxLength` (null: cut at `maxLength`) */
  document: DocumentSettings | null;
}

const usage = (msg: string) => new MedtuneError(msg, 'E_USAGE');

/**
 * The document reading of a command: the model's, changed by the options; `--pooling none` cuts texts at the window.
 * A model that was trained on cut texts reads windows only when `--pooling` asks for it.
 */
export function resolveDocument(
  stored: DocumentSettings | null,
  o: DocumentOverrides,
  window: number,
): DocumentSettings | null {
  if (o.pooling === 'none') return null;
  if (!stored && !o.pooling) {
    if (o.stride !== undefined || o.maxDocumentTokens !== undefined)
      throw usage(
        'this model reads texts cut at its window; pass --pooling max|mean to read long texts in windows ' +
          '(then --stride and --max-document-tokens apply)',
      );
    return null;
  }
  if (o.maxDocumentTokens !== undefined && !(Number.isInteger(o.maxDocumentTokens) && o.maxDocumentTokens > 0))
    throw usage(`--max-document-tokens must be a positive integer, got ${o.maxDocumentTokens}`);
  const stride = windowSpec({ length: window, stride: o.stride ?? stored?.stride, head: 1, tail: 1 }).stride;
  return {
    window,
    stride,
    pooling: o.pooling ?? stored!.pooling,
    max_document_tokens: o.maxDocumentTokens ?? stored?.max_document_tokens ?? DEFAULT_MAX_DOCUMENT_TOKENS,
    ...(stored?.head ? { head: stored.head } : {}),
  };
}

/** config.json with the document reading a command uses (the model's parts follow it when it is built). */
export function withDocument<C extends object>(config: C, document: DocumentSettings | null): C {
  const stored = (config as { medtune?: unknown }).medtune;
  const { document: _d, ...rest } = (stored ?? {}) as Record<string, unknown>;
  const medtune = document ? { ...rest, document } : rest;
  return { ...config, medtune: Object.keys(medtune).length || stored ? medtune : undefined };
}

/**
 * The abstention a command asks for: --no-abstain (`abstain: false`) never abstains (null), --abstain-below P sets
 * the threshold, neither keeps the model's (undefined).
 */
export function abstentionOverride(o: { abstainBelow?: number; abstain?: boolean }): number | null | undefined {
  return o.abstain === false ? null : o.abstainBelow;
}

/** Decision settings from a model's metadata, with command-line / request overrides. */
export function decisionSettings(
  labels: string[],
  multiLabel: boolean,
  m: MedtuneMetadata,
  o: DecisionOverrides = {},
): DecisionSettings {
  const stored = m.thresholds ? labels.map((l) => m.thresholds![l] ?? 0.5) : undefined;
  const s: DecisionSettings = {
    labels,
    multiLabel,
    temperature: o.calibrated === false ? 1 : (m.temperature ?? 1),
    thresholds: o.threshold !== undefined ? undefined : stored,
    threshold: o.threshold ?? 0.5,
    abstainBelow: m.abstain?.below ?? null,
    abstainOutOfScope: !!m.abstain && m.abstain.out_of_scope !== false,
  };
  return withAbstention(s, o.abstainBelow);
}

/** Reads config.json and the metadata, hashes the weights; checks `maxLength` against the model's limit. */
export async function describeModel(
  nameOrDir: string,
  o: DecisionOverrides & DocumentOverrides & { maxLength?: number } = {},
): Promise<ModelInfo> {
  const { dir, config: raw } = await readModelConfig(nameOrDir);
  const stored = documentSettingsOf(raw);
  const maxLength = resolveMaxLength(o.maxLength, raw, stored?.window ?? 512);
  const document = resolveDocument(stored, o, maxLength);
  const config = withDocument(raw, document);
  const labels = labelsOf(config);
  const problemType = problemTypeOf(config as { problem_type?: ProblemType }, labels.length);
  const multiLabel = problemType === 'multi_label_classification';
  const metadata = parseMetadata((raw as { medtune?: unknown }).medtune, path.join(dir, 'config.json'), labels);
  const identity = modelIdentity(dir, metadata);
  return {
    dir,
    config,
    labels,
    problemType,
    multiLabel,
    metadata,
    identity,
    maxLength,
    settings: decisionSettings(labels, multiLabel, metadata, o),
    document,
  };
}
