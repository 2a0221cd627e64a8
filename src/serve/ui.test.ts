// The browser UI end to end in real headless Chromium (Debian's, driven by playwright-core; one launch for the
// suite): sign in, diagnose (a result never outlives its note), the abstention banner, the de-identification preview
// against what the worker's model reads (with and without --deid), an explanation readable without colour, the
// review queue by keyboard (keys after "Start reviewing" and Escape, a comment per case, blind verdicts, no double
// save on the last case, undo, the reviewer is the key's name), the models page (metrics with intervals, drift,
// the card through marked + DOMPurify), focus after every navigation, /docs in a browser, export of the corrections
// and retraining from them. axe-core finds no serious or critical violation on any page at 1280×800 and 390×844,
// no page scrolls sideways on the phone, and nothing is logged as an error. MEDTUNE_SCREENSHOTS=DIR keeps the
// screenshots (docs/img/ holds them).
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
import { writeModelCard } from '../report/card.js';
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

/** `n` notes with one trigger word each; `ambiguous` more with a third word that is alpha half of the time. */
function texts(n: number, seed: number, flip = 0, ambiguous = 0): string {
  const g = new Generator(seed);
  const note = (triggers: string[]): string => {
    const words = Array.from(
      { length: 6 + Math.floor(g.uniform() * 5) },
      () => FILLERS[Math.floor(g.uniform() * FILLERS.length)]!,
    );
    for (const t of triggers) words.splice(Math.floor(g.uniform() * words.length), 0, t);
    return words.join(' ');
  };
  const rows = Array.from({ length: n }, (_, i) => {
    const alpha = i % 2 === 0;
    const label = (i < flip ? !alpha : alpha) ? 'alpha' : 'beta';
    return `${note([alpha ? 'zorblax' : 'quintarn'])},${label}`;
  });
  for (let i = 0; i < ambiguous; i++) rows.push(`${note(['blorvik'])},${i % 2 === 0 ? 'alpha' : 'beta'}`);
  return 'text,label\n' + rows.join('\n') + '\n';
}

