#!/usr/bin/env node
// The feedback loop of docs/feedback.md on symptom2disease (halves), outside npm test (it trains mini-biobert twice):
//   node scripts/feedback-loop-s2d.mjs [WORK_DIR] [--epochs 10]
// A: mini-biobert on half A → registered, champion, served with capture. Half B's notes (each with a made-up name,
// MRN and phone number) are sent to the server; the review queue (random sample + doubtful cases) gets the true
// labels through the API; the live performance and the estimate before review (CBPE) are read. The reviewed cases
// are exported; B is trained from the champion on them with 50 % replay of half A, registered, run in shadow,
// compared with A (paired bootstrap on the reviewed cases and on test.csv), promoted (forced if worse) and rolled
// back, with load running during both alias moves. It prints each step and ends with a summary and the identifier
// grep.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';

const dist = (p) => import(new URL(`../dist/${p}`, import.meta.url).href);
const { createServer } = await dist('serve/app.js');
const { runTrain } = await dist('train/run.js');
const { Registry } = await dist('registry/registry.js');
const { exportServedReviews } = await dist('registry/served-reviews.js');
const { runCompare } = await dist('registry/compare.js');
const { readCapture } = await dist('registry/capture-store.js');
const { grepFolder, IDENTIFIERS, noteWithPhi } = await dist('registry/fixtures.js');
const { readLabeled } = await dist('data/dataset.js');
const { deidentify } = await dist('deid/anonymize.js');

