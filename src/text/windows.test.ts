// Windows over long token sequences: ranges with a stride, the split with special tokens, positions back in the
// text, the central window of a token, bad specs refused, and encodeTexts reading documents.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  centralWindow,
  encodeTexts,
  splitWindows,
  textPosition,
  windowCount,
  windowRanges,
  windowSpec,
} from './windows.js';
import { Tokenizer } from './tokenizer.js';
import { fixturePath } from '../testing-fixtures.js';

const spec = windowSpec({ length: 6, stride: 1, head: 1, tail: 1 }); // 4 text tokens per window, step 3

describe('windows', () => {
  it('cuts n tokens into overlapping ranges; the last ends at n; a text that fits is one window', () => {
    assert.deepEqual(windowRanges(4, spec), [[0, 4]]);
    assert.deepEqual(windowRanges(10, spec), [
      [0, 4],
      [3, 7],
      [6, 10],
    ]);
    assert.deepEqual(windowRanges(11, spec), [
      [0, 4],
      [3, 7],
      [6, 10],
      [9, 11],
    ]);
    assert.equal(windowCount(12, spec), 3); // 10 text tokens + [CLS] + [SEP]
  });

  it('wraps each window in the special tokens and maps its positions back to the text', () => {
    const ids = [101, 1, 2, 3, 4, 5, 6, 7, 102];
    const w = splitWindows(ids, new Array(ids.length).fill(0), spec);
    assert.deepEqual(w.ids, [
      [101, 1, 2, 3, 4, 102],
      [101, 4, 5, 6, 7, 102],
    ]);
    for (let k = 0; k < w.ids.length; k++)
      w.ids[k]!.forEach((id, t) => {
        const pos = textPosition(w.ranges, spec, k, t);
        if (pos >= 0) assert.equal(ids[pos], id);
        else assert.ok(id === 101 || id === 102);
      });
    assert.deepEqual(splitWindows([101, 1, 102], [0, 0, 0], spec).ids, [[101, 1, 102]]);
  });

  it('takes each token from the window where it sits most centrally', () => {
    const r = windowRanges(10, spec);
    assert.equal(centralWindow(r, 0), 0);
    assert.equal(centralWindow(r, 4), 1); // in windows 0 (last) and 1 (second): more context in 1
    assert.equal(centralWindow(r, 9), 2);
    assert.equal(centralWindow(r, 12), -1);
  });

  it('refuses a stride that never advances and a window without room for text', () => {
    assert.throws(() => windowSpec({ length: 6, stride: 4, head: 1, tail: 1 }), /--stride 4 is not smaller/);
    assert.throws(() => windowSpec({ length: 2, stride: 0, head: 1, tail: 1 }), /leaves no room/);
    assert.throws(() => windowSpec({ length: 8, stride: -1, head: 1, tail: 1 }), /--stride must be/);
    assert.equal(windowSpec({ length: 514, head: 1, tail: 1 }).stride, 128);
  });

  it('reads documents up to the document limit and reports the cut beyond it', (t) => {
    const dir = fixturePath('fixtures', 'hf', 'tiny-bert');
    if (!dir) return t.skip('no ../shared fixtures');
    const tok = Tokenizer.fromDir(dir);
    assert.deepEqual(tok.singleSpecials(), { head: 1, tail: 1 });
    const text = Array.from({ length: 40 }, (_, i) => `word${i % 7}`).join(' ');
    const cut = encodeTexts(tok, [text], null, { maxLength: 16 });
    assert.equal(cut.ids[0]!.length, 16);
    assert.equal(cut.window, undefined);
    const doc = encodeTexts(tok, [text], null, { maxLength: 16, document: { stride: 2, maxDocumentTokens: 1000 } });
    assert.equal(doc.cut[0], 0);
    assert.ok(doc.ids[0]!.length > 16);
    assert.deepEqual(doc.window, { length: 16, stride: 2, head: 1, tail: 1 });
    const capped = encodeTexts(tok, [text], null, { maxLength: 16, document: { maxDocumentTokens: 20 } });
    assert.equal(capped.ids[0]!.length, 22);
    assert.equal(capped.cut[0], doc.ids[0]!.length - 22);
    const pair = encodeTexts(tok, [text], ['x'], { maxLength: 16, document: { maxDocumentTokens: 1000 } });
    assert.equal(pair.window, undefined, 'text pairs are cut, not windowed');
  });
});
