/**
 * BERT (HF transformers' modeling_bert.py), encoder + pooler + sequence-classification head.
 * Property names equal checkpoint keys: bert.embeddings.word_embeddings.weight,
 * bert.encoder.layer.0.attention.self.query.weight, ..., classifier.weight.
 */
import { Tensor, empty, parameter, zeros } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import {
  attention,
  attentionMaskFromPadding,
  add,
  reshape,
  linear,
  crossEntropy,
  embedding,
} from '../tensor/ops/index.js';
import {
  firstToken,
  HeadModel,
  runLayers,
  SequenceClassifierHead,
  type ClassifierLossOptions,
  type ClassifierOutput,
  type EncoderInputs,
  type ProblemType,
  type WindowEncoding,
} from './heads.js';
import { MedtuneError } from '../common/errors.js';
import type { Activation } from '../tensor/kernels.js';
import { Dropout, Embedding, LayerNorm, Linear, Module } from '../nn/module.js';

/** The subset of HF's BertConfig we use, with HF's key names (so config.json maps one-to-one). */
export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  initializer_range: number;
  pad_token_id: number;
  classifier_dropout?: number | null;
  num_labels?: number;
  problem_type?: ProblemType | null;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  model_type?: string;
  tie_word_embeddings?: boolean;
}

export function bertConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  return {
    vocab_size: 30522,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 3072,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    initializer_range: 0.02,
    pad_token_id: 0,
    num_labels: 2,
    ...overrides,
  };
}

/** HF hidden_act names -> fused activation kernels. */
export function activationOf(name: string): Activation {
  switch (name) {
    case 'gelu':
      return 'gelu';
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return 'gelu_tanh';
    case 'relu':
      return 'relu';
    case 'tanh':
      return 'tanh';
    default:
      throw new MedtuneError(
        `hidden_act "${name}" is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, tanh)`,
        'E_MODEL_UNSUPPORTED',
      );
  }
}

/** What BERT reads (ids, padding mask, segments, or word embeddings for integrated gradients). */
export type BertInputs = EncoderInputs;

export class BertEmbeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  token_type_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  constructor(c: BertConfig, gen: Generator) {
    super();
    this.word_embeddings = new Embedding(c.vocab_size, c.hidden_size, gen, c.initializer_range, c.pad_token_id);
    this.position_embeddings = new Embedding(c.max_position_embeddings, c.hidden_size, gen, c.initializer_range);
    this.token_type_embeddings = new Embedding(c.type_vocab_size, c.hidden_size, gen, c.initializer_range);
    this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.dropout = new Dropout(c.hidden_dropout_prob, gen);
  }
  forward(inputIds: Tensor, tokenTypeIds: Tensor, inputsEmbeds?: Tensor | null): Tensor {
    const [B, T] = inputIds.shape as [number, number];
    const pos = empty([B, T], 'int32');
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos.i32[b * T + t] = t;
    const words = inputsEmbeds ?? this.word_embeddings.forward(inputIds);
    const types = this.token_type_embeddings.forward(tokenTypeIds);
    const positions = this.position_embeddings.forward(pos);
    const e = this.LayerNorm.forward(add(words, types), positions);
    return this.dropout.forward(e, this.training);
  }
}

export class BertSelfAttention extends Module {
  query: Linear;
  key: Linear;
  value: Linear;
  constructor(
    private c: BertConfig,
    private gen: Generator,
  ) {
    super();
    this.query = new Linear(c.hidden_size, c.hidden_size, gen, c.initializer_range);
    this.key = new Linear(c.hidden_size, c.hidden_size, gen, c.initializer_range);
    this.value = new Linear(c.hidden_size, c.hidden_size, gen, c.initializer_range);
  }
  forward(x: Tensor, mask: Tensor | null): Tensor {
    const q = this.query.forward(x);
    const k = this.key.forward(x);
    const v = this.value.forward(x);
    return attention(q, k, v, mask, {
      heads: this.c.num_attention_heads,
      dropout: this.c.attention_probs_dropout_prob,
      generator: this.gen,
      training: this.training,
    });
  }
}

/** dense -> dropout -> LayerNorm(· + residual): "BertSelfOutput" and "BertOutput". */
export class BertAddNorm extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  constructor(inDim: number, c: BertConfig, gen: Generator) {
    super();
    this.dense = new Linear(inDim, c.hidden_size, gen, c.initializer_range);
    this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.dropout = new Dropout(c.hidden_dropout_prob, gen);
  }
  forward(h: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(this.dropout.forward(this.dense.forward(h), this.training), residual);
  }
}

