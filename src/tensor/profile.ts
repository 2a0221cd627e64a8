/**
 * Kernel profiler: wraps the active backend so every kernel call is timed (wall clock, including the N-API hop, or
 * any other millisecond clock, e.g. CPU time). Used by `medtune bench --profile` to show where a step spends its time.
 */
import { performance } from 'node:perf_hooks';
import type { Kernels } from './kernels.js';

export interface KernelStat {
  kernel: string;
  calls: number;
  ms: number;
}

/** gemm and linearForward calls are split by shape so that attention, projections and weight gradients show apart */
function keyOf(name: string, a: unknown[]): string {
  if (name === 'gemm') {
    const batch = (a[16] as number) > 1 ? ` x${a[16]}` : '';
    return `gemm ${a[0] ? 'T' : 'N'}${a[1] ? 'T' : 'N'} ${a[2]}x${a[3]}x${a[4]}${batch}`;
  }
  if (name === 'linearForward') return `linear NT ${a[5]}x${a[7]}x${a[6]}${a[8] !== 'none' ? ` +${a[8]}` : ''}`;
  return name;
}

export function profiled(
  k: Kernels,
  clock: () => number = () => performance.now(),
): { kernels: Kernels; stats: () => KernelStat[]; reset: () => void } {
  const table = new Map<string, KernelStat>();
  const wrapped = { ...k } as Record<string, unknown>;
  for (const [name, fn] of Object.entries(k)) {
    if (typeof fn !== 'function' || name === 'threads' || name === 'setThreads') continue;
    wrapped[name] = (...args: unknown[]) => {
      const t0 = clock();
      const r = (fn as (...a: unknown[]) => unknown)(...args);
      const dt = clock() - t0;
      const key = keyOf(name, args);
      let s = table.get(key);
      if (!s) table.set(key, (s = { kernel: key, calls: 0, ms: 0 }));
      s.calls++;
      s.ms += dt;
      return r;
    };
  }
  return {
    kernels: wrapped as unknown as Kernels,
    stats: () => [...table.values()].sort((a, b) => b.ms - a.ms),
    reset: () => table.clear(),
  };
}
