/**
 * Loading and saving sequence classifiers like HF's AutoModelForSequenceClassification: pick the class from
 * config.json's model_type, copy the checkpoint's tensors by key, report missing and unexpected keys the way
 * transformers does, and write folders that transformers and Transformers.js load back.
 */
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { readJson, readWeights, resolveModel } from '../io/hf.js';
import { CheckpointError, serializeSafetensors, type SafetensorsEntry } from '../io/safetensors.js';
import { writeDirAtomic, writeFileAtomic } from '../common/atomic.js';
import { BertForSequenceClassification, bertConfig, type BertConfig } from './bert.js';
import { RobertaForSequenceClassification } from './roberta.js';
import { DistilBertForSequenceClassification, type DistilBertConfig } from './distilbert.js';
import type { ProblemType } from './heads.js';

export type SequenceClassifier =
  BertForSequenceClassification | RobertaForSequenceClassification | DistilBertForSequenceClassification;
export type ModelConfig = (BertConfig | DistilBertConfig) & {
  model_type: string;
  architectures?: string[];
  [k: string]: unknown;
};

export const SUPPORTED_MODEL_TYPES = ['bert', 'roberta', 'distilbert'] as const;

const ARCH: Record<string, string> = {
  bert: 'BertForSequenceClassification',
  roberta: 'RobertaForSequenceClassification',
  distilbert: 'DistilBertForSequenceClassification',
};

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
}

export interface LoadReport {
  source: string;
  architecture: string;
  loaded: number;
  /** parameters the checkpoint did not have: newly initialised */
  missing: string[];
  /** checkpoint tensors the model does not use */
  unexpected: string[];
  /** head tensors re-initialised because --num-labels / labels changed their size */
  resized: string[];
  /** the head was loaded by label name: rows kept from the checkpoint, and labels that got new rows */
  headByLabel?: { kept: number; added: string[] };
}

export interface LoadedClassifier {
  model: SequenceClassifier;
  config: ModelConfig;
  dir: string;
  report: LoadReport;
  labels: string[];
}

