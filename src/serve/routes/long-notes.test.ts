// Long notes on the server: a model that reads texts in windows answers /v1/diagnose for a ~6,000-token note with
// nothing cut (the text limit follows --max-document-tokens), the batch budget counts the note's windows, and
// /v1/explain attributes over the whole note (its words run to the note's last character).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { createServer, type MedtuneServer } from '../app.js';
import { CHARS_PER_TOKEN, resolveOptions } from '../options.js';
import { estimateTokens } from '../state.js';
import { longNote } from '../../demo/long-notes.js';
import { Tokenizer } from '../../text/tokenizer.js';
import { fixturePath } from '../../testing-fixtures.js';

const fixture = fixturePath('fixtures', 'hf', 'tiny-bert');

describe('serve: long notes read in windows', { skip: !fixture && 'needs ../shared' }, () => {
  let dir: string;
  let server: MedtuneServer;
  let note: string;
  let tokens: number;
  const post = (url: string, payload: unknown) =>
    server.app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    });

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-serve-long-'));
    const model = path.join(dir, 'model');
    cpSync(fixture!, model, { recursive: true });
    const config = JSON.parse(readFileSync(path.join(model, 'config.json'), 'utf8'));
    const document = { window: 64, stride: 16, pooling: 'max', max_document_tokens: 16384 };
    writeFileSync(path.join(model, 'config.json'), JSON.stringify({ ...config, medtune: { document } }, null, 2));
    note = longNote('Fever, chills and a productive cough for three days.', 'end', 11, {
      minWords: 3600,
      maxWords: 3600,
    });
    tokens = Tokenizer.fromDir(model).encode([note], null, { maxLength: 100_000, padding: false }).input_ids[0]!.length;
    server = await createServer({
      models: [{ name: 'long', dir: model }],
      auth: false,
      workers: 1,
      threads: 1,
      port: 0,
      maxDocumentTokens: 8192,
      // the hardened server (issue 22) limits explanations separately (--explain-max-chars): allow the whole note
      ...({ explainMaxChars: 100_000 } as object),
      logStream: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    await server.ready;
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the text limit follows --max-document-tokens; the budget counts windows', () => {
    assert.equal(resolveOptions({ models: [{ name: 'a', dir }], auth: false }).maxChars, CHARS_PER_TOKEN * 16384);
    const o = resolveOptions({ models: [{ name: 'a', dir }], auth: false, maxDocumentTokens: 1000 });
    assert.equal(o.maxChars, CHARS_PER_TOKEN * 1000);
    const explicit = { models: [{ name: 'a', dir }], auth: false, maxDocumentTokens: 1000, maxChars: 50 };
    assert.equal(resolveOptions(explicit).maxChars, 50);
    const info = server.models().get('long')!;
    assert.equal(info.document?.max_document_tokens, 8192);
    // 6,000 tokens: windows of 64 with 62 text tokens advancing by 46 → 130 windows of 64
    assert.equal(estimateTokens(info, 4 * 5998), Math.ceil((6000 - 2 - 62) / 46 + 1) * 64);
    assert.equal(estimateTokens({ ...info, document: null }, 4 * 5998), 64);
  });

  it('/v1/diagnose answers a ~6,000-token note with windows, nothing cut', async () => {
    assert.ok(tokens > 5500 && tokens < 8000, `${tokens} tokens`);
    assert.ok(note.length > 20_000, 'longer than the old --max-chars default');
    const res = await post('/v1/diagnose', { text: note });
    assert.equal(res.statusCode, 200, res.body);
    const r = JSON.parse(res.body).results[0];
    assert.equal(r.truncated_tokens, 0);
    assert.ok(['LABEL_0', 'LABEL_1', 'LABEL_2'].includes(r.label));
  });

  it("/v1/explain's attributions cover the whole note", async () => {
    const res = await post('/v1/explain', { text: note, steps: 4 });
    assert.equal(res.statusCode, 200, res.body);
    const e = JSON.parse(res.body) as {
      words: { word: string; start: number; end: number }[];
      truncated_tokens: number;
    };
    assert.equal(e.truncated_tokens, 0);
    assert.equal(e.words[0]!.start, 0);
    assert.equal(e.words.at(-1)!.end, note.length);
    assert.ok(e.words.length > 3000, `${e.words.length} words`);
  });
});
