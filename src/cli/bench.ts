/** `medtune bench train|infer|gemm`: flags → bench/run.ts (speed of a training step, of inference, of GEMM). */
import { Option, type Command } from 'commander';
import { benchCommand, gemmCommand } from '../bench/run.js';
import { SHAPES, type BenchOptions } from '../bench/bench.js';
import { int } from './args.js';
import { precisionOption, threadsOption, withOptions } from './options.js';

const cpuTimeOption = () =>
  new Option('--cpu-time', 'time in CPU time (needs --threads 1): per-core speed, robust on a busy machine');

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmark the engine on a randomly initialised BERT (seq 128)');
  for (const task of ['train', 'infer'] as const) {
    const c = bench
      .command(task)
      .description(task === 'train' ? 'training steps/s: forward + backward + AdamW' : 'inference: forward pass only')
      .addOption(new Option('--shape <shape>', 'model and batch shape').choices(Object.keys(SHAPES)).default('mini'));
    withOptions(c, threadsOption());
    c.addOption(new Option('--backend <name>', 'js or native (default: native when built)').choices(['js', 'native']));
    c.option('--steps <n>', 'timed steps per run', int('--steps'));
    c.option('--repeat <n>', 'runs; the median is reported', int('--repeat'), 3);
    c.option('--batch <n>', 'override the batch size', int('--batch'));
    c.option('--profile', 'print time per kernel for the last run');
    withOptions(c, precisionOption({ set: false }));
    c.addOption(cpuTimeOption());
    c.option('--json', 'print the result as one JSON object on the last line');
    c.action((o: Omit<BenchOptions, 'task'> & { json?: boolean }) => {
      benchCommand({ ...o, task });
    });
  }
  const gemm = bench
    .command('gemm')
    .description('GEMM GFLOP/s at BERT training shapes: own kernel vs BLAS (and bf16), interleaved')
    .addOption(new Option('--shape <set>', 'mini, base or all').choices(['mini', 'base', 'all']).default('mini'));
  withOptions(gemm, threadsOption());
  gemm.option('--rounds <n>', 'interleaved rounds; medians are reported', int('--rounds'), 3);
  gemm.addOption(cpuTimeOption());
  gemm.option('--json', 'print the rows as one JSON array on the last line');
  gemm.addOption(
    new Option('--kernel <set>', 'default: own vs BLAS vs bf16; amx: fp32 vs AMX bf16 and int8 (needs AMX)')
      .choices(['default', 'amx'])
      .default('default'),
  );
  gemm.action(
    (o: {
      shape: string;
      threads?: number;
      rounds: number;
      cpuTime?: boolean;
      json?: boolean;
      kernel: 'default' | 'amx';
    }) => gemmCommand({ ...o, shapes: o.shape }),
  );
}
