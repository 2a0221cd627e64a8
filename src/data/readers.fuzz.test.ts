// Seeded fuzzing of the row readers: random bytes and random mutations of valid CSV/TSV/JSONL files must give rows
// or a clear MedtuneError (with a catalogue code and no data quoted from the file) — never another exception, never
// a hang. Reproducible: the seed and the case number are in every failure message.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRows } from './readers.js';
import { readLabeled } from './dataset.js';
import { MedtuneError, ERROR_CATALOGUE } from '../common/errors.js';
import { Generator } from '../tensor/random.js';

const SEED = 20261129;
const CASES = 5000;
const BUDGET_MS = 15000;
/** a marker that never appears in a message: messages must not quote the data */
const SECRET = 'Zqxjv';

const validCsv =
  'id,text,label\n' +
  `1,"${SECRET} has chest pain, fever",flu\n` +
  '2,"cough ""dry"" for 3 days",cold\n' +
  '3,plain text,flu\n';
const validTsv = `text\tlabel\n${SECRET} has chest pain\tflu\ncough for 3 days\tcold\n`;
const validJsonl =
  `{"text": "${SECRET} has chest pain", "label": "flu"}\n` + '{"text": "cough", "label": ["cold", "flu"], "n": 3}\n';

function mutate(src: Buffer, g: Generator): Buffer {
  const b = [...src];
  const n = 1 + Math.floor(g.uniform() * 6);
  const specials = [0x22, 0x2c, 0x0a, 0x0d, 0x09, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x00, 0xff, 0xc3, 0xe2, 0x80];
  for (let k = 0; k < n; k++) {
    const at = Math.floor(g.uniform() * (b.length + 1));
    const op = g.uniform();
    const byte =
      g.uniform() < 0.6 ? specials[Math.floor(g.uniform() * specials.length)]! : Math.floor(g.uniform() * 256);
    if (op < 0.35) b.splice(at, 0, byte);
    else if (op < 0.6) b.splice(at, 1);
    else if (op < 0.85) b[Math.min(at, b.length - 1)] = byte;
    else b.splice(at, Math.floor(g.uniform() * 20)); // cut a piece out (truncation-like)
  }
  return Buffer.from(b);
}

function randomBytes(g: Generator): Buffer {
  return Buffer.from(Array.from({ length: Math.floor(g.uniform() * 300) }, () => Math.floor(g.uniform() * 256)));
}

async function consume(file: string, kind: number): Promise<void> {
  if (kind === 0) {
    for await (const row of readRows(file)) assert.equal(typeof row, 'object');
  } else {
    await readLabeled(file, { multiLabel: kind === 2 });
  }
}

describe('reader fuzzing', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-fuzz-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it(`${CASES} seeded cases: rows or a clear MedtuneError, never a crash`, async () => {
    const g = new Generator(SEED);
    const bases: [string, Buffer][] = [
      ['csv', Buffer.from(validCsv)],
      ['tsv', Buffer.from(validTsv)],
      ['jsonl', Buffer.from(validJsonl)],
    ];
    const t0 = Date.now();
    let errors = 0;
    let ok = 0;
    for (let c = 0; c < CASES && Date.now() - t0 < BUDGET_MS; c++) {
      const [ext, base] = bases[c % bases.length]!;
      const bytes = g.uniform() < 0.15 ? randomBytes(g) : mutate(base, g);
      const file = path.join(dir, `case-${c}.${ext}`);
      writeFileSync(file, bytes);
      try {
        await consume(file, c % 3);
        ok++;
      } catch (e) {
        assert.ok(
          e instanceof MedtuneError,
          `seed ${SEED} case ${c} (${ext}): not a MedtuneError: ${(e as Error).stack}`,
        );
        assert.ok(e.code in ERROR_CATALOGUE, `case ${c}: code ${e.code}`);
        // Column names are shown when they look like names; the only way the marker can appear is as a bare name
        // of a mangled header line — never with the text around it.
        const quoted = e.message.replace(new RegExp(`(?<=[:,(] |")${SECRET}(?=[,)"]|$)`, 'g'), '');
        assert.ok(!quoted.includes(SECRET), `case ${c}: the message quotes the data: ${e.message}`);
        assert.ok(!e.message.includes('\n'), `case ${c}: a message is one line`);
        errors++;
      }
    }
    assert.ok(ok > 20 && errors > 20, `both outcomes are exercised (ok ${ok}, errors ${errors})`);
  });
});
