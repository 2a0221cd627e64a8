// Curation: planted duplicates in a synthetic set of 10,000 notes, merging files of different formats, filters,
// conflicting labels, and the leakage check (synthetic, and on symptom2disease's own split when ../shared is there).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Generator } from '../tensor/random.js';
import {
  checkLeakage,
  curate,
  curateRows,
  formatLeakage,
  nonTextReason,
  parseInputSpec,
  type MergedRow,
} from './curate.js';
import { clusters, jaccard, lshParams, normalizeForDedup, shingleSet, similarPairs, sketch } from './minhash.js';
import { readLabeled } from './dataset.js';
import { fixturePath } from '../testing-fixtures.js';

/** A vocabulary of pseudo-words drawn with a Zipf-like law, so notes share common words as real notes do. */
function makeNotes(n: number, gen: Generator): string[] {
  const syl = ['ca', 'ro', 'mi', 'te', 'lu', 'pra', 'ven', 'dos', 'ki', 'ther', 'al', 'on', 'gis', 'nu', 'be'];
  const vocab = Array.from({ length: 3000 }, () => {
    const k = 1 + Math.floor(gen.uniform() * 3);
    return Array.from({ length: k }, () => syl[Math.floor(gen.uniform() * syl.length)]).join('');
  });
  const word = () => vocab[Math.floor(vocab.length * gen.uniform() ** 2.5)]!;
  return Array.from({ length: n }, () => {
    const len = 40 + Math.floor(gen.uniform() * 60);
    return Array.from({ length: len }, (_, i) => (i > 0 && i % 12 === 0 ? `${word()}.` : word())).join(' ');
  });
}

/** Whitespace and case changes that leave the normalised text equal. */
function reformat(t: string, gen: Generator): string {
  return t
    .split(' ')
    .map((w) => (gen.uniform() < 0.2 ? w.toUpperCase() : w))
    .join(gen.uniform() < 0.5 ? '  ' : ' \n ');
}

/** A few words changed (1–3), plus whitespace and case changes. */
function nearCopy(t: string, gen: Generator): string {
  const words = t.split(' ');
  const k = 1 + Math.floor(gen.uniform() * 3);
  for (let i = 0; i < k; i++) words[Math.floor(gen.uniform() * words.length)] = `zz${Math.floor(gen.uniform() * 1e6)}`;
  return reformat(words.join(' '), gen);
}

describe('MinHash + LSH', () => {
  it('normalises case, punctuation and whitespace; Jaccard of shingle sets; band parameters fit the threshold', () => {
    assert.equal(normalizeForDedup('  Chest   PAIN,\nno fever! '), 'chest pain no fever');
    const a = shingleSet('a b c d', 2);
    assert.equal(a.length, 3);
    assert.equal(jaccard(a, shingleSet('a b c e', 2)), 2 / 4);
    assert.equal(shingleSet('single', 2).length, 1);
    const { bands, rows } = lshParams(0.7, 128);
    assert.ok(bands * rows <= 128);
    // probability that a pair at the threshold becomes a candidate: high, since candidates are verified exactly
    assert.ok(1 - (1 - 0.7 ** rows) ** bands > 0.95, `${bands} bands x ${rows} rows`);
  });

  it('finds planted exact and near duplicates among 10,900 notes with precision and recall ≥ 0.95', () => {
    const gen = new Generator(7);
    const notes = makeNotes(10_000, gen);
    const planted: [number, number][] = [];
    const all = [...notes];
    for (let i = 0; i < 600; i++) {
      const src = Math.floor(gen.uniform() * notes.length);
      all.push(i % 2 ? nearCopy(notes[src]!, gen) : reformat(notes[src]!, gen));
      planted.push([src, all.length - 1]);
    }
    // templated distractors: a quarter of the words changed — related notes, not copies, must not be flagged
    for (let i = 0; i < 300; i++) {
      const words = notes[Math.floor(gen.uniform() * notes.length)]!.split(' ');
      for (let k = 0; k < words.length / 4; k++) words[Math.floor(gen.uniform() * words.length)] = `yy${i}x${k}`;
      all.push(words.join(' '));
    }
    const t0 = performance.now();
    const pairs = similarPairs(sketch(all));
    const secs = (performance.now() - t0) / 1000;
    const cl = clusters(all.length, pairs);
    const group = new Map<number, number>();
    for (const [src, copy] of planted) group.set(src, src).set(copy, src);
    const found = planted.filter(([src, copy]) => cl[src] === cl[copy]).length;
    const correct = pairs.filter((p) => group.has(p.a) && group.get(p.a) === group.get(p.b)).length;
    const recall = found / planted.length;
    const precision = correct / Math.max(1, pairs.length);
    console.log(
      `# ${all.length} notes: ${pairs.length} duplicate links, precision ${precision.toFixed(3)}, ` +
        `recall ${recall.toFixed(3)}, ${secs.toFixed(2)} s`,
    );
    assert.ok(recall >= 0.95, `recall ${recall}`);
    assert.ok(precision >= 0.95, `precision ${precision}`);
  });
});

