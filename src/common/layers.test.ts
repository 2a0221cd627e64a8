// Imports point down the layers of the architecture (docs/architecture.md, after ../shared/DESIGN.md) and no files
// import each other in a loop. Reads the TypeScript sources, so it fails on the commit that adds an upward import.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folder → layer; an import may point to the same layer or a lower one. */
export const LAYERS: Record<string, number> = {
  common: 0,
  tensor: 1,
  nn: 2,
  io: 2,
  text: 2,
  data: 2,
  deid: 2,
  models: 3,
  infer: 4,
  train: 5,
  evaluate: 5,
  registry: 5,
  tune: 6,
  jobs: 6,
  report: 6,
  serve: 6,
  bench: 6,
  demo: 6,
  ui: 6,
  cli: 7,
};

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

function sources(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (n.endsWith('.ts') && !n.endsWith('.test.ts') && !n.endsWith('.d.ts')) {
        const rel = path.relative(src, p);
        const text = readFileSync(p, 'utf8');
        const targets = [
          ...text.matchAll(/(?:import|export)\s[^'";]*?from\s+['"](\.[^'"]+)['"]|import\s*\(?\s*['"](\.[^'"]+)['"]/g),
        ].map((m) => path.normalize(path.join(path.dirname(rel), m[1] ?? m[2]!)).replace(/\.js$/, '.ts'));
        edges.set(rel, targets);
      }
    }
  };
  walk(src);
  return edges;
}

const top = (p: string) => (p.includes(path.sep) ? p.split(path.sep)[0]! : null);

describe('architecture', () => {
  const edges = sources();

  it('every folder of src/ has a layer, and no import points up', () => {
    const bad: string[] = [];
    for (const [from, tos] of edges) {
      const a = top(from);
      if (a === null) continue;
      if (!(a in LAYERS)) bad.push(`src/${a}/ has no layer`);
      for (const to of tos) {
        const b = top(to);
        if (b === null || a === b || !(a in LAYERS)) continue;
        if ((LAYERS[b] ?? -1) > LAYERS[a]!) bad.push(`upward: src/${from} -> src/${to}`);
      }
    }
    assert.deepEqual([...new Set(bad)], []);
  });

  it('no import loops between files', () => {
    const state = new Map<string, number>(); // 1: on the stack, 2: done
    const stack: string[] = [];
    const loops: string[] = [];
    const visit = (v: string) => {
      state.set(v, 1);
      stack.push(v);
      for (const w of edges.get(v) ?? []) {
        if (!edges.has(w)) continue;
        if (state.get(w) === 1) loops.push([...stack.slice(stack.indexOf(w)), w].join(' -> '));
        else if (!state.has(w)) visit(w);
      }
      stack.pop();
      state.set(v, 2);
    };
    for (const v of edges.keys()) if (!state.has(v)) visit(v);
    assert.deepEqual(loops, []);
  });
});

describe('style', () => {
  // eslint's max-len covers the TypeScript and JavaScript; this covers what eslint does not read (the C++ kernels,
  // the CI script, the Dockerfile). Counted in characters, as eslint counts, not bytes: "·" and "×" are one each.
  it('lines of the native sources, .ci/run and the Dockerfile are at most 120 characters', () => {
    const root = path.resolve(src, '..');
    const files = [
      ...readdirSync(path.join(root, 'native')).map((n) => path.join('native', n)),
      path.join('.ci', 'run'),
      'Dockerfile',
      'binding.gyp',
    ];
    const long: string[] = [];
    for (const f of files) {
      readFileSync(path.join(root, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if ([...line].length > 120) long.push(`${f}:${i + 1} (${[...line].length})`);
        });
    }
    assert.deepEqual(long, []);
  });
});
