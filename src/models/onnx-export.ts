/**
 * `medtune export MODEL_DIR --format onnx --output DIR`: a sequence classifier as an ONNX graph (opset 17: its
 * LayerNormalization) with dynamic batch and sequence axes, for ONNX Runtime, Triton and other ONNX servers.
 * Beside model.onnx: config.json (the label map id2label / label2id and medtune's calibration), label_map.json and
 * the tokenizer files. Inputs: input_ids, attention_mask (and token_type_ids for BERT), int64 [batch, sequence];
 * output: logits, float [batch, num_labels] — the logits medtune computes (calibration, thresholds and abstention
 * are applied by the caller from config.json's medtune object, as medtune's Predictor does).
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { writeDirAtomic, writeFileAtomic } from '../common/atomic.js';
import { GraphBuilder, ONNX_FLOAT, ONNX_INT64 } from '../io/onnx.js';
import type { Linear, LayerNorm } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Activation } from '../tensor/kernels.js';
import { loadClassifier, readModelConfig, TOKENIZER_FILES } from './auto.js';
import { activationOf, BertForSequenceClassification } from './bert.js';
import { RobertaForSequenceClassification } from './roberta.js';
import { DistilBertForSequenceClassification } from './distilbert.js';
import type { SequenceClassifier } from './families.js';

export const ONNX_OPSET = 17;
const MIN_FLOAT = -3.4028234663852886e38;

/** One transformer block: attention projections, output, the two layer norms and the FFN. */
interface Block {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  ln1: LayerNorm;
  f1: Linear;
  f2: Linear;
  ln2: LayerNorm;
}

/** Graph helpers over one model's tensors. */
class Exporter {
  readonly g = new GraphBuilder();
  private n = 0;
  constructor(
    private heads: number,
    private act: Activation,
  ) {}

  weight(t: Tensor, dims = t.shape): string {
    return this.g.init(`w${this.n++}`, dims, Float32Array.from(t.f32));
  }
  /** x·Wᵀ + b: the weight stored transposed [in, out] for MatMul */
  linear(x: string, l: Linear): string {
    const [nOut, nIn] = l.weight.shape as [number, number];
    const wt = new Float32Array(nIn * nOut);
    for (let o = 0; o < nOut; o++) for (let i = 0; i < nIn; i++) wt[i * nOut + o] = l.weight.f32[o * nIn + i]!;
    const y = this.g.op('MatMul', [x, this.g.init(`w${this.n++}`, [nIn, nOut], wt)]);
    return l.bias ? this.g.op('Add', [y, this.weight(l.bias)]) : y;
  }
  layerNorm(x: string, ln: LayerNorm): string {
    return this.g.op('LayerNormalization', [x, this.weight(ln.weight), this.weight(ln.bias)], {
      axis: -1,
      epsilon: { float: ln.eps },
    });
  }
  activation(x: string, act: Activation): string {
    const g = this.g;
    switch (act) {
      case 'gelu': // 0.5·x·(1 + erf(x/√2))
        return g.op('Mul', [
          g.op('Mul', [x, g.float(0.5)]),
          g.op('Add', [g.float(1), g.op('Erf', [g.op('Div', [x, g.float(Math.SQRT2)])])]),
        ]);
      case 'gelu_tanh': {
        const x3 = g.op('Mul', [g.op('Mul', [x, x]), x]);
        const inner = g.op('Mul', [
          g.float(Math.sqrt(2 / Math.PI)),
          g.op('Add', [x, g.op('Mul', [x3, g.float(0.044715)])]),
        ]);
        return g.op('Mul', [g.op('Mul', [x, g.float(0.5)]), g.op('Add', [g.float(1), g.op('Tanh', [inner])])]);
      }
      case 'relu':
        return g.op('Relu', [x]);
      case 'tanh':
        return g.op('Tanh', [x]);
      default:
        return x;
    }
  }
  /** attention_mask [B, T] -> additive [B, 1, 1, T] (0 keep, float32 min drop), as medtune and HF compute it */
  extendedMask(mask: string): string {
    const g = this.g;
    const m = g.op('Cast', [mask], { to: ONNX_FLOAT });
    return g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [g.float(1), m]), g.float(MIN_FLOAT)]), g.ints([1, 2])]);
  }
  /** the (tied) position table rows 0..T-1 */
  positions(table: Tensor, ids: string): string {
    const T = this.g.op('Shape', [ids], { start: 1, end: 2 });
    return this.g.op('Slice', [this.weight(table), this.g.ints([0]), T, this.g.ints([0])]);
  }
  block(x: string, mask: string, b: Block): string {
    const g = this.g;
    const C = b.q.weight.shape[0]!;
    const D = C / this.heads;
    const split = (t: string, perm: number[]) =>
      g.op('Transpose', [g.op('Reshape', [t, g.ints([0, 0, this.heads, D])])], { perm });
    const q = split(this.linear(x, b.q), [0, 2, 1, 3]);
    const k = split(this.linear(x, b.k), [0, 2, 3, 1]);
    const v = split(this.linear(x, b.v), [0, 2, 1, 3]);
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, k]), g.float(1 / Math.sqrt(D))]), mask]);
    const ctx = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
    const merged = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.ints([0, 0, C])]);
    const a = this.layerNorm(g.op('Add', [this.linear(merged, b.o), x]), b.ln1);
    const f = this.linear(this.activation(this.linear(a, b.f1), this.act), b.f2);
    return this.layerNorm(g.op('Add', [f, a]), b.ln2);
  }
  firstToken(h: string): string {
    return this.g.op('Gather', [h, this.g.ints(0)], { axis: 1 });
  }
}

