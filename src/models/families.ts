/**
 * The model families and heads medtune knows, as HF's Auto* registry: a family (config.json's `model_type`) has
 * one encoder and the heads built on it; a head kind says what loading and saving do for every family's version
 * of it. `auto.ts` loads and saves every (family, head) pair through these two tables, so a new head is one entry
 * in HEADS, one line per family in FAMILIES, and its module class.
 */
import { MedtuneError } from '../common/errors.js';
import type { Module } from '../nn/module.js';
import type { Generator } from '../tensor/random.js';
import { BertForMaskedLM, BertForSequenceClassification, bertConfig, type BertConfig } from './bert.js';
import { RobertaForMaskedLM, RobertaForSequenceClassification } from './roberta.js';
import { DistilBertForSequenceClassification, type DistilBertConfig } from './distilbert.js';
import {
  BertForTokenClassification,
  DistilBertForTokenClassification,
  RobertaForTokenClassification,
  type TokenClassifier,
} from './token-classification.js';

export type ModelConfig = (BertConfig | DistilBertConfig) & {
  model_type: string;
  architectures?: string[];
  [k: string]: unknown;
};

export type SequenceClassifier =
  BertForSequenceClassification | RobertaForSequenceClassification | DistilBertForSequenceClassification;
export type MaskedLM = BertForMaskedLM | RobertaForMaskedLM;

/** The model class of each head kind (one per family). */
export interface HeadModels {
  'sequence-classification': SequenceClassifier;
  'masked-lm': MaskedLM;
  'token-classification': TokenClassifier;
}
export type HeadKind = keyof HeadModels;

/** What every model class offers the loader: HF-named parameters and a generator (dropout; checkpoint state). */
export type LoadableModel = Module & { readonly generator: Generator };

/** What loading and saving do for a head, whatever the family. */
export interface HeadRules {
  /** what the head is for, in errors ("masked-LM training supports model_type …") */
  task: string;
  /**
   * one output row per label (`id2label`): the labels come from config.json or the caller, an output layer of
   * another size is re-initialised, and a fine-tuned head is loaded by label name
   */
  labelled?: boolean;
  /**
   * the checkpoint must hold the whole encoder and (unless `initHead`) the head: continued pretraining refuses to
   * start from a folder that is not a model of this kind
   */
  strict?: boolean;
  /** config.json keys this head has no use for (left out when saving) */
  dropKeys: string[];
  /** config.json keys this head sets when saving */
  setKeys?: Record<string, unknown>;
}

export const HEADS: Record<HeadKind, HeadRules> = {
  'sequence-classification': { task: 'sequence classification', labelled: true, dropKeys: ['num_labels'] },
  'masked-lm': {
    task: 'masked-LM training',
    strict: true,
    dropKeys: ['id2label', 'label2id', 'num_labels', 'problem_type'],
    setKeys: { tie_word_embeddings: true },
  },
  'token-classification': { task: 'token classification', labelled: true, dropKeys: ['num_labels'] },
};

/** One family's version of a head: its class (named as HF's architecture) and where its tensors live. */
export interface HeadSpec<M extends LoadableModel = LoadableModel> {
  model: new (config: never, seed?: number) => M;
  /** key prefix of the head's tensors (cls.predictions, lm_head, classifier) */
  head: string;
  /** the output layer with one row per label (labelled heads; default `${head}`) */
  outputLayer?: string;
  /** the decoder is tied to the word embeddings: never stored, and checked when an old checkpoint stores it */
  tiedDecoder?: boolean;
}

export interface Family {
  /** attribute of the encoder, the prefix of its checkpoint keys (bert., roberta., distilbert.) */
  encoder: string;
  /** config.json → what the family's classes take (defaults filled in) */
  config: (raw: ModelConfig) => unknown;
  /** positions not available to tokens (RoBERTa reserves pad_token_id + 1) */
  reservedPositions?: (config: ModelConfig) => number;
  heads: { [K in HeadKind]?: HeadSpec<HeadModels[K]> };
}

const bertLike = (raw: ModelConfig) => bertConfig(raw as Partial<BertConfig>);

export const FAMILIES: Record<string, Family> = {
  bert: {
    encoder: 'bert',
    config: bertLike,
    heads: {
      'sequence-classification': { model: BertForSequenceClassification, head: 'classifier' },
      'masked-lm': { model: BertForMaskedLM, head: 'cls.predictions', tiedDecoder: true },
      'token-classification': { model: BertForTokenClassification, head: 'classifier' },
    },
  },
  roberta: {
    encoder: 'roberta',
    config: bertLike,
    reservedPositions: (c) => Number(c.pad_token_id ?? 1) + 1,
    heads: {
      'sequence-classification': {
        model: RobertaForSequenceClassification,
        head: 'classifier',
        outputLayer: 'classifier.out_proj',
      },
      'masked-lm': { model: RobertaForMaskedLM, head: 'lm_head', tiedDecoder: true },
      'token-classification': { model: RobertaForTokenClassification, head: 'classifier' },
    },
  },
  distilbert: {
    encoder: 'distilbert',
    config: (raw) => raw as DistilBertConfig,
    heads: {
      'sequence-classification': { model: DistilBertForSequenceClassification, head: 'classifier' },
      'token-classification': { model: DistilBertForTokenClassification, head: 'classifier' },
    },
  },
};