export class BertAttention extends Module {
  self: BertSelfAttention;
  output: BertAddNorm;
  constructor(c: BertConfig, gen: Generator) {
    super();
    this.self = new BertSelfAttention(c, gen);
    this.output = new BertAddNorm(c.hidden_size, c, gen);
  }
  forward(x: Tensor, mask: Tensor | null): Tensor {
    return this.output.forward(this.self.forward(x, mask), x);
  }
}

export class BertIntermediate extends Module {
  dense: Linear;
  constructor(
    c: BertConfig,
    gen: Generator,
    private act: Activation,
  ) {
    super();
    this.dense = new Linear(c.hidden_size, c.intermediate_size, gen, c.initializer_range);
  }
  forward(x: Tensor): Tensor {
    return this.dense.forward(x, this.act); // bias + GELU fused
  }
}

export class BertLayer extends Module {
  attention: BertAttention;
  intermediate: BertIntermediate;
  output: BertAddNorm;
  constructor(c: BertConfig, gen: Generator) {
    super();
    this.attention = new BertAttention(c, gen);
    this.intermediate = new BertIntermediate(c, gen, activationOf(c.hidden_act));
    this.output = new BertAddNorm(c.intermediate_size, c, gen);
  }
  forward(x: Tensor, mask: Tensor | null): Tensor {
    const a = this.attention.forward(x, mask);
    return this.output.forward(this.intermediate.forward(a), a);
  }
}

export class BertEncoder extends Module {
  layer: BertLayer[];
  constructor(c: BertConfig, gen: Generator) {
    super();
    this.layer = Array.from({ length: c.num_hidden_layers }, () => new BertLayer(c, gen));
  }
  /** Returns every hidden state (embeddings output first) when `all`, else just the last. */
  forward(x: Tensor, mask: Tensor | null, all = false): Tensor[] {
    return runLayers(this.layer, x, mask, all);
  }
}

export class BertPooler extends Module {
  dense: Linear;
  constructor(c: BertConfig, gen: Generator) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, gen, c.initializer_range);
  }
  /** tanh(dense(h[:, 0])) */
  forward(h: Tensor): Tensor {
    return this.dense.forward(firstToken(h), 'tanh');
  }
}

export type { ClassifierOutput, ClassifierLossOptions };

export interface BertOutput {
  last_hidden_state: Tensor;
  pooler_output: Tensor | null;
  hidden_states?: Tensor[];
}

export class BertModel extends Module {
  embeddings: BertEmbeddings;
  encoder: BertEncoder;
  pooler: BertPooler | null;
  constructor(
    readonly config: BertConfig,
    gen: Generator,
    addPoolingLayer = true,
  ) {
    super();
    this.embeddings = new BertEmbeddings(config, gen);
    this.encoder = new BertEncoder(config, gen);
    this.pooler = addPoolingLayer ? new BertPooler(config, gen) : null;
  }
  forward(inputs: BertInputs, opts: { outputHiddenStates?: boolean } = {}): BertOutput {
    const ids = inputs.input_ids;
    if (ids.dtype !== 'int32' || ids.rank !== 2)
      throw new MedtuneError(`input_ids must be int32 [batch, seq], got ${ids.describe()}`, 'E_USAGE');
    const [B, T] = ids.shape as [number, number];
    if (T > this.config.max_position_embeddings)
      throw new MedtuneError(
        `sequence length ${T} exceeds max_position_embeddings ${this.config.max_position_embeddings}; ` +
          'truncate to at most that many tokens',
        'E_USAGE',
      );
    const tt = inputs.token_type_ids ?? empty([B, T], 'int32');
    if (!inputs.token_type_ids) tt.i32.fill(0);
    const mask = inputs.attention_mask ? attentionMaskFromPadding(inputs.attention_mask) : null;
    const x = this.embeddings.forward(ids, tt, inputs.inputs_embeds);
    const states = this.encoder.forward(x, mask, opts.outputHiddenStates ?? false);
    const last = states[states.length - 1]!;
    return {
      last_hidden_state: last,
      pooler_output: this.pooler ? this.pooler.forward(last) : null,
      ...(opts.outputHiddenStates ? { hidden_states: states } : {}),
    };
  }
}

