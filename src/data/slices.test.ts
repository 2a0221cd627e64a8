// The chunks of a queued job read the rows one pass over the whole file reads: for CSV (BOM, CRLF, quoted line
// breaks and quotes, blank lines, multi-byte text, no final newline), TSV, JSONL (blank lines), over buffer
// boundaries, gzip (read by skipping rows) and Parquet (by row groups); a slice whose bytes changed is refused.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { readRows, type Row } from './readers.js';
import { bytesSha256, scanInput, sliceOf } from './slices.js';

let dir: string;
const collect = async (it: AsyncIterable<Row>) => {
  const out: Row[] = [];
  for await (const r of it) out.push(r);
  return out;
};

/** Every chunking of `file` into chunks of `size` rows reads, chunk after chunk, the rows of the whole file. */
async function checkChunks(file: string, size: number, o: { bytes: boolean }): Promise<number> {
  const all = await collect(readRows(file));
  const scan = await scanInput(file, { isStart: (r) => r % size === 0 });
  assert.equal(scan.rows, all.length, `${path.basename(file)}: rows`);
  assert.equal(scan.bytes, o.bytes);
  const got: Row[] = [];
  for (let start = 0; start < scan.rows; start += size) {
    const { slice, sha256 } = sliceOf(scan, start, Math.min(scan.rows, start + size));
    if (slice.bytes) assert.equal(await bytesSha256(file, slice.bytes), sha256);
    const rows = await collect(readRows(file, { slice }));
    assert.equal(rows.length, slice.end - slice.start);
    got.push(...rows);
  }
  assert.deepEqual(got, all, `${path.basename(file)}, chunks of ${size}`);
  return all.length;
}

describe('row slices of a file (queued chunks)', () => {
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-slices-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('CSV with a BOM, CRLF, quoted line breaks and quotes, blank lines, no final newline', async () => {
    const f = path.join(dir, 'a.csv');
    writeFileSync(
      f,
      '\uFEFFid,text\r\n1,"a\r\nb"\r\n\r\n2,héllo wörld\r\n3,"x ""quoted"" y"\r\n\r\n4,"z,\nw"\r\n5,end',
    );
    for (const size of [1, 2, 3, 10]) assert.equal(await checkChunks(f, size, { bytes: true }), 5);
    const scan = await scanInput(f, { isStart: (r) => r % 2 === 0 });
    assert.equal(scan.delimiter, '\r\n');
    assert.deepEqual(scan.columns, ['id', 'text']);
    assert.equal(sliceOf(scan, 2, 4).slice.line, 6, 'the line of the third row');
  });

  it('JSONL with blank lines and TSV, over many read buffers', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => ({ id: i, text: `note ${i} ${'é'.repeat(i % 50)}` }));
    const jsonl = path.join(dir, 'b.jsonl');
    writeFileSync(jsonl, rows.map((r, i) => JSON.stringify(r) + (i % 7 === 0 ? '\n  \n' : '\n')).join(''));
    const tsv = path.join(dir, 'b.tsv');
    writeFileSync(tsv, 'id\ttext\n' + rows.map((r) => `${r.id}\t${r.text}`).join('\n') + '\n');
    for (const f of [jsonl, tsv])
      for (const size of [64, 1000]) assert.equal(await checkChunks(f, size, { bytes: true }), 3000);
  });

  it('gzip is read by skipping rows; Parquet by row groups', async () => {
    const gz = path.join(dir, 'c.csv.gz');
    writeFileSync(gz, gzipSync('text,label\n' + Array.from({ length: 50 }, (_, i) => `t${i},l${i % 3}`).join('\n')));
    assert.equal(await checkChunks(gz, 7, { bytes: false }), 50);
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const pq = path.join(dir, 'd.parquet');
    const texts = Array.from({ length: 25 }, (_, i) => `note ${i}`);
    writeFileSync(
      pq,
      new Uint8Array(
        parquetWriteBuffer({ columnData: [{ name: 'text', data: texts, type: 'STRING' }], rowGroupSize: 10 }),
      ),
    );
    for (const size of [4, 10, 30]) assert.equal(await checkChunks(pq, size, { bytes: false }), 25);
  });

  it('a slice that no longer holds its rows is refused with the rows named', async () => {
    const f = path.join(dir, 'e.jsonl');
    writeFileSync(f, ['{"text":"a"}', '{"text":"b"}', '{"text":"c"}', '{"text":"d"}'].join('\n') + '\n');
    const scan = await scanInput(f, { isStart: (r) => r % 2 === 0 });
    const { slice } = sliceOf(scan, 0, 2);
    // the same bytes, but row 2 is now blank: the slice holds one row (a worker sees that its sha256 differs first)
    writeFileSync(f, ['{"text":"a"}', ' '.repeat(12), '{"text":"c"}', '{"text":"d"}'].join('\n') + '\n');
    await assert.rejects(collect(readRows(f, { slice })), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_INPUT_CHANGED');
      assert.match(e.message, /rows 1–2/);
      return true;
    });
  });
});
