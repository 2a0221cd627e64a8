/**
 * What every model with a head shares (its config and the generator of its dropout), and what every
 * sequence-classification model shares: problem types, the loss rule, the output shape.
 */
import { isGradEnabled, scope, type Tensor } from '../tensor/tensor.js';
import { Generator } from '../tensor/random.js';
import { bceWithLogits, crossEntropy, mse, reshape, slice } from '../tensor/ops/index.js';
import { Module } from '../nn/module.js';
import { MedtuneError } from '../common/errors.js';
import { AttentionPooling, documentSettingsOf, LabelAttention, type DocumentSettings } from './pooling.js';

export type ProblemType = 'single_label_classification' | 'multi_label_classification' | 'regression';

export interface ClassifierOutput {
  logits: Tensor;
  loss?: Tensor;
  hidden_states?: Tensor[];
}

export interface ClassifierLossOptions {
  /** class weights [num_labels] for single-label cross-entropy */
  classWeights?: Tensor | null;
  labelSmoothing?: number;
  /** per-label positive weights for multi-label BCE */
  posWeight?: Tensor | null;
}

/**
 * HF's rule: config.problem_type if set; else regression for 1 label, single-label for int labels, multi-label
 * otherwise.
 */
export function problemTypeOf(
  config: { problem_type?: ProblemType | null },
  numLabels: number,
  labels?: Tensor,
): ProblemType {
  if (config.problem_type) return config.problem_type;
  if (numLabels === 1) return 'regression';
  return !labels || labels.dtype === 'int32' ? 'single_label_classification' : 'multi_label_classification';
}

/** The loss HF's *ForSequenceClassification computes for a problem type. */
export function classificationLoss(
  logits: Tensor,
  labels: Tensor,
  problemType: ProblemType,
  opts: ClassifierLossOptions = {},
): Tensor {
  switch (problemType) {
    case 'regression':
      return mse(reshape(logits, [logits.size]), labels);
    case 'single_label_classification':
      if (labels.dtype !== 'int32')
        throw new MedtuneError(
          `single-label classification needs int32 class ids as labels, got ${labels.describe()}`,
          'E_USAGE',
        );
      return crossEntropy(logits, labels, {
        weights: opts.classWeights ?? null,
        labelSmoothing: opts.labelSmoothing ?? 0,
      });
    case 'multi_label_classification':
      if (labels.dtype !== 'float32')
        throw new MedtuneError(
          `multi-label classification needs float32 0/1 labels [batch, num_labels], got ${labels.describe()}`,
          'E_USAGE',
        );
      return bceWithLogits(logits, labels, { posWeight: opts.posWeight ?? null });
  }
}

/** A model with a head (the class a family's table entry names): its config, and the generator of its dropout. */
export abstract class HeadModel<C> extends Module {
  /** drives dropout; its state is part of a training checkpoint */
  readonly generator: Generator;
  constructor(
    readonly config: C,
    seed: number,
  ) {
    super();
    this.generator = new Generator(seed);
  }
}

type ClassifierConfig = { num_labels?: number; problem_type?: ProblemType | null; medtune?: unknown };

/** What an encoder reads: token ids, and optionally padding, segments and word embeddings. */
export interface EncoderInputs {
  /** int32 [B, T] */
  input_ids: Tensor;
  /** 0/1 [B, T]; all ones when omitted */
  attention_mask?: Tensor | null;
  /** int32 [B, T]; zeros when omitted */
  token_type_ids?: Tensor | null;
  /**
   * word embeddings [B, T, hidden] to use instead of word_embeddings(input_ids) (input_ids still give the shape and
   * positions): the input of integrated gradients (src/infer/explain.ts)
   */
  inputs_embeds?: Tensor | null;
}

/** A batch of texts (or windows of documents) through the encoder: what the output layer reads, hidden states. */
export interface WindowEncoding {
  /** per text: the vector the output layer reads [B, F] (pooler output, or the head's dense layer) */
  vectors: Tensor;
  /** every hidden state (input first) when asked, else the last one only */
  states: Tensor[];
}

/**
 * A *ForSequenceClassification: one logit per label, the loss by problem type as in HF. Split in two so that the
 * windows of a long document can be pooled in between (models/document.ts): `encodeWindows` (encoder and the head's
 * layers up to the output layer) and `classify` (dropout and the output layer); a model reading documents also has
 * its attention pooling or label-wise attention (models/pooling.ts), as its config's `medtune.document` says.
 */
