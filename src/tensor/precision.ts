/**
 * Compute precision of matrix products.
 *
 * 'bf16' works like torch.autocast("cpu", dtype=torch.bfloat16): every GEMM (linear layers, matmul, attention's QKᵀ
 * and P·V, and their backward products) rounds its operands to bfloat16 and accumulates in fp32, on AMX tiles
 * (tdpbf16ps, where CPU and OS allow them) or AVX512-BF16 (vdpbf16ps). Everything else stays fp32: weights (the
 * master copy), optimizer state, gradients, layer norm, softmax, GELU, losses. The precision an op ran its forward
 * with is also used for its backward. bf16 is used only where it is faster than fp32 on this CPU: at first use the
 * two kernels are timed against each other (~40 ms, one thread, thread CPU time) and the result is cached per CPU
 * model and bf16 kernel; where bf16 is not at least 5 % faster, `bf16` runs fp32 and says so in one line (e.g.
 * Sapphire Rapids without AMX in use, where vdpbf16ps issues on one port and FMA on two).
 * MEDTUNE_BF16=always (or configureGemm({ bf16Isa })) skips the measurement and uses the bf16 kernel anyway.
 *
 * 'int8' is for inference: the linear layers of a model loaded with it run per-channel int8 weights and per-row
 * int8 activations with int32 sums (AMX tiles or VNNI where the CPU has them; models/quantize.ts); everything else,
 * and every model not loaded in int8, stays fp32. Training refuses it.
 *
 * Default: MEDTUNE_PRECISION (fp32 | bf16 | int8), else fp32. bf16 and int8 are refused (never emulated) on the js
 * backend, and bf16 on CPUs without AVX512-BF16 or AMX-BF16.
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { writeFileAtomic } from '../common/atomic.js';
import { backendName, bf16KernelChosen, gemmInfo } from './backend.js';
import { nativeBf16Speedup } from './backends/native/index.js';

export type Precision = 'fp32' | 'bf16' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16', 'int8'];
/** The precisions a training run takes (int8 is for inference). */
export const TRAINING_PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];
/** bf16 must be at least this much faster than fp32 to be used. */
export const BF16_MIN_SPEEDUP = 1.05;

const INFERENCE_COMMANDS = 'predict, evaluate, calibrate, explain, serve, bench infer';

let current: Precision | null = null;

/** Why bf16 cannot run here, or null when it can. */
export function bf16Unavailable(): string | null {
  if (backendName() !== 'native') return 'bf16 needs the native backend (the js backend would only emulate it, slowly)';
  const g = gemmInfo();
  if (!g?.bf16Isa)
    return `this CPU has no AVX512-BF16 or AMX-BF16 (flags: ${g?.cpu ?? 'unknown'}); emulating it would be slower`;
  return null;
}

/** Why int8 cannot run here, or null when it can. */
export function int8Unavailable(): string | null {
  if (backendName() !== 'native') return 'int8 needs the native backend (the js backend would only emulate it, slowly)';
  return null;
}

/** How the bf16 kernel compares with fp32 on this CPU, and where that came from. */
export interface Bf16Decision {
  /** bf16 kernel speed / fp32 kernel speed (0: not measured) */
  speedup: number;
  use: boolean;
  /** 'measured' now, 'cached' from an earlier process on this CPU model, or 'forced' (MEDTUNE_BF16=always) */
  source: 'measured' | 'cached' | 'forced';
}

let decision: Bf16Decision | null = null;

/** The per-user cache of CPU measurements (MEDTUNE_CACHE_DIR, else $XDG_CACHE_HOME/medtune or ~/.cache/medtune). */
export function cpuCacheFile(): string {
  const dir =
    process.env.MEDTUNE_CACHE_DIR ??
    path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'medtune');
  return path.join(dir, 'cpu-speed.json');
}

type SpeedCache = Record<string, { bf16_speedup: number; measured_at: string }>;

function readCache(file: string): SpeedCache {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as SpeedCache) : {};
  } catch {
    return {};
  }
}

/**
 * The key of this CPU's bf16 measurement in the cache: the CPU model, plus the bf16 kernel when it is not
 * avx512bf16 (the AMX kernel on a Sapphire Rapids is a different measurement from its avx512bf16 one).
 */
export function bf16CacheKey(): string {
  const g = gemmInfo();
  const model = g?.cpuModel ?? 'unknown';
  return g?.bf16Isa && g.bf16Isa !== 'avx512bf16' ? `${model}; bf16 kernel ${g.bf16Isa}` : model;
}

