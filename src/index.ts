/**
 * The public API of medtune: `import { Predictor, train, deidentify } from 'medtune'`.
 * Everything here is stable; other modules are internal.
 */
export { MedtuneError, ERROR_CATALOGUE, type ErrorCode } from './common/errors.js';
export {
  Predictor,
  classificationFrom,
  type Classification,
  type ClassifyOptions,
  type PredictorOptions,
} from './infer/predictor.js';
export { describeModel, decisionSettings, type ModelInfo, type DecisionOverrides } from './infer/model-info.js';
export {
  decide,
  decideFromProbabilities,
  probabilities,
  type AbstainReason,
  type Decision,
  type DecisionSettings,
} from './infer/decision.js';
export { psi, referenceFrom, DriftWindow, DRIFT_ALERT } from './infer/drift.js';
export {
  loadClassifier,
  saveClassifier,
  type LoadedClassifier,
  type LoadOptions,
  type SequenceClassifier,
} from './models/auto.js';
export {
  modelIdentity,
  parseMetadata,
  fileSha256,
  type MedtuneMetadata,
  type ModelIdentity,
} from './models/metadata.js';
export { Tokenizer, type BatchEncoding, type EncodeOptions } from './text/tokenizer.js';
export { deidentify, type DeidOptions, type DeidResult, type Operator } from './deid/anonymize.js';
export { readRows, type Row, type ReadRowsOptions } from './data/readers.js';
export { readLabeled, type LabeledData, type Example } from './data/dataset.js';
export { runTrain as train, type TrainOptions } from './train/run.js';
export {
  evaluate,
  predictFile,
  deidentifyFile,
  type QueuedEvaluateOptions as EvaluateOptions,
  type QueuedPredictOptions as PredictFileOptions,
  type QueuedDeidOptions as DeidentifyFileOptions,
  type QueueOptions,
} from './jobs/batch.js';
export { runWorker, type WorkerOptions } from './jobs/worker.js';
export { createServer, type MedtuneServer, type ServeOptions } from './serve/app.js';
export { addKey, revokeKey, listKeys } from './serve/keys.js';
export { backendName, setBackend, setThreads, getThreads } from './tensor/backend.js';
export { buildMimic3Dataset, type Mimic3Options } from './data/sources/mimic.js';
export { buildMimic4Dataset, type Mimic4Options } from './data/sources/mimic4.js';
export { buildPubmedDataset, type PubmedOptions } from './data/sources/pubmed.js';
export { buildCtgovDataset, type CtgovOptions } from './data/sources/ctgov.js';
export { runDataConversion } from './data/sources/run.js';
export { findLabelVariants, type LabelVariants } from './data/labels.js';
export type { DatasetResult } from './data/sources/io.js';
