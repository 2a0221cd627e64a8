/**
 * Kernel profiler: wraps the active backend so every kernel call is timed (wall clock, including the N-API hop, or
 * any other millisecond clock, e.g. CPU time). Used by `medtune bench --profile` to show where a step spends its time.
 */
import { performance } from 'node:perf_hooks';
import type { GemmArgs, Kernels, LinearForwardArgs } from './kernels.js';

export interface KernelStat {
  kernel: string;
  calls: number;
  ms: number;
}

/** gemm and linearForward calls are split by shape so that attention, projections and weight gradients show apart */
function keyOf(name: string, a: unknown[]): string {
  if (name === 'gemm') {
    const o = a[0] as GemmArgs;
    const batch = (o.batch ?? 1) > 1 ? ` x${o.batch}` : '';
    return `gemm ${o.transA ? 'T' : 'N'}${o.transB ? 'T' : 'N'} ${o.M}x${o.N}x${o.K}${batch}`;
  }
  if (name === 'linearForward') {
    const o = a[0] as LinearForwardArgs;
    return `linear NT ${o.rows}x${o.nOut}x${o.nIn}${o.act !== 'none' ? ` +${o.act}` : ''}`;
  }
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
