/** `medtune info`: which backend and how many threads medtune will use here. */
import type { Command } from 'commander';
import { backendName, getThreads, nativeAvailable } from '../tensor/backend.js';
import { nativeLoadError } from '../tensor/backends/native/index.js';

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show the compute backend, threads and Node.js version')
    .action(() => {
      console.log(`backend:  ${backendName()}${nativeAvailable() ? '' : ` (native unavailable: ${nativeLoadError()})`}`);
      console.log(`threads:  ${getThreads()}`);
      console.log(`node:     ${process.version}`);
    });
}
