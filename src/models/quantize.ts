/**
 * int8 models: which layers run in int8, quantizing a model in memory (at load with `--precision int8`), and the
 * quantized model folder `medtune quantize` writes and `loadModel` reads.
 *
 * The linear layers of the transformer blocks (query, key, value, attention output, both FFN layers: > 99 % of an
 * encoder's multiply-adds) get per-channel symmetric int8 weights; embeddings, layer norms, softmax, attention's
 * per-head products, the pooler and the classifier head stay fp32 (the head and pooler see one row per text: they
 * cost nothing and keep the logits' last step exact).
 *
 * A quantized folder stores, for each such layer, `<layer>.weight` as I8 [out, in] and `<layer>.weight_scale` as
 * F32 [out] (weight ≈ q · scale per output channel, PyTorch's per-channel scheme), every other tensor as before, and
 * `medtune.quantization` in config.json. Loaded in fp32 it runs the dequantized weights; loaded with int8 it runs
 * the stored int8 values as they are (no second rounding).
 */
import { MedtuneError } from '../common/errors.js';
import type { SafetensorsEntry } from '../io/safetensors.js';
import { Linear, type Module } from '../nn/module.js';
import { dequantize, packQuantized, quantizeWeight } from '../tensor/quantize.js';

/** What config.json's medtune.quantization records. */
export interface QuantizationRecord {
  method: 'int8';
  weights: string;
  activations: string;
  layers: number;
  /** sha256 identity of the fp32 model it was made from */
  source_sha256?: string;
}

export const QUANTIZATION: Omit<QuantizationRecord, 'layers'> = {
  method: 'int8',
  weights: 'per-channel symmetric int8 (weight = q · weight_scale[out])',
  activations: 'per-row symmetric int8, computed at run time',
};

/** int8 values and scales of one layer, as a quantized folder stores them. */
export interface StoredInt8 {
  q: Int8Array;
  scale: Float32Array;
}

/** The linear layers int8 inference quantizes: those inside the transformer blocks (`….layer.N.…`). */
export function int8Layers(model: Module): [string, Linear][] {
  return model
    .namedModules()
    .filter((e): e is [string, Linear] => e[1] instanceof Linear && /(^|\.)layer\.\d+\./.test(e[0]));
}

/**
 * Switches the model's transformer-block linear layers to int8: the stored values of a quantized folder where
 * given (by layer path), else each fp32 weight quantized now. Returns the number of layers.
 */
export function quantizeModel(model: Module, stored: Map<string, StoredInt8> = new Map()): number {
  const layers = int8Layers(model);
  for (const [name, l] of layers) {
    const s = stored.get(name);
    const [nOut, nIn] = l.weight.shape as [number, number];
    l.int8 = s ? packQuantized(s.q, s.scale, nOut, nIn) : quantizeWeight(l.weight);
  }
  return layers.length;
}

/** True when some layer of the model runs int8. */
export function isQuantized(model: Module): boolean {
  return int8Layers(model).some(([, l]) => l.int8 !== null);
}

const SCALE = '.weight_scale';

/**
 * Takes the int8 layers out of a quantized checkpoint: each `<layer>.weight` with a `<layer>.weight_scale` is
 * replaced by its dequantized fp32 values (so the model loads as usual) and returned as int8 values by layer.
 */
export function takeQuantized(tensors: Map<string, SafetensorsEntry>, file: string): Map<string, StoredInt8> {
  const out = new Map<string, StoredInt8>();
  for (const [key, s] of [...tensors]) {
    if (!key.endsWith(SCALE)) continue;
    const layer = key.slice(0, -SCALE.length);
    const w = tensors.get(`${layer}.weight`);
    if (!w || w.dtype !== 'I8' || w.shape.length !== 2 || s.shape.length !== 1 || s.shape[0] !== w.shape[0])
      throw new MedtuneError(`${file}: ${key} needs an I8 ${layer}.weight [${s.shape[0]}, in]`, 'E_MODEL_WEIGHTS');
    const q = Int8Array.from(w.data);
    const scale = Float32Array.from(s.data);
    const data = new Float32Array(q.length);
    dequantize({ q, scale, nIn: w.shape[1]! }, data);
    tensors.set(`${layer}.weight`, { dtype: 'F32', shape: w.shape, data });
    tensors.delete(key);
    out.set(layer, { q, scale });
  }
  return out;
}

/** The tensors of a quantized folder: int8 layers as I8 weight + F32 weight_scale, everything else as it is. */
export type StateDict = [string, { shape: readonly number[]; data: Float32Array | Int32Array | Int8Array }][];

export function quantizedStateDict(model: Module): StateDict {
  const int8 = new Map(int8Layers(model).map(([name, l]) => [`${name}.weight`, l]));
  return model.namedParameters().flatMap(([k, t]): StateDict => {
    const l = int8.get(k);
    if (!l) return [[k, { shape: t.shape, data: t.f32 }]];
    const qw = l.int8 ?? quantizeWeight(l.weight);
    return [
      [k, { shape: t.shape, data: qw.q }],
      [`${k.slice(0, -'.weight'.length)}${SCALE}`, { shape: [qw.nOut], data: qw.scale }],
    ];
  });
}
