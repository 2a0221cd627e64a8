/**
 * Labelled text datasets: reading a file into examples (text, optional pair, label ids), the label map, a
 * stratified split, a summary, and batches of token ids (tokenised once; padded per batch; optional length
 * bucketing so short texts are not padded to long ones).
 */
import { Generator } from '../tensor/random.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { encodeTexts, windowCount, type WindowSpec } from '../text/windows.js';
import { describeValues, labelLike, looksLikeText } from './label-shape.js';
import { DataError, pickColumn, readRows, textCell, TEXT_COLUMNS, type RowFormat } from './readers.js';

export const LABEL_COLUMNS = ['label', 'labels', 'diagnosis', 'disease', 'class', 'category', 'target', 'y'];

export interface Example {
  text: string;
  pair?: string;
  /** class id (single-label) or multi-hot vector (multi-label) */
  label: number | number[];
  /** 1-based data row in the file */
  row: number;
  /** the file the row comes from when it is not the split's own (e.g. "replay"; the leakage check names it) */
  source?: string;
  /** group key (--group-column, optionally through --group-regex) for aggregated evaluation */
  group?: string;
  /** multi-label: labels of this row the training data never had (counted as misses in every metric) */
  unseen?: string[];
}

export interface LabeledData {
  file: string;
  examples: Example[];
  labels: string[];
  multiLabel: boolean;
  textColumn: string;
  labelColumn: string;
  pairColumn?: string;
  /** rows skipped, with the reason */
  skipped: { row: number; reason: string }[];
  /** multi-label data read against known labels: the labels it has beside them, and on how many rows */
  unseen?: { labels: string[]; rows: number };
}

/**
 * One line on the labels a multi-label file has that the training data never had (null: none): normal for ICD
 * coding, they count as misses in every metric.
 */
export function unseenNote(d: LabeledData): string | null {
  if (!d.unseen) return null;
  const { labels, rows } = d.unseen;
  return (
    `${d.file}: ${labels.length} labels the training data never had (${labels.slice(0, 5).join(', ')}` +
    `${labels.length > 5 ? ', …' : ''}) on ${rows} rows: counted as misses in every metric`
  );
}

export interface ReadOptions {
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  multiLabel?: boolean;
  labelDelimiter?: string;
  format?: RowFormat;
  /** text encoding (default: UTF-8, checked) */
  encoding?: string;
  /** the label list from training data: unseen labels are errors */
  labels?: string[];
  groupColumn?: string;
  /** regular expression whose first capture group is the group key */
  groupRegex?: string;
  /** a column of row ids that must be unique (default: "id" when present) */
  idColumn?: string;
}

function labelValues(v: unknown, multi: boolean, delim: string, where: () => string): string[] {
  if (Array.isArray(v)) {
    if (!multi)
      throw new DataError(`${where()}: the label is a list; pass --multi-label for multi-label data`, 'E_INPUT_LABEL');
    return v.map((x) => labelName(x, where)).filter(Boolean);
  }
  const s = labelName(v, where);
  if (!multi) return s ? [s] : [];
  const parts = s
    .split(delim)
    .map((x) => x.trim())
    .filter(Boolean);
  // BLURB-style flags "0_1,1_0,...": the label is the id before "_" where the flag is 1
  if (parts.length > 1 && parts.every((p) => /^[^_]+_[01]$/.test(p)))
    return parts.filter((p) => p.endsWith('_1')).map((p) => p.slice(0, -2));
  return parts;
}

/** A label must be a string, a number or a boolean (true/false as names); objects and lists of lists are errors. */
function labelName(v: unknown, where: () => string): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v.trim();
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  throw new DataError(
    `${where()}: the label is ${Array.isArray(v) ? 'a nested list' : 'an object'}; labels must be strings or numbers`,
    'E_INPUT_LABEL',
  );
}

/** All label names a flags-style value lists (set or not), so that labels never set still get a column. */
function flagNames(v: unknown, delim: string): string[] {
  const s = typeof v === 'string' ? v : '';
  const parts = s
    .split(delim)
    .map((x) => x.trim())
    .filter(Boolean);
  return parts.length > 1 && parts.every((p) => /^[^_]+_[01]$/.test(p)) ? parts.map((p) => p.slice(0, -2)) : [];
}

