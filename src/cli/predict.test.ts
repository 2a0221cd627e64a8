// `medtune predict` reproduces the fixture's PyTorch logits row by row, from CSV and JSONL.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPredict } from '../infer/predict-file.js';
import { decide, labelNames } from '../infer/decision.js';
import { fixturePath } from '../testing-fixtures.js';
import { assertClose } from '../tensor/testing.js';

const fixture = fixturePath('fixtures', 'hf', 'tiny-bert');

describe('medtune predict', () => {
  it(
    'reproduces the tiny-bert fixture logits for each text (CSV with quoted commas, and JSONL)',
    { skip: !fixture && 'needs ../shared' },
    async () => {
      const exp = JSON.parse(readFileSync(path.join(fixture!, 'expected.json'), 'utf8'));
      const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-predict-'));
      const csv = path.join(dir, 'in.csv');
      writeFileSync(
        csv,
        '\uFEFFid,note\n' +
          exp.texts.map((t: string, i: number) => `${i},"${t.replace(/"/g, '""')}"`).join('\n') +
          '\n',
      );
      const jsonl = path.join(dir, 'in.jsonl');
      writeFileSync(jsonl, exp.texts.map((t: string) => JSON.stringify({ text: t })).join('\n') + '\n');
      for (const input of [csv, jsonl]) {
        const output = path.join(dir, 'out.jsonl');
        const r = await runPredict({
          model: fixture!,
          input,
          output,
          maxLength: exp.max_length,
          logits: true,
          batchSize: 3,
          log: () => {},
        });
        assert.equal(r.rows, exp.texts.length);
        const rows = readFileSync(output, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
        assert.equal(rows.length, exp.texts.length);
        rows.forEach((row, i) => {
          // batches of 3 pad differently from the fixture's single batch: padding must not change logits
          assertClose(row.logits, exp.logits[i], { rtol: 1e-4, atol: 1e-6, what: `row ${i} logits` });
          const p = Object.values(row.probabilities as Record<string, number>);
          assertClose([p.reduce((a, b) => a + b, 0)], [1], { rtol: 1e-6 });
          assert.equal(row.label, `LABEL_${p.indexOf(Math.max(...p))}`);
        });
      }
      rmSync(dir, { recursive: true });
    },
  );

  it(
    'names the columns when the text column is missing, and leaves no partial output',
    { skip: !fixture && 'needs ../shared' },
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-predict-'));
      const input = path.join(dir, 'in.csv');
      writeFileSync(input, 'id,body\n1,hello\n');
      const output = path.join(dir, 'out.jsonl');
      await assert.rejects(
        runPredict({ model: fixture!, input, output, log: () => {} }),
        /cannot find the text column.*columns: id, body/,
      );
      await assert.rejects(
        runPredict({ model: fixture!, input, output, textColumn: 'txt', log: () => {} }),
        /no column "txt"/,
      );
      assert.ok(!existsSync(output));
      rmSync(dir, { recursive: true });
    },
  );

  it('multi-label predictions pick every label over the threshold', () => {
    const d = decide([2, -2, 0.5], { labels: ['a', 'b', 'c'], multiLabel: true });
    assert.deepEqual(labelNames(d.predicted, ['a', 'b', 'c']), ['a', 'c']);
  });
});