type Built = { ex: Exporter; logits: string; inputs: string[] };

function bertGraph(m: BertForSequenceClassification): Built {
  const c = m.bert.config;
  const ex = new Exporter(c.num_attention_heads, activationOf(c.hidden_act));
  const g = ex.g;
  const e = m.bert.embeddings;
  const words = g.op('Gather', [ex.weight(e.word_embeddings.weight), 'input_ids']);
  const types = g.op('Gather', [ex.weight(e.token_type_embeddings.weight), 'token_type_ids']);
  const sum = g.op('Add', [g.op('Add', [words, types]), ex.positions(e.position_embeddings.weight, 'input_ids')]);
  let h = ex.layerNorm(sum, e.LayerNorm);
  const mask = ex.extendedMask('attention_mask');
  for (const l of m.bert.encoder.layer) {
    const a = l.attention;
    h = ex.block(h, mask, {
      ...{ q: a.self.query, k: a.self.key, v: a.self.value, o: a.output.dense, ln1: a.output.LayerNorm },
      ...{ f1: l.intermediate.dense, f2: l.output.dense, ln2: l.output.LayerNorm },
    });
  }
  const pooled = g.op('Tanh', [ex.linear(ex.firstToken(h), m.bert.pooler!.dense)]);
  return { ex, logits: ex.linear(pooled, m.classifier), inputs: ['input_ids', 'attention_mask', 'token_type_ids'] };
}

function robertaGraph(m: RobertaForSequenceClassification): Built {
  const c = m.roberta.config;
  const ex = new Exporter(c.num_attention_heads, activationOf(c.hidden_act));
  const g = ex.g;
  const e = m.roberta.embeddings;
  // position ids as HF computes them: cumsum(ids != pad) · (ids != pad) + pad
  const real = g.op('Cast', [g.op('Not', [g.op('Equal', ['input_ids', g.ints(c.pad_token_id)])])], { to: ONNX_INT64 });
  const pos = g.op('Add', [g.op('Mul', [g.op('CumSum', [real, g.ints(1)]), real]), g.ints(c.pad_token_id)]);
  const types = e.token_type_embeddings.weight;
  const type0 = g.init('token_type_0', [types.shape[1]!], Float32Array.from(types.f32.subarray(0, types.shape[1]!)));
  const words = g.op('Gather', [ex.weight(e.word_embeddings.weight), 'input_ids']);
  const sum = g.op('Add', [
    g.op('Add', [words, type0]),
    g.op('Gather', [ex.weight(e.position_embeddings.weight), pos]),
  ]);
  let h = ex.layerNorm(sum, e.LayerNorm);
  const mask = ex.extendedMask('attention_mask');
  for (const l of m.roberta.encoder.layer) {
    const a = l.attention;
    h = ex.block(h, mask, {
      ...{ q: a.self.query, k: a.self.key, v: a.self.value, o: a.output.dense, ln1: a.output.LayerNorm },
      ...{ f1: l.intermediate.dense, f2: l.output.dense, ln2: l.output.LayerNorm },
    });
  }
  const dense = g.op('Tanh', [ex.linear(ex.firstToken(h), m.classifier.dense)]);
  return { ex, logits: ex.linear(dense, m.classifier.out_proj), inputs: ['input_ids', 'attention_mask'] };
}

