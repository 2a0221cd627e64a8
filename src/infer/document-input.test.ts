// The bad inputs of long documents, one clear line each and nothing written: a document with zero tokens after
// cleaning, a label set of 100,000 codes, a window larger than the model's positions, a stride ≥ the window, and
// --pooling attention on a model folder without pooling weights.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Predictor } from './predictor.js';
import { MedtuneError } from '../common/errors.js';
import { MAX_LABELS, readLabeled } from '../data/dataset.js';
import { encodeTexts } from '../text/windows.js';
import { Tokenizer } from '../text/tokenizer.js';
import { fixturePath } from '../testing-fixtures.js';

const fixture = fixturePath('fixtures', 'hf', 'tiny-bert');
const needs = { skip: !fixture && 'needs ../shared' };

/** The error's message is one line with the code asked for. */
const oneLine = (code: string, re: RegExp) => (e: unknown) =>
  e instanceof MedtuneError && e.code === code && !e.message.includes('\n') && re.test(e.message);

describe('long documents: bad input, one clear line each', () => {
  it('a document with zero tokens after cleaning', needs, () => {
    const tok = Tokenizer.fromDir(fixture!);
    const o = { maxLength: 16, document: { maxDocumentTokens: 100 } };
    assert.throws(
      () => encodeTexts(tok, ['fever and cough', '\u200b\u200b'], null, o),
      oneLine('E_INPUT_EMPTY', /^text 2 of 2 has no tokens after cleaning/),
    );
    // texts cut at the window are unchanged (an empty text is its special tokens)
    assert.equal(encodeTexts(tok, ['\u200b'], null, { maxLength: 16 }).ids[0]!.length, 2);
  });

  it('a label set of 100,000 codes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-labels-'));
    try {
      const file = path.join(dir, 'codes.csv');
      const rows = Array.from(
        { length: 20_000 },
        (_, i) => `note ${i},${[0, 1, 2, 3, 4].map((k) => `C${i * 5 + k}`).join(';')}`,
      );
      writeFileSync(file, 'text,codes\n' + rows.join('\n') + '\n');
      await assert.rejects(
        readLabeled(file, { multiLabel: true, labelColumn: 'codes', labelDelimiter: ';' }),
        oneLine('E_INPUT_LABEL', new RegExp(`100000 distinct labels .* more than the ${MAX_LABELS}`)),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a window larger than the model positions, a stride ≥ the window', needs, async () => {
    await assert.rejects(
      Predictor.load(fixture!, { pooling: 'max', maxLength: 128, log: () => {} }),
      oneLine('E_USAGE', /--max-length 128 is above this model's limit of 64 tokens/),
    );
    await assert.rejects(
      Predictor.load(fixture!, { pooling: 'max', maxLength: 16, stride: 14, log: () => {} }),
      oneLine('E_USAGE', /--stride 14 is not smaller than the window \(14 text tokens of 16\)/),
    );
  });

  it('--pooling attention on a model folder without pooling weights', needs, async () => {
    await assert.rejects(
      Predictor.load(fixture!, { pooling: 'attention', maxLength: 16, log: () => {} }),
      oneLine('E_MODEL_WEIGHTS', /--pooling attention: .* has no attention-pooling weights/),
    );
  });
});
