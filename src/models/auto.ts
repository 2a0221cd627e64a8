/**
 * Loading and saving models like HF's AutoModelFor*: config.json's model_type picks the family and the head kind
 * picks the class (families.ts); the checkpoint's tensors are copied by key with the load report transformers
 * prints (state-dict.ts); saved folders load back in transformers and Transformers.js. One `loadModel` and one
 * `saveModel` serve every head; `loadClassifier`/`saveClassifier` (and mlm.ts) are the named doors to them.
 */
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { readJson, readWeights, resolveModel } from '../io/hf.js';
import { CheckpointError, serializeSafetensors } from '../io/safetensors.js';
import { writeDirAtomic, writeFileAtomic } from '../common/atomic.js';
import type { ProblemType } from './heads.js';
import {
  checkConfigSizes,
  createModel,
  familyOf,
  headOfModel,
  headKindOf,
  headSpec,
  HEADS,
  modelMaxLength,
  type HeadKind,
  type HeadModels,
  type LoadableModel,
  type ModelConfig,
  type SequenceClassifier,
} from './families.js';
import { copyStateDict, formatLoadReport, headByLabel, resolveKeys, type LoadReport } from './state-dict.js';
import { quantizeModel, takeQuantized } from './quantize.js';

export { modelMaxLength, SUPPORTED_MODEL_TYPES, type ModelConfig, type SequenceClassifier } from './families.js';
export { formatLoadReport, type LoadReport } from './state-dict.js';

/** A model folder whose config.json has been read (and checked): pass it on instead of reading it again. */
export interface ModelFolder {
  dir: string;
  config: ModelConfig;
}
/** A folder, a hub name, or a folder already read. */
export type ModelSource = string | ModelFolder;

export interface LoadOptions {
  /** number of labels for a new head (default: from config.json's id2label, else 2) */
  numLabels?: number;
  /** label names in id order; overrides the checkpoint's and re-initialises a head of another size */
  labels?: string[];
  problemType?: ProblemType;
  seed?: number;
  /** training mode on (dropout) — default off: loading for inference */
  train?: boolean;
  revision?: string;
  offline?: boolean;
  /** receives the load report (default: stderr) */
  log?: (line: string) => void;
  /** 'int8': the transformer blocks' linear layers run int8 (models/quantize.ts); default: fp32 weights */
  precision?: string;
  /**
   * loading to predict (predict, evaluate, calibrate, explain, serve): a checkpoint that lacks tensors of the model
   * or holds tensors it does not use is refused (training a new head reports them instead)
   */
  inference?: boolean;
  /** with `inference`: sees the load report first, to refuse an incomplete checkpoint with a more telling reason */
  explainIncomplete?: (report: LoadReport) => void;
}

export interface LoadModelOptions<K extends HeadKind = HeadKind> extends LoadOptions {
  head: K;
  /** a head the checkpoint must have (masked-LM) is started anew when the folder has none */
  initHead?: boolean;
  /** what the error tells the user to do when such a head is missing */
  noHeadHint?: string;
}

export interface LoadedModel<M extends LoadableModel = LoadableModel> {
  model: M;
  /** config.json as loaded (labelled heads: with the run's labels) */
  config: ModelConfig;
  dir: string;
  report: LoadReport;
  /** labelled heads: label names in id order; [] otherwise */
  labels: string[];
  /** true when the folder had no head and a new one was initialised */
  newHead: boolean;
}

export type LoadedClassifier = LoadedModel<SequenceClassifier>;

/**
 * The max length to tokenise to: an explicit value above the model's limit is refused (never cut silently);
 * without one, `dflt` capped at the limit.
 */
export function resolveMaxLength(requested: number | undefined, config: ModelConfig, dflt: number): number {
  const limit = modelMaxLength(config);
  if (requested !== undefined && requested > limit) {
    throw new MedtuneError(
      `--max-length ${requested} is above this model's limit of ${limit} tokens (max_position_embeddings); ` +
        `use at most ${limit}`,
      'E_USAGE',
    );
  }
  return requested ?? Math.min(dflt, limit);
}

/** A model folder's config.json, checked for a supported model_type (cheap: no weights are read). */
export async function readModelConfig(
  nameOrDir: string,
  opts: { revision?: string; offline?: boolean } = {},
): Promise<ModelFolder> {
  const dir = await resolveModel(nameOrDir, opts);
  const config = readJson<ModelConfig>(path.join(dir, 'config.json'));
  familyOf(config && typeof config === 'object' ? config : {}, `${dir}/config.json`);
  checkConfigSizes(config, `${dir}/config.json`);
  return { dir, config };
}

/** Label names in id order from config.json's id2label, or LABEL_i. */
export function labelsOf(config: { id2label?: Record<string, string>; num_labels?: number }): string[] {
  if (config.id2label && Object.keys(config.id2label).length) {
    const n = Object.keys(config.id2label).length;
    return Array.from({ length: n }, (_, i) => config.id2label![String(i)] ?? `LABEL_${i}`);
  }
  return Array.from({ length: config.num_labels ?? 2 }, (_, i) => `LABEL_${i}`);
}

