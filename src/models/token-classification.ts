/**
 * The token-classification heads (HF's *ForTokenClassification): every token's last hidden state -> dropout ->
 * `classifier` (one logit per label), the loss a cross-entropy over the tokens whose label is not -100 (special
 * tokens, padding and the sub-words after a word's first). Keys as in HF: bert.* / roberta.* / distilbert.*, then
 * classifier.weight and classifier.bias; BERT's token classifier has no pooler (add_pooling_layer=False).
 */
import type { Tensor } from '../tensor/tensor.js';
import { crossEntropy, reshape } from '../tensor/ops/index.js';
import { Dropout, Linear } from '../nn/module.js';
import { BertModel, type BertConfig, type BertInputs } from './bert.js';
import { RobertaModel, type RobertaConfig } from './roberta.js';
import { DistilBertModel, type DistilBertConfig } from './distilbert.js';
import { HeadModel } from './heads.js';

export interface TokenClassifierOutput {
  /** [B, T, num_labels] */
  logits: Tensor;
  loss?: Tensor;
}

type TokenInputs = BertInputs & { labels?: Tensor | null };

/** What every token classifier shares: its labels, the classifier over each token and the loss. */
abstract class TokenClassifierHead<C extends { num_labels?: number }> extends HeadModel<C> {
  readonly numLabels: number;
  abstract dropout: Dropout;
  abstract classifier: Linear;
  constructor(config: C, seed: number) {
    super(config, seed);
    this.numLabels = config.num_labels ?? 2;
  }
  /** the last hidden state [B, T, hidden] */
  protected abstract encode(inputs: BertInputs): Tensor;
  forward(inputs: TokenInputs): TokenClassifierOutput {
    const h = this.dropout.forward(this.encode(inputs), this.training);
    const logits = this.classifier.forward(h);
    const out: TokenClassifierOutput = { logits };
    if (inputs.labels) out.loss = tokenClassificationLoss(logits, inputs.labels);
    return out;
  }
}

/** Cross-entropy over every token whose label is not -100 (HF's token-classification loss). */
export function tokenClassificationLoss(logits: Tensor, labels: Tensor): Tensor {
  const C = logits.shape[logits.rank - 1]!;
  return crossEntropy(reshape(logits, [logits.size / C, C]), labels.rank === 1 ? labels : labels.viewAs([labels.size]));
}

/** BertForTokenClassification: bert.* (no pooler) -> dropout -> classifier. */
export class BertForTokenClassification extends TokenClassifierHead<BertConfig> {
  bert: BertModel;
  dropout: Dropout;
  classifier: Linear;
  constructor(config: BertConfig, seed = 42) {
    super(config, seed);
    this.bert = new BertModel(config, this.generator, false);
    this.dropout = new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob, this.generator);
    this.classifier = new Linear(config.hidden_size, this.numLabels, this.generator, config.initializer_range);
  }
  protected encode(inputs: BertInputs): Tensor {
    return this.bert.forward(inputs).last_hidden_state;
  }
}

/** RobertaForTokenClassification: roberta.* -> dropout -> classifier. */
export class RobertaForTokenClassification extends TokenClassifierHead<RobertaConfig> {
  roberta: RobertaModel;
  dropout: Dropout;
  classifier: Linear;
  constructor(config: RobertaConfig, seed = 42) {
    super(config, seed);
    this.roberta = new RobertaModel(config, this.generator);
    this.dropout = new Dropout(config.classifier_dropout ?? config.hidden_dropout_prob, this.generator);
    this.classifier = new Linear(config.hidden_size, this.numLabels, this.generator, config.initializer_range);
  }
  protected encode(inputs: BertInputs): Tensor {
    const states = this.roberta.forward(inputs);
    return states[states.length - 1]!;
  }
}

/** DistilBertForTokenClassification: distilbert.* -> dropout (config.dropout) -> classifier. */
export class DistilBertForTokenClassification extends TokenClassifierHead<DistilBertConfig> {
  distilbert: DistilBertModel;
  dropout: Dropout;
  classifier: Linear;
  constructor(config: DistilBertConfig, seed = 42) {
    super(config, seed);
    this.distilbert = new DistilBertModel(config, this.generator);
    this.dropout = new Dropout(config.dropout, this.generator);
    this.classifier = new Linear(config.dim, this.numLabels, this.generator, config.initializer_range);
  }
  protected encode(inputs: BertInputs): Tensor {
    const states = this.distilbert.forward(inputs);
    return states[states.length - 1]!;
  }
}

export type TokenClassifier =
  BertForTokenClassification | RobertaForTokenClassification | DistilBertForTokenClassification;
