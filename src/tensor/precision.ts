/**
 * Compute precision of matrix products, like torch.autocast("cpu", dtype=torch.bfloat16): with 'bf16', every GEMM
 * (linear layers, matmul, attention's QKᵀ and P·V, and their backward products) rounds its operands to bfloat16 and
 * accumulates in fp32, on AVX512-BF16 (vdpbf16ps). Everything else stays fp32: weights (the master copy), optimizer
 * state, gradients, layer norm, softmax, GELU, losses. The precision an op ran its forward with is also used for
 * its backward.
 *
 * Default: MEDTUNE_PRECISION (fp32 | bf16), else fp32. bf16 is refused (never emulated) where it would not be
 * faster: the js backend, and CPUs without AVX512-BF16.
 */
import { MedtuneError } from '../common/errors.js';
import { backendName, gemmInfo } from './backend.js';

export type Precision = 'fp32' | 'bf16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];

let current: Precision | null = null;

/** Why bf16 cannot run here, or null when it can. */
export function bf16Unavailable(): string | null {
  if (backendName() !== 'native') return 'bf16 needs the native backend (the js backend would only emulate it, slowly)';
  const g = gemmInfo();
  if (!g?.bf16Isa) return `this CPU has no AVX512-BF16 (flags: ${g?.cpu ?? 'unknown'}); emulating it would be slower`;
  return null;
}

/** Validates a precision name; `source` names where it came from (an option or MEDTUNE_PRECISION) in the error. */
export function parsePrecision(value: string, source = '--precision'): Precision {
  if (!(PRECISIONS as readonly string[]).includes(value)) {
    const code = source.startsWith('MEDTUNE_') ? 'E_ENV' : 'E_USAGE';
    throw new MedtuneError(`${source} must be fp32 or bf16, got "${value}"`, code);
  }
  const p = value as Precision;
  if (p === 'bf16') {
    const why = bf16Unavailable();
    if (why) throw new MedtuneError(`${source} bf16: ${why}. Use fp32 here.`, 'E_PRECISION_UNSUPPORTED');
  }
  return p;
}

/** The active precision (MEDTUNE_PRECISION on first use, default fp32). */
export function precision(): Precision {
  if (current === null) current = parsePrecision(process.env.MEDTUNE_PRECISION || 'fp32', 'MEDTUNE_PRECISION');
  return current;
}

/** Sets the precision for every op that runs after it (throws E_PRECISION_UNSUPPORTED where bf16 cannot run). */
export function setPrecision(p: Precision | string, source = 'precision'): void {
  current = parsePrecision(p, source);
}

/** Runs fn with precision p, then restores the previous one. */
export function withPrecision<T>(p: Precision, fn: () => T): T {
  const prev = precision();
  setPrecision(p);
  try {
    return fn();
  } finally {
    current = prev;
  }
}

/** A commander option parser for `--precision fp32|bf16`: validates and sets the precision (CLI commands). */
export function precisionOption(value: string): Precision {
  setPrecision(value, '--precision');
  return value as Precision;
}

/** True when GEMMs should run in bf16 now (what ops pass to the kernels). */
export function bf16Active(): boolean {
  return precision() === 'bf16';
}