/** Labels transformers makes up when a config has none (LABEL_0, LABEL_1, ...). */
const isGeneric = (labels: string[]) => labels.every((l, i) => l === `LABEL_${i}`);

/** A labelled head's labels (the caller's, else config.json's), the config that records them, the parent's. */
function labelledConfig(raw: ModelConfig, o: LoadOptions) {
  const stored = labelsOf(raw);
  const hadLabels = !!raw.id2label && Object.keys(raw.id2label).length > 0;
  let labels = stored;
  if (o.labels) labels = o.labels;
  else if (o.numLabels !== undefined)
    labels = Array.from({ length: o.numLabels }, (_, i) =>
      hadLabels && stored.length === o.numLabels ? stored[i]! : `LABEL_${i}`,
    );
  if (labels.length < 1) throw new MedtuneError('a classifier needs at least one label', 'E_USAGE');
  const config: ModelConfig = {
    ...raw,
    num_labels: labels.length,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    ...(o.problemType ? { problem_type: o.problemType } : {}),
  };
  return { config, labels, parent: hadLabels && !isGeneric(stored) ? stored : null };
}

const LABELS_HINT =
  ' (config.json and the weights disagree on the number of labels; ' +
  'fine-tune with `medtune train`, which builds a new head for the labels of the data)';

/** Loads a model with the head asked for from a model folder, a hub name or a folder already read. */
export async function loadModel<K extends HeadKind>(
  from: ModelSource,
  o: LoadModelOptions<K>,
): Promise<LoadedModel<HeadModels[K]>> {
  const { dir, config: raw } = typeof from === 'string' ? await readModelConfig(from, o) : from;
  const { family, spec } = headSpec(raw, o.head, dir);
  const rules = HEADS[o.head];
  if (rules.labelled && !o.labels) checkTask(raw, o.head, dir);
  const { config, labels, parent } = rules.labelled
    ? labelledConfig(raw, o)
    : { config: raw, labels: [], parent: null };
  const model = createModel(config, o.head, o.seed ?? 42);
  const { tensors, files } = readWeights(dir);
  const source = files.length === 1 ? files[0]! : `${dir} (${files.length} shards)`;
  const int8 = takeQuantized(tensors, source);
  if (int8.size && (o.labels || o.train))
    throw new MedtuneError(
      `${dir} is an int8 model (made by \`medtune quantize\`): train the fp32 model it was made from`,
      'E_MODEL_UNSUPPORTED',
    );
  const layout = { encoder: family.encoder, head: spec.head, tiedDecoder: spec.tiedDecoder };
  const resolved = resolveKeys(tensors, model, layout);
  // another task's head under the same names (a sequence classifier's classifier.* for a token classifier): new head
  const saved = headKindOf(raw);
  if (rules.labelled && saved && saved !== o.head)
    for (const k of [...resolved.keys()]) if (k.startsWith(`${spec.head}.`)) resolved.delete(k);
  const newHead = rules.strict ? !hasHead(resolved, spec.head, dir, o) : false;
  const byLabel = o.labels && parent ? headByLabel(model, spec.outputLayer ?? spec.head, parent, labels) : null;
  const resizeHead = !!rules.labelled && (!!o.labels || o.numLabels !== undefined);
  const report = copyStateDict(model, resolved, {
    source,
    layout,
    resizeHead,
    headHint: rules.labelled ? LABELS_HINT : '',
  });
  if (rules.strict) requireEncoder(report, source, spec.head);
  if (o.inference) {
    o.explainIncomplete?.(report);
    requireComplete(report, source);
  }
  byLabel?.apply(tensors, report);
  (o.log ?? ((l: string) => process.stderr.write(l + '\n')))(formatLoadReport(report));
  model.train(o.train ?? false);
  if (o.precision === 'int8') quantizeModel(model, int8);
  return { model, config, dir, report, labels, newHead };
}

const TASK_HINT: Partial<Record<HeadKind, string>> = {
  'sequence-classification': 'classify texts with it (`medtune predict`, POST /v1/diagnose)',
  'token-classification': 'find entities with it (`medtune predict`, POST /v1/entities, `medtune deid --model`)',
};

/**
 * A fine-tuned labelled head of one kind is not used as another (a token classifier given to diagnose, a sequence
 * classifier given to entities): its classifier.* would load with a meaning it does not have.
 */
function checkTask(config: ModelConfig, head: HeadKind, dir: string): void {
  const saved = headKindOf(config);
  if (!saved || saved === head || !HEADS[saved].labelled) return;
  throw new MedtuneError(
    `${dir} is a ${HEADS[saved].task} model (${String(config.architectures![0])}), not a ${HEADS[head].task} ` +
      `model; ${TASK_HINT[saved] ?? 'use it with the command for its task'}`,
    'E_MODEL_TASK',
  );
}

