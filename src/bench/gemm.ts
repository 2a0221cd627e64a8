/**
 * `medtune bench gemm`: our own packed GEMM vs BLAS (and our bf16 GEMM) at the shapes a BERT training step runs,
 * interleaved (own, blas, bf16, own, blas, …) so that every ratio comes from the same minutes of a noisy machine.
 * `--kernel amx`: our fp32 GEMM against the AMX bf16 GEMM (and AVX512-BF16 where present) at every shape, and at
 * the forward (x·Wᵀ) shapes the AMX int8 linear layer against the VNNI / portable one (activations quantized per
 * call, as in inference); refused where AMX is not usable, with the reason.
 */
import { performance } from 'node:perf_hooks';
import { configureGemm, gemmInfo, getThreads, kernels, setBackend, setThreads } from '../tensor/backend.js';
import { Generator } from '../tensor/random.js';
import { MedtuneError } from '../common/errors.js';
import { int8PackedSize, quantizeRows } from '../tensor/quantize.js';
import type { GemmInfo } from '../tensor/backend.js';

export interface GemmShape {
  label: string;
  tA: boolean;
  tB: boolean;
  M: number;
  N: number;
  K: number;
  batch: number;
}

/**
 * The GEMMs of one layer's training step: x·Wᵀ (NT), dx = dh·W (NN), dW = dhᵀ·x (TN), for rows = batch · seq.
 */
function layerShapes(name: string, rows: number, C: number, F: number, heads: number): GemmShape[] {
  const s = (label: string, tA: boolean, tB: boolean, M: number, N: number, K: number, batch = 1): GemmShape => ({
    label: `${name} ${label}`,
    tA,
    tB,
    M,
    N,
    K,
    batch,
  });
  return [
    s('proj fwd', false, true, rows, C, C),
    s('ffn1 fwd', false, true, rows, F, C),
    s('ffn2 fwd', false, true, rows, C, F),
    s('proj dx', false, false, rows, C, C),
    s('ffn1 dx', false, false, rows, C, F),
    s('ffn2 dx', false, false, rows, F, C),
    s('proj dW', true, false, C, C, rows),
    s('ffn1 dW', true, false, F, C, rows),
    s('ffn2 dW', true, false, C, F, rows),
    s('attn QKᵀ/head', false, true, 128, 128, 64, (rows / 128) * heads),
  ];
}

export const GEMM_SHAPES: Record<string, GemmShape[]> = {
  mini: layerShapes('mini', 4096, 256, 1024, 4),
  base: layerShapes('base', 1024, 768, 3072, 12),
};

export interface GemmBenchRow {
  shape: string;
  op: string;
  /** median GFLOP/s per implementation over the rounds */
  gflops: Record<string, number>;
  /** own / blas and bf16 / own, from the medians */
  own_vs_blas?: number;
  bf16_vs_own?: number;
  /** --kernel amx: each named kernel's GFLOP/s over own fp32 ("bf16:amx-bf16", "int8:amx-int8", …) */
  vs_own?: Record<string, number>;
}

