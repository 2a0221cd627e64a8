/**
 * int8 reference: per-row symmetric quantization (weights per output channel at load, activations per row on
 * every call) and the int8 linear layer, in plain TypeScript, computing exactly what the native kernels compute
 * (native/int8.cc, native/gemm_int8_driver.h): the same float32 roundings, the same exact integer sums.
 */
import type { Activation, F32, I32, I8 } from '../../kernels.js';

/** Nearest integer, ties to even (C's nearbyint in the default rounding mode). */
export function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Rows of x [rows, cols] quantized symmetrically: scale[r] = max|row| / 127 (float32), q = roundEven(x · (127 /
 * max|row|)) clamped to [-127, 127] (a row of zeros: scale 0, q 0). NaN is ignored by the maximum.
 */
export function quantizeRows(x: F32, rows: number, cols: number, q: I8, scale: F32): void {
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let k = 0; k < cols; k++) {
      const a = Math.abs(x[r * cols + k]!);
      if (a > m) m = a;
    }
    const inv = m > 0 ? Math.fround(127 / m) : 0;
    scale[r] = Math.fround(m / 127);
    for (let k = 0; k < cols; k++) {
      const v = roundEven(Math.fround(x[r * cols + k]! * inv));
      q[r * cols + k] = v > 127 ? 127 : v < -127 ? -127 : Number.isNaN(v) ? -128 : v; // NaN: what cvttps2dq gives
    }
  }
}

/** Elements of the packed weights of an [nOut, nIn] layer (native/gemm_kernels.h: k quads of 32 channels). */
export function int8PackedSize(nOut: number, nIn: number): number {
  return Math.ceil(nOut / 32) * 32 * Math.ceil(nIn / 4);
}

/** The int8PackWeights kernel: q [nOut, nIn] -> packed k quads, comp[j] = 128 · Σ_k q[j, k]. */
export function int8PackWeights(q: I8, nOut: number, nIn: number, packed: I32, comp: I32): void {
  const kq = Math.ceil(nIn / 4);
  for (let nb = 0; nb < Math.ceil(nOut / 32); nb++) {
    for (let c = 0; c < 32; c++) {
      const j = nb * 32 + c;
      let sum = 0;
      for (let p = 0; p < kq; p++) {
        let lane = 0;
        for (let t = 0; t < 4; t++) {
          const k = 4 * p + t;
          const v = j < nOut && k < nIn ? q[j * nIn + k]! : 0;
          sum += v;
          lane |= (v & 0xff) << (8 * t);
        }
        packed[(nb * kq + p) * 32 + c] = lane;
      }
      if (j < nOut) comp[j] = 128 * sum;
    }
  }
}

/** The weight q[j, k] back from the packed layout. */
function packedWeight(packed: I32, nIn: number, j: number, k: number): number {
  const kq = Math.ceil(nIn / 4);
  const lane = packed[((j >> 5) * kq + (k >> 2)) * 32 + (j & 31)]!;
  return (lane << (24 - 8 * (k & 3))) >> 24;
}

export interface LinearInt8Reference {
  x: F32;
  packed: I32;
  comp: I32;
  wScale: F32;
  bias: F32 | null;
  h: F32;
  rows: number;
  nIn: number;
  nOut: number;
  act: Activation;
}

/** h = the int8 linear layer before its activation (the caller applies biasAct's activation). */
export function linearInt8Reference(o: LinearInt8Reference): void {
  const { x, packed, comp, wScale, bias, h, rows, nIn, nOut } = o;
  const q = new Int8Array(rows * nIn);
  const sa = new Float32Array(rows);
  quantizeRows(x, rows, nIn, q, sa);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < nOut; j++) {
      let s = 0;
      for (let k = 0; k < nIn; k++) s += (q[i * nIn + k]! + 128) * packedWeight(packed, nIn, j, k);
      const v = Math.fround(Math.fround(s - comp[j]!) * Math.fround(sa[i]! * wScale[j]!));
      h[i * nOut + j] = bias ? Math.fround(v + bias[j]!) : v;
    }
  }
}
