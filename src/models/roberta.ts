/**
 * RoBERTa (HF modeling_roberta.py): BERT's encoder with position ids that start after the padding index and a
 * classification head of its own (classifier.dense -> tanh -> classifier.out_proj on the first token).
 */
import { Tensor, empty, parameter, zeros } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { add, attentionMaskFromPadding, linear } from '../tensor/ops/index.js';
import { MedtuneError } from '../common/errors.js';
import { Dropout, Embedding, LayerNorm, Linear, Module } from '../nn/module.js';
import { BertEncoder, gatherPositions, maskedLmLoss, type BertConfig, type BertInputs } from './bert.js';
import { firstToken, HeadModel, SequenceClassifierHead, type WindowEncoding } from './heads.js';

export type RobertaConfig = BertConfig;

class RobertaEmbeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  token_type_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;
  constructor(
    private c: RobertaConfig,
    gen: Generator,
  ) {
    super();
    this.word_embeddings = new Embedding(c.vocab_size, c.hidden_size, gen, c.initializer_range, c.pad_token_id);
    this.position_embeddings = new Embedding(
      c.max_position_embeddings,
      c.hidden_size,
      gen,
      c.initializer_range,
      c.pad_token_id,
    );
    this.token_type_embeddings = new Embedding(c.type_vocab_size, c.hidden_size, gen, c.initializer_range);
    this.LayerNorm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.dropout = new Dropout(c.hidden_dropout_prob, gen);
  }
  /** HF's create_position_ids_from_input_ids: cumsum(ids != pad) * (ids != pad) + pad. */
  positionIds(ids: Tensor): Tensor {
    const [B, T] = ids.shape as [number, number];
    const pad = this.c.pad_token_id;
    const pos = empty([B, T], 'int32');
    for (let b = 0; b < B; b++) {
      let n = 0;
      for (let t = 0; t < T; t++) {
        const real = ids.i32[b * T + t] !== pad;
        if (real) n++;
        pos.i32[b * T + t] = real ? n + pad : pad;
      }
      if (n + pad >= this.c.max_position_embeddings)
        throw new MedtuneError(
          `sequence of ${n} tokens needs position ${n + pad}, ` +
            `beyond max_position_embeddings ${this.c.max_position_embeddings}; ` +
            `truncate to ${this.c.max_position_embeddings - pad - 1} tokens`,
          'E_USAGE',
        );
    }
    return pos;
  }
  forward(ids: Tensor, tokenTypeIds: Tensor, inputsEmbeds?: Tensor | null): Tensor {
    const words = inputsEmbeds ?? this.word_embeddings.forward(ids);
    const types = this.token_type_embeddings.forward(tokenTypeIds);
    const e = this.LayerNorm.forward(add(words, types), this.position_embeddings.forward(this.positionIds(ids)));
    return this.dropout.forward(e, this.training);
  }
}

export class RobertaModel extends Module {
  embeddings: RobertaEmbeddings;
  encoder: BertEncoder;
  constructor(
    readonly config: RobertaConfig,
    gen: Generator,
  ) {
    super();
    this.embeddings = new RobertaEmbeddings(config, gen);
    this.encoder = new BertEncoder(config, gen);
  }
  forward(inputs: BertInputs, all = false): Tensor[] {
    const ids = inputs.input_ids;
    const [B, T] = ids.shape as [number, number];
    const tt = inputs.token_type_ids ?? empty([B, T], 'int32');
    if (!inputs.token_type_ids) tt.i32.fill(0);
    const mask = inputs.attention_mask ? attentionMaskFromPadding(inputs.attention_mask) : null;
    return this.encoder.forward(this.embeddings.forward(ids, tt, inputs.inputs_embeds), mask, all);
  }
}

class RobertaClassificationHead extends Module {
  dense: Linear;
  out_proj: Linear;
  dropout: Dropout;
  constructor(c: RobertaConfig, gen: Generator, numLabels: number) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, gen, c.initializer_range);
    this.out_proj = new Linear(c.hidden_size, numLabels, gen, c.initializer_range);
    this.dropout = new Dropout(c.classifier_dropout ?? c.hidden_dropout_prob, gen);
  }
  /** dense -> tanh on the first token (after dropout) */
  features(h: Tensor): Tensor {
    return this.dense.forward(this.dropout.forward(firstToken(h), this.training), 'tanh');
  }
  /** dropout -> out_proj */
  logits(v: Tensor): Tensor {
    return this.out_proj.forward(this.dropout.forward(v, this.training));
  }
}

export class RobertaForSequenceClassification extends SequenceClassifierHead<RobertaConfig> {
  roberta: RobertaModel;
  classifier: RobertaClassificationHead;
  constructor(config: RobertaConfig, seed = 42) {
    super(config, seed);
    this.roberta = new RobertaModel(config, this.generator);
    this.classifier = new RobertaClassificationHead(config, this.generator, this.numLabels);
    this.addDocumentParts(config.hidden_size, config.initializer_range);
  }
  encodeWindows(inputs: BertInputs, o: { outputHiddenStates?: boolean } = {}): WindowEncoding {
    const states = this.roberta.forward(inputs, o.outputHiddenStates ?? false);
    return { vectors: this.classifier.features(states[states.length - 1]!), states };
  }
  classify(vectors: Tensor): Tensor {
    return this.classifier.logits(vectors);
  }
}

/**
 * lm_head: dense -> gelu -> layer_norm -> decoder tied to the word embeddings, plus lm_head.bias (HF RobertaLMHead).
 */
class RobertaLMHead extends Module {
  dense: Linear;
  layer_norm: LayerNorm;
  bias: Tensor;
  constructor(
    c: RobertaConfig,
    gen: Generator,
    private decoderWeight: () => Tensor,
  ) {
    super();
    this.dense = new Linear(c.hidden_size, c.hidden_size, gen, c.initializer_range);
    this.layer_norm = new LayerNorm(c.hidden_size, c.layer_norm_eps);
    this.bias = parameter(zeros([c.vocab_size]));
  }
  forward(h: Tensor): Tensor {
    return linear(this.layer_norm.forward(this.dense.forward(h, 'gelu')), this.decoderWeight(), this.bias);
  }
}

/** RobertaForMaskedLM: roberta.* (no pooler) + lm_head.*; lm_head.decoder.weight is the word embedding matrix. */
export class RobertaForMaskedLM extends HeadModel<RobertaConfig> {
  roberta: RobertaModel;
  lm_head: RobertaLMHead;
  constructor(config: RobertaConfig, seed = 42) {
    super(config, seed);
    this.roberta = new RobertaModel(config, this.generator);
    this.lm_head = new RobertaLMHead(config, this.generator, () => this.roberta.embeddings.word_embeddings.weight);
  }
  forward(inputs: BertInputs & { labels?: Tensor | null }): { logits: Tensor; loss?: Tensor } {
    const states = this.roberta.forward(inputs);
    const logits = this.lm_head.forward(states[states.length - 1]!);
    const out: { logits: Tensor; loss?: Tensor } = { logits };
    if (inputs.labels) out.loss = maskedLmLoss(logits, inputs.labels, this.config.vocab_size);
    return out;
  }
  maskedLogits(inputs: BertInputs, positions: Tensor): Tensor {
    const states = this.roberta.forward(inputs);
    return this.lm_head.forward(gatherPositions(states[states.length - 1]!, positions));
  }
}
