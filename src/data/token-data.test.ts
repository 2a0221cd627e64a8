// Token-classification data: CoNLL and JSONL spans into one form, IOB2/IOBES/BILOU giving the same entities, one
// clear line (with the line number) for each kind of bad input, and the sub-word alignment against a golden file
// of 20 hand-checked sentences (HF's word_ids(): each sub-token to its word, the first of a word labelled).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { charSpans, exampleFromSpans, parseConll, readTokenData, splitWords, tokenFormatOf } from './token-data.js';
import { decodeIob2, detectScheme, entitiesOf, iob2Labels } from './tags.js';
import { encodeWords, IGNORE, makeWindows, windowStarts } from './token-align.js';
import { Tokenizer } from '../text/tokenizer.js';
import { fixturePath } from '../testing-fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tagsError = (re: RegExp) => (e: Error & { code?: string }) => e.code === 'E_INPUT_TAGS' && re.test(e.message);

describe('token-classification data', () => {
  it('reads CoNLL (tab or space, blank lines between sentences, -DOCSTART- skipped)', () => {
    const text =
      '-DOCSTART- O\n\nThe\tO\nadenomatous\tB-Disease\npolyposis\tI-Disease\n.\tO\n\nAPC  O\ncancer B-Disease\n';
    const { examples, scheme } = parseConll(text, 'f.tsv');
    assert.equal(scheme, 'IOB2');
    assert.equal(examples.length, 2);
    assert.equal(examples[0]!.text, 'The adenomatous polyposis .');
    assert.deepEqual(examples[0]!.entities, [{ start: 1, end: 3, type: 'Disease' }]);
    assert.deepEqual(charSpans(examples[0]!), [{ start: 4, end: 25, label: 'Disease' }]);
    assert.equal(examples[1]!.line, 8);
  });

  it('IOB2, IOBES and BILOU give the same entities', () => {
    const iob2 = ['B-D', 'I-D', 'O', 'B-D', 'B-C', 'I-C', 'I-C'];
    const iobes = ['B-D', 'E-D', 'O', 'S-D', 'B-C', 'I-C', 'E-C'];
    const bilou = ['B-D', 'L-D', 'O', 'U-D', 'B-C', 'I-C', 'L-C'];
    const want = entitiesOf(iob2, 'IOB2', String);
    assert.deepEqual(entitiesOf(iobes, detectScheme(iobes, 'x'), String), want);
    assert.deepEqual(entitiesOf(bilou, detectScheme(bilou, 'x'), String), want);
    assert.equal(want.length, 3);
  });

  it('refuses bad tags with one line naming the line number', () => {
    assert.throws(() => parseConll('a O\nb\n', 'f.tsv'), tagsError(/f\.tsv line 2: a token without a tag/));
    assert.throws(() => parseConll('a O\nb I-Disease\n', 'f.tsv'), tagsError(/line 2: I-Disease after O continues no/));
    assert.throws(() => parseConll('a B-X\nb I-Y\n', 'f.tsv'), tagsError(/line 2: I-Y after B-X/));
    assert.throws(() => parseConll('a X-Disease\n', 'f.tsv'), tagsError(/no known scheme/));
    assert.throws(() => parseConll('a E-D\nb L-D\n', 'f.tsv'), tagsError(/mix IOBES/));
    assert.throws(() => parseConll('a B-D\nb I-D\nc O\n\nd S-D\n', 'f.tsv'), tagsError(/line 3: the D entity/));
  });

  it('reads JSONL spans; refuses spans that overlap or fall outside the text', () => {
    const e = exampleFromSpans('Seen by Ann Lee on 3/4.', [{ start: 8, end: 15, label: 'PERSON' }], 1);
    assert.deepEqual(e.entities, [{ start: 2, end: 4, type: 'PERSON' }]);
    assert.deepEqual(charSpans(e), [{ start: 8, end: 15, label: 'PERSON' }]);
    const bad = (spans: { start: number; end: number; label: string }[]) => () =>
      exampleFromSpans('Seen by Ann Lee.', spans, 3, 'f.jsonl line 3');
    assert.throws(bad([{ start: 8, end: 40, label: 'P' }]), tagsError(/line 3: the span \[8, 40\) falls outside/));
    assert.throws(
      bad([
        { start: 8, end: 11, label: 'P' },
        { start: 10, end: 15, label: 'P' },
      ]),
      tagsError(/overlap/),
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-tokdata-'));
    try {
      const f = path.join(dir, 'd.jsonl');
      writeFileSync(f, '{"text": "Ann Lee", "entities": [{"start": 0, "end": 7, "label": "PERSON"}]}\n');
      assert.deepEqual(readTokenData(f).types, ['PERSON']);
      assert.equal(tokenFormatOf('x.conll'), 'conll');
      assert.throws(() => tokenFormatOf('x.parquet'), /conll|jsonl/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('decodes predicted IOB2 tags as seqeval does (an I- after O begins an entity)', () => {
    assert.deepEqual(decodeIob2(['O', 'I-D', 'I-D', 'B-D', 'I-C']), [
      { start: 1, end: 3, type: 'D' },
      { start: 3, end: 4, type: 'D' },
      { start: 4, end: 5, type: 'C' },
    ]);
    assert.deepEqual(iob2Labels(['Disease', 'Chemical']), ['O', 'B-Chemical', 'I-Chemical', 'B-Disease', 'I-Disease']);
  });

  it('aligns sub-words to words as HF does on 20 hand-checked sentences', (t) => {
    const dir = fixturePath('fixtures', 'hf', 'wordpiece-uncased');
    if (!dir) return t.skip('no ../shared fixtures');
    const tok = Tokenizer.fromDir(dir);
    const golden = JSON.parse(
      readFileSync(path.join(here, '..', '..', 'src', 'data', 'testdata', 'alignment-golden.json'), 'utf8'),
    ) as {
      words?: string[];
      text?: string;
      tokens: string[];
      word_ids: number[];
    }[];
    assert.equal(golden.length, 20);
    for (const g of golden) {
      const text = g.text ?? g.words!.join(' ');
      let pos = 0;
      const words: [number, number][] = g.words
        ? g.words.map((w) => {
            const r: [number, number] = [pos, pos + w.length];
            pos += w.length + 1;
            return r;
          })
        : splitWords(text);
      const [enc] = encodeWords(tok, [{ text, words }]);
      assert.deepEqual(
        enc!.ids.map((id) => tok.decode([id], false)),
        g.tokens,
      );
      assert.deepEqual(enc!.wordIds, g.word_ids, text);
      // labels: the first sub-token of each word carries its tag, the rest and the special tokens -100
      const tags = words.map((_, w) => w % 3);
      const [win] = makeWindows([enc!], { tok, maxLength: 512, stride: 0, tags: [tags] });
      const expected = [
        IGNORE,
        ...g.word_ids.map((w, k) => (k > 0 && g.word_ids[k - 1] === w ? IGNORE : tags[w]!)),
        IGNORE,
      ];
      assert.deepEqual(win!.labels, expected);
    }
  });

  it('cuts long texts into windows that overlap by the stride, each with its special tokens', (t) => {
    assert.deepEqual(windowStarts(10, 4, 1), [0, 3, 6]);
    assert.deepEqual(windowStarts(3, 4, 1), [0]);
    const dir = fixturePath('fixtures', 'hf', 'wordpiece-uncased');
    if (!dir) return t.skip('no ../shared fixtures');
    const tok = Tokenizer.fromDir(dir);
    const text = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const encs = encodeWords(tok, [{ text, words: splitWords(text) }]);
    const ws = makeWindows(encs, { tok, maxLength: 16, stride: 4 });
    assert.ok(ws.length > 2);
    for (const w of ws) {
      assert.ok(w.ids.length <= 16);
      assert.equal(w.wordIds[0], -1);
      assert.equal(w.wordIds[w.wordIds.length - 1], -1);
    }
    assert.equal(ws[1]!.offset, 16 - 2 - 4);
  });
});