export interface GemmBenchOptions {
  shapes: string;
  threads?: number;
  rounds?: number;
  /** seconds of timed calls per measurement */
  seconds?: number;
  /** time with CPU time instead of the wall clock (one thread only: robust on a busy machine) */
  cpuTime?: boolean;
  /** 'amx': fp32 vs the AMX bf16 GEMM and the AMX int8 linear layer (needs AMX); default: own vs BLAS vs bf16 */
  kernel?: 'default' | 'amx';
  log?: (line: string) => void;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface Buffers {
  A: Float32Array;
  B: Float32Array;
  C: Float32Array;
}

function buffers(s: GemmShape, gen: Generator): Buffers {
  const A = new Float32Array(s.M * s.K * s.batch);
  const B = new Float32Array(s.K * s.N * s.batch);
  gen.fillNormal(A, 1);
  gen.fillNormal(B, 1);
  return { A, B, C: new Float32Array(s.M * s.N * s.batch) };
}

/**
 * Milliseconds now: wall clock, or this process's CPU time with `cpu` (with one thread there is no idle pool to
 * spin, so CPU time is what the GEMM used, whatever else runs on the machine).
 */
function clock(cpu: boolean): number {
  if (!cpu) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** An implementation: fp32 own / blas, the bf16 GEMM, a named bf16 kernel ("bf16:amx-bf16") or int8 kernel. */
function prepare(impl: string): { bf16: boolean; int8: boolean } {
  const [kind, name] = impl.split(':');
  if (kind === 'own' || kind === 'blas') configureGemm({ mode: kind });
  if (kind === 'bf16' && name) configureGemm({ bf16Isa: name });
  if (kind === 'int8') configureGemm({ int8Isa: name });
  return { bf16: kind === 'bf16', int8: kind === 'int8' };
}

/** x·Wᵀ of shape s through the int8 linear layer: weights packed once, activations quantized on every call */
function int8Call(s: GemmShape, b: Buffers): () => void {
  const K_ = kernels();
  const q = new Int8Array(s.N * s.K);
  const wScale = new Float32Array(s.N);
  quantizeRows(b.B.subarray(0, s.N * s.K), s.N, s.K, q, wScale);
  const packed = new Int32Array(int8PackedSize(s.N, s.K));
  const comp = new Int32Array(s.N);
  K_.int8PackWeights(q, s.N, s.K, packed, comp);
  const h = b.C.subarray(0, s.M * s.N);
  const x = b.A.subarray(0, s.M * s.K);
  return () =>
    K_.linearInt8({ x, packed, comp, wScale, bias: null, h, out: h, rows: s.M, nIn: s.K, nOut: s.N, act: 'none' });
}

/** GFLOP/s of `impl` on shape s: repeated calls for about `seconds`. */
function measure(s: GemmShape, b: Buffers, impl: string, seconds: number, cpu: boolean): number {
  const { bf16, int8 } = prepare(impl);
  const lda = s.tA ? s.M : s.K;
  const ldb = s.tB ? s.K : s.N;
  const K_ = kernels();
  const [sA, sB, sC] = [s.M * s.K, s.K * s.N, s.M * s.N];
  const sizes = { transA: s.tA, transB: s.tB, M: s.M, N: s.N, K: s.K, batch: s.batch, bf16 };
  const call = int8
    ? int8Call(s, b)
    : () => K_.gemm({ ...sizes, A: b.A, lda, strideA: sA, B: b.B, ldb, strideB: sB, C: b.C, ldc: s.N, strideC: sC });
  call();
  let n = 0;
  const t0 = clock(cpu);
  let dt = 0;
  while (dt < seconds * 1000 || n < 2) {
    call();
    n++;
    dt = clock(cpu) - t0;
  }
  return (2 * s.M * s.N * s.K * s.batch * n) / (dt / 1000) / 1e9;
}

function formatRow(row: GemmBenchRow, impls: string[]): string {
  const cols = impls
    .filter((i) => row.gflops[i] !== undefined)
    .map((i) => `${i} ${row.gflops[i]!.toFixed(1).padStart(6)}`)
    .join('  ');
  const r1 = row.own_vs_blas !== undefined ? `  own/blas ${row.own_vs_blas.toFixed(2)}` : '';
  const r2 = row.bf16_vs_own !== undefined ? `  bf16/own ${row.bf16_vs_own.toFixed(2)}` : '';
  const r3 = Object.entries(row.vs_own ?? {})
    .map(([i, r]) => `  ${i}/own ${r.toFixed(2)}`)
    .join('');
  return `  ${row.shape.padEnd(20)} ${row.op.padEnd(24)} GFLOP/s: ${cols}${r1}${r2}${r3}`;
}

/** The implementations compared: own, blas, bf16 by default; with --kernel amx the AMX ones (refused without AMX). */
function implementations(o: GemmBenchOptions, info: GemmInfo): string[] {
  if (o.kernel !== 'amx') return ['own', ...(info.blas ? ['blas'] : []), ...(info.bf16Isa ? ['bf16'] : [])];
  if (info.amx) {
    throw new MedtuneError(
      `bench gemm --kernel amx: AMX is not usable here: ${info.amx}. Run it on a CPU with AMX (Sapphire Rapids or ` +
        'later: grep -o amx_bf16 /proc/cpuinfo)',
      'E_PRECISION_UNSUPPORTED',
    );
  }
  const avx = info.cpu.split(' ');
  return [
    'own',
    ...(avx.includes('avx512_bf16') ? ['bf16:avx512bf16'] : []),
    'bf16:amx-bf16',
    avx.includes('avx512_vnni') ? 'int8:avx512vnni' : 'int8:portable-int8',
    'int8:amx-int8',
  ];
}

export function runGemmBench(o: GemmBenchOptions): GemmBenchRow[] {
  const log = o.log ?? (() => {});
  const shapes = o.shapes === 'all' ? [...GEMM_SHAPES.mini!, ...GEMM_SHAPES.base!] : GEMM_SHAPES[o.shapes];
  if (!shapes) throw new MedtuneError(`unknown GEMM shape set "${o.shapes}" (use mini, base or all)`, 'E_USAGE');
  setBackend('native');
  if (o.threads !== undefined) setThreads(o.threads);
  const info = gemmInfo()!;
  const impls = implementations(o, info);
  const bf16 = info.bf16Isa || 'none';
  const what = `own fp32 kernel ${info.isa}, BLAS ${info.blas || 'none'}, bf16 ${bf16}, int8 ${info.int8Isa}`;
  log(`medtune bench gemm: ${getThreads()} threads; ${what}`);
  log(`CPU flags: ${info.cpu}`);
  const rounds = o.rounds ?? 3;
  const cpu = o.cpuTime === true;
  if (cpu && getThreads() !== 1) throw new MedtuneError('--cpu-time needs --threads 1', 'E_USAGE');
  log(`timing: ${cpu ? 'process CPU time (1 thread)' : 'wall clock'}, ${rounds} interleaved rounds, medians`);
  const gen = new Generator(1);
  const rows: GemmBenchRow[] = [];
  try {
    for (const s of shapes) {
      const b = buffers(s, gen);
      const runs: Record<string, number[]> = Object.fromEntries(impls.map((i) => [i, []]));
      // int8 runs the linear layer's forward, x·Wᵀ (one matrix, no batch)
      const here = impls.filter((i) => !i.startsWith('int8') || (!s.tA && s.tB && s.batch === 1));
      for (let r = 0; r < rounds; r++) {
        for (const impl of here) runs[impl]!.push(measure(s, b, impl, o.seconds ?? 0.15, cpu));
      }
      const gflops = Object.fromEntries(here.map((i) => [i, Math.round(median(runs[i]!) * 10) / 10]));
      const op = `${s.tA ? 'T' : 'N'}${s.tB ? 'T' : 'N'} ${s.M}x${s.N}x${s.K}${s.batch > 1 ? ` x${s.batch}` : ''}`;
      const row: GemmBenchRow = { shape: s.label, op, gflops };
      if (gflops.blas) row.own_vs_blas = Math.round((gflops.own! / gflops.blas) * 100) / 100;
      if (gflops.bf16) row.bf16_vs_own = Math.round((gflops.bf16 / gflops.own!) * 100) / 100;
      const named = here.filter((i) => i.includes(':'));
      if (named.length)
        row.vs_own = Object.fromEntries(named.map((i) => [i, Math.round((gflops[i]! / gflops.own!) * 100) / 100]));
      rows.push(row);
      log(formatRow(row, impls));
    }
  } finally {
    configureGemm({ mode: info.mode, bf16Isa: info.bf16Isa || 'none', int8Isa: info.int8Isa });
  }
  return rows;
}
