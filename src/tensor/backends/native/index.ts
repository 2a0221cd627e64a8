/**
 * The native backend: loads build/Release/medtune_native.node (built from native/ at npm install) and exposes
 * its kernels under the Kernels interface. Op names are mapped to the integer codes the C++ side uses.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Activation, BinaryOp, Kernels, UnaryOp } from '../../kernels.js';

const BINARY_OPS: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3 };
// order matches the enum in native/elementwise.cc
const UNARY_OPS: Record<UnaryOp, number> = {
  gelu: 0,
  gelu_tanh: 1,
  tanh: 2,
  relu: 3,
  exp: 4,
  log: 5,
  neg: 6,
  square: 7,
  sqrt: 8,
  sigmoid: 9,
};
// order matches enum Act in native/common.h
const ACTS: Record<Activation, number> = { none: 0, gelu: 1, gelu_tanh: 2, relu: 3, tanh: 4 };

/* eslint-disable @typescript-eslint/no-explicit-any */
type Addon = Record<string, (...args: any[]) => any>;

let loaded: Kernels | null | undefined;
let addon: Addon | null = null;
let loadError = '';

/** What runs GEMMs in the native addon (see native/gemm.cc). */
export interface GemmInfo {
  /** CPU flags medtune looked for, as /proc/cpuinfo names them (e.g. "avx2 fma avx512f ... avx512_bf16") */
  cpu: string;
  /** fp32 kernel family: avx512 | avx2 | portable */
  isa: string;
  /** bf16 kernel family ("avx512bf16"), or "" when this CPU has none */
  bf16Isa: string;
  /** BLAS linked at build time: openblas | accelerate | "" (none) */
  blas: string;
  /** auto (faster of own and BLAS per shape, measured once) | own | blas */
  mode: 'auto' | 'own' | 'blas';
}

export function nativeGemmInfo(): GemmInfo | null {
  return loadNativeKernels() && addon ? (addon.gemmInfo!() as GemmInfo) : null;
}

/** Changes the GEMM choice; returns "" or why it was refused (nothing changed then). Empty fields: no change. */
export function nativeGemmConfigure(mode: string, isa: string, bf16Isa: string): string {
  if (!loadNativeKernels() || !addon) return `the native backend is not available: ${loadError}`;
  return addon.gemmConfigure!(mode, isa, bf16Isa) as string;
}

function packageRoot(): string {
  // dist/tensor/backends/native/index.js -> package root
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
}

export function nativeLoadError(): string {
  return loadError;
}

export function loadNativeKernels(): Kernels | null {
  if (loaded !== undefined) return loaded;
  const root = packageRoot();
  const file = process.env.MEDTUNE_NATIVE_ADDON ?? path.join(root, 'build', 'Release', 'medtune_native.node');
  if (!existsSync(file)) {
    const failed = path.join(root, 'build', 'native-build-failed.txt');
    loadError = existsSync(failed)
      ? `the build at install failed: ${readFileSync(failed, 'utf8').trim()}`
      : `${file} does not exist`;
    loaded = null;
    return null;
  }
  try {
    addon = createRequire(import.meta.url)(file) as Addon;
    loaded = wrap(addon);
  } catch (e) {
    loadError = `cannot load ${file}: ${(e as Error).message.split('\n')[0]}`;
    loaded = null;
  }
  return loaded;
}

