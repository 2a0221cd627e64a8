/**
 * What `medtune info` prints: which backend, GEMM (kernel family, BLAS, cache blocking), which kernel each precision
 * runs here and why, whether AMX is used (and why not), kernels disabled by their self-check, CPU and threads.
 */
import { backendName, gemmInfo, getThreads, nativeAvailable, type GemmInfo } from '../tensor/backend.js';
import { nativeLoadError } from '../tensor/backends/native/index.js';
import { precision, precisionKernel, PRECISIONS } from '../tensor/precision.js';

function gemmLine(): string {
  const g = gemmInfo();
  if (!g) return 'TypeScript loops (js backend)';
  const own = `own packed GEMM, ${g.isa} kernel`;
  const blas = g.blas ? `${g.blas} also built in: MEDTUNE_GEMM=auto|blas` : 'no BLAS built in';
  if (g.mode === 'own') return `${own} (${blas})`;
  if (g.mode === 'blas') return `${g.blas} (MEDTUNE_GEMM=blas; ${own} available)`;
  return `auto: the faster of ${own} and ${g.blas} per shape, measured once per process`;
}

/** Whether the AMX tile kernels run here, and why not. */
export function amxLine(g: GemmInfo): string {
  if (g.amx) return `not used: ${g.amx}`;
  const used = [g.bf16Isa, g.int8Isa].filter((k) => k.startsWith('amx-'));
  if (used.length === 2) return `used (bf16: ${g.bf16Isa}, int8: ${g.int8Isa})`;
  return `usable, but ${used.length ? `only ${used.join(' and ')} runs` : 'not in use'} (see self-check)`;
}

/** Prints backend, gemm, blocking, one line per precision, self-check, cpu, threads and node, one line each. */
export function printInfo(log: (l: string) => void = (l) => console.log(l)): void {
  const g = backendName() === 'native' ? gemmInfo() : null;
  const why = nativeAvailable() ? '' : ` (native unavailable: ${nativeLoadError()})`;
  log(`backend:   ${backendName()}${why}`);
  log(`gemm:      ${backendName() === 'native' ? gemmLine() : 'TypeScript loops (js backend)'}`);
  if (g) log(`blocking:  ${g.blocking}`);
  for (const p of PRECISIONS) log(`${p}:${' '.repeat(10 - p.length)}${precisionKernel(p)}`);
  log(`precision: ${precision()}`);
  if (g) log(`amx:       ${amxLine(g)}`);
  if (g) log(`self-check: ${g.disabled ? `disabled ${g.disabled}` : 'every kernel in use passed at first use'}`);
  const cpu = gemmInfo();
  log(`cpu:       ${cpu ? cpu.cpuModel : 'unknown (no native addon)'}`);
  log(`cpu flags: ${cpu ? cpu.cpu : 'unknown (no native addon)'}`);
  log(`threads:   ${getThreads()}`);
  log(`node:      ${process.version} (${process.platform}-${process.arch})`);
}
