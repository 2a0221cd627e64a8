// The run report, the model card and `medtune audit` end to end: a small training run with demographic columns,
// then the report in real headless Chromium (Debian's, through playwright-core; one browser for every page), the
// card's YAML against metrics.json, determinism, --no-texts, a run folder with files missing, and bad input.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { runCli } from '../cli/program.js';
import { tinyDemoModel } from '../testing-fixtures.js';
import { syntheticSymptoms, type DemoRow } from '../demo/synthetic.js';
import { fileSha256 } from '../models/metadata.js';
import { confusionSpec, renderSvg } from './charts.js';
import { tuneReportHtml } from '../tune/report.js';
import type { Trial } from '../tune/storage.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = process.env.MEDTUNE_TEST_OUTPUT ?? path.resolve(here, '..', '..', 'test-output', 'report');
const CHROMIUM = '/usr/bin/chromium';
let W: string;
let RUN: string;
let MODEL: string;
let model: string;
let testCsv: string;

interface Result {
  exit: number;
  stderr: string;
  stdout: string;
}
/** The little of the DOM the page checks use (the project compiles without DOM types). */
interface DomElement {
  getBoundingClientRect(): { width: number; height: number };
  getAttribute(name: string): string | null;
  querySelectorAll(selector: string): { length: number };
}

/** Runs the CLI in this process; stderr and console.log are captured (stdout carries the test report). */
async function cli(...args: string[]): Promise<Result> {
  let stderr = '';
  let stdout = '';
  const origLog = console.log;
  console.log = (...xs: unknown[]) => {
    stdout += xs.map(String).join(' ') + '\n';
  };
  try {
    const exit = await runCli(['node', 'medtune', ...args], (s) => {
      stderr += s;
    });
    return { exit, stderr, stdout };
  } finally {
    console.log = origLog;
  }
}

const csv = (rows: DemoRow[]) =>
  'text,label,sex,age_band\n' + rows.map((r) => `"${r.text}",${r.label},${r.sex},${r.age_band}`).join('\n') + '\n';
const read = (f: string) => readFileSync(f, 'utf8');
const json = (...parts: string[]) => JSON.parse(read(path.join(...parts)));
const lines = (f: string) =>
  read(f)
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
const charts = (html: string) => [...html.matchAll(/<svg data-chart="([^"]+)"/g)].map((m) => m[1]!);

/** A hand-made multi-label run folder (metrics.json and predictions.jsonl with a `site` audit column). */
function multiLabelFolder(dir: string): void {
  mkdirSync(dir);
  const labels = ['a', 'b', 'c'];
  const preds = Array.from({ length: 40 }, (_, i) => {
    const gold = labels.filter((_, c) => (i >> c) & 1);
    const predicted = i % 5 === 0 ? ['a'] : gold;
    const probabilities = Object.fromEntries(labels.map((l, c) => [l, ((i >> c) & 1 ? 0.7 : 0.2) + (i % 3) * 0.01]));
    const correct = JSON.stringify(gold) === JSON.stringify(predicted);
    const audit = { site: i % 2 ? 'north' : 'south' };
    return { row: i + 1, text: `note ${i}`, label: gold, predicted, correct, probabilities, audit };
  });
  writeFileSync(path.join(dir, 'predictions.jsonl'), preds.map((p) => JSON.stringify(p)).join('\n') + '\n');
  writeFileSync(
    path.join(dir, 'metrics.json'),
    JSON.stringify({
      split: 'test',
      f1_micro: 0.8,
      f1_macro: 0.79,
      precision_micro: 0.82,
      recall_micro: 0.78,
      subset_accuracy: 0.8,
      roc_auc_micro: 0.93,
      roc_auc_macro: 0.91,
      precision_at_5: 0.41,
      precision_at_8: 0.27,
      precision_at_15: 0.15,
      loss: 0.3,
      n: 40,
      per_label: labels.map((label) => ({ label, precision: 0.9, recall: 0.8, f1: 0.85, support: 20 })),
      calibration: { thresholds: { a: 0.4, b: 0.5, c: 0.6 }, f1_micro_at_0_5: 0.78, f1_micro_tuned: 0.8 },
      selective: {
        aurc: 0.1,
        risk_coverage: [
          [0.5, 0.1],
          [1, 0.2],
        ],
        accuracy_at_coverage: { '0.8': 0.8, '0.9': 0.8, '1.0': 0.8 },
      },
    }),
  );
}

