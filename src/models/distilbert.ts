/**
 * DistilBERT (HF modeling_distilbert.py): no token types, no pooler; the classifier reads the first token through
 * pre_classifier -> ReLU -> dropout -> classifier.
 */
import { Tensor, empty } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { attention, attentionMaskFromPadding } from '../tensor/ops/index.js';
import { MedtuneError } from '../common/errors.js';
import type { Activation } from '../tensor/kernels.js';
import { Dropout, Embedding, LayerNorm, Linear, Module } from '../nn/module.js';
import { activationOf, type BertInputs } from './bert.js';
import { firstToken, runLayers, SequenceClassifierHead, type ProblemType, type WindowEncoding } from './heads.js';

/** HF's DistilBertConfig keys. */
export interface DistilBertConfig {
  vocab_size: number;
  dim: number;
  n_layers: number;
  n_heads: number;
  hidden_dim: number;
  dropout: number;
  attention_dropout: number;
  activation: string;
  max_position_embeddings: number;
  initializer_range: number;
  seq_classif_dropout: number;
  pad_token_id: number;
  sinusoidal_pos_embds?: boolean;
  num_labels?: number;
  problem_type?: ProblemType | null;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  model_type?: string;
}

const LN_EPS = 1e-12;

class Embeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  constructor(c: DistilBertConfig, gen: Generator) {
    super();
    if (c.sinusoidal_pos_embds)
      throw new MedtuneError('DistilBERT with sinusoidal_pos_embds is not supported', 'E_MODEL_UNSUPPORTED');
    this.word_embeddings = new Embedding(c.vocab_size, c.dim, gen, c.initializer_range, c.pad_token_id);
    this.position_embeddings = new Embedding(c.max_position_embeddings, c.dim, gen, c.initializer_range);
    this.LayerNorm = new LayerNorm(c.dim, LN_EPS);
    this.dropout = new Dropout(c.dropout, gen);
  }
  forward(ids: Tensor, inputsEmbeds?: Tensor | null): Tensor {
    const [B, T] = ids.shape as [number, number];
    const pos = empty([B, T], 'int32');
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos.i32[b * T + t] = t;
    const e = this.LayerNorm.forward(
      inputsEmbeds ?? this.word_embeddings.forward(ids),
      this.position_embeddings.forward(pos),
    );
    return this.dropout.forward(e, this.training);
  }
}

class MultiHeadSelfAttention extends Module {
  q_lin: Linear;
  k_lin: Linear;
  v_lin: Linear;
  out_lin: Linear;
  constructor(
    private c: DistilBertConfig,
    private gen: Generator,
  ) {
    super();
    this.q_lin = new Linear(c.dim, c.dim, gen, c.initializer_range);
    this.k_lin = new Linear(c.dim, c.dim, gen, c.initializer_range);
    this.v_lin = new Linear(c.dim, c.dim, gen, c.initializer_range);
    this.out_lin = new Linear(c.dim, c.dim, gen, c.initializer_range);
  }
  forward(x: Tensor, mask: Tensor | null): Tensor {
    const ctx = attention(this.q_lin.forward(x), this.k_lin.forward(x), this.v_lin.forward(x), mask, {
      heads: this.c.n_heads,
      dropout: this.c.attention_dropout,
      generator: this.gen,
      training: this.training,
    });
    return this.out_lin.forward(ctx);
  }
}

class FFN extends Module {
  lin1: Linear;
  lin2: Linear;
  dropout: Dropout;
  constructor(
    c: DistilBertConfig,
    gen: Generator,
    private act: Activation,
  ) {
    super();
    this.lin1 = new Linear(c.dim, c.hidden_dim, gen, c.initializer_range);
    this.lin2 = new Linear(c.hidden_dim, c.dim, gen, c.initializer_range);
    this.dropout = new Dropout(c.dropout, gen);
  }
  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.lin2.forward(this.lin1.forward(x, this.act)), this.training);
  }
}

class TransformerBlock extends Module {
  attention: MultiHeadSelfAttention;
  sa_layer_norm: LayerNorm;
  ffn: FFN;
  output_layer_norm: LayerNorm;
  constructor(c: DistilBertConfig, gen: Generator) {
    super();
    this.attention = new MultiHeadSelfAttention(c, gen);
    this.sa_layer_norm = new LayerNorm(c.dim, LN_EPS);
    this.ffn = new FFN(c, gen, activationOf(c.activation));
    this.output_layer_norm = new LayerNorm(c.dim, LN_EPS);
  }
  forward(x: Tensor, mask: Tensor | null): Tensor {
    const sa = this.sa_layer_norm.forward(this.attention.forward(x, mask), x);
    return this.output_layer_norm.forward(this.ffn.forward(sa), sa);
  }
}

class Transformer extends Module {
  layer: TransformerBlock[];
  constructor(c: DistilBertConfig, gen: Generator) {
    super();
    this.layer = Array.from({ length: c.n_layers }, () => new TransformerBlock(c, gen));
  }
}

export class DistilBertModel extends Module {
  embeddings: Embeddings;
  transformer: Transformer;
  constructor(
    readonly config: DistilBertConfig,
    gen: Generator,
  ) {
    super();
    this.embeddings = new Embeddings(config, gen);
    this.transformer = new Transformer(config, gen);
  }
  forward(inputs: BertInputs, all = false): Tensor[] {
    const mask = inputs.attention_mask ? attentionMaskFromPadding(inputs.attention_mask) : null;
    return runLayers(
      this.transformer.layer,
      this.embeddings.forward(inputs.input_ids, inputs.inputs_embeds),
      mask,
      all,
    );
  }
}

export class DistilBertForSequenceClassification extends SequenceClassifierHead<DistilBertConfig> {
  distilbert: DistilBertModel;
  pre_classifier: Linear;
  classifier: Linear;
  dropout: Dropout;
  constructor(config: DistilBertConfig, seed = 42) {
    super(config, seed);
    const gen = this.generator;
    this.distilbert = new DistilBertModel(config, gen);
    this.pre_classifier = new Linear(config.dim, config.dim, gen, config.initializer_range);
    this.classifier = new Linear(config.dim, this.numLabels, gen, config.initializer_range);
    this.dropout = new Dropout(config.seq_classif_dropout, gen);
    this.addDocumentParts(config.dim, config.initializer_range);
  }
  /** pre_classifier -> ReLU on the first token */
  encodeWindows(inputs: BertInputs, o: { outputHiddenStates?: boolean } = {}): WindowEncoding {
    const states = this.distilbert.forward(inputs, o.outputHiddenStates ?? false);
    return { vectors: this.pre_classifier.forward(firstToken(states[states.length - 1]!), 'relu'), states };
  }
  classify(vectors: Tensor): Tensor {
    return this.classifier.forward(this.dropout.forward(vectors, this.training));
  }
}
