#!/usr/bin/env node
// Long documents measured (docs/long-documents.md). Each symptom2disease text is placed at the start, in the middle
// or at the end of 600–1,200 words of label-independent note text (src/demo/long-notes.ts); a model is trained on
// notes with the text at a random position and tested on every test text at each of the three positions. `build` also
// writes OUT/short.csv (the same training texts without the note), to fine-tune a starting model on
// (`run OUT short -- --train OUT/short.csv ...`); `--model DIR` starts a run from it.
//   node scripts/long-documents.mjs build OUT [--classes N] [--per-class 40] [--test-per-class 10]
//     [--shared-data ../shared/data]
//   node scripts/long-documents.mjs run OUT NAME -- <train flags>   (one configuration: trains OUT/NAME, then tests)
//   node scripts/long-documents.mjs memory OUT [--tokens 8000] [--batch-size 4] [--steps 3]
//   node scripts/long-documents.mjs table OUT
// `run` prints one JSON line (also OUT/NAME.json): accuracy by position, seconds per epoch, peak RSS.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
const dist = (m) => import(new URL(`../dist/${m}`, import.meta.url).href);
const { readRows } = await dist('data/readers.js');
const { longNote, POSITIONS } = await dist('demo/long-notes.js');

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : dflt;
};
const here = path.dirname(new URL(import.meta.url).pathname);
const [cmd, out, name] = args;
const csvCell = (s) => `"${String(s).replaceAll('"', '""')}"`;
const rss = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function rowsOf(file) {
  const rows = [];
  for await (const r of readRows(file)) rows.push({ text: String(r.text), label: String(r.label) });
  return rows;
}

async function build() {
  const perClass = Number(flag('--per-class', '40'));
  const shared = path.resolve(flag('--shared-data', path.join(here, '..', '..', 'shared', 'data')));
  const src = path.join(shared, 'symptom2disease');
  mkdirSync(out, { recursive: true });
  const classes = Number(flag('--classes', '0'));
  const all = [...new Set((await rowsOf(path.join(src, 'train.csv'))).map((r) => r.label))].sort();
  const kept = new Set(classes > 0 ? all.slice(0, classes) : all);
  const seen = new Map();
  const train = (await rowsOf(path.join(src, 'train.csv'))).filter((r) => {
    if (!kept.has(r.label)) return false;
    seen.set(r.label, (seen.get(r.label) ?? 0) + 1);
    return seen.get(r.label) <= perClass;
  });
  const testPerClass = Number(flag('--test-per-class', '10'));
  const seenTest = new Map();
  const test = (await rowsOf(path.join(src, 'test.csv'))).filter((r) => {
    if (!kept.has(r.label)) return false;
    seenTest.set(r.label, (seenTest.get(r.label) ?? 0) + 1);
    return seenTest.get(r.label) <= testPerClass;
  });
  const trainRows = train.map((r, i) => {
    const position = POSITIONS[i % 3];
    return [csvCell(longNote(r.text, position, 1000 + i)), csvCell(r.label), position].join(',');
  });
  const testRows = test.flatMap((r, i) =>
    POSITIONS.map((position) => [csvCell(longNote(r.text, position, 5000 + i)), csvCell(r.label), position].join(',')),
  );
  writeFileSync(path.join(out, 'train.csv'), 'text,label,position\n' + trainRows.join('\n') + '\n');
  const shortRows = train.map((r) => `${csvCell(r.text)},${csvCell(r.label)}`);
  writeFileSync(path.join(out, 'short.csv'), 'text,label\n' + shortRows.join('\n') + '\n');
  writeFileSync(path.join(out, 'test.csv'), 'text,label,position\n' + testRows.join('\n') + '\n');
  console.log(`${trainRows.length} training notes, ${testRows.length} test notes (${test.length} × 3 positions)`);
}