/** Maximum tokens the model accepts (RoBERTa reserves padding_idx + 1 positions). */
export function modelMaxLength(config: ModelConfig | LoadedClassifier): number {
  const c = ('config' in config && 'model' in config ? config.config : config) as ModelConfig & {
    max_position_embeddings?: number;
    pad_token_id?: number;
  };
  const maxPos = c.max_position_embeddings ?? 512;
  return c.model_type === 'roberta' ? maxPos - (c.pad_token_id ?? 1) - 1 : maxPos;
}

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
): Promise<{ dir: string; config: ModelConfig }> {
  const dir = await resolveModel(nameOrDir, opts);
  const config = readJson<ModelConfig>(path.join(dir, 'config.json'));
  if (
    !config ||
    typeof config !== 'object' ||
    !config.model_type ||
    !(SUPPORTED_MODEL_TYPES as readonly string[]).includes(config.model_type)
  ) {
    throw new MedtuneError(
      `${dir}/config.json has model_type "${String(config?.model_type)}"; ` +
        `medtune supports ${SUPPORTED_MODEL_TYPES.join(', ')}`,
      'E_MODEL_UNSUPPORTED',
    );
  }
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

/** A freshly initialised classifier for a config (model_type picks the class). */
export function classifierFromConfig(config: ModelConfig, seed = 42): SequenceClassifier {
  switch (config.model_type) {
    case 'bert':
      return new BertForSequenceClassification(bertConfig(config as Partial<BertConfig>), seed);
    case 'roberta':
      return new RobertaForSequenceClassification(bertConfig(config as Partial<BertConfig>), seed);
    case 'distilbert':
      return new DistilBertForSequenceClassification(config as DistilBertConfig, seed);
    default:
      throw new MedtuneError(
        `model_type "${config.model_type}" is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
        'E_MODEL_UNSUPPORTED',
      );
  }
}

/** HF renames applied to old checkpoints: LayerNorm gamma/beta -> weight/bias. */
function canonicalKey(k: string): string {
  return k.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
}

/** Keys transformers drops silently (non-persistent buffers of older versions). */
const IGNORED_UNEXPECTED = /(^|\.)position_ids$/;

/** Copies checkpoint tensors into the model by name; returns the report. */
export function loadStateDict(
  model: SequenceClassifier,
  tensors: Map<string, SafetensorsEntry>,
  source: string,
  allowResize: boolean,
): LoadReport {
  const params = new Map(model.namedParameters());
  const prefix =
    model.config.model_type ??
    (model instanceof DistilBertForSequenceClassification
      ? 'distilbert'
      : model instanceof RobertaForSequenceClassification
        ? 'roberta'
        : 'bert');
  const byKey = new Map<string, SafetensorsEntry>();
  for (const [k, v] of tensors) byKey.set(canonicalKey(k), v);
  // A base-model checkpoint (keys without "bert.") loads into the classifier under its prefix, as in HF.
  const hasPrefix = [...byKey.keys()].some((k) => k.startsWith(`${prefix}.`));
  const resolved = new Map<string, SafetensorsEntry>();
  for (const [k, v] of byKey) resolved.set(!hasPrefix && params.has(`${prefix}.${k}`) ? `${prefix}.${k}` : k, v);
  const report: LoadReport = {
    source,
    architecture: model.constructor.name,
    loaded: 0,
    missing: [],
    unexpected: [],
    resized: [],
  };
  for (const [name, p] of params) {
    const t = resolved.get(name);
    if (!t) {
      report.missing.push(name);
      continue;
    }
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      const isHead = !name.startsWith(`${prefix}.`);
      if (allowResize && isHead) {
        report.resized.push(`${name} ${JSON.stringify(t.shape)} -> ${JSON.stringify(p.shape)}`);
        continue;
      }
      throw new CheckpointError(
        `${source}: ${name} has shape ${JSON.stringify(t.shape)} in the checkpoint ` +
          `but the model expects ${JSON.stringify(p.shape)}` +
          (isHead
            ? ' (config.json and the weights disagree on the number of labels; ' +
              'fine-tune with `medtune train`, which builds a new head for the labels of the data)'
            : '; is config.json from the same model?'),
      );
    }
    if (t.data instanceof Int32Array) p.f32.set(Float32Array.from(t.data));
    else p.f32.set(t.data);
    report.loaded++;
  }
  for (const k of resolved.keys()) if (!params.has(k) && !IGNORED_UNEXPECTED.test(k)) report.unexpected.push(k);
  return report;
}

/** Groups keys sharing a prefix: a.b.{weight,bias}. */
function compactKeys(keys: string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const i = k.lastIndexOf('.');
    const head = i < 0 ? '' : k.slice(0, i);
    if (!groups.has(head)) groups.set(head, []);
    groups.get(head)!.push(i < 0 ? k : k.slice(i + 1));
  }
  return [...groups].map(([h, tails]) =>
    tails.length === 1 ? (h ? `${h}.${tails[0]}` : tails[0]!) : `${h}.{${tails.join(',')}}`,
  );
}

/** The report as transformers prints it, in a short table. */
export function formatLoadReport(r: LoadReport): string {
  const lines = [`Loaded ${r.loaded} tensors from ${r.source} into ${r.architecture}.`];
  const row = (label: string, keys: string[]) => {
    if (keys.length) lines.push(`  ${label.padEnd(34)} ${compactKeys(keys).join(', ')}`);
  };
  row('newly initialised (not in checkpoint):', r.missing);
  row('resized head, newly initialised:', r.resized);
  row('unused (not in this architecture):', r.unexpected);
  if (r.headByLabel) {
    lines.push(
      `  classification head loaded by label name: ${r.headByLabel.kept} labels kept` +
        (r.headByLabel.added.length
          ? `, ${r.headByLabel.added.length} new (newly initialised): ` +
            `${r.headByLabel.added.slice(0, 6).join(', ')}${r.headByLabel.added.length > 6 ? ', …' : ''}`
          : ''),
    );
  }
  if (r.missing.length || r.resized.length)
    lines.push('  New weights must be trained on a down-stream task before the model is used for predictions.');
  return lines.join('\n');
}

/** Loads a sequence classifier from a model folder or hub name. */
export async function loadClassifier(nameOrDir: string, opts: LoadOptions = {}): Promise<LoadedClassifier> {
  const { dir, config: raw } = await readModelConfig(nameOrDir, { revision: opts.revision, offline: opts.offline });
  let labels = labelsOf(raw);
  const hadLabels = !!raw.id2label && Object.keys(raw.id2label).length > 0;
  if (opts.labels) labels = opts.labels;
  else if (opts.numLabels !== undefined)
    labels = Array.from({ length: opts.numLabels }, (_, i) =>
      hadLabels && labels.length === opts.numLabels ? labels[i]! : `LABEL_${i}`,
    );
  if (labels.length < 1) throw new MedtuneError('a classifier needs at least one label', 'E_USAGE');
  const config: ModelConfig = {
    ...raw,
    num_labels: labels.length,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    ...(opts.problemType ? { problem_type: opts.problemType } : {}),
  };
  const model = classifierFromConfig(config, opts.seed ?? 42);
  const { tensors, files } = readWeights(dir);
  const parentLabels = hadLabels && !isGeneric(labelsOf(raw)) ? labelsOf(raw) : null;
  const fresh =
    opts.labels && parentLabels
      ? headRows(model, labels.length).map(([name, p]) => [name, Float32Array.from(p.f32)] as const)
      : [];
  const report = loadStateDict(
    model,
    tensors,
    files.length === 1 ? files[0]! : `${dir} (${files.length} shards)`,
    !!(opts.labels || opts.numLabels !== undefined),
  );
  if (fresh.length) remapHead(model, tensors, parentLabels!, labels, new Map(fresh), report);
  (opts.log ?? ((l: string) => process.stderr.write(l + '\n')))(formatLoadReport(report));
  model.train(opts.train ?? false);
  return { model, config, dir, report, labels };
}

/** Labels transformers makes up when a config has none (LABEL_0, LABEL_1, ...). */
const isGeneric = (labels: string[]) => labels.every((l, i) => l === `LABEL_${i}`);

/** The output layer of the classification head: parameters with one row per label. */
function headRows(model: SequenceClassifier, numLabels: number): [string, Tensor][] {
  return model
    .namedParameters()
    .filter(([k, p]) => /^classifier\.(out_proj\.)?(weight|bias)$/.test(k) && p.shape[0] === numLabels);
}

/**
 * Loads the head by label name, not by position: a label the checkpoint has gets its row, a new label keeps its fresh
 * initialisation. (By position, another label order would load the head under the wrong mapping, and a different
 * label count would silently re-initialise all of it.)
 */
function remapHead(
  model: SequenceClassifier,
  tensors: Map<string, SafetensorsEntry>,
  parent: string[],
  labels: string[],
  fresh: Map<string, Float32Array>,
  report: LoadReport,
): void {
  let kept = 0;
  for (const [name, p] of headRows(model, labels.length)) {
    const t = [...tensors].find(([k]) => canonicalKey(k) === name || canonicalKey(k).endsWith(`.${name}`))?.[1];
    if (!t || t.shape[0] !== parent.length || t.data instanceof Int32Array) continue;
    const width = p.size / labels.length;
    labels.forEach((l, i) => {
      const j = parent.indexOf(l);
      const src =
        j >= 0 ? t.data.subarray(j * width, (j + 1) * width) : fresh.get(name)!.subarray(i * width, (i + 1) * width);
      p.f32.set(src, i * width);
    });
    kept = labels.filter((l) => parent.includes(l)).length;
    report.resized = report.resized.filter((r) => !r.startsWith(`${name} `));
  }
  const added = labels.filter((l) => !parent.includes(l));
  if (kept) report.headByLabel = { kept, added };
}

const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.txt',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
];

/**
 * Saves in HF's layout: config.json (labels, architectures), model.safetensors (HF key names), tokenizer files
 * copied from `tokenizerFrom`. The folder is written next to its final place and renamed in, so a crash never
 * leaves a half-written model.
 */
export function saveClassifier(
  dir: string,
  model: SequenceClassifier,
  config: ModelConfig,
  tokenizerFrom?: string,
): void {
  writeDirAtomic(dir, (tmp) => {
    const cfg = {
      ...config,
      architectures: [ARCH[config.model_type] ?? config.architectures?.[0]],
      num_labels: undefined,
    };
    delete cfg.num_labels;
    writeFileAtomic(path.join(tmp, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
    const tensors = model
      .namedParameters()
      .map(
        ([k, t]: [string, Tensor]) =>
          [k, { shape: t.shape, data: t.f32 }] as [string, { shape: readonly number[]; data: Float32Array }],
      );
    writeFileAtomic(path.join(tmp, 'model.safetensors'), serializeSafetensors(tensors));
    if (tokenizerFrom)
      for (const f of TOKENIZER_FILES)
        if (existsSync(path.join(tokenizerFrom, f))) copyFileSync(path.join(tokenizerFrom, f), path.join(tmp, f));
  });
}
