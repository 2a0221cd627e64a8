/**
 * The native backend: loads build/Release/medtune_native.node (built from native/ at npm install) and exposes
 * its kernels under the Kernels interface through bindNative (generated from the kernel table native/kernels.mjs,
 * like the addon's own bindings, so the two agree on every argument and op code).
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernels } from '../../kernels.js';
import { bindNative } from '../../kernels.gen.js';
import type { NativeAddon } from '../../kernels.gen.js';

let loaded: Kernels | null | undefined;
let addon: NativeAddon | null = null;
let loadError = '';

/** What runs GEMMs in the native addon (see native/gemm.cc). */
export interface GemmInfo {
  /** CPU flags medtune looked for, as /proc/cpuinfo names them (e.g. "avx2 fma avx512f ... avx512_bf16") */
  cpu: string;
  /** the CPU model: brand string, family/model/stepping, flags (the key of per-CPU caches) */
  cpuModel: string;
  /** fp32 kernel family: avx512 | avx2 | portable */
  isa: string;
  /** bf16 kernel family ("amx-bf16", "avx512bf16"), or "" when this CPU has none */
  bf16Isa: string;
  /** int8 kernel family: amx-int8 | avx512vnni | portable-int8 */
  int8Isa: string;
  /** "" when AMX tiles are usable in this process (CPUID, XCR0, the Linux permission request), else why not */
  amx: string;
  /** kernels disabled by their self-check at first use ("name: why; …"; "" when none) */
  disabled: string;
  /** cache blocking of the fp32 (and bf16) kernels and the cache sizes it came from */
  blocking: string;
  /** BLAS linked at build time: openblas | accelerate | "" (none) */
  blas: string;
  /** auto (faster of own and BLAS per shape, measured once) | own | blas */
  mode: 'auto' | 'own' | 'blas';
}

export function nativeGemmInfo(): GemmInfo | null {
  return loadNativeKernels() && addon ? (addon.gemmInfo!() as GemmInfo) : null;
}

/** Changes the GEMM choice; returns "" or why it was refused (nothing changed then). Empty fields: no change. */
export function nativeGemmConfigure(mode: string, isa: string, bf16Isa: string, int8Isa = ''): string {
  if (!loadNativeKernels() || !addon) return `the native backend is not available: ${loadError}`;
  return addon.gemmConfigure!(mode, isa, bf16Isa, int8Isa) as string;
}

/** bf16 kernel speed / fp32 kernel speed on this CPU (one thread, thread CPU time, ~40 ms); 0 without bf16. */
export function nativeBf16Speedup(): number {
  return loadNativeKernels() && addon ? (addon.gemmBf16Speedup!() as number) : 0;
}

function packageRoot(): string {
  // dist/tensor/backends/native/index.js -> package root
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
}

export function nativeLoadError(): string {
  return loadError;
}

export function loadNativeKernels(): Kernels | null {
  if (loaded !== undefined) return loaded;
  const root = packageRoot();
  const file = process.env.MEDTUNE_NATIVE_ADDON ?? path.join(root, 'build', 'Release', 'medtune_native.node');
  if (!existsSync(file)) {
    const failed = path.join(root, 'build', 'native-build-failed.txt');
    loadError = existsSync(failed)
      ? `the build at install failed: ${readFileSync(failed, 'utf8').trim()}`
      : `${file} does not exist`;
    loaded = null;
    return null;
  }
  try {
    addon = createRequire(import.meta.url)(file) as NativeAddon;
    loaded = { name: 'native', ...bindNative(addon) };
  } catch (e) {
    loadError = `cannot load ${file}: ${(e as Error).message.split('\n')[0]}`;
    loaded = null;
  }
  return loaded;
}
