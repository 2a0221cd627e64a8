// Data readers (CSV quirks, JSONL), label maps, stratified splits, batching.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRows } from './readers.js';
import { Generator } from '../tensor/random.js';
import { makeBatches, readLabeled, stratifiedSplit, unseenNote } from './dataset.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'medtune-data-'));

async function collect(file: string) {
  const rows = [];
  for await (const r of readRows(file)) rows.push(r);
  return rows;
}

describe('data readers', () => {
  it('CSV with BOM, quoted commas, quoted newlines, empty and huge fields', async () => {
    const d = tmp();
    const f = path.join(d, 'a.csv');
    const huge = 'x'.repeat(200000);
    writeFileSync(f, `\uFEFFtext,label\n"fever, cough",flu\n"line one\nline two",cold\n,flu\n${huge},flu\n`);
    const rows = await collect(f);
    assert.equal(rows.length, 4);
    assert.deepEqual(Object.keys(rows[0]!), ['text', 'label']);
    assert.equal(rows[0]!.text, 'fever, cough');
    assert.equal(rows[1]!.text, 'line one\nline two');
    assert.equal(rows[2]!.text, '');
    assert.equal((rows[3]!.text as string).length, 200000);
    const data = await readLabeled(f);
    assert.equal(data.examples.length, 3);
    assert.deepEqual(data.skipped, [{ row: 3, reason: 'empty text' }]);
    assert.deepEqual(data.labels, ['cold', 'flu']);
    rmSync(d, { recursive: true });
  });
  it('malformed CSV is an error naming the file', async () => {
    const d = tmp();
    const f = path.join(d, 'bad.csv');
    writeFileSync(f, 'text,label\n"unterminated,flu\n');
    await assert.rejects(collect(f), (e: Error) => e.message.includes(f));
    writeFileSync(f, 'text,label\na,b,c\n');
    await assert.rejects(collect(f), (e: Error) => e.message.includes(f));
    rmSync(d, { recursive: true });
  });
  it('JSONL with list labels (multi-label) and a label unseen in training', async () => {
    const d = tmp();
    const f = path.join(d, 'a.jsonl');
    writeFileSync(f, '{"sentence":"a","labels":["x","y"]}\n\n{"sentence":"b","labels":"y"}\n');
    const data = await readLabeled(f, { multiLabel: true });
    assert.equal(data.textColumn, 'sentence');
    assert.deepEqual(
      data.examples.map((e) => e.label),
      [
        [1, 1],
        [0, 1],
      ],
    );
    const t = path.join(d, 't.jsonl');
    // multi-label (ICD-style): a label training never had is kept aside, reported, and counted as a miss
    writeFileSync(t, '{"sentence":"c","labels":["z","x"]}\n{"sentence":"d","labels":["y"]}\n');
    const seen = await readLabeled(t, { multiLabel: true, labels: data.labels });
    assert.deepEqual(seen.unseen, { labels: ['z'], rows: 1 });
    assert.deepEqual(seen.examples[0]!.unseen, ['z']);
    assert.deepEqual(seen.examples[0]!.label, [1, 0]);
    assert.match(unseenNote(seen)!, /1 labels the training data never had \(z\) on 1 rows: counted as misses/);
    // single-label data still refuses it
    const s = path.join(d, 's.csv');
    writeFileSync(s, 'text,label\na,x\n');
    const known = await readLabeled(s);
    writeFileSync(s, 'text,label\nb,z\n');
    await assert.rejects(readLabeled(s, { labels: known.labels }), /never had: z/);
    writeFileSync(t, 'not json\n');
    await assert.rejects(collect(t), /t\.jsonl: line 1 is not valid JSON/);
    rmSync(d, { recursive: true });
  });
  it('missing columns are named', async () => {
    const d = tmp();
    const f = path.join(d, 'a.tsv');
    writeFileSync(f, 'body\tdx\nx\ty\n');
    await assert.rejects(readLabeled(f), /cannot find the text column.*body, dx/);
    const ok = await readLabeled(f, { textColumn: 'body', labelColumn: 'dx' });
    assert.equal(ok.examples.length, 1);
    rmSync(d, { recursive: true });
  });
});

