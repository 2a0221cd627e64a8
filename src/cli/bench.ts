/** `medtune bench train|infer`: speed of a training step or of inference on a random BERT. */
import { Command, Option } from 'commander';
import { runBench, SHAPES, type BenchResult, type ShapeName } from '../bench/bench.js';
import { runGemmBench } from '../bench/gemm.js';
import { int } from './args.js';
import type { BackendName } from '../tensor/backend.js';

interface BenchCliOptions {
  shape: ShapeName;
  threads?: number;
  backend?: BackendName;
  steps?: number;
  repeat: number;
  batch?: number;
  profile?: boolean;
  precision?: string;
  cpuTime?: boolean;
  json?: boolean;
}

function printProfile(r: BenchResult): void {
  if (!r.profile) return;
  const total = r.profile.reduce((s, p) => s + p.ms, 0);
  console.log(`\nper-step kernel profile (${total.toFixed(1)} ms in kernels of ${r.step_ms} ms per step):`);
  console.log('  ms/step    share  calls  kernel');
  for (const p of r.profile.slice(0, 25)) {
    console.log(
      `  ${p.ms.toFixed(2).padStart(7)}  ${((100 * p.ms) / r.step_ms).toFixed(1).padStart(5)}%  ` +
        `${String(p.calls).padStart(5)}  ${p.kernel}`,
    );
  }
}

export function registerBench(program: Command): void {
  const bench = program.command('bench').description('benchmark the engine on a randomly initialised BERT (seq 128)');
  for (const task of ['train', 'infer'] as const) {
    bench
      .command(task)
      .description(task === 'train' ? 'training steps/s: forward + backward + AdamW' : 'inference: forward pass only')
      .addOption(new Option('--shape <shape>', 'model and batch shape').choices(Object.keys(SHAPES)).default('mini'))
      .option('--threads <n>', 'threads (default: all cores)', int('--threads'))
      .addOption(new Option('--backend <name>', 'js or native (default: native when built)').choices(['js', 'native']))
      .option('--steps <n>', 'timed steps per run', int('--steps'))
      .option('--repeat <n>', 'runs; the median is reported', int('--repeat'), 3)
      .option('--batch <n>', 'override the batch size', int('--batch'))
      .option('--profile', 'print time per kernel for the last run')
      .option('--precision <p>', 'fp32, or bf16 matrix products (AVX512-BF16)')
      .option('--cpu-time', 'time in CPU time (needs --threads 1): per-core speed, robust on a busy machine')
      .option('--json', 'print the result as one JSON object on the last line')
      .action((o: BenchCliOptions) => {
        const r = runBench({ ...o, task, log: (l) => console.log(l) });
        console.log(
          `${task} ${o.shape}: ${r.ex_per_s} ex/s (median of ${r.runs_ex_per_s.length}), ${r.gflops} GFLOP/s, ` +
            `${r.step_ms} ms/step, peak RSS ${r.peak_rss_mb} MB`,
        );
        printProfile(r);
        if (o.json) {
          const { profile: _p, runs_ex_per_s: _r, step_ms: _s, ...rest } = r;
          console.log(JSON.stringify(rest));
        }
      });
  }
  bench
    .command('gemm')
    .description('GEMM GFLOP/s at BERT training shapes: own kernel vs BLAS (and bf16), interleaved')
    .addOption(new Option('--shape <set>', 'mini, base or all').choices(['mini', 'base', 'all']).default('mini'))
    .option('--threads <n>', 'threads (default: all cores)', int('--threads'))
    .option('--rounds <n>', 'interleaved rounds; medians are reported', int('--rounds'), 3)
    .option('--cpu-time', 'time with CPU time (needs --threads 1): robust when other work runs on the machine')
    .option('--json', 'print the rows as one JSON array on the last line')
    .action((o: { shape: string; threads?: number; rounds: number; cpuTime?: boolean; json?: boolean }) => {
      const rows = runGemmBench({ ...o, shapes: o.shape, log: (l) => console.log(l) });
      if (o.json) console.log(JSON.stringify(rows));
    });
}
