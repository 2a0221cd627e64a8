/**
 * int8 inference (like PyTorch's quantize_dynamic and ONNX Runtime's dynamic quantization): a linear layer's weight
 * quantized once per output channel (symmetric int8, scale max|row| / 127) and packed once into the layout the int8
 * kernels read (oneDNN's reorder-once), and its input quantized per row on every call; the products summed exactly
 * in int32 (vpdpbusd on AVX512-VNNI, the portable kernel elsewhere) and scaled back to fp32, with the bias and the
 * activation in the same pass.
 */
import { MedtuneError } from '../common/errors.js';
import { empty, record, Tensor } from './tensor.js';
import { kernels } from './backend.js';
import { ShapeError } from './errors.js';
import type { Activation } from './kernels.js';
import { int8PackedSize, quantizeRows } from './backends/js/int8.js';

export { int8PackedSize, quantizeRows };

/** A weight [nOut, nIn] in int8: the values per channel (what a quantized model folder stores) and their packing. */
export interface QuantizedWeight {
  nOut: number;
  nIn: number;
  /** q[j, k] in [-127, 127], row-major [nOut, nIn] */
  q: Int8Array;
  /** per output channel: weight ≈ q · scale */
  scale: Float32Array;
  /** q packed for the int8 kernels (k quads of 32 channels), and 128 · Σ_k q[j, k] */
  packed: Int32Array;
  comp: Int32Array;
}

/** Packs per-channel int8 values (from quantizeWeight or a quantized model folder) for the kernels. */
export function packQuantized(q: Int8Array, scale: Float32Array, nOut: number, nIn: number): QuantizedWeight {
  if (q.length !== nOut * nIn || scale.length !== nOut)
    throw new ShapeError(`packQuantized: ${q.length} values and ${scale.length} scales for [${nOut}, ${nIn}]`);
  const packed = new Int32Array(int8PackedSize(nOut, nIn));
  const comp = new Int32Array(nOut);
  kernels().int8PackWeights(q, nOut, nIn, packed, comp);
  return { nOut, nIn, q, scale, packed, comp };
}

/** A weight [nOut, nIn] quantized per output channel (symmetric) and packed. */
export function quantizeWeight(w: Tensor): QuantizedWeight {
  if (w.rank !== 2) throw new ShapeError(`quantizeWeight: weight must be [out, in], got ${w.describe()}`);
  const [nOut, nIn] = w.shape as [number, number];
  const q = new Int8Array(nOut * nIn);
  const scale = new Float32Array(nOut);
  quantizeRows(w.f32, nOut, nIn, q, scale);
  return packQuantized(q, scale, nOut, nIn);
}

/** The weight the int8 values stand for (q · scale per channel), into out [nOut, nIn]. */
export function dequantize(qw: Pick<QuantizedWeight, 'q' | 'scale' | 'nIn'>, out: Float32Array): void {
  const { q, scale, nIn } = qw;
  for (let i = 0; i < q.length; i++) out[i] = q[i]! * scale[Math.floor(i / nIn)]!;
}

/**
 * y = x·Wᵀ + b through the int8 kernels, then the activation: x [..., nIn] -> [..., nOut]. Inference: the only
 * gradient is x's (integrated gradients through an int8 model), computed with `weight`, the fp32 weight the int8
 * values stand for, as straight-through estimators do; the weight and bias get none.
 */
export function linearInt8(
  x: Tensor,
  qw: QuantizedWeight,
  weight: Tensor,
  bias: Tensor | null,
  activation: Activation = 'none',
): Tensor {
  const { nOut, nIn } = qw;
  if (x.shape[x.rank - 1] !== nIn)
    throw new ShapeError(`linearInt8: input ${x.describe()} has last dimension ${x.shape[x.rank - 1]}, not ${nIn}`);
  const rows = x.size / nIn;
  const outShape = [...x.shape.slice(0, -1), nOut];
  const h = empty(outShape);
  const out = activation === 'none' ? h : empty(outShape);
  const K_ = kernels();
  const b = bias ? bias.f32 : null;
  const { packed, comp, scale: wScale } = qw;
  K_.linearInt8({ x: x.f32, packed, comp, wScale, bias: b, h: h.f32, out: out.f32, rows, nIn, nOut, act: activation });
  const res = record(
    out,
    `linearInt8${activation === 'none' ? '' : `+${activation}`}`,
    [x],
    (g) => {
      let dh = g;
      if (activation !== 'none') {
        dh = empty(outShape);
        K_.actBackward(h.f32, g.f32, dh.f32, activation);
      }
      const dx = empty(x.shape);
      K_.gemm({ M: rows, N: nIn, K: nOut, A: dh.f32, lda: nOut, B: weight.f32, ldb: nIn, C: dx.f32, ldc: nIn });
      if (dh !== g) dh.dispose();
      return [dx];
    },
    activation === 'none' ? [] : [h],
  );
  if (h !== out) h.dispose();
  return res;
}

/** The error for an int8 layer in training mode. */
export function int8TrainingError(): MedtuneError {
  return new MedtuneError(
    'int8 layers are for inference: train the fp32 model (or --precision bf16), then quantize it',
    'E_USAGE',
  );
}
