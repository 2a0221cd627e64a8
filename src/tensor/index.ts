/** The tensor engine's public surface. */
export {
  Tensor,
  empty,
  zeros,
  ones,
  full,
  tensor,
  scalar,
  parameter,
  scope,
  noGrad,
  isGradEnabled,
  record,
  releaseGraph,
} from './tensor.js';
export {
  kernels,
  setBackend,
  backendName,
  nativeAvailable,
  setThreads,
  getThreads,
  withBackend,
  type BackendName,
} from './backend.js';
export { gemmInfo, configureGemm, type GemmInfo } from './backend.js';
export { precision, setPrecision, withPrecision, bf16Unavailable, parsePrecision, PRECISIONS } from './precision.js';
export type { Precision } from './precision.js';
export { memoryStats, pool, type DType } from './storage.js';
export { Generator } from './random.js';
export { MedtuneError, ShapeError, DisposedError } from './errors.js';
export type { Kernels, Activation, UnaryOp, BinaryOp } from './kernels.js';
export * as ops from './ops/index.js';