/** Whether the checkpoint holds the head; without it: an error, unless `initHead` asks for a new one. */
function hasHead(resolved: Map<string, unknown>, head: string, dir: string, o: LoadModelOptions): boolean {
  const found = [...resolved.keys()].some((k) => k.startsWith(`${head}.`) && k !== `${head}.decoder.weight`);
  if (!found && !o.initHead) {
    const hint =
      o.noHeadHint ?? 'pass --init-mlm-head to start a new head (randomly initialised, then trained by pretraining)';
    throw new MedtuneError(
      `${dir} has no masked-LM head (${head}.*): it was saved as a classifier or a base model; ${hint}`,
      'E_MODEL_NO_MLM_HEAD',
    );
  }
  return found;
}

/** A checkpoint that lacks encoder tensors is not the model config.json describes. */
function requireEncoder(report: LoadReport, source: string, head: string): void {
  const missing = report.missing.filter((k) => !k.startsWith(`${head}.`));
  if (missing.length)
    throw new CheckpointError(
      `${source} lacks ${missing.length} encoder tensors (${missing[0]}, ...); is config.json from the same model?`,
    );
}

/** To predict, every tensor of the model must come from the checkpoint, and every tensor of it be used. */
function requireComplete(report: LoadReport, source: string): void {
  const { missing, unexpected } = report;
  if (!missing.length && !unexpected.length) return;
  const what = missing.length
    ? `lacks ${missing.length} tensors the model needs (${missing[0]}${missing.length > 1 ? ', ...' : ''})`
    : `holds ${unexpected.length} tensors the model does not use ` +
      `(${unexpected[0]}${unexpected.length > 1 ? ', ...' : ''})`;
  throw new CheckpointError(
    `${source} ${what}: predictions would come from random weights. Is config.json from the same model ` +
      '(num_hidden_layers, model_type)? A base model must be fine-tuned with `medtune train` first',
  );
}

export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.txt',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
];

export interface SaveModelOptions {
  /** the folder whose tokenizer files are copied in */
  tokenizerFrom?: string;
  /** keys merged into config.json's medtune object */
  medtune?: Record<string, unknown>;
  /** more files written into the folder with the model (e.g. ood.safetensors, the out-of-scope detector) */
  files?: Record<string, Uint8Array | Uint8Array[]>;
  /**
   * write the files into an existing folder one by one (each atomic; config.json last) instead of replacing the
   * folder — for a run's output folder that also holds its checkpoints
   */
  inPlace?: boolean;
  /** the tensors to store (default: the model's parameters; models/quantize.ts: int8 layers) */
  stateDict?: [string, { shape: readonly number[]; data: Float32Array | Int32Array | Int8Array }][];
}

/**
 * Saves in HF's layout: config.json (architectures, the head's keys), model.safetensors (HF key names; a tied
 * decoder is not stored), tokenizer files. The folder is written next to its final place and renamed in, so a crash
 * never leaves a half-written model.
 */
export function saveModel(dir: string, model: LoadableModel, config: ModelConfig, o: SaveModelOptions = {}): void {
  if (o.inPlace) writeModelFiles(dir, model, config, o);
  else writeDirAtomic(dir, (tmp) => writeModelFiles(tmp, model, config, o));
}

function writeModelFiles(dir: string, model: LoadableModel, config: ModelConfig, o: SaveModelOptions): void {
  const { kind, spec } = headOfModel(model);
  const rules = HEADS[kind];
  const cfg: Record<string, unknown> = { ...config, architectures: [spec.model.name], ...rules.setKeys };
  for (const k of rules.dropKeys) delete cfg[k];
  if (o.medtune) cfg.medtune = { ...(cfg.medtune as object | undefined), ...o.medtune };
  const state = o.stateDict ?? model.namedParameters().map(([k, t]) => [k, { shape: t.shape, data: t.f32 }]);
  const tensors = serializeSafetensors(state);
  writeFileAtomic(path.join(dir, 'model.safetensors'), tensors);
  for (const [name, data] of Object.entries(o.files ?? {})) writeFileAtomic(path.join(dir, name), data);
  const from = o.tokenizerFrom;
  if (from && path.resolve(from) !== path.resolve(dir))
    for (const f of TOKENIZER_FILES)
      if (existsSync(path.join(from, f))) copyFileSync(path.join(from, f), path.join(dir, f));
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
}

/** Loads a sequence classifier from a model folder, a hub name or a folder already read. */
export async function loadClassifier(from: ModelSource, opts: LoadOptions = {}): Promise<LoadedClassifier> {
  return loadModel(from, { ...opts, head: 'sequence-classification' });
}

/** Saves a sequence classifier (labels, architectures) with the tokenizer files of `tokenizerFrom`. */
export function saveClassifier(dir: string, model: SequenceClassifier, config: ModelConfig, tokenizerFrom?: string) {
  saveModel(dir, model, config, { tokenizerFrom });
}

/** A freshly initialised classifier for a config (model_type picks the class). */
export function classifierFromConfig(config: ModelConfig, seed = 42): SequenceClassifier {
  return createModel(config, 'sequence-classification', seed);
}
