/**
 * MIMIC-IV → a labelled file: MIMIC-IV-Note discharge notes (discharge.csv; radiology.csv reads the same) joined
 * per admission (main notes first, then addenda, each in chart order), labelled with the admission's ICD codes
 * from MIMIC-IV hosp diagnoses_icd (and procedures_icd). MIMIC-IV mixes ICD-9 and ICD-10: each label keeps its
 * version ("ICD9:401.9", "ICD10:E11.9", "ICD10:0DTJ4ZZ"); --icd-version keeps one of them.
 */
import { DataError } from '../readers.js';
import { buildAdmissionDataset, type AdmissionOptions, type AdmissionSource } from './admissions.js';
import { formatIcd, type CodeKind } from './icd.js';
import { idCell, type DatasetResult, type TableRow, type TableSpec } from './io.js';

export const DISCHARGE: TableSpec = {
  table: 'MIMIC-IV-Note discharge',
  header: ['note_id', 'subject_id', 'hadm_id', 'note_type', 'note_seq', 'charttime', 'storetime', 'text'],
  required: ['note_id', 'subject_id', 'hadm_id', 'charttime', 'text'],
};
export const DIAGNOSES_ICD_IV: TableSpec = {
  table: 'MIMIC-IV diagnoses_icd',
  header: ['subject_id', 'hadm_id', 'seq_num', 'icd_code', 'icd_version'],
  required: ['subject_id', 'hadm_id', 'icd_code', 'icd_version'],
};
export const PROCEDURES_ICD_IV: TableSpec = {
  table: 'MIMIC-IV procedures_icd',
  header: ['subject_id', 'hadm_id', 'seq_num', 'chartdate', 'icd_code', 'icd_version'],
  required: ['subject_id', 'hadm_id', 'icd_code', 'icd_version'],
};
export const D_ICD_DIAGNOSES_IV: TableSpec = {
  table: 'MIMIC-IV d_icd_diagnoses',
  header: ['icd_code', 'icd_version', 'long_title'],
  required: ['icd_code', 'icd_version', 'long_title'],
};

export type IcdVersionChoice = '9' | '10' | 'both';

export interface Mimic4Options extends AdmissionOptions {
  /** discharge.csv[.gz] (MIMIC-IV-Note) */
  notes: string;
  /** diagnoses_icd.csv[.gz] (MIMIC-IV hosp) */
  diagnoses: string;
  /** procedures_icd.csv[.gz] (MIMIC-IV hosp) */
  procedures?: string;
  /** d_icd_diagnoses.csv[.gz]: code titles in the summary */
  descriptions?: string;
  /** keep ICD-9 codes, ICD-10 codes or both (default both) */
  icdVersion?: IcdVersionChoice;
}

const versionOf = (r: TableRow, file: string): 9 | 10 => {
  const v = r.get('icd_version');
  if (v === '9' || v === '10') return Number(v) as 9 | 10;
  throw new DataError(`${file} row ${r.row}: icd_version is "${v.slice(0, 10)}", not 9 or 10`, 'E_INPUT_DATA');
};

/** "ICD10:E11.9": the label of a code with its version. */
export const icdLabel = (raw: string, version: 9 | 10, kind: CodeKind): string =>
  `ICD${version}:${formatIcd(raw, version, kind)}`;

function icdCodes(file: string, spec: TableSpec, kind: CodeKind, keep: IcdVersionChoice) {
  return {
    file,
    spec,
    role: kind === 'diagnosis' ? 'diagnoses' : 'procedures',
    read: (r: TableRow) => {
      const hadm = idCell(r, 'hadm_id', file);
      const raw = r.get('icd_code');
      if (hadm === null) return 'codes_without_admission_id';
      if (!raw) return 'empty_codes';
      const version = versionOf(r, file);
      if (keep !== 'both' && String(version) !== keep) return 'codes_of_other_icd_version';
      const label = icdLabel(raw, version, kind);
      return { hadm, subject: idCell(r, 'subject_id', file), label, seq: Number(r.get('seq_num')) || 0 };
    },
  };
}

/** The MIMIC-IV tables as an admission source. */
export function mimic4Source(o: Mimic4Options): AdmissionSource {
  const keep = o.icdVersion ?? 'both';
  if (!['9', '10', 'both'].includes(keep))
    throw new DataError(`--icd-version must be 9, 10 or both, got "${keep}"`, 'E_USAGE');
  return {
    name: 'MIMIC-IV',
    settings: { icd_version: keep, procedures: !!o.procedures },
    notes: {
      file: o.notes,
      spec: DISCHARGE,
      admissionColumn: 'hadm_id',
      read: (r) => ({
        hadm: idCell(r, 'hadm_id', o.notes),
        subject: idCell(r, 'subject_id', o.notes),
        order: [
          /^A[DR]$/i.test(r.get('note_type')) ? 1 : 0,
          r.get('charttime'),
          Number(r.get('note_seq')) || 0,
          r.get('note_id'),
        ],
        text: r.get('text'),
      }),
    },
    codes: [
      icdCodes(o.diagnoses, DIAGNOSES_ICD_IV, 'diagnosis', keep),
      ...(o.procedures ? [icdCodes(o.procedures, PROCEDURES_ICD_IV, 'procedure', keep)] : []),
    ],
    ...(o.descriptions
      ? {
          descriptions: {
            file: o.descriptions,
            spec: D_ICD_DIAGNOSES_IV,
            read: (r: TableRow): [string, string] => [
              icdLabel(r.get('icd_code'), versionOf(r, o.descriptions!), 'diagnosis'),
              r.get('long_title'),
            ],
          },
        }
      : {}),
  };
}

/**
 * `medtune data mimic4`: MIMIC-IV-Note discharge + MIMIC-IV diagnoses_icd (+ procedures_icd) → rows `text`,
 * `labels`, `hadm_id`, `subject_id`, `split` (+ FILE.summary.json).
 */
export function buildMimic4Dataset(o: Mimic4Options): Promise<DatasetResult> {
  return buildAdmissionDataset(mimic4Source(o), o);
}
