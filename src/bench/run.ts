/** What `medtune bench train|infer|gemm` prints: the speed line, the kernel profile and the JSON result. */
import { runBench, type BenchOptions, type BenchResult } from './bench.js';
import { runGemmBench, type GemmBenchOptions } from './gemm.js';

type Log = (l: string) => void;
const stdout: Log = (l) => console.log(l);

function printProfile(r: BenchResult, log: Log): void {
  if (!r.profile) return;
  const total = r.profile.reduce((s, p) => s + p.ms, 0);
  log(`\nper-step kernel profile (${total.toFixed(1)} ms in kernels of ${r.step_ms} ms per step):`);
  log('  ms/step    share  calls  kernel');
  for (const p of r.profile.slice(0, 25)) {
    log(
      `  ${p.ms.toFixed(2).padStart(7)}  ${((100 * p.ms) / r.step_ms).toFixed(1).padStart(5)}%  ` +
        `${String(p.calls).padStart(5)}  ${p.kernel}`,
    );
  }
}

/** `bench train|infer`: the median run, the profile (--profile) and, with `json`, the result as the last line. */
export function benchCommand(o: BenchOptions & { json?: boolean }, log = stdout): BenchResult {
  const r = runBench({ ...o, log });
  log(
    `${o.task} ${o.shape}: ${r.ex_per_s} ex/s (median of ${r.runs_ex_per_s.length}), ${r.gflops} GFLOP/s, ` +
      `${r.step_ms} ms/step, peak RSS ${r.peak_rss_mb} MB`,
  );
  printProfile(r, log);
  if (o.json) {
    const { profile: _p, runs_ex_per_s: _r, step_ms: _s, ...rest } = r;
    log(JSON.stringify(rest));
  }
  return r;
}

/** `bench gemm`: the table, and with `json` the rows as the last line. */
export function gemmCommand(o: Omit<GemmBenchOptions, 'log'> & { json?: boolean }, log = stdout): void {
  const rows = runGemmBench({ ...o, log });
  if (o.json) log(JSON.stringify(rows));
}
