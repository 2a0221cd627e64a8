// "Done means" of the feedback loop, in real headless Chromium: a server with --capture gets 200 notes with made-up
// names, MRNs and phone numbers; 25 served cases are reviewed in the UI (keyboard, as a clinician would) and 25 more
// through the API by a second reviewer; the Models page shows the live performance with its interval; axe-core finds
// no serious violation on either page; the capture folder and the logs hold none of the made-up identifiers, and the
// capture files cannot be read without the key.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createServer, type MedtuneServer } from './app.js';
import { addKey } from './keys.js';
import { readCapture } from '../registry/capture-store.js';
import { grepFolder, IDENTIFIERS, noteWithPhi } from '../registry/fixtures.js';
import { fixturePath } from '../testing-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const tiny = fixturePath('fixtures', 'hf', 'tiny-bert');
const skip =
  (!existsSync(CHROMIUM) && `needs Debian's chromium at ${CHROMIUM}`) || (!tiny && 'needs ../shared (tiny-bert)');

describe('served-case review in the browser', { skip }, () => {
  let W: string;
  let server: MedtuneServer;
  let base: string;
  let browser: Browser;
  let page: Page;
  let key: string;
  let second: string;
  const logs: string[] = [];
  const captureKey = randomBytes(32);
  const errors: string[] = [];

  before(async () => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-ui-served-'));
    const keys = path.join(W, 'keys.json');
    key = addKey(keys, 'dr-lee');
    second = addKey(keys, 'dr-ng');
    server = await createServer({
      models: [{ name: 'tiny', dir: tiny! }],
      keys,
      port: 0,
      workers: 1,
      threads: 1,
      capture: path.join(W, 'capture'),
      captureKey,
      captureRandomShare: 0.3,
      logStream: new Writable({
        write(c, _e, cb) {
          logs.push(String(c));
          cb();
        },
      }),
    });
    base = await server.listen();
    await server.ready;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(W, { recursive: true, force: true });
  });

  const api = async (url: string, k: string, body?: unknown) => {
    const r = await fetch(`${base}${url}`, {
      method: body ? 'POST' : 'GET',
      headers: { authorization: `Bearer ${k}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, body: (await r.json()) as Record<string, any> }; // eslint-disable-line
  };
  const text = async (sel: string) => ((await page.textContent(sel)) ?? '').replace(/\s+/g, ' ').trim();
  async function accessible(name: string): Promise<void> {
    const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    const v = (await page.evaluate(
      `${axe}; axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations` +
        ".filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id))",
    )) as string[];
    assert.deepEqual(v, [], `${name}: accessibility violations`);
  }

  it('200 notes with made-up identifiers are served and captured', async () => {
    for (let i = 0; i < 200; i += 4) {
      const texts = [0, 1, 2, 3].map((k) => noteWithPhi(i + k));
      assert.equal((await api('/v1/diagnose', key, { texts })).status, 200);
    }
    await server.capture()!.flush();
    assert.equal(readCapture(path.join(W, 'capture'), captureKey).records.length, 200);
  });

  it('25 served cases reviewed in the UI by keyboard, 25 by API; live performance on the Models page', async () => {
    await page.goto(`${base}/`);
    await page.fill('#key', key);
    await page.click('button[type=submit]');
    await page.waitForSelector('#note');
    await page.click('nav >> text=Review');
    await page.waitForSelector('text=Start reviewing');
    assert.match(await text('main'), /served cases \(de-identified\): a random sample/);
    await accessible('served review');
    await page.click('text=Start reviewing');
    await page.waitForSelector('#case-h');
    assert.ok(!(await text('#case')).includes('Recorded label'), 'served cases have no recorded label');
    assert.match(await text('#case-h'), /\((out of scope|the model abstained|low confidence|random sample)/);
    for (let i = 0; i < 25; i++) {
      const before = await text('[data-testid=progress]');
      await page.keyboard.press(i % 5 === 4 ? '4' : '2');
      for (let t = 0; (await text('[data-testid=progress]')) === before; t++) {
        assert.ok(t < 200, 'the review was not saved');
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    assert.match(await text('[data-testid=progress]'), /You have reviewed 25 of \d+ cases/);
    const q = (await api('/v1/served/cases?limit=500', second)).body;
    for (const c of q.cases.slice(0, 25))
      assert.equal((await api('/v1/served/reviews', second, { case_id: c.id, verdict: 'model' })).status, 201);
    const perf = (await api('/v1/models/tiny/performance', key)).body;
    const all = perf.windows[2];
    assert.ok(all.random.n + all.prioritised.n > 0);
    await page.click('nav >> text=Models');
    await page.waitForSelector('[data-testid=live]');
    const live = await text('[data-testid=live]');
    assert.match(live, /all, random sample\d+\d+\.\d % \(\d+\.\d to \d+\.\d\)/);
    assert.match(await text('[data-testid=live-alert]'), /validation|randomly sampled/);
    assert.match(await text('[data-testid=estimated]'), /all\d+\d+\.\d % \(\d+\.\d to \d+\.\d\)/);
    await accessible('models with live performance');
    assert.deepEqual(errors, []);
  });

  it('no made-up identifier in the capture folder or the logs; the files need the key', () => {
    assert.deepEqual(grepFolder(path.join(W, 'capture'), IDENTIFIERS), []);
    assert.deepEqual(
      IDENTIFIERS.filter((x) => logs.join('').includes(x)),
      [],
    );
    assert.throws(() => readCapture(path.join(W, 'capture'), randomBytes(32)), /another key/);
  });
});
