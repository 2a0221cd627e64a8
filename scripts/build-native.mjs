#!/usr/bin/env node
// Builds the C++ addon (native/ -> build/Release/medtune_native.node) with node-gyp.
// Runs at `npm install`. Needs only a C++ compiler, make and python3; OpenBLAS (or Accelerate) is linked when
// present (scripts/detect-blas.mjs; MEDTUNE_NO_BLAS=1 builds as if it were absent). If the build fails the install
// still succeeds and medtune falls back to the pure-TypeScript backend with a one-line warning at run time.
// `--strict` (npm run build:native) makes a failure an error, for developers.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const strict = process.argv.includes('--strict');
const failFile = path.join(root, 'build', 'native-build-failed.txt');

function findNodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp))
    return process.env.npm_config_node_gyp;
  // npm ships node-gyp; find it next to the npm that runs us, or the one on PATH.
  const candidates = [];
  if (process.env.npm_execpath)
    candidates.push(
      path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    );
  candidates.push(
    path.join(
      path.dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  );
  try {
    candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    /* not installed */
  }
  return candidates.find((c) => existsSync(c));
}

function fail(reason) {
  mkdirSync(path.dirname(failFile), { recursive: true });
  writeFileSync(failFile, reason + '\n');
  const hint =
    process.platform === 'darwin'
      ? 'install the Xcode command line tools (xcode-select --install)'
      : 'install a C++ compiler, make and python3 (Debian/Ubuntu: apt-get install -y g++ make python3; OpenBLAS is ' +
        'optional)';
  console.warn(
    `medtune: native backend not built (${reason}); using the ~50x slower pure-TypeScript backend. ` +
      `To fix: ${hint}, then run \`npm rebuild medtune\` (or \`npm run build:native\` in a checkout).`,
  );
  process.exit(strict ? 1 : 0);
}

/** The most telling line of a failed node-gyp log, as a short reason. */
function reasonOf(log, status) {
  const lines = log
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const find = (re) => lines.find((l) => re.test(l));
  const compiler =
    find(/No such file or directory: '[^']*(\+\+|gcc|cc|clang)[^']*'/i) ??
    find(/(c\+\+|g\+\+|clang\+\+): (command )?(not found|No such file)/i);
  if (compiler) return `no C++ compiler found: ${compiler.slice(0, 200)}`;
  const make = find(/not found: make|make: (not found|No such file)/i);
  if (make) return '`make` not found';
  const python = find(/find Python|Could not find any Python/i);
  if (python) return `python3 not found: ${python.slice(0, 200)}`;
  const error = find(/\berror\b:/i) ?? find(/gyp ERR! stack Error:/) ?? find(/error|not found|No such file/i);
  return (error ?? `node-gyp exited with ${status}`).slice(0, 300);
}

if (process.env.MEDTUNE_SKIP_NATIVE === '1') fail('MEDTUNE_SKIP_NATIVE=1');
if (!existsSync(path.join(root, 'node_modules', 'node-addon-api'))) {
  try {
    createRequire(import.meta.url).resolve('node-addon-api');
  } catch {
    fail('node-addon-api is not installed');
  }
}
const gyp = findNodeGyp();
if (!gyp) fail('node-gyp was not found');
rmSync(failFile, { force: true });
const jobs = process.env.JOBS ?? 'max';
const args = [gyp, 'rebuild', `--jobs=${jobs}`];
// Build offline against the headers that ship with this Node.js when they are there (node-gyp would otherwise
// try to download them).
const prefix = path.resolve(path.dirname(process.execPath), '..');
const nodedir =
  process.env.npm_config_nodedir || (existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : '');
if (nodedir) args.push(`--nodedir=${nodedir}`);
const r = spawnSync(process.execPath, args, {
  cwd: root,
  stdio: strict ? 'inherit' : ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
});
if (r.status !== 0) fail(reasonOf(`${r.stdout ?? ''}\n${r.stderr ?? ''}`, r.status));
const blas = spawnSync(process.execPath, [path.join(root, 'scripts', 'detect-blas.mjs')], { encoding: 'utf8' }).stdout;
const gemm = blas === 'none' ? 'own GEMM only, no BLAS' : `own GEMM + ${blas}`;
console.log(`medtune: native backend built (build/Release/medtune_native.node; ${gemm})`);
