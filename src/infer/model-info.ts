/**
 * What is known about a model folder without loading its weights: label map, problem type, max input length, the
 * `medtune` metadata, the identity (sha256 of the weight files) and the decision settings that follow from them.
 * The server's HTTP thread uses this (the weights live in its inference workers); the Predictor builds on it.
 */
import path from 'node:path';
import { labelsOf, readModelConfig, resolveMaxLength, type ModelConfig } from '../models/auto.js';
import { problemTypeOf, type ProblemType } from '../models/heads.js';
import { modelIdentity, parseMetadata, type MedtuneMetadata, type ModelIdentity } from '../models/metadata.js';
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
  o: DecisionOverrides & { maxLength?: number } = {},
): Promise<ModelInfo> {
  const { dir, config } = await readModelConfig(nameOrDir);
  const maxLength = resolveMaxLength(o.maxLength, config, 512);
  const labels = labelsOf(config);
  const problemType = problemTypeOf(config as { problem_type?: ProblemType }, labels.length);
  const multiLabel = problemType === 'multi_label_classification';
  const metadata = parseMetadata((config as { medtune?: unknown }).medtune, path.join(dir, 'config.json'), labels);
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
  };
}
