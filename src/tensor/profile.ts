/**
 * Kernel profiler: wraps the active backend so every kernel call is timed (wall clock, including the N-API hop).
 * Used by `medtune bench --profile` to show where a training step spends its time.
 */
import { performance } from 'node:perf_hooks';
import type { Kernels } from './kernels.js';

export interface KernelStat {
  kernel: string;
  calls: number;
  ms: number;
}

export function profiled(k: Kernels): { kernels: Kernels; stats: () => KernelStat[]; reset: () => void } {
  const table = new Map<string, KernelStat>();
  const wrapped = { ...k } as Record<string, unknown>;
  for (const [name, fn] of Object.entries(k)) {
    if (typeof fn !== 'function' || name === 'threads' || name === 'setThreads') continue;
    // gemm calls are split by shape class so that attention, projections and weight gradients show separately
    wrapped[name] = (...args: unknown[]) => {
      const t0 = performance.now();
      const r = (fn as (...a: unknown[]) => unknown)(...args);
      const dt = performance.now() - t0;
      const key = name === 'gemm' ? `gemm ${args[0] ? 'T' : 'N'}${args[1] ? 'T' : 'N'} ${args[2]}x${args[3]}x${args[4]}${(args[16] as number) > 1 ? ` x${args[16]}` : ''}` : name;
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
