/**
 * The kernel interface: everything a backend must implement, on raw contiguous buffers (llm.c style).
 * One name per kernel; the js backend is the reference, the native backend implements the same names in C++.
 * Ops (src/tensor/ops) do shape checks and autograd and call these; models never call kernels directly.
 *
 * Each kernel's name, arguments and contract are written once, in the kernel table native/kernels.mjs;
 * scripts/gen-kernels.mjs generates KernelFunctions, the options types (a kernel with more than 8 arguments takes
 * one options object) and the op-code lists from it into kernels.gen.ts, and the addon's bindings at build time.
 *
 * Conventions: row-major, contiguous; `out` buffers are fully overwritten unless a kernel says it accumulates;
 * counts are element counts. Dropout masks come from a counter-based hash of (key, element index), so the mask is
 * the same on every backend and thread count, and backward recomputes it instead of storing it.
 */
import type { KernelFunctions } from './kernels.gen.js';

export type * from './kernels.gen.js';
export { ACTIVATIONS, BINARY_OPS, UNARY_OPS } from './kernels.gen.js';

export interface Kernels extends KernelFunctions {
  readonly name: 'js' | 'native';
}

/** Counter-based hash shared by every backend (must match native/common.h). */
export function dropoutHash(key: number, i: number): number {
  let h = (Math.imul(i, 0x9e3779b1) ^ key) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Element is kept when (hash >>> 8) < threshold (24-bit resolution). */
export function dropoutThreshold(p: number): number {
  return Math.round((1 - p) * 16777216);
}

const bfF = new Float32Array(1);
const bfU = new Uint32Array(bfF.buffer);

/**
 * x rounded to the nearest bfloat16 (ties to even), as AVX512-BF16's vcvtneps2bf16 does it: NaN stays NaN,
 * denormals become signed zero. Returned as the float32 with that value (must match native/bf16.h).
 */
export function bf16Round(x: number): number {
  bfF[0] = x;
  const u = bfU[0]!;
  if ((u & 0x7f800000) === 0) bfU[0] = u & 0x80000000;
  else if ((u & 0x7fffffff) > 0x7f800000) bfU[0] = (u | 0x00400000) & 0xffff0000;
  else bfU[0] = ((u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000) >>> 0;
  return bfF[0]!;
}