describe('curate', () => {
  const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'medtune-curate-'));

  it('parses input specs with a column mapping', () => {
    assert.deepEqual(parseInputSpec('a.csv'), { file: 'a.csv' });
    assert.deepEqual(parseInputSpec('dir/b.jsonl:text=note,label=dx,source=clinicB'), {
      file: 'dir/b.jsonl',
      text: 'note',
      label: 'dx',
      source: 'clinicB',
    });
    assert.throws(() => parseInputSpec('a.csv:txt=note'), /unknown key "txt"/);
  });

  it('merges CSV, JSONL and Parquet with their own columns, keeping every row and its source', async () => {
    const d = tmp();
    writeFileSync(path.join(d, 'a.csv'), 'text,label\nfever and cough for two days,flu\n"rash, itchy",eczema\n');
    writeFileSync(
      path.join(d, 'b.jsonl'),
      [
        '{"note":"chest pain on exertion","dx":"angina"}',
        '{"note":"denies chest pain","dx":"gerd"}',
        '{"note":"wheezing at night","dx":"asthma"}',
      ].join('\n') + '\n',
    );
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'body', data: ['headache and photophobia', 'burning on urination'], type: 'STRING' },
        { name: 'diagnosis', data: ['migraine', 'uti'], type: 'STRING' },
      ],
    });
    writeFileSync(path.join(d, 'c.parquet'), new Uint8Array(buf));
    const r = await curate({
      inputs: [
        { file: path.join(d, 'a.csv') },
        parseInputSpec(`${path.join(d, 'b.jsonl')}:text=note,label=dx`),
        parseInputSpec(`${path.join(d, 'c.parquet')}:text=body,source=clinicC`),
      ],
    });
    assert.equal(r.rows.length, 7);
    assert.deepEqual(
      r.rows.map((x) => `${x.source}:${x.row}:${x.label}`),
      [
        'a.csv:1:flu',
        'a.csv:2:eczema',
        'b.jsonl:1:angina',
        'b.jsonl:2:gerd',
        'b.jsonl:3:asthma',
        'clinicC:1:migraine',
        'clinicC:2:uti',
      ],
    );
    assert.equal(r.rows[1]!.text, 'rash, itchy');
    assert.deepEqual(
      r.summary.inputs.map((i) => [i.textColumn, i.labelColumn]),
      [
        ['text', 'label'],
        ['note', 'dx'],
        ['body', 'diagnosis'],
      ],
    );
    rmSync(d, { recursive: true });
  });

  it('counts what each filter removed; drop or flag duplicates; reports conflicting labels', () => {
    const rows: MergedRow[] = [
      { text: 'patient denies chest pain today', label: 'a', source: 's', row: 1 },
      { text: '', label: 'a', source: 's', row: 2 },
      { text: 'ok', label: 'a', source: 's', row: 3 },
      { text: 'no label on this row at all', label: null, source: 's', row: 4 },
      { text: 'see attachment QmFzZTY0' + 'A'.repeat(120), label: 'a', source: 's', row: 5 },
      { text: 'Patient  DENIES chest pain today.', label: 'b', source: 's', row: 6 },
      { text: 'an unrelated note about wheezing', label: 'zzz', source: 's', row: 7 },
    ];
    const r = curateRows(rows, { filters: { minWords: 2, allowLabels: ['a', 'b'] }, requireLabel: true });
    assert.deepEqual(r.summary.removed, {
      empty: 1,
      too_short: 1,
      too_long: 0,
      non_text: 1,
      missing_label: 1,
      label_not_allowed: 1,
    });
    assert.deepEqual(
      r.rows.map((x) => x.row),
      [1],
    );
    assert.equal(r.summary.duplicates.exact, 1);
    assert.deepEqual(r.summary.conflicting_labels.examples, [{ rows: ['s:1', 's:6'], labels: ['a', 'b'] }]);
    const f = curateRows(rows, { filters: { minWords: 2 }, dedup: { mode: 'flag' }, requireLabel: true });
    assert.deepEqual(
      f.rows.map((x) => [x.row, x.duplicate_of ?? null]),
      [
        [1, null],
        [6, 's:1'],
        [7, null],
      ],
    );
    assert.equal(nonTextReason('12/04 130/80 99.1 88 16 98%'), 'mostly non-letters');
    assert.equal(nonTextReason('BP 130/80, HR 88, afebrile'), null);
  });

  it('a corpus with no usable text is an error', async () => {
    const d = tmp();
    writeFileSync(path.join(d, 'a.csv'), 'text,label\n"",x\n"  ",y\n');
    await assert.rejects(
      curate({ inputs: [{ file: path.join(d, 'a.csv') }] }),
      /no usable rows left of 2 \(removed: empty 2\)/,
    );
    rmSync(d, { recursive: true });
  });
});

