/** `medtune info`: which backend, GEMM (kernel family, BLAS) and how many threads medtune will use here. */
import type { Command } from 'commander';
import { printInfo } from '../bench/info.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the compute backend, GEMM kernels, precision, threads and Node.js version')
    .action(() => printInfo());
}