async function run() {
  const { runTrain } = await dist('train/run.js');
  const { Predictor } = await dist('infer/predictor.js');
  const extra = args.slice(args.indexOf('--') + 1);
  const opts = {};
  for (let i = 0; i < extra.length; i += 2) {
    const key = extra[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const v = extra[i + 1];
    opts[key] = v === 'true' || v === 'false' ? v === 'true' : Number.isNaN(Number(v)) ? v : Number(v);
  }
  const dir = path.join(out, name);
  const t0 = performance.now();
  await runTrain({
    model: path.resolve(here, '..', '..', 'shared', 'models', 'mini-biobert'),
    train: path.join(out, 'train.csv'),
    outputDir: dir,
    batchSize: 8,
    weightDecay: 0.01,
    scheduler: 'linear',
    seed: 1,
    evalEvery: 0,
    gradAccum: 1,
    maxGradNorm: 1,
    labelSmoothing: 0,
    validationSplit: 0.1,
    overwrite: true,
    baseline: false,
    ...opts,
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const trainRss = rss();
  const log = readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const epochs = Math.max(...log.map((r) => r.epoch ?? 0));
  const p = await Predictor.load(path.join(dir, 'best_model'), { log: () => {} });
  const test = [];
  for await (const r of readRows(path.join(out, 'test.csv'))) test.push(r);
  const t1 = performance.now();
  const res = p.classify(test.map((r) => String(r.text)));
  const inferSeconds = (performance.now() - t1) / 1000;
  const accuracy = {};
  for (const pos of POSITIONS) {
    const idx = test.map((r, i) => (r.position === pos ? i : -1)).filter((i) => i >= 0);
    accuracy[pos] = idx.filter((i) => res[i].label === String(test[i].label)).length / idx.length;
  }
  const result = {
    name,
    flags: extra.join(' '),
    accuracy,
    epochs,
    seconds_per_epoch: Math.round(trainSeconds / Math.max(1, epochs)),
    train_peak_rss_mb: trainRss,
    test_notes: test.length,
    test_seconds: Math.round(inferSeconds),
    document: p.document,
  };
  writeFileSync(path.join(out, `${name}.json`), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result));
}

/** Peak memory of a few training steps on notes of about `--tokens` tokens and on 512-token notes (same batch). */
async function memory() {
  const tokens = Number(flag('--tokens', '8000'));
  const steps = Number(flag('--steps', '3'));
  const batch = Number(flag('--batch-size', '4'));
  const kind = flag('--kind', 'both');
  if (kind === 'both') {
    const { spawnSync } = await import('node:child_process');
    const res = {};
    for (const k of ['short', 'long']) {
      const r = spawnSync(
        process.execPath,
        [
          new URL(import.meta.url).pathname,
          'memory',
          out,
          '--kind',
          k,
          '--tokens',
          String(tokens),
          '--steps',
          String(steps),
          '--batch-size',
          String(batch),
        ],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(r.stderr);
      res[k] = JSON.parse(r.stdout.trim().split('\n').at(-1));
    }
    const ratio = res.long.peak_rss_mb / res.short.peak_rss_mb;
    const eng = res.long.engine_mb / res.short.engine_mb;
    const result = { ...res, rss_ratio: Number(ratio.toFixed(3)), engine_ratio: Number(eng.toFixed(3)) };
    writeFileSync(path.join(out, 'memory.json'), JSON.stringify(result, null, 2) + '\n');
    return console.log(JSON.stringify(result));
  }
  const { runTrain } = await dist('train/run.js');
  const { memoryStats } = await dist('tensor/storage.js');
  const words = kind === 'long' ? Math.round(tokens / 1.6) : 300;
  const dir = path.join(out, `memory-${kind}`);
  mkdirSync(dir, { recursive: true });
  const rows = (await rowsOf(path.join(out, 'train.csv'))).slice(0, 48);
  const file = path.join(dir, 'train.csv');
  writeFileSync(
    file,
    'text,label\n' +
      rows
        .map(
          (r, i) =>
            `${csvCell(longNote(r.text, 'end', 7000 + i, { minWords: words, maxWords: words }))},${csvCell(r.label)}`,
        )
        .join('\n') +
      '\n',
  );
  const lines = [];
  const t0 = performance.now();
  await runTrain(
    {
      model: path.resolve(here, '..', '..', 'shared', 'models', 'mini-biobert'),
      train: file,
      outputDir: path.join(dir, 'run'),
      batchSize: batch,
      maxSteps: steps,
      learningRate: 1e-4,
      weightDecay: 0.01,
      scheduler: 'linear',
      seed: 1,
      evalEvery: 0,
      gradAccum: 1,
      maxGradNorm: 1,
      labelSmoothing: 0,
      validationSplit: 0.1,
      overwrite: true,
      baseline: false,
      calibrate: false,
      checkpoints: false,
      maxLength: 512,
      ...(kind === 'long' ? { pooling: 'attention' } : { pooling: 'none' }),
    },
    (l) => lines.push(l),
  );
  const summary = lines.find((l) => l.startsWith('train:')) ?? '';
  console.log(
    JSON.stringify({
      kind,
      peak_rss_mb: rss(),
      engine_mb: Math.round(memoryStats().allocatedBytes / 2 ** 20),
      seconds: Math.round((performance.now() - t0) / 1000),
      summary,
    }),
  );
}

function table() {
  const rows = readdirSync(out)
    .filter((f) => f.endsWith('.json') && f !== 'memory.json')
    .map((f) => JSON.parse(readFileSync(path.join(out, f), 'utf8')));
  console.log('| reading | start | middle | end | end / start | s per epoch | peak RSS (MB) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const a = r.accuracy;
    console.log(
      `| ${r.name} | ${a.start.toFixed(3)} | ${a.middle.toFixed(3)} | ${a.end.toFixed(3)} | ` +
        `${(a.end / a.start).toFixed(2)} | ${r.seconds_per_epoch} | ${r.train_peak_rss_mb} |`,
    );
  }
}

if (cmd === 'build') await build();
else if (cmd === 'run') await run();
else if (cmd === 'memory') await memory();
else if (cmd === 'table') table();
else {
  console.error('usage: node scripts/long-documents.mjs build|run|memory|table OUT ...');
  process.exit(2);
}