describe('browser UI', { skip }, () => {
  let dir: string;
  let server: MedtuneServer;
  let deidServer: MedtuneServer;
  let base: string;
  let deidBase: string;
  let key: string;
  let second: string;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const shots = process.env.MEDTUNE_SCREENSHOTS ?? path.join(os.tmpdir(), 'medtune-ui-screenshots');
  let axeSource: string;
  const DESKTOP = { width: 1280, height: 800 };
  const PHONE = { width: 390, height: 844 };

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'medtune-ui-'));
    mkdirSync(shots, { recursive: true });
    const train = path.join(dir, 'train.csv');
    // the ambiguous notes teach the model where it cannot choose: in scope, low confidence
    writeFileSync(train, texts(300, 1, 0, 40));
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
    // an evaluation file whose recorded labels are wrong on 12 rows: the review page has confident "errors" to review
    const test = path.join(dir, 'test.csv');
    writeFileSync(test, texts(40, 2, 12));
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
        test: path.join(dir, 'test.csv'),
        baseline: true,
        leakageCheck: false,
        abstainBelow: 0.8,
      },
      () => {},
    );
    // the card gets example notes (the HF `widget` convention) and markup that must never run or load
    const card = writeModelCard(path.join(run, 'best_model')).file;
    writeFileSync(
      card,
      readFileSync(card, 'utf8')
        .replace(/^---\n/, '---\nwidget:\n  - text: "patient reports zorblax and mild pain since today"\n')
        .concat('\n<script>window.pwned = 1</script>\n\n<img src="x" onerror="window.pwned = 2">\n')
        .concat('\n[a link that must not run](javascript:window.pwned=3)\n'),
    );
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
    second = addKey(keys, 'second-opinion');
    const common = {
      models: [{ name: 'triage', dir: path.join(run, 'best_model') }],
      workers: 1,
      threads: 1,
      port: 0,
      logLevel: 'warn' as const,
      logStream: { write: () => true } as unknown as NodeJS.WritableStream,
    };
    server = await createServer({ ...common, keys, review: path.join(dir, 'eval') });
    // the same model behind --deid and --no-auth (its own review database: the reviewer is then "local")
    deidServer = await createServer({
      ...common,
      auth: false,
      deid: true,
      review: path.join(dir, 'eval'),
      reviewDb: path.join(dir, 'local-reviews.sqlite'),
    });
    base = await server.listen();
    deidBase = await deidServer.listen();
    await Promise.all([server.ready, deidServer.ready]);
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
    page = await browser.newPage({ viewport: DESKTOP });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await deidServer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Calls the API as a key (or without one). */
  async function apiCall(url: string, o: { key?: string; body?: unknown; method?: string } = {}) {
    const res = await fetch(url, {
      method: o.method ?? (o.body ? 'POST' : 'GET'),
      headers: {
        ...(o.key ? { authorization: `Bearer ${o.key}` } : {}),
        ...(o.body ? { 'content-type': 'application/json' } : {}),
      },
      body: o.body ? JSON.stringify(o.body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line
  }
  const reviews = async () => (await apiCall(`${base}/v1/review/cases?limit=500`, { key })).body;

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

  /** At both widths: axe-core, no sideways scrolling on the phone, and a screenshot (NAME.png, NAME-phone.png). */
  async function checkPage(name: string, o: { screenshots?: boolean } = {}): Promise<void> {
    const shot = o.screenshots !== false;
    await assertAccessible(`${name} at 1280×800`);
    if (shot) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
    await page.setViewportSize(PHONE);
    await assertAccessible(`${name} at 390×844`);
    const [scroll, width] = (await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]')) as [
      number,
      number,
    ];
    assert.ok(scroll <= width, `${name}: the page scrolls sideways on a phone (${scroll} > ${width} px)`);
    if (shot) await page.screenshot({ path: path.join(shots, `${name}-phone.png`), fullPage: true });
    await page.setViewportSize(DESKTOP);
  }

  const focused = async () => (await page.evaluate('document.activeElement && document.activeElement.id')) as string;
  /** Waits (polling from here: a predicate evaluated in the page would be eval, which its CSP forbids). */
  async function until(what: string, test: () => Promise<boolean>): Promise<void> {
    for (let t = 0; !(await test()); t++) {
      assert.ok(t < 200, `timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const text = async (sel: string) => ((await page.textContent(sel)) ?? '').replace(/\s+/g, ' ').trim();
  const caseHeading = () => text('#case-h');

  it('sign in: a wrong key gets a clear message; the right one opens the app, focus on its heading', async () => {
    await page.goto(`${base}/`);
    await page.fill('#key', 'mt_000000000000_' + 'x'.repeat(32));
    await page.click('button[type=submit]');
    await page.waitForSelector('text=This API key was not accepted');
    await checkPage('sign-in');
    await page.fill('#key', key);
    await page.click('button[type=submit]');
    await page.waitForSelector('#note');
    await until('focus on the Diagnose heading', async () => (await focused()) === 'page-h');
    assert.equal(await text('#page-h'), 'Diagnose a note');
    assert.equal(await page.evaluate('document.cookie'), '');
    assert.ok(!page.url().includes(key));
  });

  it('diagnose: percentages, the conditions and example notes; the result is gone once the note changes', async () => {
    assert.deepEqual(await page.$$eval('[data-testid=conditions] li', (ls) => ls.map((l) => l.textContent)), [
      'alpha',
      'beta',
    ]);
    await page.click('summary >> text=What this model can suggest');
    await page.click('[aria-label="Use example note 1"]');
    assert.equal(await page.inputValue('#note'), 'patient reports zorblax and mild pain since today');
    await page.click('main >> button.primary');
    await page.waitForSelector('[data-testid=result] ol.scores li');
    assert.equal(await text('ol.scores li:first-child .label'), 'alpha');
    assert.match(await text('ol.scores li:first-child .pct'), /^\d+ %$/);
    assert.equal(await page.$('[data-testid=abstain]'), null);
    assert.match(await text('[data-testid=model-version]'), /^Model triage, version \S+\.$/);
    // one more character: the suggestion for the old note is gone at once
    await page.type('#note', '.');
    await until('the result of the old note to go', async () => (await page.$('[data-testid=result]')) === null);
    await page.fill('#note', 'patient reports zorblax and mild pain since today');
    await page.click('main >> button.primary');
    await page.waitForSelector('[data-testid=result]');
    await page.click('main >> text=Explain');
    await page.waitForSelector('[data-testid=top-words] tbody tr');
    // readable without colour: the words with their signed scores, the strongest first
    const first = await page.$$eval('[data-testid=top-words] tbody tr:first-child td', (tds) =>
      tds.map((td) => td.textContent),
    );
    assert.deepEqual([first[0], first[2]], ['zorblax', 'for alpha']);
    assert.match(first[1]!, /^\+\d\.\d{3}$/);
    assert.match(await text('main'), /completeness error \d/);
    await checkPage('diagnose');
    // the third word: seen in training (in scope), but the model cannot choose
    await page.fill('#note', 'patient reports blorvik with mild pain since today');
    await until(
      'the explanation of the old note to go',
      async () => (await page.$('[data-testid=explanation]')) === null,
    );
    await page.click('main >> button.primary');
    await page.waitForSelector('[data-testid=abstain]');
    assert.match(await text('[data-testid=abstain]'), /^The model is not confident \(\d+ %\) — decide without it\./);
    await checkPage('abstain');
    // a note unlike anything the model was trained on: the out-of-scope banner, not a suggestion
    await page.fill('#note', 'invoice attached for the quarterly furniture order, please approve before friday');
    await page.click('main >> button.primary');
    await page.waitForSelector('[data-testid=out-of-scope]');
    assert.match(await text('[data-testid=out-of-scope]'), /^This note is outside what the model was trained on/);
    await checkPage('out-of-scope');
  });

  /** Previews and explains a note; returns the preview's "what the model reads" and the text the worker explained. */
  async function previewAndExplain(note: string) {
    await page.fill('#note', note);
    await page.click('main >> text=Preview de-identification');
    await page.waitForSelector('[data-testid=model-text]');
    await page.click('main >> button.primary');
    await page.waitForSelector('[data-testid=result]');
    const explained = page.waitForResponse((r) => r.url().endsWith('/v1/explain'));
    await page.click('main >> text=Explain');
    const worker = ((await (await explained).json()) as { text: string }).text;
    await page.waitForSelector('[data-testid=explanation]');
    return {
      shown: (await page.textContent('[data-testid=model-text]'))!,
      worker,
      says: await text('[data-testid=model-reads]'),
    };
  }

  it('the de-identification preview shows exactly what the worker reads, without and with --deid', async () => {
    const note = 'Seen by Dr. Zebulon Quackenbush on 03/04/2021 for fever and zorblax, call 555-867-5309.';
    const plain = await previewAndExplain(note);
    const marks = await page.$$eval('mark.phi', (ms) => ms.map((m) => m.textContent));
    assert.ok(
      marks.some((m) => m!.includes('Zebulon Quackenbush') && /PERSON|NAME/.test(m!)),
      JSON.stringify(marks),
    );
    assert.match(plain.says, /does not de-identify notes: the model reads the original text/);
    assert.equal(plain.shown, note);
    assert.equal(plain.shown, plain.worker, 'without --deid the preview must show what the worker reads');
    await checkPage('deid-preview');
    // the same note on a server started with --deid (and --no-auth: any key signs in)
    await page.goto(`${deidBase}/`);
    await page.fill('#key', 'local');
    await page.click('button[type=submit]');
    await page.waitForSelector('#note');
    const deid = await previewAndExplain(note);
    assert.match(deid.says, /de-identifies every note before the model reads it/);
    assert.ok(!deid.shown.includes('Quackenbush') && deid.shown.includes('[NAME]'), deid.shown);
    assert.equal(deid.shown, deid.worker, 'with --deid the preview must show what the worker reads');
    await page.goto(`${base}/`);
    await page.waitForSelector('#note');
  });

  it('POST /v1/reviews: a "reviewer" field is refused; the reviewer is the key name (local without keys)', async () => {
    const first = (await reviews()).cases[0].id as number;
    const spoofed = await apiCall(`${base}/v1/reviews`, {
      key,
      body: { case_id: first, reviewer: 'dr-somebody-else', verdict: 'gold' },
    });
    assert.equal(spoofed.status, 400);
    assert.match(spoofed.body.error.message, /"reviewer" is not accepted/);
    // another reviewer's verdict on the first case, for the blind-review check below
    const other = await apiCall(`${base}/v1/reviews`, { key: second, body: { case_id: first, verdict: 'model' } });
    assert.equal(other.status, 201);
    assert.equal(other.body.review.reviewer, 'second-opinion');
    const local = await apiCall(`${deidBase}/v1/reviews`, { body: { case_id: first, verdict: 'unclear' } });
    assert.equal(local.status, 201);
    assert.equal(local.body.review.reviewer, 'local');
  });

  it('review: keys work after "Start reviewing"; verdicts of others stay hidden until one gives one own', async () => {
    await page.click('nav >> text=Review');
    await until('focus on the Review heading', async () => (await focused()) === 'page-h');
    assert.match(await text('[data-testid=reviewer]'), /^clinician$/);
    await page.click('text=Start reviewing');
    await until('focus on the case', async () => (await focused()) === 'case');
    assert.match(await caseHeading(), /^Case 1 of \d+/);
    const reviewsCell = await text('[data-testid=reviews]');
    assert.match(reviewsCell, /hidden until you give your verdict/);
    assert.ok(!reviewsCell.includes('second-opinion'), reviewsCell);
    await checkPage('review');
    await page.keyboard.press('1');
    await until('case 2', async () => /^Case 2 of/.test(await caseHeading()));
    await page.keyboard.press('k');
    await until('case 1 again', async () => /^Case 1 of/.test(await caseHeading()));
    assert.match(await text('[data-testid=reviews]'), /second-opinion: the model is right/);
    const first = (await reviews()).cases[0];
    assert.deepEqual(
      first.reviews.map((r: { reviewer: string; verdict: string }) => `${r.reviewer} ${r.verdict}`),
      ['second-opinion model', 'clinician gold'],
    );
  });

  it('review: a comment stays with its case; keys work after Escape; choosing a label keeps the focus', async () => {
    await page.keyboard.press('j');
    await until('case 2', async () => /^Case 2 of/.test(await caseHeading()));
    await page.keyboard.press('c');
    assert.equal(await focused(), 'comment');
    await page.keyboard.type('check the dose');
    await page.keyboard.press('Escape');
    await until('focus back on the case', async () => (await focused()) === 'case');
    await page.keyboard.press('j');
    await until('case 3', async () => /^Case 3 of/.test(await caseHeading()));
    assert.equal(await page.inputValue('#comment'), '', "case 2's comment followed to case 3");
    await page.keyboard.press('4');
    await until('case 4', async () => /^Case 4 of/.test(await caseHeading()));
    await page.keyboard.press('k');
    await page.keyboard.press('k');
    await until('case 2 again', async () => /^Case 2 of/.test(await caseHeading()));
    assert.equal(await page.inputValue('#comment'), 'check the dose');
    await page.keyboard.press('2');
    await until('case 3 again', async () => /^Case 3 of/.test(await caseHeading()));
    const cases = (await reviews()).cases as { reviews: { verdict: string; comment: string | null }[] }[];
    assert.deepEqual(
      cases[1]!.reviews.map((r) => [r.verdict, r.comment]),
      [['model', 'check the dose']],
    );
    assert.deepEqual(
      cases[2]!.reviews.map((r) => [r.verdict, r.comment]),
      [['unclear', null]],
    );
    // another label, chosen from the list: the focus comes back to the task
    await page.keyboard.press('3');
    await page.waitForSelector('#label-search');
    await page.keyboard.type('bet');
    await page.keyboard.press('Enter');
    await until('case 4', async () => /^Case 4 of/.test(await caseHeading()));
    await until('focus back on the case', async () => (await focused()) === 'case');
  });

  it('review: the last case leads to "done", never to a double save; undo takes a verdict back', async () => {
    const total = Number(/of (\d+)/.exec(await caseHeading())![1]);
    for (let k = 0; k < total; k++) await page.keyboard.press('j');
    await until('the last case', async () => (await caseHeading()).startsWith(`Case ${total} of ${total}`));
    const lastId = Number(await page.getAttribute('#case', 'data-case'));
    const mineOnLast = async () =>
      ((await reviews()).cases as { id: number; reviews: { reviewer: string }[] }[])
        .find((c) => c.id === lastId)!
        .reviews.filter((r) => r.reviewer === 'clinician').length;
    await page.keyboard.press('4');
    await page.keyboard.press('4');
    await page.waitForSelector('[data-testid=done]');
    await until('focus on the done heading', async () => (await focused()) === 'done-h');
    await page.keyboard.press('4');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await mineOnLast(), 1, 'the last case was saved more than once');
    await checkPage('review-done');
    await page.keyboard.press('u');
    await until('the last case again', async () => (await page.$('#case-h')) !== null);
    assert.equal(await mineOnLast(), 0, 'undo did not take the verdict back');
    await until('focus on the case', async () => (await focused()) === 'case');
    assert.match(await text('[data-testid=progress]'), /You have reviewed 3 of \d+ cases/);
  });

  it('the models page: plain metrics with intervals and the baseline, drift with its threshold, the card', async () => {
    // 50 predictions of one class: enough for the drift window, and far from the validation mix
    const many = Array.from({ length: 25 }, () => 'patient reports zorblax and mild pain');
    for (let k = 0; k < 2; k++) await apiCall(`${base}/v1/diagnose`, { key, body: { texts: many } });
    await page.reload();
    await page.click('nav >> text=Models');
    await until('focus on the Models heading', async () => (await focused()) === 'page-h');
    await page.waitForSelector('[data-testid=metrics]').catch(async (e: Error) => {
      throw new Error(`${e.message}\nthe page says: ${await text('main')}`);
    });
    const row = await page.$$eval('[data-testid=metrics] tbody tr:first-child > *', (cs) =>
      cs.map((c) => c.textContent),
    );
    assert.match(row[0]!, /^Accuracy/);
    assert.match(row[1]!, /^\d+\.\d %$/);
    assert.match(row[2]!, /^\d+\.\d % to \d+\.\d %$/);
    assert.match(row[3]!, /^\d+\.\d %$/, 'the baseline beside the model');
    assert.match(await text('[data-testid=drift]'), /Drift detected.*an alert is raised at PSI 0\.\d+/);
    await checkPage('models');
    await page.click('summary >> text=Model card');
    const card = await page.$('[data-testid=markdown]');
    assert.ok(card);
    assert.match((await card.textContent())!, /Model card: run/);
    assert.ok(await page.$('[data-testid=markdown] h3'), "the card's title is a heading");
    const literal = await page.$$eval('[data-testid=markdown] p', (ps) =>
      ps.filter((p) => /^(#|>)/.test(p.textContent ?? '')).map((p) => p.textContent),
    );
    assert.deepEqual(literal, [], 'Markdown left literal');
    assert.equal(await page.$('[data-testid=markdown] :is(script, img, [href^="javascript"])'), null);
    assert.match((await card.textContent())!, /<script>window\.pwned = 1<\/script>/, 'HTML in a card is shown as text');
    assert.equal(await page.evaluate('window.pwned'), undefined);
    await checkPage('model-card', { screenshots: false });
    await page.evaluate("document.querySelector('details.model-card').scrollIntoView()");
    await page.screenshot({ path: path.join(shots, 'model-card.png') });
  });

  it('/docs in a browser says how to pass the key instead of a raw JSON 401', async () => {
    const res = await page.goto(`${base}/docs`);
    assert.equal(res!.status(), 401);
    assert.match(await text('h1'), /The API reference needs an API key/);
    await assertAccessible('docs');
    await page.goto(`${base}/`);
  });

  it('corrections exported from the reviews retrain the model (its label map kept)', async () => {
    const out = path.join(dir, 'corrections.csv');
    const r = runReviewExport({ db: path.join(dir, 'eval', 'reviews.sqlite'), output: out, log: () => {} });
    assert.ok(r.rows >= 2, `exported ${r.rows} rows`);
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