function distilbertGraph(m: DistilBertForSequenceClassification): Built {
  const c = m.distilbert.config;
  const ex = new Exporter(c.n_heads, activationOf(c.activation));
  const g = ex.g;
  const e = m.distilbert.embeddings;
  const words = g.op('Gather', [ex.weight(e.word_embeddings.weight), 'input_ids']);
  let h = ex.layerNorm(g.op('Add', [words, ex.positions(e.position_embeddings.weight, 'input_ids')]), e.LayerNorm);
  const mask = ex.extendedMask('attention_mask');
  for (const l of m.distilbert.transformer.layer) {
    const a = l.attention;
    h = ex.block(h, mask, {
      ...{ q: a.q_lin, k: a.k_lin, v: a.v_lin, o: a.out_lin, ln1: l.sa_layer_norm },
      ...{ f1: l.ffn.lin1, f2: l.ffn.lin2, ln2: l.output_layer_norm },
    });
  }
  const pooled = g.op('Relu', [ex.linear(ex.firstToken(h), m.pre_classifier)]);
  return { ex, logits: ex.linear(pooled, m.classifier), inputs: ['input_ids', 'attention_mask'] };
}

/** The ONNX bytes of a sequence classifier; E_MODEL_UNSUPPORTED for a model this exporter does not know. */
export function onnxModel(model: SequenceClassifier, version = '0'): Uint8Array {
  let b: Built;
  if (model instanceof BertForSequenceClassification) b = bertGraph(model);
  else if (model instanceof RobertaForSequenceClassification) b = robertaGraph(model);
  else if (model instanceof DistilBertForSequenceClassification) b = distilbertGraph(model);
  else {
    const what = (model as object).constructor.name;
    const msg = `ONNX export supports BERT, RoBERTa and DistilBERT sequence classifiers, not ${what}`;
    throw new MedtuneError(msg, 'E_MODEL_UNSUPPORTED');
  }
  const g = b.ex.g;
  for (const name of b.inputs) g.inputs.push({ name, elemType: ONNX_INT64, dims: ['batch', 'sequence'] });
  g.op('Identity', [b.logits], {}, 'logits');
  g.outputs.push({ name: 'logits', elemType: ONNX_FLOAT, dims: ['batch', model.numLabels] });
  return g.serialize({ name: 'medtune', opset: ONNX_OPSET, producer: 'medtune', version });
}

export interface ExportOptions {
  format: string;
  output: string;
  log?: (line: string) => void;
}

/** Writes model.onnx, config.json, label_map.json and the tokenizer files of a classifier folder into `o.output`. */
export async function exportModel(modelDir: string, o: ExportOptions): Promise<{ file: string }> {
  if (o.format !== 'onnx') throw new MedtuneError(`--format must be onnx, got "${o.format}"`, 'E_USAGE');
  const log = o.log ?? ((l: string) => console.log(l));
  const folder = await readModelConfig(modelDir);
  const arch = folder.config.architectures?.[0];
  if (arch && !/ForSequenceClassification$/.test(arch))
    throw new MedtuneError(
      `${modelDir} is a ${arch}; ONNX export supports sequence classifiers (BERT, RoBERTa, DistilBERT)`,
      'E_MODEL_UNSUPPORTED',
    );
  const loaded = await loadClassifier(folder, { log: () => {}, inference: true });
  const bytes = onnxModel(loaded.model, String((loaded.config.medtune as { version?: string })?.version ?? '0'));
  mkdirSync(path.dirname(path.resolve(o.output)), { recursive: true });
  writeDirAtomic(o.output, (tmp) => {
    writeFileAtomic(path.join(tmp, 'model.onnx'), bytes);
    writeFileAtomic(path.join(tmp, 'config.json'), JSON.stringify(loaded.config, null, 2) + '\n');
    const id2label = Object.fromEntries(loaded.labels.map((l, i) => [String(i), l]));
    writeFileAtomic(path.join(tmp, 'label_map.json'), JSON.stringify({ id2label }, null, 2) + '\n');
    for (const f of TOKENIZER_FILES)
      if (existsSync(path.join(folder.dir, f))) copyFileSync(path.join(folder.dir, f), path.join(tmp, f));
  });
  loaded.model.dispose();
  const file = path.join(o.output, 'model.onnx');
  const inputs = loaded.model instanceof BertForSequenceClassification ? ', token_type_ids' : '';
  log(`ONNX model: ${file} (opset ${ONNX_OPSET}; inputs input_ids, attention_mask${inputs}; output logits)`);
  return { file };
}