export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILIES);

const unsupported = (msg: string) => new MedtuneError(msg, 'E_MODEL_UNSUPPORTED');

/** The family of a config; E_MODEL_UNSUPPORTED for a model_type medtune does not know. */
export function familyOf(config: { model_type?: unknown }, where = ''): Family {
  const type = String(config.model_type);
  const family = Object.hasOwn(FAMILIES, type) ? FAMILIES[type] : undefined;
  if (!family)
    throw unsupported(
      `${where ? `${where} has ` : ''}model_type "${type}"; ` + `medtune supports ${SUPPORTED_MODEL_TYPES.join(', ')}`,
    );
  return family;
}

/** A family's version of a head kind; E_MODEL_UNSUPPORTED when the family has none. */
export function headSpec<K extends HeadKind>(
  config: ModelConfig,
  kind: K,
  where = '',
): { family: Family; spec: HeadSpec<HeadModels[K]> } {
  const family = familyOf(config, where);
  const spec = family.heads[kind] as HeadSpec<HeadModels[K]> | undefined;
  if (!spec) {
    const have = SUPPORTED_MODEL_TYPES.filter((t) => FAMILIES[t]!.heads[kind]);
    const list = have.length > 1 ? `${have.slice(0, -1).join(', ')} and ${have.at(-1)}` : have.join('');
    throw unsupported(
      `${where ? `${where}: ` : ''}${HEADS[kind].task} supports model_type ${list}, not "${config.model_type}"`,
    );
  }
  return { family, spec };
}

/** The family and head kind of a model instance (by its class). */
export function headOfModel(model: LoadableModel): { family: Family; kind: HeadKind; spec: HeadSpec } {
  for (const family of Object.values(FAMILIES))
    for (const [kind, spec] of Object.entries(family.heads) as [HeadKind, HeadSpec][])
      if (model instanceof spec.model) return { family, kind, spec };
  throw unsupported(`${model.constructor.name} is not a model class of any family`);
}

/** The head kind a saved folder's `architectures` names (BertForTokenClassification -> token-classification). */
export function headKindOf(config: { architectures?: unknown }): HeadKind | null {
  const arch = Array.isArray(config.architectures) ? String(config.architectures[0]) : '';
  for (const family of Object.values(FAMILIES))
    for (const [kind, spec] of Object.entries(family.heads) as [HeadKind, HeadSpec][])
      if (spec.model.name === arch) return kind;
  return null;
}

/** Most elements of one tensor (a Float32Array of more cannot be allocated). */
const MAX_TENSOR = 2 ** 31 - 1;

/**
 * A config whose sizes no checkpoint can have (a vocabulary of billions of tokens) is refused before anything is
 * allocated, naming the field, instead of failing in the allocator.
 */
export function checkConfigSizes(config: ModelConfig, where = 'config.json'): void {
  const c = config as Record<string, unknown>;
  const hidden = Number(c.hidden_size ?? c.dim ?? 768);
  for (const [k, rows] of [
    ['vocab_size', c.vocab_size],
    ['max_position_embeddings', c.max_position_embeddings],
  ] as const) {
    if (rows === undefined) continue;
    const n = Number(rows);
    if (!Number.isInteger(n) || n < 1 || n * hidden > MAX_TENSOR)
      throw new MedtuneError(
        `${where}: ${k} ${String(rows)} is not a size a model can have (× hidden size ${hidden}: ` +
          `more than ${MAX_TENSOR} weights in one tensor); is config.json from this model?`,
        'E_MODEL_WEIGHTS',
      );
  }
}

/** A freshly initialised model of a head kind for a config (model_type picks the family). */
export function createModel<K extends HeadKind>(config: ModelConfig, kind: K, seed = 42): HeadModels[K] {
  const { family, spec } = headSpec(config, kind);
  checkConfigSizes(config);
  return new spec.model(family.config(config) as never, seed);
}

/** Maximum tokens the model accepts (max_position_embeddings less the positions the family reserves). */
export function modelMaxLength(config: ModelConfig): number {
  const maxPos = Number(config.max_position_embeddings ?? 512);
  return maxPos - (FAMILIES[config.model_type]?.reservedPositions?.(config) ?? 0);
}
