/** `medtune info`: which backend, GEMM (kernel family, BLAS) and how many threads medtune will use here. */
import type { Command } from 'commander';
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

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the compute backend, GEMM kernels, precision, threads and Node.js version')
    .action(() => {
      const g = gemmInfo();
      const why = nativeAvailable() ? '' : ` (native unavailable: ${nativeLoadError()})`;
      console.log(`backend:   ${backendName()}${why}`);
      console.log(`gemm:      ${backendName() === 'native' ? gemmLine() : 'TypeScript loops (js backend)'}`);
      const bf = bf16Unavailable();
      console.log(`bf16:      ${bf ? `not available: ${bf}` : `${g!.bf16Isa} kernel (--precision bf16)`}`);
      console.log(`precision: ${precision()}`);
      console.log(`cpu flags: ${g ? g.cpu : 'unknown (no native addon)'}`);
      console.log(`threads:   ${getThreads()}`);
      console.log(`node:      ${process.version} (${process.platform}-${process.arch})`);
    });
}
