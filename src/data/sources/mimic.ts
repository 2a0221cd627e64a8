/**
 * MIMIC-III (v1.4) → a labelled file: the notes of the chosen categories of NOTEEVENTS joined per admission (main
 * reports first, then addenda, each in chart order), labelled with the admission's ICD-9 codes from DIAGNOSES_ICD
 * (and PROCEDURES_ICD), dotted as in the standard splits (icd.ts). As CAML / PLM-ICD prepare MIMIC-III-full and
 * MIMIC-III-50. Notes flagged ISERROR are left out.
 */
import { DataError } from '../readers.js';
import { buildAdmissionDataset, type AdmissionOptions, type AdmissionSource } from './admissions.js';
import { formatIcd9, type CodeKind } from './icd.js';
import { idCell, type DatasetResult, type TableRow, type TableSpec } from './io.js';

export const NOTEEVENTS: TableSpec = {
  table: 'MIMIC-III NOTEEVENTS',
  header: [
    'ROW_ID',
    'SUBJECT_ID',
    'HADM_ID',
    'CHARTDATE',
    'CHARTTIME',
    'STORETIME',
    'CATEGORY',
    'DESCRIPTION',
    'CGID',
    'ISERROR',
    'TEXT',
  ],
  required: ['SUBJECT_ID', 'HADM_ID', 'CHARTDATE', 'CATEGORY', 'TEXT'],
};

const codeTable = (name: string): TableSpec => ({
  table: `MIMIC-III ${name}`,
  header: ['ROW_ID', 'SUBJECT_ID', 'HADM_ID', 'SEQ_NUM', 'ICD9_CODE'],
  required: ['SUBJECT_ID', 'HADM_ID', 'ICD9_CODE'],
});
export const DIAGNOSES_ICD = codeTable('DIAGNOSES_ICD');
export const PROCEDURES_ICD = codeTable('PROCEDURES_ICD');
export const D_ICD_DIAGNOSES: TableSpec = {
  table: 'MIMIC-III D_ICD_DIAGNOSES',
  header: ['ROW_ID', 'ICD9_CODE', 'SHORT_TITLE', 'LONG_TITLE'],
  required: ['ICD9_CODE', 'LONG_TITLE'],
};

export interface Mimic3Options extends AdmissionOptions {
  /** NOTEEVENTS.csv[.gz] */
  notes: string;
  /** DIAGNOSES_ICD.csv[.gz] */
  diagnoses: string;
  /** PROCEDURES_ICD.csv[.gz]: procedure codes are labels too */
  procedures?: string;
  /** D_ICD_DIAGNOSES.csv[.gz]: code titles in the summary */
  descriptions?: string;
  /** note categories to keep, comma-separated, any case (default "Discharge summary"; "all": every category) */
  categories?: string;
}

export const DEFAULT_CATEGORIES = 'Discharge summary';

/** "Discharge summary,Radiology" → the names as given; "all" → null (every category). */
export function parseCategories(spec: string | undefined): string[] | null {
  const list = (spec ?? DEFAULT_CATEGORIES)
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean);
  if (!list.length) throw new DataError('--categories is empty; e.g. "Discharge summary" (or "all")', 'E_USAGE');
  return list.some((c) => c.toLowerCase() === 'all') ? null : list;
}

/** The reader of a MIMIC-III ICD table (diagnoses or procedures). */
function icd9Codes(file: string, spec: TableSpec, kind: CodeKind) {
  return {
    file,
    spec,
    role: kind === 'diagnosis' ? 'diagnoses' : 'procedures',
    read: (r: TableRow) => {
      const hadm = idCell(r, 'HADM_ID', file);
      const raw = r.get('ICD9_CODE');
      if (hadm === null) return 'codes_without_admission_id';
      if (!raw) return 'empty_codes';
      return {
        hadm,
        subject: idCell(r, 'SUBJECT_ID', file),
        label: formatIcd9(raw, kind),
        seq: Number(r.get('SEQ_NUM')) || 0,
      };
    },
  };
}

/** The MIMIC-III tables as an admission source. */
export function mimic3Source(o: Mimic3Options): AdmissionSource {
  const categories = parseCategories(o.categories);
  const seen = new Map<string, number>();
  const lower = categories?.map((c) => c.toLowerCase());
  const rank = (c: string) => (lower ? lower.indexOf(c.toLowerCase()) : 0);
  return {
    name: 'MIMIC-III',
    settings: { categories: categories ?? 'all', procedures: !!o.procedures },
    notes: {
      file: o.notes,
      spec: NOTEEVENTS,
      admissionColumn: 'HADM_ID',
      read: (r) => {
        const category = r.get('CATEGORY');
        seen.set(category, (seen.get(category) ?? 0) + 1);
        if (categories && rank(category) < 0) return 'notes_of_other_categories';
        if (r.get('ISERROR') === '1') return 'notes_marked_iserror';
        const addendum = /addendum/i.test(r.get('DESCRIPTION')) ? 1 : 0;
        return {
          hadm: idCell(r, 'HADM_ID', o.notes),
          subject: idCell(r, 'SUBJECT_ID', o.notes),
          order: [rank(category), addendum, r.get('CHARTDATE'), r.get('CHARTTIME'), Number(r.get('ROW_ID')) || 0],
          text: r.get('TEXT'),
        };
      },
      describe: () => ({
        summary: { categories_in_notes: Object.fromEntries([...seen].sort()) },
        hint: `the notes file has the categories ${[...seen.keys()].sort().join(', ') || '(none)'}`,
      }),
    },
    codes: [
      icd9Codes(o.diagnoses, DIAGNOSES_ICD, 'diagnosis'),
      ...(o.procedures ? [icd9Codes(o.procedures, PROCEDURES_ICD, 'procedure')] : []),
    ],
    ...(o.descriptions
      ? {
          descriptions: {
            file: o.descriptions,
            spec: D_ICD_DIAGNOSES,
            read: (r: TableRow): [string, string] => [formatIcd9(r.get('ICD9_CODE'), 'diagnosis'), r.get('LONG_TITLE')],
          },
        }
      : {}),
  };
}

/**
 * `medtune data mimic`: MIMIC-III NOTEEVENTS + DIAGNOSES_ICD (+ PROCEDURES_ICD) → rows `text`, `labels`,
 * `hadm_id`, `subject_id`, `split` (+ FILE.summary.json).
 */
export function buildMimic3Dataset(o: Mimic3Options): Promise<DatasetResult> {
  return buildAdmissionDataset(mimic3Source(o), o);
}
