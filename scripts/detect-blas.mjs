#!/usr/bin/env node
// Prints which BLAS the native addon can link against here: "openblas", "accelerate" (macOS) or "none".
// binding.gyp runs this at configure time. MEDTUNE_NO_BLAS=1 forces "none", i.e. builds exactly as on a machine
// without OpenBLAS (our own GEMM only). OpenBLAS counts only if cblas.h compiles and -lopenblas links.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function detect() {
  if (process.env.MEDTUNE_NO_BLAS === '1') return 'none';
  if (process.platform === 'darwin') return 'accelerate';
  if (process.platform === 'win32') return 'none';
  const dir = mkdtempSync(path.join(tmpdir(), 'medtune-blas-'));
  try {
    const src =
      '#include <cblas.h>\nint main() { float a = 1, b = 1, c = 0;\n' +
      '  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.f, &a, 1, &b, 1, 0.f, &c, 1);\n' +
      '  return c != 1; }\n';
    const cxx = process.env.CXX || 'c++';
    const args = ['-x', 'c++', '-', '-o', path.join(dir, 'probe'), '-lopenblas'];
    const r = spawnSync(cxx, args, { input: src, stdio: ['pipe', 'ignore', 'ignore'] });
    return r.status === 0 ? 'openblas' : 'none';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(detect());
