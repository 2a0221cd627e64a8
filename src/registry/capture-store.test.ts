// The capture store on its own: the key (missing, malformed, wrong: clear errors, nothing written), records
// unreadable without the key, a damaged record reported and skipped, retention by --capture-days.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { captureKey, CaptureWriter, readCapture, sweepCapture, type CaseRecord } from './capture-store.js';

const DAY = 86_400_000;

const caseAt = (t: number, id: number, text = 'fever [NAME]'): CaseRecord => ({
  kind: 'case',
  id,
  time: new Date(t).toISOString(),
  model: { name: 'dx', version: 'v1', sha256: 'x'.repeat(64) },
  key: 'clinic-a',
  text,
  deid_entities: 1,
  decision: {
    label: 'A',
    score: 0.9,
    probabilities: { A: 0.9, B: 0.1 },
    abstain: false,
    abstain_reason: null,
    in_scope: true,
    ood_score: 0.5,
  },
  random: false,
});

describe('capture store', () => {
  let W: string;
  const key = randomBytes(32);
  before(() => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-capture-store-'));
  });
  after(() => rmSync(W, { recursive: true, force: true }));

  it('the key: from a file or MEDTUNE_CAPTURE_KEY, base64 of 32 bytes; the message never repeats it', () => {
    const saved = process.env.MEDTUNE_CAPTURE_KEY;
    try {
      delete process.env.MEDTUNE_CAPTURE_KEY;
      assert.throws(() => captureKey(), /capture needs a key/);
      process.env.MEDTUNE_CAPTURE_KEY = 'c2hvcnQta2V5';
      assert.throws(
        () => captureKey(),
        (e: Error) => /must be base64 of 32 bytes/.test(e.message) && !e.message.includes('c2hvcnQta2V5'),
      );
      process.env.MEDTUNE_CAPTURE_KEY = key.toString('base64');
      assert.deepEqual(captureKey(), key);
      const f = path.join(W, 'key');
      writeFileSync(f, randomBytes(32).toString('base64') + '\n');
      assert.equal(captureKey(f).length, 32, 'the file wins over the environment');
      assert.throws(() => captureKey(path.join(W, 'none')), /does not exist/);
    } finally {
      if (saved === undefined) delete process.env.MEDTUNE_CAPTURE_KEY;
      else process.env.MEDTUNE_CAPTURE_KEY = saved;
    }
  });

  it('records are sealed; another key is refused before anything is written; a damaged line is skipped', async () => {
    const dir = path.join(W, 'cap');
    const w = new CaptureWriter(dir, key);
    for (let i = 1; i <= 5; i++) await w.append(caseAt(Date.now(), i, `note ${i} about Wojciechowski`));
    await w.close();
    const files = readdirSync(dir).filter((f) => f.endsWith('.mtcap'));
    assert.equal(files.length, 1);
    const raw = readFileSync(path.join(dir, files[0]!), 'utf8');
    assert.ok(!raw.includes('Wojciechowski') && !raw.includes('fever') && !raw.includes('clinic-a'), 'no clear text');
    const before = readdirSync(dir).sort();
    assert.throws(() => new CaptureWriter(dir, randomBytes(32)), /does not open .*written under another key/);
    assert.throws(() => readCapture(dir, randomBytes(32)), /E_CAPTURE|another key/);
    assert.deepEqual(readdirSync(dir).sort(), before, 'nothing written under a wrong key');
    // damage: one line's ciphertext flipped, one garbage line appended
    const lines = raw.trim().split('\n');
    const b = Buffer.from(lines[2]!, 'base64');
    b[b.length - 1] ^= 0xff;
    lines[2] = b.toString('base64');
    writeFileSync(path.join(dir, files[0]!), lines.join('\n') + '\n');
    appendFileSync(path.join(dir, files[0]!), 'not a record\n');
    const r = readCapture(dir, key);
    assert.equal(r.records.length, 4);
    assert.deepEqual(
      r.corrupt.map((c) => c.line),
      [3, 6],
    );
  });

  it('retention: records older than --capture-days are gone after the sweep, the rest stay', async () => {
    const dir = path.join(W, 'retention');
    const now = Date.parse('2026-06-20T12:00:00Z');
    let clock = now;
    const w = new CaptureWriter(dir, key, () => clock);
    const ages = [40, 10, 7.25, 6.75, 1, 0]; // days
    for (const [i, a] of ages.entries()) {
      clock = now - a * DAY;
      await w.append(caseAt(clock, i + 1));
    }
    await w.close();
    assert.equal(readCapture(dir, key).records.length, 6);
    const removed = sweepCapture(dir, key, 7, now);
    assert.equal(removed, 3);
    const left = readCapture(dir, key).records.map((r) => (r as CaseRecord).id);
    assert.deepEqual(left, [4, 5, 6]);
    assert.ok(
      readdirSync(dir).every((f) => !f.startsWith('2026-05')),
      'whole old day files removed',
    );
  });
});
