// `medtune deid` streams CSV/JSONL, replaces the text column, and reports entities with original offsets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runDeid } from '../deid/file.js';

describe('medtune deid', () => {
  it('JSONL: text replaced, entities with offsets into the original, other columns kept', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'medtune-deid-'));
    const input = path.join(d, 'in.jsonl');
    const rows = [
      { id: 1, note: 'Seen by Dr. Chen on 01/02/2020; call 617-555-0134.', pid: 'a' },
      { id: 2, note: 'No PHI here.', pid: 'b' },
    ];
    writeFileSync(input, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const output = path.join(d, 'out.jsonl');
    const r = await runDeid({ input, output, textColumn: 'note', operator: 'tag', log: () => {} });
    assert.equal(r.rows, 2);
    const out = readFileSync(output, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(out[0].note, 'Seen by [NAME] on [DATE]; call [PHONE].');
    assert.equal(out[0].id, 1);
    for (const e of out[0].entities) {
      assert.ok(e.start >= 0 && e.end <= rows[0]!.note.length && e.start < e.end, 'offsets into the original');
      assert.equal(e.text, undefined, 'the output never repeats the PHI it removed');
    }
    assert.deepEqual(out[1].entities, []);
    rmSync(d, { recursive: true });
  });
  it('CSV in, CSV out with quoting; surrogates consistent across rows of a dataset', async () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'medtune-deid-'));
    const input = path.join(d, 'in.csv');
    writeFileSync(input, 'text,label\n"Maria Okafor, 88, admitted",x\n"Maria Okafor discharged",y\n');
    const output = path.join(d, 'out.csv');
    await runDeid({ input, output, operator: 'surrogate', secret: 'k', log: () => {} });
    const lines = readFileSync(output, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'text,label');
    const n1 = /^"?([^,"]+)/.exec(lines[1]!)![1];
    const n2 = /^"?([^,"]+) discharged/.exec(lines[2]!)![1];
    assert.equal(n1, n2);
    assert.ok(!readFileSync(output, 'utf8').includes('Okafor'));
    rmSync(d, { recursive: true });
  });
});