/** A small study: 3 complete trials (one evaluation each) and a pruned one, the best at chance for 4 labels. */
function tuneInput(best = 0.25): Parameters<typeof tuneReportHtml>[0] {
  const trial = (number: number, value: number | null, state: Trial['state']): Trial =>
    ({
      number,
      state,
      params: { learning_rate: 10 ** -(3 + number), epochs: 2 + number },
      value,
      intermediate: [[1, value ?? 0.2]],
      bestStep: 1,
      epochsRun: 1,
      epochsPlanned: 2,
      seconds: 3,
      worker: null,
      error: null,
      retryOf: null,
    }) as unknown as Trial;
  const trials = [trial(0, best, 'complete'), trial(1, best - 0.01, 'complete'), trial(2, 0.2, 'complete')];
  trials.push(trial(3, null, 'pruned'));
  return {
    study: 's',
    metric: 'accuracy',
    direction: 'maximize',
    sampler: 'tpe',
    pruner: 'median',
    trials,
    best: trials[0]!,
    seconds: 9,
    labels: 4,
  };
}

describe('tune_report.html', () => {
  it('lang, viewport, scalable titled charts, learning curves drawn as points, the chance warning', () => {
    const html = tuneReportHtml(tuneInput());
    assert.match(html, /^<!doctype html><html lang="en">/);
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    for (const svg of html.match(/<svg [^>]*>/g)!) assert.match(svg, /viewBox="0 0 \d+ \d+".*role="img"/);
    const curves = html.slice(html.indexOf('<h2>Learning curves'), html.indexOf('<h2>Parameter importance'));
    assert.equal((curves.match(/<circle /g) ?? []).length, 4, 'one point per evaluation');
    assert.match(html, /The best trial is at chance level: accuracy 0\.25(00)? against 0\.25(00)?/);
    assert.doesNotMatch(tuneReportHtml(tuneInput(0.9)), /at chance level/);
    // y-axis labels: short, inside the plot's left margin
    const plots = html.slice(0, html.indexOf('<h2>Parameter importance'));
    const ticks = [...plots.matchAll(/text-anchor="end">([^<]+)</g)].map((m) => m[1]!);
    assert.ok(ticks.length >= 4 && ticks.every((t) => t.length <= 6), JSON.stringify(ticks));
  });
});