const args = process.argv.slice(2);
const epochs = Number(args[args.indexOf('--epochs') + 1] || 10) || 10;
const W = args[0] && !args[0].startsWith('--') ? args[0] : mkdtempSync(path.join(os.tmpdir(), 'medtune-s2d-loop-'));
mkdirSync(W, { recursive: true });
const f = (n) => path.join(W, n);
const shared = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'shared');
const s2d = (n) => path.join(process.env.MEDTUNE_SHARED ?? shared, 'data', 'symptom2disease', n);
const t0 = Date.now();
const say = (l) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${l}`);
const recipe = {
  ...{ epochs, learningRate: 2e-4, batchSize: 32, maxLength: 128, seed: 42, baseline: false, checkpoints: false },
  ...{ weightDecay: 0.01, warmup: 0, scheduler: 'linear', evalEvery: 0, gradAccum: 1, maxGradNorm: 1 },
  ...{ labelSmoothing: 0, validationSplit: 0.1 },
};

execFileSync(process.execPath, [new URL('continual-halves.mjs', import.meta.url).pathname, s2d('train.csv'), W, '1']);
say(`halves in ${W}`);
const model = path.join(process.env.MEDTUNE_SHARED ?? shared, 'models', 'mini-biobert');
await runTrain({ ...recipe, model, train: f('half-a.csv'), test: s2d('test.csv'), outputDir: f('run-a') }, () => {});
const reg = Registry.open(f('registry'));
const A = (await reg.register(f('run-a/best_model'), 's2d')).version;
await reg.promote(`s2d@${A.version}`, 'champion');
say(`A = s2d@${A.version} (test accuracy ${A.validation?.accuracy?.toFixed(3)}): registered, champion`);

const key = randomBytes(32);
const logs = [];
const serve = async (o = {}) => {
  const s = await createServer({
    models: [{ name: 's2d', dir: '', registry: true }],
    ...{ registry: f('registry'), registryPollMs: 200, auth: false, port: 0, capture: f('capture'), captureKey: key },
    captureRandomShare: 0.5,
    logStream: new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }),
    ...o,
  });
  await s.ready;
  return s;
};
const post = (s, url, body) =>
  s.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

let s = await serve();
const half = await readLabeled(f('half-b.csv'));
// a header with a made-up name, MRN and phone number (no symptom words) before each note
const header = (i) => noteWithPhi(i).replace(/ about .*$/, '.');
const notes = half.examples.map((e, i) => ({
  text: `${header(i)} ${e.text}`,
  tail: e.text,
  label: half.labels[e.label],
}));
for (const n of notes)
  if ((await post(s, '/v1/diagnose', { text: n.text })).statusCode !== 200) throw new Error('failed');
await s.capture().flush();
// the truth of a captured case: its note as the worker de-identified it (the same call)
const byDeid = new Map();
const know = (list) => list.forEach((n) => byDeid.set(deidentify(n.text, { operator: 'tag' }).text, n.label));
know(notes);
/** Reviews every case of the queue not reviewed yet with its true label, through the API. */
async function reviewAll() {
  const q = JSON.parse((await s.app.inject({ url: '/v1/served/cases?limit=500' })).body);
  let right = 0;
  for (const c of q.cases.filter((x) => !x.reviews.length)) {
    const truth = byDeid.get(c.text);
    right += truth === c.predicted ? 1 : 0;
    const verdict = truth === c.predicted ? { verdict: 'model' } : { verdict: 'other', label: truth };
    await post(s, '/v1/served/reviews', { case_id: c.id, ...verdict });
  }
  return { q, right };
}
const first = await reviewAll();
say(
  `served ${notes.length} notes of half B; reviewed the queue: ${first.q.total} cases ` +
    `(${first.q.cases.filter((c) => c.stream === 'random').length} random sample), the model was right on ` +
    `${first.right}`,
);
const perf = JSON.parse((await s.app.inject({ url: '/v1/models/s2d/performance' })).body);
const fmt = (e) => (e ? `${e.value.toFixed(3)} [${e.low.toFixed(3)}, ${e.high.toFixed(3)}]` : '-');
for (const w of perf.windows.filter((x) => x.window === 'all'))
  for (const st of ['random', 'prioritised'])
    say(
      `live ${st}: n ${w[st].n}, accuracy ${fmt(w[st].accuracy)}, macro-F1 ${fmt(w[st].macro_f1)}, ` +
        `ECE ${fmt(w[st].ece)}`,
    );
const estimated = (e, what) =>
  `${what}: n ${e.n}, accuracy ${fmt(e.accuracy)}, macro-F1 ${e.macro_f1 == null ? '-' : e.macro_f1.toFixed(3)}`;
// the estimate against the truth of every captured case (the script knows every note's label)
const captured = readCapture(f('capture'), key).records.filter((r) => r.kind === 'case');
const parts = {
  answered: (d) => d.in_scope && !d.abstain,
  abstained: (d) => d.in_scope && d.abstain,
  out_of_scope: (d) => !d.in_scope,
};
const truly = (keep) => {
  const xs = captured.filter((r) => keep(r.decision));
  const right = xs.filter((r) => byDeid.get(r.text) === r.decision.label).length;
  return xs.length ? `; actual ${(right / xs.length).toFixed(3)}` : '';
};
const est = perf.windows.find((x) => x.window === 'all').estimated;
say(estimated(est, 'estimated before review (CBPE), all captured cases') + truly(() => true));
for (const [part, keep] of Object.entries(parts)) say(estimated(est[part], `  of which ${part}`) + truly(keep));
say(perf.alert.message);

exportServedReviews({ capture: f('capture'), output: f('served.csv'), key, log: say });
const champion = reg.folderOf('s2d', reg.get('s2d').version);
await runTrain(
  {
    ...recipe,
    model: champion,
    train: f('served.csv'),
    replay: f('half-a.csv'),
    replayFraction: 0.5,
    test: s2d('test.csv'),
    outputDir: f('run-b'),
  },
  () => {},
);
const B = (await reg.register(f('run-b/best_model'), 's2d')).version;
await reg.promote(`s2d@${B.version}`, 'challenger');
say(
  `B = s2d@${B.version} (test accuracy ${B.validation?.accuracy?.toFixed(3)}; parent ${B.lineage.parent?.version}, ` +
    `reviewed cases used ${JSON.stringify(B.lineage.reviews.map((r) => r.cases))}): registered, challenger`,
);

await s.close();
s = await serve({ shadow: 's2d@challenger' });
const test = await readLabeled(s2d('test.csv'));
const fresh = test.examples.map((e, i) => ({ text: `${header(i)} ${e.text}`, label: test.labels[e.label] }));
know(fresh);
for (const n of fresh) await post(s, '/v1/diagnose', { text: n.text });
await s.capture().flush();
const second = await reviewAll();
say(
  `served the ${fresh.length} test notes; reviewed ${second.q.cases.filter((c) => !c.reviews.length).length} of them`,
);
const recs = readCapture(f('capture'), key).records;
const shadows = recs.filter((r) => r.kind === 'shadow');
const byCase = new Map(recs.filter((r) => r.kind === 'case').map((r) => [r.id, r]));
const disagree = shadows.filter(
  (r) => JSON.stringify(byCase.get(r.case_id)?.decision.label) !== JSON.stringify(r.decision.label),
).length;
say(`shadow: B answered ${shadows.length} captured cases (never returned); it disagreed with A on ${disagree}`);
const cmp = await runCompare(reg, `s2d@${A.version}`, `s2d@${B.version}`, {
  test: s2d('test.csv'),
  capture: f('capture'),
  key,
  log: say,
});

let stop = false;
const seen = [];
const client = async () => {
  for (let i = 0; !stop; i++) {
    const r = await post(s, '/v1/diagnose', { text: fresh[i % fresh.length].text });
    seen.push({ status: r.statusCode, version: r.statusCode === 200 ? JSON.parse(r.body).model.version : '' });
  }
};
const load = Promise.all([client(), client(), client(), client()]);
const until = async (v) => {
  while (JSON.parse((await post(s, '/v1/diagnose', { text: 'fever' })).body).model.version !== v)
    await new Promise((r) => setTimeout(r, 50));
};
let promoted;
try {
  promoted = await reg.promote(`s2d@${B.version}`, 'champion');
} catch (e) {
  say(`promote without --force: ${e.message}`);
  promoted = await reg.promote(`s2d@${B.version}`, 'champion', { force: true });
}
say(`promoted B to champion (${promoted.note})`);
await until(B.version);
const rb = await reg.rollback('s2d');
await until(rb.to);
stop = true;
await load;
say(
  `rolled back ${rb.from} → ${rb.to}; requests during both moves: ${seen.length}, ` +
    `failed ${seen.filter((x) => x.status !== 200).length}, ` +
    `answered by B ${seen.filter((x) => x.version === B.version).length}`,
);
await s.close();
reg.close();
const hits = [...grepFolder(f('capture'), IDENTIFIERS), ...grepFolder(f('registry'), IDENTIFIERS)];
const inLogs = IDENTIFIERS.filter(
  (x) => logs.join('').includes(x) || readFileSync(f('served.csv'), 'utf8').includes(x),
);
say(
  'made-up identifiers found in the capture folder, the registry, the export or the logs: ' +
    `${hits.length + inLogs.length}`,
);
writeFileSync(f('summary.json'), JSON.stringify({ A: A.version, B: B.version, perf, compare: cmp }, null, 2));
