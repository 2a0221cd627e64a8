/**
 * Backend selection. `js` is the pure-TypeScript reference; `native` is the C++ addon (BLAS + threaded kernels).
 * Default: native when the addon loads, else js with a one-line warning. Override with MEDTUNE_BACKEND=js|native
 * or setBackend(). Thread count: MEDTUNE_THREADS or setThreads(); default = the number of CPU cores.
 */
import os from 'node:os';
import { MedtuneError } from '../common/errors.js';
import type { Kernels } from './kernels.js';
import { jsKernels } from './backends/js/index.js';
import { loadNativeKernels, nativeLoadError } from './backends/native/index.js';

export type BackendName = 'js' | 'native';

let current: Kernels | null = null;
let warned = false;

function defaultThreads(): number {
  const env = process.env.MEDTUNE_THREADS;
  if (env) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new MedtuneError(`MEDTUNE_THREADS must be a positive integer, got "${env}"`, 'E_ENV');
    return n;
  }
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

function resolve(name: BackendName | undefined): Kernels {
  if (name === 'js') return jsKernels;
  const native = loadNativeKernels();
  if (native) return native;
  if (name === 'native') {
    throw new MedtuneError(`the native backend is not available: ${nativeLoadError()}. Install g++, make, python3 and libopenblas-dev, then run \`npm rebuild medtune\`; or use MEDTUNE_BACKEND=js`, 'E_NATIVE_UNAVAILABLE');
  }
  if (!warned && !process.env.MEDTUNE_QUIET_BACKEND) {
    warned = true;
    process.stderr.write(`medtune: native backend unavailable (${nativeLoadError()}); using the slow pure-TypeScript backend. Install g++ and libopenblas-dev, then \`npm rebuild medtune\`.\n`);
  }
  return jsKernels;
}

/** The active kernels (chosen on first use). */
export function kernels(): Kernels {
  if (!current) {
    const env = process.env.MEDTUNE_BACKEND;
    if (env && env !== 'js' && env !== 'native') throw new MedtuneError(`MEDTUNE_BACKEND must be "js" or "native", got "${env}"`, 'E_ENV');
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
  if (!Number.isInteger(n) || n < 1) throw new MedtuneError(`thread count must be a positive integer, got ${n}`, 'E_USAGE');
  kernels().setThreads(n);
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
