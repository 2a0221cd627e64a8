// Exports a token-classification dataset as medtune tokenises it (windows of sub-words, first-sub-token labels,
// the position each word's prediction is read from), for scripts/ncbi-reference.py (the PyTorch reference).
//   node scripts/token-windows.mjs MODEL_DIR TRAIN VALIDATION TEST MAX_LENGTH OUT.json
// Needs a build (npx tsc); outside tests and CI.
import { writeFileSync } from 'node:fs';
import { Tokenizer } from '../dist/text/tokenizer.js';
import { readTokenData } from '../dist/data/token-data.js';
import { iob2Labels, iob2Tags } from '../dist/data/tags.js';
import { encodeWords, makeWindows } from '../dist/data/token-align.js';
import { wordTags } from '../dist/train/token-task.js';

const [model, trainFile, devFile, testFile, maxLen, out] = process.argv.slice(2);
const maxLength = Number(maxLen);
const stride = Math.floor(maxLength / 4);
const tok = Tokenizer.fromDir(model);
const train = readTokenData(trainFile);
const labels = iob2Labels(train.types);

function split(data, labelled) {
  const encs = encodeWords(tok, data.examples);
  const tags = wordTags(data.examples, labels);
  const windows = makeWindows(encs, { tok, maxLength, stride, tags: labelled ? tags : undefined });
  if (labelled) return { windows: windows.map((w) => ({ ids: w.ids, labels: w.labels })) };
  // the window and position each word is read from: its first sub-token, furthest from a window edge
  const best = data.examples.map((e) => e.words.map(() => [-1, -1, -1]));
  windows.forEach((w, wi) => {
    const enc = encs[w.example];
    const first = w.wordIds.findIndex((x) => x >= 0);
    let last = w.wordIds.length - 1;
    while (last > first && w.wordIds[last] < 0) last--;
    w.wordIds.forEach((word, k) => {
      const pos = w.offset + k - first;
      if (word < 0 || (pos > 0 && enc.wordIds[pos - 1] === word)) return;
      const c = Math.min(k - first, last - k);
      if (c > best[w.example][word][2]) best[w.example][word] = [wi, k, c];
    });
  });
  return {
    windows: windows.map((w) => ({ ids: w.ids })),
    texts: data.examples.map((e, i) => ({
      read: best[i].map(([wi, k]) => [wi, k]),
      tags: iob2Tags(e.words.length, e.entities),
    })),
  };
}

writeFileSync(
  out,
  JSON.stringify({
    labels,
    pad_id: tok.padId,
    max_length: maxLength,
    train: split(train, true),
    validation: split(readTokenData(devFile), false),
    test: split(readTokenData(testFile), false),
  }),
);
console.log(`wrote ${out}: ${labels.length} labels, max length ${maxLength}`);