/** BertForSequenceClassification: pooler output -> dropout -> classifier; loss chosen by problem_type as in HF. */
export class BertForSequenceClassification extends SequenceClassifierHead<BertConfig> {
  bert: BertModel;
  dropout: Dropout;
  classifier: Linear;
  constructor(config: BertConfig, seed = 42) {
    super(config, seed);
    const gen = this.generator;
    this.bert = new BertModel(config, gen);
    this.dropout = new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob, gen);
    this.classifier = new Linear(config.hidden_size, this.numLabels, gen, config.initializer_range);
    this.addDocumentParts(config.hidden_size, config.initializer_range);
  }

  /** the pooler output of each text */
  encodeWindows(inputs: BertInputs, o: { outputHiddenStates?: boolean } = {}): WindowEncoding {
    const out = this.bert.forward(inputs, o);
    return { vectors: out.pooler_output!, states: out.hidden_states ?? [out.last_hidden_state] };
  }

  classify(vectors: Tensor): Tensor {
    return this.classifier.forward(this.dropout.forward(vectors, this.training));
  }
}

/** cls.predictions.transform: dense -> act -> LayerNorm */
class BertPredictionHeadTransform extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  constructor(
    c: BertConfig,
    gen: Generator,
    private act: Activation,
  ) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, gen, c.initializer_range);
    this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
  }
  forward(h: Tensor): Tensor {
    return this.LayerNorm.forward(this.dense.forward(h, this.act));
  }
}

/** cls.predictions: transform, then the decoder tied to the word embeddings, plus its own bias. */
class BertLMPredictionHead extends Module {
  transform: BertPredictionHeadTransform;
  bias: Tensor;
  constructor(
    c: BertConfig,
    gen: Generator,
    private decoderWeight: () => Tensor,
  ) {
    super();
    this.transform = new BertPredictionHeadTransform(c, gen, activationOf(c.hidden_act));
    this.bias = parameter(zeros([c.vocab_size]));
  }
  forward(h: Tensor): Tensor {
    return linear(this.transform.forward(h), this.decoderWeight(), this.bias);
  }
}

class BertOnlyMLMHead extends Module {
  predictions: BertLMPredictionHead;
  constructor(c: BertConfig, gen: Generator, decoderWeight: () => Tensor) {
    super();
    this.predictions = new BertLMPredictionHead(c, gen, decoderWeight);
  }
}

/** Rows of h [B, T, C] at flat positions b·T + t: [M, C] (a gather whose gradient scatters back into h). */
export function gatherPositions(h: Tensor, positions: Tensor): Tensor {
  const C = h.shape[h.rank - 1]!;
  return embedding(positions, reshape(h, [h.size / C, C]));
}

/** Masked-LM loss as HF computes it: cross-entropy over positions whose label is not -100. */
export function maskedLmLoss(logits: Tensor, labels: Tensor, vocabSize: number): Tensor {
  return crossEntropy(
    reshape(logits, [logits.size / vocabSize, vocabSize]),
    labels.rank === 1 ? labels : labels.viewAs([labels.size]),
  );
}

/** BertForMaskedLM: no pooler; the decoder shares bert.embeddings.word_embeddings.weight (tied, as in HF). */
export class BertForMaskedLM extends HeadModel<BertConfig> {
  bert: BertModel;
  cls: BertOnlyMLMHead;
  constructor(config: BertConfig, seed = 42) {
    super(config, seed);
    this.bert = new BertModel(config, this.generator, false);
    this.cls = new BertOnlyMLMHead(config, this.generator, () => this.bert.embeddings.word_embeddings.weight);
  }
  /** logits [B, T, vocab]; loss = cross-entropy over positions whose label is not -100. */
  forward(inputs: BertInputs & { labels?: Tensor | null }): { logits: Tensor; loss?: Tensor } {
    const h = this.bert.forward(inputs).last_hidden_state;
    const logits = this.cls.predictions.forward(h);
    const out: { logits: Tensor; loss?: Tensor } = { logits };
    if (inputs.labels) out.loss = maskedLmLoss(logits, inputs.labels, this.config.vocab_size);
    return out;
  }
  /**
   * Logits [M, vocab] at the flat positions (int32 [M]) only: the vocabulary projection is the costliest matmul of
   * a small model, and only the ~15 % masked positions need it (same loss as forward, a fraction of the work).
   */
  maskedLogits(inputs: BertInputs, positions: Tensor): Tensor {
    return this.cls.predictions.forward(gatherPositions(this.bert.forward(inputs).last_hidden_state, positions));
  }
}