/** The --group-regex of a --group-column, checked: it needs the column and one capture group. */
export function groupRegexOf(groupColumn?: string, groupRegex?: string): RegExp | undefined {
  if (!groupRegex) return undefined;
  if (!groupColumn) throw new DataError('--group-regex needs --group-column', 'E_USAGE');
  let re: RegExp;
  try {
    re = new RegExp(groupRegex);
  } catch (e) {
    throw new DataError(
      `--group-regex ${groupRegex} is not a valid regular expression: ${(e as Error).message}`,
      'E_USAGE',
    );
  }
  if (!/\((?!\?)/.test(groupRegex))
    throw new DataError(
      `--group-regex ${groupRegex} has no capture group; the first (...) is the group key`,
      'E_USAGE',
    );
  return re;
}

export async function readLabeled(file: string, o: ReadOptions = {}): Promise<LabeledData> {
  const multi = o.multiLabel ?? false;
  const delim = o.labelDelimiter ?? (multi ? ',' : '');
  let textCol = '';
  let labelCol = '';
  let pairCol: string | undefined;
  const raw: { text: string; pair?: string; labels: string[]; row: number; group?: string }[] = [];
  let groupCol: string | undefined;
  const groupRe = groupRegexOf(o.groupColumn, o.groupRegex);
  const flagLabels = new Set<string>();
  let idCol: string | undefined;
  const ids = new Map<string, number>();
  const skipped: { row: number; reason: string }[] = [];
  let n = 0;
  for await (const r of readRows(file, { format: o.format, encoding: o.encoding })) {
    n++;
    if (n === 1) {
      const cols = Object.keys(r);
      textCol = pickColumn(cols, o.textColumn, TEXT_COLUMNS, 'text', file);
      labelCol = pickColumn(cols, o.labelColumn, LABEL_COLUMNS, 'label', file);
      if (o.textPairColumn) pairCol = pickColumn(cols, o.textPairColumn, [], 'text-pair', file);
      if (o.groupColumn) groupCol = pickColumn(cols, o.groupColumn, [], 'group', file);
      idCol = o.idColumn ? pickColumn(cols, o.idColumn, [], 'id', file) : cols.find((c) => c.toLowerCase() === 'id');
    }
    if (idCol !== undefined) {
      const id = String(r[idCol] ?? '');
      const first = ids.get(id);
      if (first !== undefined)
        throw new DataError(
          `${file}: id "${id}" in column "${idCol}" appears twice (rows ${first} and ${n}); ids must be unique`,
          'E_INPUT_DATA',
        );
      ids.set(id, n);
    }
    const text = textCell(r[textCol], { file, row: n, column: textCol });
    if (!text.trim()) {
      skipped.push({ row: n, reason: 'empty text' });
      continue;
    }
    const labels = labelValues(r[labelCol], multi, delim, () => `${file} row ${n}, column "${labelCol}"`);
    if (!multi && labels.length === 0) {
      skipped.push({ row: n, reason: 'missing label' });
      continue;
    }
    if (multi) for (const f of flagNames(r[labelCol], delim)) flagLabels.add(f);
    let group: string | undefined;
    if (groupCol) {
      group = String(r[groupCol] ?? '');
      if (groupRe) {
        const m = groupRe.exec(group);
        if (!m || m[1] === undefined)
          throw new DataError(
            `${file} row ${n}: --group-regex ${o.groupRegex} does not capture a group key`,
            'E_INPUT_DATA',
          );
        group = m[1];
      }
    }
    raw.push({
      text,
      ...(pairCol ? { pair: textCell(r[pairCol], { file, row: n, column: pairCol }) } : {}),
      labels,
      row: n,
      ...(group !== undefined ? { group } : {}),
    });
  }
  if (n === 0) throw new DataError(`${file} has no data rows`, 'E_INPUT_EMPTY');
  let labels = o.labels;
  if (!labels) {
    if (!multi)
      refuseTextLabels(
        file,
        labelCol,
        textCol,
        raw.map((x) => x.labels[0]!),
      );
    const names = new Set([...flagLabels, ...raw.flatMap((x) => x.labels)]);
    if (names.size > MAX_LABELS)
      throw new DataError(
        `${file} has ${names.size} distinct labels in column "${labelCol}", more than the ${MAX_LABELS} a ` +
          'classification head takes (all of ICD-10-CM is about 70,000 codes, MIMIC-III uses under 9,000): ' +
          `is "${labelCol}" the label column${multi ? ', and --label-delimiter the separator' : ''}?`,
        'E_INPUT_LABEL',
      );
    labels = [...names].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  const unseen = new Set<string>();
  let unseenRows = 0;
  const examples: Example[] = raw.map((x) => {
    const missing = x.labels.filter((l) => !index.has(l));
    for (const l of missing) unseen.add(l);
    if (missing.length) unseenRows++;
    const label = multi ? labels!.map((l) => (x.labels.includes(l) ? 1 : 0)) : (index.get(x.labels[0]!) ?? -1);
    return {
      text: x.text,
      ...(x.pair !== undefined ? { pair: x.pair } : {}),
      label,
      row: x.row,
      ...(x.group !== undefined ? { group: x.group } : {}),
      ...(multi && missing.length ? { unseen: missing } : {}),
    };
  });
  if (unseen.size && !multi) throw unseenLabels(file, labelCol, [...unseen]);
  return {
    file,
    examples,
    labels,
    multiLabel: multi,
    textColumn: textCol,
    labelColumn: labelCol,
    pairColumn: pairCol,
    skipped,
    ...(unseen.size && multi ? { unseen: { labels: [...unseen].sort(), rows: unseenRows } } : {}),
  };
}

/** The most distinct labels a data file may have (a head of hidden × labels weights, one column per label). */
export const MAX_LABELS = 50_000;

/**
 * Splits off `fraction` of the examples, deterministically from the seed: per class (stratified) for single-label
 * examples; multi-label examples by iterative stratification (`iterativeSplit`).
 */
export function stratifiedSplit(examples: Example[], fraction: number, seed: number): [Example[], Example[]] {
  if (examples.some((e) => Array.isArray(e.label))) return iterativeSplit(examples, fraction, seed);
  const gen = new Generator(seed);
  const byClass = new Map<string, Example[]>();
  for (const e of examples) {
    const k = Array.isArray(e.label) ? e.label.join('') : String(e.label);
    if (!byClass.has(k)) byClass.set(k, []);
    byClass.get(k)!.push(e);
  }
  const train: Example[] = [];
  const val: Example[] = [];
  for (const group of byClass.values()) {
    const shuffled = shuffle(group, gen);
    const k = group.length < 2 ? 0 : Math.max(1, Math.round(group.length * fraction));
    val.push(...shuffled.slice(0, k));
    train.push(...shuffled.slice(k));
  }
  const byRow = (a: Example, b: Example) => a.row - b.row;
  return [train.sort(byRow), val.sort(byRow)];
}

/**
 * Iterative stratification (Sechidis, Tsoumakas & Vlahavas 2011) into a held-out share and the rest: the label with
 * the fewest examples left is dealt first, each of its examples to the side that still wants most of that label
 * (ties: the side that wants most examples, then the seed); examples without labels fill the sides' remaining
 * wants. Last, examples move between the sides until the held-out share is round(fraction × n) — those of the most
 * frequent labels, whose proportions a move disturbs least — so the share is what was asked, to one row.
 */
export function iterativeSplit(examples: Example[], fraction: number, seed: number): [Example[], Example[]] {
  const gen = new Generator(seed);
  const n = examples.length;
  const order = shuffle(
    examples.map((_, i) => i),
    gen,
  );
  const labelsOf = order.map((i) => (examples[i]!.label as number[]).flatMap((v, c) => (v > 0.5 ? [c] : [])));
  const C = (examples[0]!.label as number[]).length;
  const ratio = [fraction, 1 - fraction];
  const total = new Array<number>(C).fill(0);
  for (const ls of labelsOf) for (const c of ls) total[c]!++;
  const want = ratio.map((r) => total.map((t) => t * r));
  const wantAll = ratio.map((r) => r * n);
  const side = new Array<number>(n).fill(-1);
  const byLabel: number[][] = Array.from({ length: C }, () => []);
  labelsOf.forEach((ls, k) => ls.forEach((c) => byLabel[c]!.push(k)));
  const left = [...total];
  const assign = (k: number, s: number) => {
    side[k] = s;
    wantAll[s]!--;
    for (const c of labelsOf[k]!) {
      want[s]![c]!--;
      left[c]!--;
    }
  };
  for (;;) {
    let l = -1;
    for (let c = 0; c < C; c++) if (left[c]! > 0 && (l < 0 || left[c]! < left[l]!)) l = c;
    if (l < 0) break;
    for (const k of byLabel[l]!) {
      if (side[k] !== -1) continue;
      const [a, b] = [want[0]![l]!, want[1]![l]!];
      const s = a !== b ? (a > b ? 0 : 1) : wantAll[0] !== wantAll[1] ? (wantAll[0]! > wantAll[1]! ? 0 : 1) : 1;
      assign(k, s);
    }
  }
  for (let k = 0; k < n; k++) if (side[k] === -1) assign(k, wantAll[0]! > wantAll[1]! ? 0 : 1);
  // exact share: move examples of the most frequent labels
  const target = Math.round(fraction * n);
  const commonness = (k: number) => Math.min(...labelsOf[k]!.map((c) => total[c]!), Number.MAX_SAFE_INTEGER);
  const byCommon = Array.from({ length: n }, (_, k) => k).sort((x, y) => commonness(y) - commonness(x));
  let held = side.filter((s) => s === 0).length;
  for (const k of byCommon) {
    if (held === target) break;
    if (held < target && side[k] === 1) [side[k], held] = [0, held + 1];
    else if (held > target && side[k] === 0) [side[k], held] = [1, held - 1];
  }
  const byRow = (a: Example, b: Example) => a.row - b.row;
  const pick = (s: number) => order.filter((_, k) => side[k] === s).map((i) => examples[i]!);
  return [pick(1).sort(byRow), pick(0).sort(byRow)];
}

export function shuffle<T>(xs: T[], gen: Generator): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(gen.uniform() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

export interface Encoded {
  ids: number[][];
  types: number[][];
  truncated: number;
  /** per example: tokens cut off by truncation (documents: beyond --max-document-tokens) */
  cut: number[];
  /** documents read in windows (text/windows.ts): each text is cut into windows of the model's length */
  window?: WindowSpec;
}

/** Reading texts as documents in windows: the overlap and the most tokens read. */
export interface DocumentReading {
  stride?: number;
  maxDocumentTokens: number;
}

/**
 * Tokenises every example once (no padding): cut at `maxLength`, or, with `document`, read in windows of `maxLength`
 * (texts with a pair are always cut).
 */
export function encodeExamples(
  examples: Example[],
  tok: Tokenizer,
  maxLength: number,
  document?: DocumentReading | null,
): Encoded {
  const out: Encoded = { ids: [], types: [], truncated: 0, cut: [] };
  const B = 256;
  const docs = examples.some((e) => e.pair !== undefined) ? null : document;
  for (let i = 0; i < examples.length; i += B) {
    const part = examples.slice(i, i + B);
    const hasPair = part.some((e) => e.pair !== undefined);
    const enc = encodeTexts(
      tok,
      part.map((e) => e.text),
      hasPair ? part.map((e) => e.pair ?? '') : null,
      { maxLength, document: docs, where: (k) => `row ${part[k]!.row}` },
    );
    out.ids.push(...enc.ids);
    out.types.push(...enc.types);
    out.truncated += enc.truncated;
    out.cut.push(...enc.cut);
    if (enc.window) out.window = enc.window;
  }
  return out;
}

/**
 * Batches of example indices. Shuffled with the seed when `shuffle`; with `bucket`, examples are sorted by length
 * inside windows of 50 batches so each batch pads to a similar length.
 */
export function makeBatches(
  lengths: number[],
  batchSize: number,
  o: { shuffle: boolean; seed: number; bucket: boolean },
): number[][] {
  const gen = new Generator(o.seed);
  let order = lengths.map((_, i) => i);
  if (o.shuffle) order = shuffle(order, gen);
  if (o.bucket) {
    const W = batchSize * 50;
    const sorted: number[] = [];
    for (let i = 0; i < order.length; i += W)
      sorted.push(...order.slice(i, i + W).sort((a, b) => lengths[a]! - lengths[b]!));
    order = sorted;
  }
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return o.shuffle && o.bucket ? shuffle(batches, gen) : batches;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

/** Documents in windows: how many texts take more than one window, the most windows, the cut beyond the limit. */
function windowNote(enc: Encoded, lens: number[]): string {
  const w = enc.window!;
  const counts = lens.map((l) => windowCount(l, w));
  const many = counts.filter((c) => c > 1).length;
  return (
    (many
      ? `${many} longer than the window of ${w.length}, read in up to ${Math.max(0, ...counts)} windows`
      : `none longer than the window of ${w.length}`) +
    `${enc.truncated ? `, ${enc.truncated} cut at --max-document-tokens` : ''}`
  );
}

/** The pre-training summary: rows, classes with counts, token length percentiles, truncation. */
export function summarize(name: string, d: LabeledData, examples: Example[], enc: Encoded, maxLength: number): string {
  const counts = new Map<string, number>();
  for (const e of examples) {
    const ls = Array.isArray(e.label)
      ? d.labels.filter((_, i) => (e.label as number[])[i])
      : [d.labels[e.label as number]!];
    for (const l of ls) counts.set(l, (counts.get(l) ?? 0) + 1);
  }
  const lens = enc.ids.map((x) => x.length);
  const top = [...counts].sort((a, b) => b[1] - a[1]);
  const cls =
    top.length > 8
      ? `${top
          .slice(0, 4)
          .map(([l, c]) => `${l} ${c}`)
          .join(', ')}, …, ${top
          .slice(-2)
          .map(([l, c]) => `${l} ${c}`)
          .join(', ')}`
      : top.map(([l, c]) => `${l} ${c}`).join(', ');
  return (
    `${name}: ${examples.length} rows, ${counts.size} ${d.multiLabel ? 'labels' : 'classes'} (${cls}); ` +
    `tokens p50 ${percentile(lens, 50)}, p90 ${percentile(lens, 90)}, max ${Math.max(0, ...lens)}; ` +
    (enc.window ? windowNote(enc, lens) : `${enc.truncated} truncated to ${maxLength}`) +
    (d.skipped.length && name === 'train'
      ? `; ${d.skipped.length} rows skipped (${d.skipped
          .slice(0, 3)
          .map((s) => `row ${s.row}: ${s.reason}`)
          .join(', ')})`
      : '')
  );
}

/** A label column of long, nearly unique values is text (columns swapped?): refused before any class is named. */
function refuseTextLabels(file: string, labelCol: string, textCol: string, values: string[]): void {
  if (!looksLikeText(values)) return;
  throw new DataError(
    `${file}: the label column "${labelCol}" holds text, not labels (${describeValues(values)}); ` +
      `are the text and label columns swapped? Name them with --text-column and --label-column ` +
      `(text now: "${textCol}")`,
    'E_INPUT_LABEL',
  );
}

/** Labels the model does not know: named when they look like labels, counted (never quoted) when they are text. */
function unseenLabels(file: string, labelCol: string, unseen: string[]): DataError {
  if (!unseen.every(labelLike))
    return new DataError(
      `${file} has ${unseen.length} labels the training data never had, and they look like text, not labels ` +
        `(${describeValues(unseen)}); is --label-column "${labelCol}" the label column?`,
      'E_INPUT_LABEL',
    );
  return new DataError(
    `${file} has labels the training data never had: ` +
      `${unseen.slice(0, 10).join(', ')}${unseen.length > 10 ? ', ...' : ''}`,
    'E_INPUT_LABEL',
  );
}
