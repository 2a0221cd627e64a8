#!/usr/bin/env node
// Prints 1 when the C++ compiler takes -mamx-tile -mamx-bf16 -mamx-int8 (gcc ≥ 11, clang ≥ 12), else 0. binding.gyp
// runs this at configure time and builds native/gemm_amx.cc with those flags only then; without them that unit
// compiles to "no AMX kernels" and everything else builds as usual (an old compiler still builds the addon).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function detect() {
  if (process.arch !== 'x64' || process.platform === 'win32') return '0';
  const dir = mkdtempSync(path.join(tmpdir(), 'medtune-amx-'));
  try {
    const src =
      '#include <immintrin.h>\n' +
      'void f(const void* c, void* p) { _tile_loadconfig(c); _tile_loadd(1, p, 64); _tile_dpbf16ps(0, 1, 2);\n' +
      '  _tile_dpbusd(3, 1, 2); _tile_stored(0, p, 64); _tile_release(); }\n';
    const cxx = process.env.CXX || 'c++';
    const args = ['-x', 'c++', '-c', '-', '-o', path.join(dir, 'probe.o'), '-mamx-tile', '-mamx-bf16', '-mamx-int8'];
    const r = spawnSync(cxx, args, { input: src, stdio: ['pipe', 'ignore', 'ignore'] });
    return r.status === 0 ? '1' : '0';
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

process.stdout.write(detect());