export abstract class SequenceClassifierHead<C extends ClassifierConfig> extends HeadModel<C> {
  readonly numLabels: number;
  /** how documents longer than a window are read (null: they are cut at the window) */
  readonly document: DocumentSettings | null;
  declare pooling?: AttentionPooling;
  declare label_attention?: LabelAttention;
  constructor(config: C, seed: number) {
    super(config, seed);
    this.numLabels = config.num_labels ?? 2;
    this.document = documentSettingsOf(config);
  }
  problemType(labels?: Tensor): ProblemType {
    return problemTypeOf(this.config, this.numLabels, labels);
  }
  /** The encoder and the head up to its output layer, for a batch of texts or windows. */
  abstract encodeWindows(inputs: EncoderInputs, o?: { outputHiddenStates?: boolean }): WindowEncoding;
  /** Dropout and the output layer: vectors [N, F] -> logits [N, C]. */
  abstract classify(vectors: Tensor): Tensor;
  /** The document parts the config asks for (attention pooling or label-wise attention); each family calls it last. */
  protected addDocumentParts(features: number, std: number): void {
    const d = this.document;
    if (d?.head === 'label-attention')
      this.label_attention = new LabelAttention(features, this.numLabels, this.generator, std);
    else if (d?.pooling === 'attention') this.pooling = new AttentionPooling(features, this.generator, std);
  }
  /** Logits of a batch of texts (hidden states when asked, the loss when labelled). */
  forward(
    inputs: EncoderInputs & { labels?: Tensor | null },
    opts: ClassifierLossOptions & { outputHiddenStates?: boolean } = {},
  ): ClassifierOutput {
    const w = this.encodeWindows(inputs, opts);
    const logits = this.label_attention
      ? this.label_attention.forward(w.states[w.states.length - 1]!, inputs.attention_mask ?? null)
      : this.classify(w.vectors);
    return this.output(logits, opts.outputHiddenStates ? w.states : undefined, inputs.labels, opts);
  }
  /** The output from the logits: hidden states when asked, the loss when labelled. */
  protected output(
    logits: Tensor,
    hiddenStates: Tensor[] | undefined,
    labels: Tensor | null | undefined,
    opts: ClassifierLossOptions,
  ): ClassifierOutput {
    return classifierOutput(logits, hiddenStates, labels, this.problemType(labels ?? undefined), opts);
  }
}

/** The first token's hidden state ([CLS] / <s>) of h: [B, T, C] -> [B, C]. */
export function firstToken(h: Tensor): Tensor {
  const [B, , C] = h.shape as [number, number, number];
  return reshape(slice(h, 1, 0, 1), [B, C]);
}

/** The output every *ForSequenceClassification returns: logits, hidden states when asked, loss when labelled. */
export function classifierOutput(
  logits: Tensor,
  hiddenStates: Tensor[] | undefined,
  labels: Tensor | null | undefined,
  problemType: ProblemType,
  opts: ClassifierLossOptions,
): ClassifierOutput {
  const res: ClassifierOutput = { logits, ...(hiddenStates ? { hidden_states: hiddenStates } : {}) };
  if (labels) res.loss = classificationLoss(logits, labels, problemType, opts);
  return res;
}

/** Probabilities from one row of logits: sigmoid per label (multi-label) or softmax over classes. */
export function probabilitiesOf(row: number[], multiLabel: boolean): number[] {
  if (multiLabel) return row.map((x) => 1 / (1 + Math.exp(-x)));
  const mx = Math.max(...row);
  const e = row.map((x) => Math.exp(x - mx));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((x) => x / s);
}

/**
 * Runs a stack of encoder layers, returning every hidden state (input first) when `all`, else the last. Without
 * autograd (inference), each layer runs in its own scope, so its intermediates are released as soon as it is done:
 * a forward then holds one layer's activations instead of all of them (mini-biobert, 3,840 tokens: ~390 → ~110 MB).
 */
export function runLayers(
  layers: { forward(h: Tensor, mask: Tensor | null): Tensor }[],
  x: Tensor,
  mask: Tensor | null,
  all: boolean,
): Tensor[] {
  const states = [x];
  let h = x;
  const inference = !isGradEnabled();
  for (const l of layers) {
    const input = h;
    h = inference ? scope(() => l.forward(input, mask)) : l.forward(input, mask);
    if (all) states.push(h);
  }
  return all ? states : [h];
}
