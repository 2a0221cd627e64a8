/**
 * ClinicalTrials.gov study records in the API v2 JSON format → a labelled file: text = brief summary + eligibility
 * criteria, labels from the conditions (conditionsModule.conditions), the phases (designModule.phases) or the
 * overall status (statusModule.overallStatus); the NCT id is kept. Reads files and folders (walked, sorted) of
 * `.json` (one study, a list of studies, or an API page {"studies": [...]}) and `.jsonl` / `.ndjson` (one study a
 * line), each plain or .gz. A study seen again under the same NCT id replaces the earlier one.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DataError, decodeFile } from '../readers.js';
import { type DatasetResult } from './io.js';
import { buildRecordDataset, type RecordOptions, type RecordSource } from './records.js';

export const CTGOV_LABELS = ['conditions', 'phase', 'status'] as const;
export type CtgovLabel = (typeof CTGOV_LABELS)[number];

export interface CtgovOptions extends RecordOptions {
  /** files and folders of study records */
  input: string[];
  /** the field the labels come from (default conditions) */
  label?: CtgovLabel;
}

const STUDY_FILE = /\.(json|jsonl|ndjson)(\.gz)?$/i;
/** A single JSON document larger than this (characters) must be JSONL instead. */
const MAX_JSON_CHARS = 512 << 20;

/** The study files of the inputs: files as given, folders walked for .json/.jsonl/.ndjson (plain or .gz). */
export function studyFiles(inputs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const n of readdirSync(dir).sort()) {
      const p = path.join(dir, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (STUDY_FILE.test(n)) out.push(p);
    }
  };
  for (const i of inputs) {
    if (existsSync(i) && statSync(i).isDirectory()) {
      const before = out.length;
      walk(i);
      if (out.length === before)
        throw new DataError(`--input ${i} holds no .json or .jsonl study files`, 'E_INPUT_NOT_FOUND');
    } else out.push(i);
  }
  return out;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const strings = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v])
    .filter((x): x is string | number => typeof x === 'string' || typeof x === 'number')
    .map((x) => String(x).trim())
    .filter(Boolean);

/** One study: its NCT id, text and labels; `where` names the file (and line) in messages. */
export function studyRecord(study: unknown, label: CtgovLabel, where: string) {
  const p = obj(obj(study).protocolSection);
  const id = obj(p.identificationModule).nctId;
  if (typeof id !== 'string' || !id) {
    throw new DataError(
      `${where}: not a ClinicalTrials.gov study record in the API v2 format ` +
        '(no protocolSection.identificationModule.nctId)',
      'E_INPUT_PARSE',
    );
  }
  const summary = strings(obj(p.descriptionModule).briefSummary)[0] ?? '';
  const criteria = strings(obj(p.eligibilityModule).eligibilityCriteria)[0] ?? '';
  const labels =
    label === 'conditions'
      ? strings(obj(p.conditionsModule).conditions)
      : label === 'phase'
        ? strings(obj(p.designModule).phases)
        : strings(obj(p.statusModule).overallStatus);
  return { id, text: [summary, criteria].filter(Boolean).join('\n\n'), labels: [...new Set(labels)] };
}

async function readText(file: string, onBytes: (n: number) => void): Promise<string> {
  const parts: string[] = [];
  let n = 0;
  for await (const chunk of decodeFile(file, undefined, onBytes)) {
    n += chunk.length;
    if (n > MAX_JSON_CHARS)
      throw new DataError(
        `${file} is too large for one JSON document; write one study a line (JSONL)`,
        'E_INPUT_FORMAT',
      );
    parts.push(chunk);
  }
  return parts.join('').replace(/^\uFEFF/, '');
}

/** The studies of one file, with where each is (file, or file:line for JSONL). */
async function* studiesOf(file: string, onBytes: (n: number) => void): AsyncGenerator<[unknown, string]> {
  if (/\.(jsonl|ndjson)(\.gz)?$/i.test(file)) {
    let pending = '';
    let line = 0;
    const parse = (raw: string): unknown => {
      line++;
      if (!raw.trim()) return undefined;
      try {
        return JSON.parse(raw);
      } catch {
        throw new DataError(`${file}: line ${line} is not valid JSON (one study record a line)`, 'E_INPUT_PARSE');
      }
    };
    for await (const chunk of decodeFile(file, undefined, onBytes)) {
      pending += chunk;
      let i;
      while ((i = pending.indexOf('\n')) >= 0) {
        const s = parse(pending.slice(0, i));
        pending = pending.slice(i + 1);
        if (s !== undefined) yield [s, `${file}: line ${line}`];
      }
    }
    const s = parse(pending);
    if (s !== undefined) yield [s, `${file}: line ${line}`];
    return;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(await readText(file, onBytes));
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(`${file} is not valid JSON`, 'E_INPUT_PARSE');
  }
  const list = Array.isArray(doc) ? doc : Array.isArray(obj(doc).studies) ? (obj(doc).studies as unknown[]) : [doc];
  for (const [i, s] of list.entries()) yield [s, list.length > 1 ? `${file}: study ${i + 1}` : file];
}

/** ClinicalTrials.gov records as a record source. */
export function ctgovSource(o: CtgovOptions): RecordSource {
  const label = o.label ?? 'conditions';
  if (!CTGOV_LABELS.includes(label))
    throw new DataError(`--label must be one of ${CTGOV_LABELS.join(', ')}, got "${label}"`, 'E_USAGE');
  const files = studyFiles(o.input);
  return {
    name: 'ClinicalTrials.gov',
    idColumn: 'nct_id',
    inputs: files,
    settings: { label },
    parse: async ({ add, drop, onBytes }) => {
      for (const file of files) {
        for await (const [study, where] of studiesOf(file, onBytes)) {
          const r = studyRecord(study, label, where);
          if (!r.text) drop('without_summary_or_criteria');
          else add(r);
        }
      }
    },
  };
}

/** `medtune data ctgov`: ClinicalTrials.gov API v2 JSON → rows `text`, `labels`, `nct_id` (+ FILE.summary.json). */
export function buildCtgovDataset(o: CtgovOptions): Promise<DatasetResult> {
  return buildRecordDataset(ctgovSource(o), o);
}