function wrap(n: Addon): Kernels {
  return {
    name: 'native',
    threads: () => n.threads!(),
    setThreads: (t) => n.setThreads!(t),
    fill: (out, v) => n.fill!(out, v),
    axpy: (dst, src, alpha) => n.axpy!(dst, src, alpha),
    scale: (x, alpha, out) => n.scale!(x, alpha, out),
    binary: (op, a, b, out, shape, sa, sb) => n.binary!(BINARY_OPS[op], a, b, out, shape, sa, sb),
    unary: (op, x, out) => n.unary!(UNARY_OPS[op], x, out),
    unaryBackward: (op, x, y, dy, dx) => n.unaryBackward!(UNARY_OPS[op], x, y, dy, dx),
    biasAct: (h, bias, out, rows, cols, act) => n.biasAct!(h, bias, out, rows, cols, ACTS[act]),
    actBackward: (h, dy, dh, act) => n.actBackward!(h, dy, dh, ACTS[act]),
    reduceSum: (x, out, outer, r, inner) => n.reduceSum!(x, out, outer, r, inner),
    sumSquares: (x) => n.sumSquares!(x),
    permute: (x, out, shape, perm) => n.permute!(x, out, shape, perm),
    axisCopy: (src, dst, outer, srcLen, srcStart, dstLen, dstStart, len, inner, acc) =>
      n.axisCopy!(src, dst, outer, srcLen, srcStart, dstLen, dstStart, len, inner, acc),
    gemm: (tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch, bf16) =>
      n.gemm!(tA, tB, M, N, K, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch, bf16 === true),
    linearForward: (x, w, bias, h, out, rows, nIn, nOut, act, bf16) =>
      n.linearForward!(x, w, bias, h, out, rows, nIn, nOut, ACTS[act], bf16 === true),
    embeddingForward: (ids, table, out, cnt, dim) => n.embeddingForward!(ids, table, out, cnt, dim),
    embeddingBackward: (ids, dout, dtable, cnt, dim) => n.embeddingBackward!(ids, dout, dtable, cnt, dim),
    layerNormForward: (x, res, g, b, out, sum, mean, rstd, rows, dim, eps) =>
      n.layerNormForward!(x, res, g, b, out, sum, mean, rstd, rows, dim, eps),
    layerNormBackward: (dy, s, mean, rstd, g, dx, dg, db, rows, dim) =>
      n.layerNormBackward!(dy, s, mean, rstd, g, dx, dg, db, rows, dim),
    softmaxForward: (x, out, rows, cols) => n.softmaxForward!(x, out, rows, cols),
    softmaxBackward: (y, dy, dx, rows, cols) => n.softmaxBackward!(y, dy, dx, rows, cols),
    dropoutForward: (x, out, p, key) => n.dropoutForward!(x, out, p, key >>> 0),
    dropoutBackward: (dy, dx, p, key) => n.dropoutBackward!(dy, dx, p, key >>> 0),
    attentionForward: (q, k, v, mask, out, probs, B, T, H, D, scale, p, key, bf16, ld) =>
      n.attentionForward!(q, k, v, mask, out, probs, B, T, H, D, scale, p, key >>> 0, bf16 === true, ld ?? H * D),
    attentionBackward: (q, k, v, probs, dout, dq, dk, dv, B, T, H, D, scale, p, key, bf16, ld) =>
      n.attentionBackward!(
        q,
        k,
        v,
        probs,
        dout,
        dq,
        dk,
        dv,
        B,
        T,
        H,
        D,
        scale,
        p,
        key >>> 0,
        bf16 === true,
        ld ?? H * D,
      ),
    crossEntropyForward: (x, t, w, loss, weight, N, C, ignore, sm) =>
      n.crossEntropyForward!(x, t, w, loss, weight, N, C, ignore, sm),
    crossEntropyBackward: (x, t, w, d, N, C, ignore, sm, gs) =>
      n.crossEntropyBackward!(x, t, w, d, N, C, ignore, sm, gs),
    bceWithLogitsForward: (x, t, pw, loss, N, C) => n.bceWithLogitsForward!(x, t, pw, loss, N, C),
    bceWithLogitsBackward: (x, t, pw, d, N, C, gs) => n.bceWithLogitsBackward!(x, t, pw, d, N, C, gs),
    adamw: (p, g, m, v, lr, b1, b2, eps, wd, bc1, bc2, gs) => n.adamw!(p, g, m, v, lr, b1, b2, eps, wd, bc1, bc2, gs),
  };
}