/** Whether bf16 is faster than fp32 on this CPU: cached per CPU model, else measured now (and cached). */
export function bf16Decision(): Bf16Decision {
  if (decision) return decision;
  const env = process.env.MEDTUNE_BF16 || 'auto';
  if (env !== 'auto' && env !== 'always')
    throw new MedtuneError(`MEDTUNE_BF16 must be auto or always, got "${env}"`, 'E_ENV');
  if (env === 'always' || bf16KernelChosen()) return (decision = { speedup: 0, use: true, source: 'forced' });
  const key = bf16CacheKey();
  const file = cpuCacheFile();
  const cache = readCache(file);
  const hit = cache[key];
  if (hit && hit.bf16_speedup > 0) {
    decision = { speedup: hit.bf16_speedup, use: hit.bf16_speedup >= BF16_MIN_SPEEDUP, source: 'cached' };
    return decision;
  }
  const speedup = Math.round(nativeBf16Speedup() * 100) / 100;
  decision = { speedup, use: speedup >= BF16_MIN_SPEEDUP, source: 'measured' };
  try {
    cache[key] = { bf16_speedup: speedup, measured_at: new Date().toISOString() };
    writeFileAtomic(file, JSON.stringify(cache, null, 2) + '\n');
  } catch {
    /* an unwritable cache only means measuring again next time */
  }
  return decision;
}

/** One line: which kernel a precision runs on this machine, and why. */
export function precisionKernel(p: Precision): string {
  const g = backendName() === 'native' ? gemmInfo() : null;
  if (!g) return p === 'fp32' ? 'js backend (TypeScript loops)' : `not available: ${bf16Unavailable()}`;
  if (p === 'fp32') return `${g.isa} kernel${g.mode === 'blas' ? ` (MEDTUNE_GEMM=blas: ${g.blas})` : ''}`;
  if (p === 'int8') {
    const why =
      g.int8Isa === 'amx-int8'
        ? 'tdpbusd, AMX-INT8 tiles'
        : g.int8Isa === 'avx512vnni'
          ? 'vpdpbusd, AVX512-VNNI'
          : 'this CPU has no AVX512-VNNI';
    return `${g.int8Isa} kernel (${why}); layer norm, softmax, attention and the classifier head in fp32`;
  }
  const no = bf16Unavailable();
  if (no) return `not available: ${no}`;
  const d = bf16Decision();
  if (d.source === 'forced') return `${g.bf16Isa} kernel (forced: MEDTUNE_BF16=always or configureGemm)`;
  const when = d.source === 'cached' ? 'measured earlier on this CPU model' : 'measured now';
  const how = `${when}, cached in ${cpuCacheFile()}`;
  return d.use
    ? `${g.bf16Isa} kernel: ${d.speedup}× fp32 on this CPU (${how})`
    : `fp32 (${g.isa}): the ${g.bf16Isa} kernel runs at ${d.speedup}× fp32 on this CPU (${how})`;
}

let notedFallback = false;

/** Validates a precision name; `source` names where it came from (an option or MEDTUNE_PRECISION) in the error. */
export function parsePrecision(value: string, source = '--precision', o: { training?: boolean } = {}): Precision {
  const code = source.startsWith('MEDTUNE_') ? 'E_ENV' : 'E_USAGE';
  if (!(PRECISIONS as readonly string[]).includes(value)) {
    throw new MedtuneError(
      `${source} must be ${o.training ? 'fp32 or bf16' : 'fp32, bf16 or int8'}, got "${value}"`,
      code,
    );
  }
  const p = value as Precision;
  if (p === 'int8' && o.training) {
    throw new MedtuneError(
      `${source} int8 is for inference (${INFERENCE_COMMANDS}): train in fp32 or bf16, then \`medtune quantize\``,
      code,
    );
  }
  const why = p === 'bf16' ? bf16Unavailable() : p === 'int8' ? int8Unavailable() : null;
  if (why) throw new MedtuneError(`${source} ${p}: ${why}. Use fp32 here.`, 'E_PRECISION_UNSUPPORTED');
  return p;
}

/** bf16 where it is faster here, else fp32 with one line on stderr (once per process). */
function effective(p: Precision, source: string): Precision {
  if (p !== 'bf16') return p;
  const d = bf16Decision();
  if (d.use) return p;
  if (!notedFallback && !process.env.MEDTUNE_QUIET_BACKEND) {
    notedFallback = true;
    process.stderr.write(`medtune: ${source} bf16: ${precisionKernel('bf16')}; running fp32\n`);
  }
  return 'fp32';
}

/** The active precision (MEDTUNE_PRECISION on first use, default fp32). */
export function precision(): Precision {
  if (current === null) {
    const src = 'MEDTUNE_PRECISION';
    current = effective(parsePrecision(process.env.MEDTUNE_PRECISION || 'fp32', src), src);
  }
  return current;
}

/**
 * Sets the precision for every op that runs after it (throws E_PRECISION_UNSUPPORTED where bf16 or int8 cannot
 * run; bf16 where it is not faster than fp32 runs fp32). `training` refuses int8.
 */
export function setPrecision(p: Precision | string, source = 'precision', o: { training?: boolean } = {}): void {
  current = effective(parsePrecision(p, source, o), source);
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

/** A commander option parser for `--precision`: validates and sets the precision (CLI commands). */
export function precisionOption(value: string): Precision {
  setPrecision(value, '--precision');
  return value as Precision;
}

/** The same for training commands: int8 refused. */
export function trainingPrecisionOption(value: string): Precision {
  setPrecision(value, '--precision', { training: true });
  return value as Precision;
}

/** True when GEMMs should run in bf16 now (what ops pass to the kernels). */
export function bf16Active(): boolean {
  return precision() === 'bf16';
}
