/**
 * `medtune models compare NAME@A NAME@B`: both versions (their folders verified) classify the same cases — the
 * reviewed served cases of a capture folder (against their settled outcomes) and/or a labelled test file — and the
 * difference in accuracy (B − A) is given with a paired-bootstrap 95 % interval. Reviewed cases that either version
 * was trained on (the case_id column of the exports its lineage names) are left out and counted. Each result is
 * recorded in the registry, where `promote` reads the one on reviewed cases.
 */
import { MedtuneError } from '../common/errors.js';
import { existsSync } from 'node:fs';
import { readLabeled } from '../data/dataset.js';
import { readRows } from '../data/readers.js';
import { Predictor } from '../infer/predictor.js';
import { fileSha256 } from '../models/metadata.js';
import { readCapture } from './capture-store.js';
import type { Registry, Version } from './registry.js';
import { outcomes, servedState } from './served-reviews.js';
import { pairedDifference, type Estimate } from './stats.js';

export interface CompareOptions {
  test?: string;
  capture?: string;
  key?: Buffer;
  seed?: number;
  log?: (l: string) => void;
}

export interface CompareResult {
  on: 'reviewed' | 'test';
  n: number;
  accuracy_a: number;
  accuracy_b: number;
  /** accuracy of B − accuracy of A, with its paired-bootstrap interval */
  difference: Estimate;
}

const labelOf = (l: string | string[] | number) => (Array.isArray(l) ? l.join(',') : String(l));

/** 1 where each model's label equals the truth, 0 where not, for both models. */
function rightOrWrong(models: Predictor[], texts: string[], truth: string[]): number[][] {
  return models.map((p) => p.classify(texts).map((c, i) => (labelOf(c.label) === truth[i] ? 1 : 0)));
}

function result(on: CompareResult['on'], a: number[], b: number[], seed: number): CompareResult {
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const d = pairedDifference(a, b, seed);
  return {
    on,
    n: a.length,
    accuracy_a: mean(a),
    accuracy_b: mean(b),
    difference: { value: d.value, low: d.low, high: d.high },
  };
}

/** The served cases a version (or its parents) was trained on: the case_id column of its exports' files. */
async function trainedCases(versions: Version[]): Promise<Set<number>> {
  const ids = new Set<number>();
  for (const file of versions.flatMap((v) => v.lineage.reviews.map((r) => r.file))) {
    if (!existsSync(file)) continue;
    for await (const row of readRows(file)) if (row.case_id !== undefined) ids.add(Number(row.case_id));
  }
  return ids;
}

/** Reviewed served cases neither version was trained on: their de-identified texts and settled outcomes. */
async function reviewedCases(o: CompareOptions, versions: Version[]) {
  const st = servedState(readCapture(o.capture!, o.key!).records);
  const trained = await trainedCases(versions);
  const texts: string[] = [];
  const truth: string[] = [];
  let excluded = 0;
  for (const [id, s] of outcomes(st)) {
    if (trained.has(id)) {
      excluded++;
      continue;
    }
    texts.push(st.cases.get(id)!.text);
    truth.push(s.label);
  }
  return { texts, truth, excluded };
}

export async function runCompare(
  reg: Registry,
  refA: string,
  refB: string,
  o: CompareOptions,
): Promise<{ a: string; b: string; results: CompareResult[] }> {
  const log = o.log ?? (() => {});
  if (!o.test && !o.capture)
    throw new MedtuneError('compare needs --test FILE and/or --capture DIR (reviewed served cases)', 'E_USAGE');
  const va = reg.get(refA);
  const vb = reg.get(refB);
  if (va.name !== vb.name)
    throw new MedtuneError(`compare two versions of one model (${va.name}, ${vb.name})`, 'E_USAGE');
  for (const v of [va, vb]) await reg.verify(v);
  const models = await Promise.all(
    [va, vb].map((v: Version) => Predictor.load(reg.folderOf(v.name, v.version), { log: () => {} })),
  );
  const seed = o.seed ?? 42;
  const results: CompareResult[] = [];
  const record = (r: CompareResult, data: string) => {
    reg.recordComparison({
      name: va.name,
      a: va.version,
      b: vb.version,
      on: r.on,
      data,
      n: r.n,
      metric: 'accuracy',
      diff: r.difference.value,
      low: r.difference.low,
      high: r.difference.high,
    });
    results.push(r);
    log(
      `${r.on === 'reviewed' ? 'reviewed served cases' : 'test file'} (n = ${r.n}): accuracy ${va.version} ` +
        `${r.accuracy_a.toFixed(3)}, ${vb.version} ${r.accuracy_b.toFixed(3)}; difference ` +
        `${r.difference.value >= 0 ? '+' : ''}${r.difference.value.toFixed(3)} ` +
        `[95 % CI ${r.difference.low.toFixed(3)}, ${r.difference.high.toFixed(3)}]`,
    );
  };
  if (o.capture) {
    const { texts, truth, excluded } = await reviewedCases(o, [va, vb]);
    if (excluded) log(`${excluded} reviewed cases left out: a version was trained on them`);
    if (!texts.length)
      throw new MedtuneError(
        `${o.capture} has no reviewed served case with a settled outcome that neither version was trained on`,
        'E_INPUT_EMPTY',
      );
    const [a, b] = rightOrWrong(models, texts, truth);
    record(result('reviewed', a!, b!, seed), o.capture);
  }
  if (o.test) {
    const data = await readLabeled(o.test);
    const texts = data.examples.map((e) => e.text);
    const truth = data.examples.map((e) => (Array.isArray(e.label) ? '' : data.labels[e.label]!));
    const [a, b] = rightOrWrong(models, texts, truth);
    record(result('test', a!, b!, seed), `${o.test} sha256:${fileSha256(o.test)}`);
  }
  return { a: `${va.name}@${va.version}`, b: `${vb.name}@${vb.version}`, results };
}