describe('run report, bias audit and model card', () => {
  before(async () => {
    W = mkdtempSync(path.join(os.tmpdir(), 'medtune-report-'));
    const train = syntheticSymptoms(8, 5, { demographics: true });
    // one row of a group of its own: too small to judge
    const odd = { ...syntheticSymptoms(1, 9)[0]!, sex: 'unknown', age_band: '40-59' };
    writeFileSync(path.join(W, 'train.csv'), csv(train));
    testCsv = path.join(W, 'test.csv');
    writeFileSync(testCsv, csv([...syntheticSymptoms(6, 6, { demographics: true }), odd]));
    model = path.join(W, 'init');
    tinyDemoModel(
      model,
      train.map((r) => r.text),
    );
    RUN = path.join(W, 'run');
    MODEL = path.join(RUN, 'best_model');
    const r = await cli(
      'train',
      '--model',
      model,
      '--train',
      path.join(W, 'train.csv'),
      '--test',
      testCsv,
      '--output-dir',
      RUN,
      '--epochs',
      '2',
      '--batch-size',
      '16',
      '--max-length',
      '48',
      '--learning-rate',
      '2e-3',
      '--seed',
      '3',
      '--audit-column',
      'sex',
      '--audit-column',
      'age_band',
      '--audit-min-group',
      '10',
      '--save-total-limit',
      '1',
    );
    assert.equal(r.exit, 0, r.stderr);
    assert.match(r.stdout, /report: +\S+report\.html/);
    assert.match(r.stdout, /model card: +\S+best_model\/README\.md/);
    assert.match(r.stdout, /audit sex: 3 groups, 2 compared/);
    assert.match(r.stdout, /audit: sex = unknown: 1 row \(below the minimum of 10\): too small to judge/);
  });
  after(() => rmSync(W, { recursive: true, force: true }));

  it('train records run.json: command, data with sha256, backend, duration, split statistics and groups', () => {
    const run = json(RUN, 'run.json');
    assert.equal(run.kind, 'train');
    assert.deepEqual(run.command.slice(0, 4), ['medtune', 'train', '--model', model]);
    assert.equal(run.seed, 3);
    assert.ok(run.duration_seconds > 0 && typeof run.backend === 'string' && run.threads >= 1);
    assert.deepEqual(run.audit_columns, ['sex', 'age_band']);
    assert.equal(run.data.find((d: { split: string }) => d.split === 'test').sha256, fileSha256(testCsv));
    assert.deepEqual(Object.keys(run.splits), ['train', 'validation', 'test']);
    const t = run.splits.test;
    assert.equal(t.rows, 127);
    assert.equal(
      Object.values(t.classes as Record<string, number>).reduce((a, b) => a + b, 0),
      127,
    );
    assert.ok(t.tokens.p50 > 0 && t.tokens.max <= 48 && t.tokens.histogram.length > 0);
    assert.equal(t.audit.sex.unknown.n, 1);
    const preds = lines(path.join(RUN, 'predictions.jsonl'));
    assert.ok(preds.every((p) => p.audit && typeof p.audit.sex === 'string' && typeof p.audit.age_band === 'string'));
    const audit = json(RUN, 'audit.json');
    assert.equal(audit.n, 127);
    assert.ok(audit.method.resamples >= 1000);
    assert.deepEqual(
      audit.columns.map((c: { column: string }) => c.column),
      ['sex', 'age_band'],
    );
  });

  it('the report is deterministic and self-contained: no script, nothing fetched, every chart inline SVG', async () => {
    const first = read(path.join(RUN, 'report.html'));
    const r = await cli('report', RUN);
    assert.equal(r.exit, 0, r.stderr);
    assert.equal(read(path.join(RUN, 'report.html')), first, 'rebuilt byte for byte');
    assert.doesNotMatch(first, /<script|\ssrc=|href="(?!#)|url\((?!#)/i);
    assert.match(first, /Content-Security-Policy" content="default-src 'none'/);
    assert.match(first, /This report is as sensitive as the data it was made from/);
    const ids = charts(first);
    const expected = [
      'balance',
      'tokens',
      'curves',
      'confusion-counts',
      'confusion-share',
      'roc',
      'pr',
      'reliability',
      'risk',
      'audit-0-labels',
      'audit-1-labels',
      'audit-0-gap',
    ];
    for (const id of expected) assert.ok(ids.includes(id), `chart ${id} in ${ids.join(', ')}`);
    const svgIds = [...first.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(new Set(svgIds).size, svgIds.length, 'no id twice in the page');
    assert.doesNotMatch(first, /Absent sections/);
  });

  it('misclassified cases: the most confident first, texts shown; --no-texts leaves every text out', async () => {
    const html = read(path.join(RUN, 'report.html'));
    const preds = lines(path.join(RUN, 'predictions.jsonl'));
    const conf = (p: { probabilities: Record<string, number>; predicted: string }) => p.probabilities[p.predicted]!;
    const wrong = preds.filter((p) => !p.correct).sort((a, b) => conf(b) - conf(a) || a.row - b.row);
    assert.ok(wrong.length > 0, 'the tiny model makes errors');
    const section = html.slice(html.indexOf('<section id="errors"'), html.indexOf('<section id="audit"'));
    const rows = [...section.matchAll(/<tr><td>(\d+)<\/td>/g)].map((m) => Number(m[1]));
    assert.deepEqual(
      rows,
      wrong.slice(0, 50).map((p) => p.row),
    );
    assert.ok(section.includes('<td class="text">'));
    const copy = path.join(W, 'no-texts');
    cpSync(RUN, copy, { recursive: true });
    const r = await cli('report', copy, '--no-texts');
    assert.equal(r.exit, 0, r.stderr);
    const bare = read(path.join(copy, 'report.html'));
    assert.match(bare, /Texts are left out/);
    for (const p of preds) {
      assert.ok(!bare.includes(p.text.slice(0, 40).replace(/&/g, '&amp;')), `text of row ${p.row}`);
    }
  });

  it("the model card: its YAML parses, model-index holds metrics.json's numbers, the sections are there", async () => {
    const card = read(path.join(MODEL, 'README.md'));
    const m = /^---\n([\s\S]*?)\n---\n/.exec(card);
    assert.ok(m, 'front matter');
    const meta = parseYaml(m[1]!);
    const metrics = json(RUN, 'metrics.json');
    assert.equal(meta.pipeline_tag, 'text-classification');
    assert.ok(meta.license && Array.isArray(meta.tags) && Array.isArray(meta.datasets) && Array.isArray(meta.metrics));
    const results = meta['model-index'][0].results[0];
    assert.equal(results.dataset.split, 'test');
    const byName = Object.fromEntries(results.metrics.map((x: { name: string; value: number }) => [x.name, x.value]));
    assert.equal(byName.Accuracy, metrics.accuracy);
    assert.equal(byName['Macro F1'], metrics.f1_macro);
    assert.equal(byName['Weighted F1'], metrics.f1_weighted);
    assert.equal(byName['ROC-AUC (one vs rest, macro)'], metrics.roc_auc_ovr);
    const headings = [
      'Model details',
      'Intended use and users',
      'Out-of-scope uses',
      'Training data',
      'Evaluation data',
      'Metrics',
      'Calibration',
      'Subgroup results',
      'Limitations',
      'Ethical considerations',
      'Clinical validation status',
      'How to reproduce',
    ];
    for (const h of headings) assert.match(card, new RegExp(`^## ${h}$`, 'm'));
    assert.match(card, /not validated — a clinician must review every output/);
    assert.ok(card.includes(fileSha256(testCsv)));
    assert.match(card, /too small to judge/);
    // the decision rule in words: abstention (chosen for a target accuracy by default) and the out-of-scope detector
    assert.match(
      card,
      /\| abstention \| (below confidence [0-9.]+, chosen on validation for 95 % accuracy[^|]*; )?out-of-scope notes/,
    );
    assert.match(
      card,
      /\| out-of-scope detector \| Mahalanobis distance .* threshold [0-9.]+, chosen to keep \d+ % of/,
    );
    const again = await cli('card', MODEL);
    assert.equal(again.exit, 0, again.stderr);
    assert.equal(read(path.join(MODEL, 'README.md')), card, 'medtune card rewrites the same card');
  });

  it('a run folder with files missing still renders and names what is absent', async () => {
    const partial = path.join(W, 'partial');
    mkdirSync(partial);
    copyFileSync(path.join(RUN, 'metrics.json'), path.join(partial, 'metrics.json'));
    const r = await cli('report', partial);
    assert.equal(r.exit, 0, r.stderr);
    assert.match(r.stdout, /absent: Dataset \(needs run\.json \(missing\)\); /);
    assert.match(r.stdout, /; Training curves \(needs metrics\.jsonl \(missing\)\)/);
    assert.match(r.stdout, /Misclassified cases \(needs predictions\.jsonl \(missing\)\)/);
    const html = read(path.join(partial, 'report.html'));
    assert.match(html, /Absent sections:/);
    assert.match(html, /<section id="errors" class="absent">/);
    assert.match(html, /<section id="metrics">/);
    assert.ok(charts(html).includes('confusion-counts'), 'the sections it has still render');
    assert.ok(!existsSync(path.join(partial, 'audit.json')));
  });

  it('medtune audit: audit.json and audit.html for a model on a file with demographic columns', async () => {
    const out = path.join(W, 'audit');
    const r = await cli(
      'audit',
      '--model',
      MODEL,
      '--data',
      testCsv,
      '--audit-column',
      'sex',
      '--output-dir',
      out,
      '--min-group',
      '10',
    );
    assert.equal(r.exit, 0, r.stderr);
    const a = json(out, 'audit.json');
    assert.equal(a.model.sha256, json(RUN, 'metrics.json').model.sha256);
    assert.deepEqual(a.columns[0].too_small, ['unknown']);
    const sizes = (x: { columns: { groups: { n: number }[] }[] }) => x.columns[0]!.groups.map((g) => g.n);
    assert.deepEqual(sizes(a), sizes(json(RUN, 'audit.json')));
    // one bootstrap seed and method: audit.html and the run report give the same intervals for the same data
    // (the run was trained with --seed 3; the bootstrap does not follow the training seed)
    // (accuracy: ECE's would differ in the 8th digit, predictions.jsonl keeping 6 decimals of each probability)
    const intervals = (x: { columns: { groups: { gaps?: Record<string, { ci: number[] }> }[] }[] }) =>
      x.columns[0]!.groups.map((g) => g.gaps?.accuracy?.ci ?? null);
    assert.deepEqual(intervals(a), intervals(json(RUN, 'audit.json')));
    assert.equal(a.method.seed, json(RUN, 'audit.json').method.seed);
    assert.match(read(path.join(out, 'audit.html')), /<svg data-chart="audit-0-labels"/);
  });

  it('medtune evaluate writes run.json and a report without training curves, with the audit', async () => {
    const out = path.join(W, 'eval');
    const r = await cli(
      'evaluate',
      '--model',
      MODEL,
      '--test',
      testCsv,
      '--output-dir',
      out,
      '--audit-column',
      'age_band',
      '--max-length',
      '48',
      '--no-leakage-check',
    );
    assert.equal(r.exit, 0, r.stderr);
    const run = json(out, 'run.json');
    assert.equal(run.kind, 'evaluate');
    assert.equal(run.splits['test.csv'].rows, 127);
    assert.ok(existsSync(path.join(out, 'audit.json')) && !existsSync(path.join(out, 'best_model')));
    assert.match(r.stdout, /absent: Training curves \(an evaluation run has no training\)/);
    assert.ok(charts(read(path.join(out, 'report.html'))).includes('audit-0-labels'));
  });

  it('a multi-label run folder renders its own sections (thresholds, no confusion matrix)', async () => {
    const dir = path.join(W, 'multi');
    multiLabelFolder(dir);
    const r = await cli('report', dir, '--audit-min-group', '10');
    assert.equal(r.exit, 0, r.stderr);
    const html = read(path.join(dir, 'report.html'));
    assert.match(html, /<section id="confusion" class="absent"><h2>Confusion matrix<\/h2><p>Not available: single/);
    assert.match(html, /Per-label thresholds tuned on validation/);
    // ICD-style ranking metrics in the headline table
    for (const name of ['Micro ROC-AUC', 'Macro ROC-AUC', 'P@5', 'P@8', 'P@15']) assert.ok(html.includes(name), name);
    assert.match(html, /largest wrong-side probability/);
    assert.ok(charts(html).includes('roc') && charts(html).includes('audit-0-gap'));
    const audit = json(dir, 'audit.json');
    assert.equal(audit.multi_label, true);
    assert.equal(audit.columns[0].groups[0].ece, null);
  });

  it('charts are titled; the confusion matrix leaves empty cells blank; captions match the charts', async () => {
    const html = read(path.join(RUN, 'report.html'));
    const svgs = [...html.matchAll(/<svg data-chart="[^"]+"[^>]*>(<title>[^<]+<\/title>)?/g)];
    assert.ok(svgs.length > 5);
    for (const m of svgs) {
      assert.match(m[0], /role="img" aria-label="[^"]+"/, m[0].slice(0, 80));
      assert.ok(m[1], `a chart without a title: ${m[0].slice(0, 60)}`);
    }
    // one note and none look different: only cells with notes are drawn, from a visible blue; no "0" printed
    const cm = await renderSvg(
      't',
      confusionSpec(
        [
          [1, 0],
          [0, 5],
        ],
        ['a', 'b'],
        false,
      ),
    );
    const cells = [...cm.matchAll(/<path[^>]*aria-roledescription="rect mark"[^>]*fill="([^"]+)"/g)].map((m) => m[1]);
    assert.equal(cells.length, 2, 'empty cells are left blank');
    assert.ok(
      cells.every((f) => f !== 'white' && f !== '#ffffff' && f !== '#fff'),
      JSON.stringify(cells),
    );
    const texts = [...cm.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    assert.ok(!texts.includes('0') && !texts.includes('0.00'), JSON.stringify(texts));
    // the multi-label run abstained on nothing: its caption draws and claims no abstention line
    const multi = read(path.join(W, 'multi', 'report.html'));
    assert.match(multi, /no abstention line is drawn/);
    assert.doesNotMatch(multi, /dashed red line/);
  });

  it('bad input: an audit column that does not exist, or holds free text, is one clear line', async () => {
    const audit = (col: string, out: string, ...more: string[]) =>
      cli(
        'audit',
        '--model',
        MODEL,
        '--data',
        testCsv,
        '--audit-column',
        col,
        '--output-dir',
        path.join(W, out),
        ...more,
      );
    const none = await audit('ethnicity', 'a2');
    assert.equal(none.exit, 2);
    assert.match(none.stderr, /^medtune: \S+test\.csv has no column "ethnicity" \(--audit-column\); its columns are: /);
    assert.match(none.stderr, /: .*sex.* \(E_INPUT_COLUMN\)\n$/);
    const tr = await cli(
      'train',
      '--model',
      model,
      '--train',
      testCsv,
      '--output-dir',
      path.join(W, 't2'),
      '--audit-column',
      'site',
      '--epochs',
      '1',
    );
    assert.equal(tr.exit, 2);
    assert.match(tr.stderr, /no column "site" \(--audit-column\).*\(E_INPUT_COLUMN\)/);
    const text = await audit('text', 'a3');
    assert.match(text.stderr, /--audit-column text has \d+ distinct values .* \(E_INPUT_DATA\)/);
    assert.ok(!text.stderr.includes(read(testCsv).split('\n')[1]!.slice(1, 30)), 'no patient text in the message');
    const few = await audit('sex', 'a4', '--resamples', '100');
    assert.match(few.stderr, /--resamples must be at least 1000.*\(E_USAGE\)/);
  });

  it('bad input: a folder without run files, a missing folder, the metrics of another model', async () => {
    const empty = mkdtempSync(path.join(W, 'empty-'));
    const e = await cli('report', empty);
    assert.equal(e.exit, 2);
    assert.match(e.stderr, /holds no run files \(metrics\.json, predictions\.jsonl, run\.json: missing, missing/);
    assert.match(e.stderr, /\(E_INPUT_NOT_FOUND\)\n$/);
    const gone = await cli('report', path.join(W, 'does-not-exist'));
    assert.match(gone.stderr, /does-not-exist does not exist.*\(E_INPUT_NOT_FOUND\)/);
    const noRun = await cli('card', MODEL, '--run', path.join(W, 'no-such-run'));
    assert.equal(noRun.exit, 2);
    const other = path.join(W, 'other-run');
    mkdirSync(other);
    const metrics = { split: 'test', model: { version: 'abc', sha256: 'f'.repeat(64) } };
    writeFileSync(path.join(other, 'metrics.json'), JSON.stringify(metrics));
    const mismatch = await cli('card', MODEL, '--run', other);
    assert.match(mismatch.stderr, /are of model version abc, not of .* \(E_USAGE\)/);
  });

  describe('in headless Chromium', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let browser: any = null;
    const skip = !existsSync(CHROMIUM) && !process.env.MEDTUNE_REQUIRE_CHROMIUM;
    before(async () => {
      if (skip) return;
      const { chromium } = await import('playwright-core');
      // Debian's chromium, never a downloaded one; playwright gives each launch a fresh --user-data-dir of its own
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
    });
    after(async () => {
      await browser?.close();
    });

    /** Opens a page; returns what it logged as errors, what it requested besides itself, and its charts. */
    async function open(
      file: string,
      o: { javaScriptEnabled?: boolean; screenshot?: string; phone?: boolean; fullPage?: boolean } = {},
    ) {
      const viewport = o.phone ? { width: 390, height: 844 } : { width: 1280, height: 900 };
      const context = await browser.newContext({ javaScriptEnabled: o.javaScriptEnabled ?? true, viewport });
      const page = await context.newPage();
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m: { type(): string; text(): string }) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e: Error) => errors.push(String(e)));
      page.on('request', (r: { url(): string }) => {
        if (r.url() !== `file://${file}`) requests.push(r.url());
      });
      await page.goto(`file://${file}`);
      const drawn = await page.$$eval('svg[data-chart]', (els: DomElement[]) =>
        els.map((e) => {
          const b = e.getBoundingClientRect();
          const marks = e.querySelectorAll('path, rect, line, text').length;
          return { id: e.getAttribute('data-chart'), w: b.width, h: b.height, marks };
        }),
      );
      if (o.screenshot) await page.screenshot({ path: o.screenshot, fullPage: o.fullPage ?? false });
      const text = await page.innerText('body');
      const [scroll, width] = (await page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]')) as [
        number,
        number,
      ];
      await context.close();
      return { errors, requests, drawn, text, scroll, width };
    }

    it('the report opens: no console errors, nothing fetched, every chart drawn; a screenshot', { skip }, async () => {
      mkdirSync(OUT, { recursive: true });
      const file = path.join(RUN, 'report.html');
      const shot = path.join(OUT, 'report-top.png');
      const r = await open(file, { screenshot: shot });
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.requests, []);
      assert.deepEqual(
        r.drawn.map((d: { id: string }) => d.id),
        charts(read(file)),
      );
      for (const d of r.drawn) {
        assert.ok(d.w > 100 && d.h > 50 && d.marks > 5, `chart ${d.id} drawn: ${JSON.stringify(d)}`);
      }
      assert.match(r.text, /This report is as sensitive as the data/);
      assert.equal(readFileSync(shot).subarray(1, 4).toString(), 'PNG');
      copyFileSync(file, path.join(OUT, 'report.html'));
    });

    it('readable with scripts disabled: the same charts and text', { skip }, async () => {
      const file = path.join(RUN, 'report.html');
      const r = await open(file, { javaScriptEnabled: false });
      assert.deepEqual(r.errors, []);
      assert.equal(r.drawn.length, charts(read(file)).length);
      assert.match(r.text, /Bias audit/);
    });

    it('a partial report, a multi-label report and audit.html open too', { skip }, async () => {
      const pages = [
        ['partial', 'report.html'],
        ['multi', 'report.html'],
        ['audit', 'audit.html'],
      ].map((p) => path.join(W, ...p));
      for (const file of pages) {
        const r = await open(file);
        assert.deepEqual(r.errors, [], file);
        assert.ok(r.drawn.length > 0 && r.drawn.every((d: { w: number }) => d.w > 100), file);
      }
    });

    it('on a phone (390 px): the report, audit.html and the tune report never scroll sideways', { skip }, async () => {
      mkdirSync(OUT, { recursive: true });
      const tune = path.join(W, 'tune_report.html');
      writeFileSync(tune, tuneReportHtml(tuneInput()));
      const pages: [string, string][] = [
        [path.join(RUN, 'report.html'), 'report-phone.png'],
        [path.join(W, 'audit', 'audit.html'), 'audit-phone.png'],
        [tune, 'tune-report-phone.png'],
      ];
      for (const [file, shot] of pages) {
        const r = await open(file, { phone: true, screenshot: path.join(OUT, shot) });
        assert.deepEqual(r.errors, [], file);
        assert.ok(r.scroll <= r.width, `${file} scrolls sideways on a phone: ${r.scroll} > ${r.width} px`);
        for (const d of r.drawn) assert.ok(d.w <= r.width, `chart ${d.id} is wider than the phone: ${d.w} px`);
      }
    });
  });
});
