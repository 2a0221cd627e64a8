// pytorch_model.bin in the legacy format (PyTorch < 1.6, `_use_new_zipfile_serialization=False`; made by
// scripts/make-legacy-torch-fixture.py with Debian's python3-torch) reads through the same restricted unpickler as
// the zip format: every tensor equal to what torch saved (views, offsets, half, int64), and hostile files refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTorchBin } from './torch-pickle.js';

const testdata = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'io', 'testdata');

describe('legacy torch.save files', () => {
  it('read tensor for tensor as torch wrote them', () => {
    const expected = JSON.parse(readFileSync(path.join(testdata, 'legacy-torch.json'), 'utf8')).tensors as Record<
      string,
      { shape: number[]; values: number[] }
    >;
    const got = readTorchBin(path.join(testdata, 'legacy-torch.bin'));
    assert.deepEqual([...got.keys()], Object.keys(expected));
    for (const [k, e] of Object.entries(expected)) {
      const t = got.get(k)!;
      assert.deepEqual(t.shape, e.shape, k);
      assert.deepEqual([...t.data], e.values, k);
    }
  });

  it('refuse a legacy file whose pickle calls anything but the tensor rebuilders', () => {
    const buf = Buffer.from(readFileSync(path.join(testdata, 'legacy-torch.bin')));
    const at = buf.indexOf('collections\nOrderedDict');
    assert.ok(at > 0);
    buf.write('posix      \nsystem     ', at, 'latin1');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-legacy-'));
    try {
      const f = path.join(dir, 'pytorch_model.bin');
      writeFileSync(f, buf);
      assert.throws(() => readTorchBin(f), /refused to load: the pickle calls posix/);
      writeFileSync(f, readFileSync(path.join(testdata, 'legacy-torch.bin')).subarray(0, 900));
      assert.throws(() => readTorchBin(f), /truncated/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
