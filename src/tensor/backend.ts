/**
 * Backend selection. `js` is the pure-TypeScript reference; `native` is the C++ addon (own GEMM or BLAS + threaded
 * kernels). Default: native when the addon loads, else js with a one-line warning. Override with
 * MEDTUNE_BACKEND=js|native or setBackend(). Thread count: MEDTUNE_THREADS or setThreads(); default = the number
 * of CPU cores. GEMM: MEDTUNE_GEMM=auto|own|blas and MEDTUNE_ISA=avx512|avx2|portable (native only; default: own
 * on the best kernel this CPU runs, or BLAS where only the portable kernel runs and BLAS is built in), or
 * configureGemm().
 */
import os from 'node:os';
import { MedtuneError } from '../common/errors.js';
import type { Kernels } from './kernels.js';
import { jsKernels } from './backends/js/index.js';
import { loadNativeKernels, nativeGemmConfigure, nativeGemmInfo, nativeLoadError } from './backends/native/index.js';
import type { GemmInfo } from './backends/native/index.js';

export type BackendName = 'js' | 'native';

let current: Kernels | null = null;
let warned = false;
let gemmEnvApplied = false;
let bf16Chosen = false;

const FIX =
  'install a C++ compiler, make and python3 (Debian/Ubuntu: apt-get install -y g++ make python3), then run ' +
  '`npm rebuild medtune` (`npm run build:native` in a checkout)';

const cores = (): number =>
  typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;

/**
 * The most threads medtune starts: 8 per CPU core (more only wait for a core; far more cannot be started at all —
 * the thread limit of a container, a user or the kernel — and a failed thread start aborts the process).
 */
export function maxThreads(): number {
  return Math.max(8, 8 * cores());
}

/** A thread count above maxThreads() is capped, with one warning line. */
function capThreads(n: number, shown: string): number {
  const most = maxThreads();
  if (n <= most) return n;
  process.stderr.write(
    `medtune: warning: ${shown} is more threads than this machine can use ` + `(${cores()} CPU cores); using ${most}\n`,
  );
  return most;
}

function defaultThreads(): number {
  const env = process.env.MEDTUNE_THREADS;
  if (env) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1)
      throw new MedtuneError(`MEDTUNE_THREADS must be a positive integer, got "${env}"`, 'E_ENV');
    return capThreads(n, `MEDTUNE_THREADS=${n}`);
  }
  return cores();
}

function resolve(name: BackendName | undefined): Kernels {
  if (name === 'js') return jsKernels;
  const native = loadNativeKernels();
  if (native) {
    applyGemmEnv();
    return native;
  }
  if (name === 'native') {
    const msg = `MEDTUNE_BACKEND=native, but the native backend is not available: ${nativeLoadError()}`;
    throw new MedtuneError(`${msg}. To fix: ${FIX}; or use MEDTUNE_BACKEND=js`, 'E_NATIVE_UNAVAILABLE');
  }
  if (!warned && !process.env.MEDTUNE_QUIET_BACKEND) {
    warned = true;
    const msg = `native backend unavailable (${nativeLoadError()}); using the ~50x slower pure-TypeScript backend`;
    process.stderr.write(`medtune: ${msg}. To fix: ${FIX}.\n`);
  }
  return jsKernels;
}

/** MEDTUNE_GEMM / MEDTUNE_ISA, applied once when the native backend is first chosen. */
function applyGemmEnv(): void {
  if (gemmEnvApplied) return;
  gemmEnvApplied = true;
  const mode = process.env.MEDTUNE_GEMM ?? '';
  const isa = process.env.MEDTUNE_ISA ?? '';
  if (mode && !['auto', 'own', 'blas'].includes(mode)) {
    throw new MedtuneError(`MEDTUNE_GEMM must be auto, own or blas, got "${mode}"`, 'E_ENV');
  }
  if (isa && !['avx512', 'avx2', 'portable'].includes(isa)) {
    throw new MedtuneError(`MEDTUNE_ISA must be avx512, avx2 or portable, got "${isa}"`, 'E_ENV');
  }
  const err = nativeGemmConfigure(mode, isa, '');
  if (err) throw new MedtuneError(`MEDTUNE_GEMM=${mode || '(unset)'} MEDTUNE_ISA=${isa || '(unset)'}: ${err}`, 'E_ENV');
}

export type { GemmInfo };

/** Which GEMM the native backend runs (kernel family, BLAS, mode, CPU flags); null without the addon. */
export function gemmInfo(): GemmInfo | null {
  if (!loadNativeKernels()) return null;
  applyGemmEnv();
  return nativeGemmInfo();
}

/**
 * Chooses the native GEMM: mode auto|own|blas, isa (fp32 kernel) avx512|avx2|portable, bf16Isa
 * amx-bf16|avx512bf16|portable-bf16|amx-emu-bf16|none (portable-bf16 is the reference path for tests: bf16
 * storage, fp32 compute; amx-emu-* run the AMX kernels' code on the portable emulation of the tile instructions),
 * int8Isa amx-int8|avx512vnni|portable-int8|amx-emu-int8. Omitted fields stay as they are. A kernel disabled by
 * its self-check, or one this CPU cannot run, is refused with the reason.
 */
export function configureGemm(o: { mode?: string; isa?: string; bf16Isa?: string; int8Isa?: string }): void {
  if (!loadNativeKernels()) {
    throw new MedtuneError(`the native backend is not available: ${nativeLoadError()}`, 'E_NATIVE_UNAVAILABLE');
  }
  applyGemmEnv();
  const err = nativeGemmConfigure(o.mode ?? '', o.isa ?? '', o.bf16Isa ?? '', o.int8Isa ?? '');
  if (err) throw new MedtuneError(err, 'E_USAGE');
  if (o.bf16Isa) bf16Chosen = o.bf16Isa !== 'none';
}

/** True when a bf16 kernel was chosen with configureGemm: precision.ts then uses it without timing it first. */
export function bf16KernelChosen(): boolean {
  return bf16Chosen;
}

/** The active kernels (chosen on first use). */
export function kernels(): Kernels {
  if (!current) {
    const env = process.env.MEDTUNE_BACKEND;
    if (env && env !== 'js' && env !== 'native')
      throw new MedtuneError(`MEDTUNE_BACKEND must be "js" or "native", got "${env}"`, 'E_ENV');
    current = resolve(env as BackendName | undefined);
    current.setThreads(defaultThreads());
  }
  return current;
}

export function setBackend(name: BackendName): Kernels {
  const threads = current?.threads() ?? defaultThreads();
  current = resolve(name);
  current.setThreads(threads);
  return current;
}

export function backendName(): BackendName {
  return kernels().name;
}

export function nativeAvailable(): boolean {
  return loadNativeKernels() !== null;
}

export function setThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1)
    throw new MedtuneError(`thread count must be a positive integer, got ${n}`, 'E_USAGE');
  kernels().setThreads(capThreads(n, `--threads ${n}`));
}

export function getThreads(): number {
  return kernels().threads();
}

/** Replaces the active kernels (the profiler wraps them this way). Returns the previous ones. */
export function swapKernels(k: Kernels): Kernels {
  const prev = kernels();
  current = k;
  return prev;
}

/** Runs fn with another backend active, then restores the previous one (tests compare backends this way). */
export function withBackend<T>(name: BackendName, fn: () => T): T {
  const prev = kernels();
  setBackend(name);
  try {
    return fn();
  } finally {
    current = prev;
  }
}
