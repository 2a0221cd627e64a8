// The browser UI end to end in real headless Chromium (Debian's, driven by playwright-core): sign in, diagnose and see
// probabilities, the abstention banner on an ambiguous note, the de-identification preview of a made-up name, an
// explanation, five reviews by keyboard only that survive a reload, export of the corrections and retraining from
// them. No console errors, and axe-core finds no serious or critical accessibility violation on any page.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createServer, type MedtuneServer } from './app.js';
import { addKey } from './keys.js';
import { createScratchModel } from '../demo/scratch.js';
import { runTrain } from '../train/run.js';
import { runEvaluate } from '../evaluate/run.js';
import { runReviewExport } from '../evaluate/reviews.js';
import { Generator } from '../tensor/random.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM) && `needs Debian's chromium at ${CHROMIUM} (apt-get install -y chromium)`;
const FILLERS = [
  'patient',
  'reports',
  'mild',
  'pain',
  'since',
  'today',
  'with',
  'some',
  'cough',
  'and',
  'fever',
  'after',
  'dinner',
  'nausea',
  'rash',
  'noted',
];

function texts(n: number, seed: number, flip = 0): string {
  const g = new Generator(seed);
  const rows = Array.from({ length: n }, (_, i) => {
    const words = Array.from(
      { length: 6 + Math.floor(g.uniform() * 5) },
      () => FILLERS[Math.floor(g.uniform() * FILLERS.length)]!,
    );
    const alpha = i % 2 === 0;
    words.splice(Math.floor(g.uniform() * words.length), 0, alpha ? 'zorblax' : 'quintarn');
    const label = (i < flip ? !alpha : alpha) ? 'alpha' : 'beta';
    return `${words.join(' ')},${label}`;
  });
  return 'text,label\n' + rows.join('\n') + '\n';
}

describe('browser UI', { skip }, () => {
  let dir: string;
  let server: MedtuneServer;
  let base: string;
  let key: string;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const shots = process.env.MEDTUNE_SCREENSHOTS ?? path.join(os.tmpdir(), 'medtune-ui-screenshots');
  let axeSource: string;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-ui-'));
    mkdirSync(shots, { recursive: true });
    const train = path.join(dir, 'train.csv');
    writeFileSync(train, texts(300, 1));
    const init = path.join(dir, 'init');
    createScratchModel(
      init,
      readFileSync(train, 'utf8')
        .split('\n')
        .slice(1)
        .map((l) => l.split(',')[0]!),
      ['alpha', 'beta'],
      5,
      { hidden: 32, layers: 1 },
    );
    const run = path.join(dir, 'run');
    await runTrain(
      {
        model: init,
        train,
        outputDir: run,
        epochs: 6,
        learningRate: 2e-3,
        batchSize: 16,
        maxLength: 32,
        weightDecay: 0.01,
        warmup: 0.1,
        scheduler: 'linear',
        seed: 5,
        evalEvery: 0,
        gradAccum: 1,
        maxGradNorm: 1,
        labelSmoothing: 0,
        validationSplit: 0.1,
        baseline: false,
        leakageCheck: false,
        abstainBelow: 0.8,
      },
      () => {},
    );
    // an evaluation whose gold labels are wrong on 12 rows: the review page has confident "errors" to review
    const test = path.join(dir, 'test.csv');
    writeFileSync(test, texts(40, 2, 12));
    await runEvaluate(
      {
        model: path.join(run, 'best_model'),
        test,
        outputDir: path.join(dir, 'eval'),
        batchSize: 16,
        leakageCheck: false,
      },
      () => {},
    );
    const keys = path.join(dir, 'keys.json');
    key = addKey(keys, 'clinician');
    server = await createServer({
      models: [{ name: 'triage', dir: path.join(run, 'best_model') }],
      keys,
      workers: 1,
      threads: 1,
      port: 0,
      review: path.join(dir, 'eval'),
      logLevel: 'warn',
      logStream: { write: () => true } as unknown as NodeJS.WritableStream,
    });
    base = await server.listen();
    await server.ready;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1100, height: 850 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** axe-core in the page (evaluated through the DevTools protocol, so the page's CSP stays as it is). */
  async function assertAccessible(name: string): Promise<void> {
    const violations = (await page.evaluate(
      `${axeSource}; axe.run(document, { resultTypes: ['violations'] })
      .then((r) => r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')` +
        ".map((v) => v.id + ': ' + v.help + ' — ' + v.nodes.slice(0, 3)" +
        ".map((n) => n.target.join(' ') + ' ' + (n.any[0]?.message ?? '')).join('; ')))",
    )) as string[];
    assert.deepEqual(violations, [], `${name}: accessibility violations`);
  }

  it(
    'sign in: a wrong key gets a clear message; ' + 'the right one opens the app (key in sessionStorage only)',
    async () => {
      await page.goto(`${base}/`);
      await page.fill('#key', 'mt_000000000000_' + 'x'.repeat(32));
      await page.click('button[type=submit]');
      await page.waitForSelector('text=This API key was not accepted');
      await assertAccessible('sign-in');
      await page.screenshot({ path: path.join(shots, 'sign-in.png') });
      await page.fill('#key', key);
      await page.click('button[type=submit]');
      await page.waitForSelector('#note');
      assert.equal(await page.evaluate('document.cookie'), '');
      assert.ok(!page.url().includes(key));
    },
  );

  it(
    'diagnose: calibrated probabilities as bars; ' + 'the abstention banner on an ambiguous note; an explanation',
    async () => {
      await page.fill('#note', 'patient reports zorblax and mild pain since today');
      await page.click('main >> button.primary');
      await page.waitForSelector('ol.scores li');
      assert.equal((await page.textContent('ol.scores li:first-child span:first-child'))!.trim(), 'alpha');
      assert.equal(await page.$('[data-testid=abstain]'), null);
      await page.click('main >> text=Explain');
      await page.waitForSelector('[data-testid=explanation] .w');
      const top = await page.$$eval(
        '[data-testid=explanation] .w',
        (ws) =>
          ws
            .map((w) => [w.textContent, Number(w.getAttribute('title'))] as [string, number])
            .sort((a, b) => b[1] - a[1])[0]![0],
      );
      assert.equal(top, 'zorblax');
      await assertAccessible('diagnose');
      await page.screenshot({ path: path.join(shots, 'diagnose.png'), fullPage: true });
      await page.fill('#note', 'zorblax quintarn');
      await page.click('main >> button.primary');
      await page.waitForSelector('[data-testid=abstain]');
      assert.match((await page.textContent('[data-testid=abstain]'))!, /Not sure — refer to a clinician/);
      await page.screenshot({ path: path.join(shots, 'abstain.png'), fullPage: true });
    },
  );

  it('de-identification preview highlights a made-up name with its type', async () => {
    await page.fill('#note', 'Seen by Dr. Zebulon Quackenbush on 03/04/2021 for fever and cough.');
    await page.click('main >> text=Preview de-identification');
    await page.waitForSelector('mark.phi');
    const marks = await page.$$eval('mark.phi', (ms) => ms.map((m) => m.textContent));
    assert.ok(
      marks.some((m) => m!.includes('Zebulon Quackenbush') && /PERSON|NAME/.test(m!)),
      JSON.stringify(marks),
    );
    await page.screenshot({ path: path.join(shots, 'deid-preview.png'), fullPage: true });
  });

  it('review five cases by keyboard only; after a reload they are still saved', async () => {
    await page.click('nav >> text=Review');
    await page.fill('#reviewer', 'Dr Tester');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=review]');
    await page.focus('[data-testid=review]');
    for (const k of ['1', '2', '4', '1', '2']) {
      const before = await page.textContent('.saved');
      await page.keyboard.press(k);
      // polled from here: a predicate evaluated in the page would be eval, which the page's CSP (rightly) forbids
      for (let t = 0; (await page.textContent('.saved')) === before; t++) {
        assert.ok(t < 200, `the review after key ${k} was not saved`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await assertAccessible('review');
    await page.screenshot({ path: path.join(shots, 'review.png'), fullPage: true });
    await page.reload();
    await page.click('nav >> text=Review');
    await page.waitForSelector('[data-testid=review]');
    assert.match((await page.textContent('[data-testid=reviews]'))!, /Dr Tester: gold/);
    // htm drops whitespace that holds a line break at the edge of a text run: reformatting the template once glued
    // "1reviewers" and "unclear ·c" together; the words the reviewer reads are checked here
    const meta = (await page.textContent('[data-testid=review] .meta'))!.replace(/\s+/g, ' ');
    assert.match(meta, /Agreement: 5 reviews of 5 cases by 1 reviewer; no case has two reviewers yet\./);
    assert.match((await page.textContent('.keys'))!.replace(/\s+/g, ' '), /4 unclear · c comment/);
    const cases = (await (
      await fetch(`${base}/v1/review/cases`, { headers: { authorization: `Bearer ${key}` } })
    ).json()) as { agreement: { reviews: number } };
    assert.equal(cases.agreement.reviews, 5);
  });

  it('the models page shows the model and its validation status', async () => {
    await page.click('nav >> text=Models');
    await page.waitForSelector('text=not clinically validated');
    await assertAccessible('models');
    await page.screenshot({ path: path.join(shots, 'models.png'), fullPage: true });
  });

  it('corrections exported from the reviews retrain the model (its label map kept)', async () => {
    const out = path.join(dir, 'corrections.csv');
    const r = runReviewExport({ db: path.join(dir, 'eval', 'reviews.sqlite'), output: out, log: () => {} });
    assert.equal(r.rows, 4, 'five reviews, one "unclear"');
    const again = path.join(dir, 'retrained');
    await runTrain(
      {
        model: path.join(dir, 'run', 'best_model'),
        train: out,
        replay: path.join(dir, 'train.csv'),
        replayFraction: 0.2,
        outputDir: again,
        epochs: 1,
        learningRate: 1e-3,
        batchSize: 16,
        maxLength: 32,
        weightDecay: 0.01,
        warmup: 0,
        scheduler: 'linear',
        seed: 5,
        evalEvery: 0,
        gradAccum: 1,
        maxGradNorm: 1,
        labelSmoothing: 0,
        validationSplit: 0,
        test: path.join(dir, 'test.csv'),
        baseline: false,
        leakageCheck: false,
      },
      () => {},
    );
    const cfg = JSON.parse(readFileSync(path.join(again, 'best_model', 'config.json'), 'utf8'));
    assert.deepEqual(cfg.id2label, { 0: 'alpha', 1: 'beta' });
    assert.match(cfg.medtune.parent_sha256, /^[0-9a-f]{64}$/);
  });

  it('no console errors on any page', () => {
    assert.deepEqual(
      consoleErrors.filter((e) => !/status of 401/.test(e)),
      [],
    );
  });
});
