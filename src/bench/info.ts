/** What `medtune info` prints: which backend, GEMM (kernel family, BLAS), precision and threads medtune uses here. */
import { backendName, gemmInfo, getThreads, nativeAvailable } from '../tensor/backend.js';
import { nativeLoadError } from '../tensor/backends/native/index.js';
import { bf16Unavailable, precision } from '../tensor/precision.js';

function gemmLine(): string {
  const g = gemmInfo();
  if (!g) return 'TypeScript loops (js backend)';
  const own = `own packed GEMM, ${g.isa} kernel`;
  const blas = g.blas ? `${g.blas} also built in: MEDTUNE_GEMM=auto|blas` : 'no BLAS built in';
  if (g.mode === 'own') return `${own} (${blas})`;
  if (g.mode === 'blas') return `${g.blas} (MEDTUNE_GEMM=blas; ${own} available)`;
  return `auto: the faster of ${own} and ${g.blas} per shape, measured once per process`;
}

/** Prints backend, gemm, bf16, precision, cpu flags, threads and node, one line each. */
export function printInfo(log: (l: string) => void = (l) => console.log(l)): void {
  const g = gemmInfo();
  const why = nativeAvailable() ? '' : ` (native unavailable: ${nativeLoadError()})`;
  log(`backend:   ${backendName()}${why}`);
  log(`gemm:      ${backendName() === 'native' ? gemmLine() : 'TypeScript loops (js backend)'}`);
  const bf = bf16Unavailable();
  log(`bf16:      ${bf ? `not available: ${bf}` : `${g!.bf16Isa} kernel (--precision bf16)`}`);
  log(`precision: ${precision()}`);
  log(`cpu flags: ${g ? g.cpu : 'unknown (no native addon)'}`);
  log(`threads:   ${getThreads()}`);
  log(`node:      ${process.version} (${process.platform}-${process.arch})`);
}
