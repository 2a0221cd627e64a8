/**
 * Benchmarks of a randomly initialised BERT with REFERENCE.md's shapes (seq 128): `train` = forward + backward +
 * AdamW (with global grad-norm clipping, as HF Trainer does) per step; `infer` = forward under noGrad.
 */
import { performance } from 'node:perf_hooks';
import { BertForSequenceClassification, bertConfig, type BertConfig } from '../models/bert.js';
import { AdamW, hfParamGroups } from '../train/adamw.js';
import { Generator } from '../tensor/random.js';
import { noGrad, scope, tensor, type Tensor } from '../tensor/tensor.js';
import {
  backendName,
  getThreads,
  kernels,
  setBackend,
  setThreads,
  swapKernels,
  type BackendName,
} from '../tensor/backend.js';
import { profiled, type KernelStat } from '../tensor/profile.js';
import { MedtuneError } from '../common/errors.js';
import { precision, setPrecision, type Precision } from '../tensor/precision.js';
import { quantizeModel } from '../models/quantize.js';

export const SHAPES = {
  mini: { layers: 4, hidden: 256, heads: 4, ffn: 1024, vocab: 30522, batch: 32, seq: 128 },
  base: { layers: 12, hidden: 768, heads: 12, ffn: 3072, vocab: 30522, batch: 8, seq: 128 },
} as const;
export type ShapeName = keyof typeof SHAPES;

export interface BenchOptions {
  task: 'train' | 'infer';
  shape: ShapeName;
  threads?: number;
  backend?: BackendName;
  steps?: number;
  repeat?: number;
  warmup?: number;
  batch?: number;
  seq?: number;
  profile?: boolean;
  /** fp32, bf16 matrix products, or int8 linear layers (infer only) (default: the current precision) */
  precision?: Precision | string;
  /** time in process CPU time instead of the wall clock (needs 1 thread: robust on a busy machine) */
  cpuTime?: boolean;
  log?: (line: string) => void;
}

export interface BenchResult {
  task: 'train' | 'infer';
  shape: ShapeName;
  backend: BackendName;
  precision: Precision;
  threads: number;
  /** wall clock, or process CPU time (--cpu-time) */
  timing: 'wall' | 'cpu';
  batch: number;
  seq: number;
  ex_per_s: number;
  gflops: number;
  peak_rss_mb: number;
  runs_ex_per_s: number[];
  step_ms: number;
  profile?: KernelStat[];
}

/** Matmul FLOPs of one forward pass of one sequence (embeddings, layer norms etc. are negligible). */
export function forwardFlops(c: BertConfig, seq: number): number {
  const C = c.hidden_size;
  const F = c.intermediate_size;
  const perLayer = 2 * seq * (4 * C * C + 2 * C * F) + 2 * 2 * seq * seq * C;
  return c.num_hidden_layers * perLayer + 2 * C * C + 2 * C * (c.num_labels ?? 2);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function runBench(o: BenchOptions): BenchResult {
  const log = o.log ?? (() => {});
  if (!(o.shape in SHAPES)) throw new MedtuneError(`unknown shape "${o.shape}" (use mini or base)`, 'E_USAGE');
  if (o.backend) setBackend(o.backend);
  if (o.threads !== undefined) setThreads(o.threads);
  if (o.precision) setPrecision(o.precision, '--precision', { training: o.task === 'train' });
  if (o.cpuTime && getThreads() !== 1) throw new MedtuneError('--cpu-time needs --threads 1', 'E_USAGE');
  const now = () => (o.cpuTime ? cpuMs() : performance.now());
  const s = SHAPES[o.shape];
  const batch = o.batch ?? s.batch;
  const seq = o.seq ?? s.seq;
  const steps = o.steps ?? (o.task === 'train' ? (o.shape === 'mini' ? 5 : 2) : o.shape === 'mini' ? 5 : 3);
  const repeat = o.repeat ?? 3;
  const warmup = o.warmup ?? 1;
  const cfg = bertConfig({
    vocab_size: s.vocab,
    hidden_size: s.hidden,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    intermediate_size: s.ffn,
    num_labels: 2,
  });
  const model = new BertForSequenceClassification(cfg, 0);
  const gen = new Generator(1);
  const ids = tensor(
    Array.from({ length: batch * seq }, () => 1 + Math.floor(gen.uniform() * (s.vocab - 1))),
    [batch, seq],
    'int32',
  ).keep();
  const mask = tensor(new Array(batch * seq).fill(1), [batch, seq], 'int32').keep();
  const labels = tensor(
    Array.from({ length: batch }, (_, i) => i % 2),
    [batch],
    'int32',
  ).keep();
  let opt: AdamW | null = null;
  let step: () => void;
  if (o.task === 'train') {
    model.train();
    opt = new AdamW(hfParamGroups(model, 0.01), { lr: 2e-5 });
    const o2 = opt;
    step = () =>
      scope(() => {
        const out = model.forward({ input_ids: ids, attention_mask: mask, labels });
        out.loss!.backward();
        o2.step({ maxGradNorm: 1 });
        o2.zeroGrad();
      });
  } else {
    model.eval();
    if (precision() === 'int8') quantizeModel(model);
    step = () =>
      scope(() =>
        noGrad(() => {
          model.forward({ input_ids: ids, attention_mask: mask }).logits.toArray();
        }),
      );
  }
  const params = `${(model.numParameters() / 1e6).toFixed(1)}M parameters`;
  log(
    `medtune bench ${o.task} --shape ${o.shape}: backend ${backendName()}, ${precision()}, ${getThreads()} threads, ` +
      `batch ${batch}, seq ${seq}, ${params}`,
  );
  for (let i = 0; i < warmup; i++) step();
  const runs: number[] = [];
  let prof: ReturnType<typeof profiled> | null = null;
  let prev = null as ReturnType<typeof kernels> | null;
  for (let r = 0; r < repeat; r++) {
    if (o.profile && r === repeat - 1) {
      prof = profiled(kernels(), now);
      prev = swapKernels(prof.kernels);
    }
    const t0 = now();
    for (let i = 0; i < steps; i++) step();
    const dt = (now() - t0) / 1000;
    const eps = (batch * steps) / dt;
    runs.push(eps);
    log(`  run ${r + 1}/${repeat}: ${eps.toFixed(2)} ex/s (${((dt * 1000) / steps).toFixed(1)} ms/step)`);
  }
  if (prev) swapKernels(prev);
  const exps = median(runs);
  const flopsPerEx = forwardFlops(cfg, seq) * (o.task === 'train' ? 3 : 1);
  const result: BenchResult = {
    task: o.task,
    shape: o.shape,
    backend: backendName(),
    precision: precision(),
    threads: getThreads(),
    timing: o.cpuTime ? 'cpu' : 'wall',
    batch,
    seq,
    ex_per_s: round(exps, 2),
    gflops: round((flopsPerEx * exps) / 1e9, 1),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
    runs_ex_per_s: runs.map((x) => round(x, 2)),
    step_ms: round((batch / exps) * 1000, 1),
  };
  if (prof) result.profile = prof.stats().map((st) => ({ ...st, ms: round(st.ms / steps, 2) }));
  opt?.dispose();
  model.dispose();
  for (const t of [ids, mask, labels] as Tensor[]) t.dispose();
  return result;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