describe('leakage check', () => {
  it('reports copies across splits by row number, never their text', () => {
    const gen = new Generator(3);
    const notes = makeNotes(300, gen);
    const train = notes.slice(0, 200).map((text, i) => ({ text, row: i + 1, label: i % 3 }));
    const test = notes.slice(200).map((text, i) => ({ text, row: i + 1, label: i % 3 }));
    test[5]!.text = reformat(train[17]!.text, gen);
    test[9]!.text = nearCopy(train[40]!.text, gen);
    test[9]!.label = 99;
    const r = checkLeakage(train, test);
    assert.equal(r.exact, 1);
    assert.equal(r.near, 1);
    assert.equal(r.conflictingLabels, 2 - (test[5]!.label === train[17]!.label ? 1 : 0));
    assert.deepEqual(
      r.examples.map((e) => [e.row, e.trainRow]),
      [
        [6, 18],
        [10, 41],
      ],
    );
    const line = formatLeakage(r);
    assert.match(line, /2 of 100 test rows .*test row 6 ~ train row 18 \(exact\)/);
    assert.ok(!line.includes(train[17]!.text.slice(0, 20)));
  });

  const s2d = fixturePath('data', 'symptom2disease');
  it('symptom2disease: its own train/test split', { skip: !s2d && 'needs ../shared' }, async () => {
    const train = await readLabeled(path.join(s2d!, 'train.csv'));
    const test = await readLabeled(path.join(s2d!, 'test.csv'), { labels: train.labels });
    const r = checkLeakage(train.examples, test.examples);
    console.log(`# ${formatLeakage(r)}`);
    assert.equal(r.rows, 240);
    assert.ok(r.exact + r.near > 0, 'symptom2disease has repeated descriptions across its split');
  });
});