describe('splits and batches', () => {
  const ex = Array.from({ length: 100 }, (_, i) => ({ text: `t${i}`, label: i % 4, row: i + 1 }));
  it('stratified split keeps class proportions and is deterministic', () => {
    const [tr, va] = stratifiedSplit(ex, 0.2, 7);
    assert.equal(va.length, 20);
    assert.equal(tr.length, 80);
    for (let c = 0; c < 4; c++) assert.equal(va.filter((e) => e.label === c).length, 5);
    assert.deepEqual(
      stratifiedSplit(ex, 0.2, 7)[1].map((e) => e.row),
      va.map((e) => e.row),
    );
    assert.notDeepEqual(
      stratifiedSplit(ex, 0.2, 8)[1].map((e) => e.row),
      va.map((e) => e.row),
    );
  });
  it('multi-label: iterative stratification holds out the share asked (1,000 labels), labels in proportion', () => {
    const gen = new Generator(5);
    const C = 1000;
    // ICD-like: a few frequent codes, a long tail (Zipf), 1–8 codes a note
    const zipf = Array.from({ length: C }, (_, c) => 1 / (c + 1));
    const Z = zipf.reduce((a, b) => a + b, 0);
    const draw = () => {
      let u = gen.uniform() * Z;
      for (let c = 0; c < C; c++) if ((u -= zipf[c]!) <= 0) return c;
      return C - 1;
    };
    const rows = Array.from({ length: 1600 }, (_, i) => {
      const label = new Array<number>(C).fill(0);
      const k = 1 + Math.floor(gen.uniform() * 8);
      for (let j = 0; j < k; j++) label[draw()] = 1;
      return { text: `t${i}`, label, row: i + 1 };
    });
    for (const fraction of [0.1, 0.2]) {
      const [tr, va] = stratifiedSplit(rows, fraction, 3);
      assert.equal(tr.length + va.length, rows.length);
      assert.ok(Math.abs(va.length / rows.length - fraction) <= 0.01, `${va.length} held out for ${fraction}`);
      assert.equal(new Set([...tr, ...va].map((e) => e.row)).size, rows.length);
      // the 20 most frequent labels are held out in proportion (mean deviation ≤ 3 points)
      let dev = 0;
      for (let c = 0; c < 20; c++) {
        const all = rows.filter((r) => r.label[c]).length;
        dev += Math.abs(va.filter((r) => (r.label as number[])[c]).length / all - fraction) / 20;
      }
      assert.ok(dev <= 0.03, `mean deviation ${dev}`);
    }
    assert.deepEqual(
      stratifiedSplit(rows, 0.1, 3)[1].map((e) => e.row),
      stratifiedSplit(rows, 0.1, 3)[1].map((e) => e.row),
    );
  });
  it('batches cover every example once; bucketing groups similar lengths', () => {
    const lengths = Array.from({ length: 1000 }, (_, i) => ((i * 37) % 120) + 1);
    const b = makeBatches(lengths, 32, { shuffle: true, seed: 1, bucket: true });
    assert.deepEqual(
      b.flat().sort((x, y) => x - y),
      lengths.map((_, i) => i),
    );
    const pad = (bs: number[][]) => bs.reduce((s, x) => s + Math.max(...x.map((i) => lengths[i]!)) * x.length, 0);
    assert.ok(pad(b) < 0.7 * pad(makeBatches(lengths, 32, { shuffle: true, seed: 1, bucket: false })));
  });
});

describe('parquet', () => {
  it('reads Parquet row groups as rows, with list labels for multi-label', async () => {
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const d = tmp();
    const f = path.join(d, 'a.parquet');
    const texts = Array.from({ length: 25 }, (_, i) => `note ${i}, with "quotes"`);
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'text', data: texts, type: 'STRING' },
        { name: 'label', data: texts.map((_, i) => (i % 3 === 0 ? 'flu' : 'cold')), type: 'STRING' },
      ],
      rowGroupSize: 10,
    });
    writeFileSync(f, new Uint8Array(buf));
    const rows = await collect(f);
    assert.equal(rows.length, 25);
    assert.equal(rows[13]!.text, 'note 13, with "quotes"');
    const data = await readLabeled(f);
    assert.deepEqual(data.labels, ['cold', 'flu']);
    writeFileSync(f, 'not parquet');
    await assert.rejects(collect(f), /not a readable Parquet file/);
    rmSync(d, { recursive: true });
  });
});

describe('ids', () => {
  it('duplicate ids are an error naming both rows', async () => {
    const d = tmp();
    const f = path.join(d, 'a.csv');
    writeFileSync(f, 'id,text,label\n7,a,x\n8,b,y\n7,c,x\n');
    await assert.rejects(readLabeled(f), /id "7" in column "id" appears twice \(rows 1 and 3\)/);
    rmSync(d, { recursive: true });
  });
});
