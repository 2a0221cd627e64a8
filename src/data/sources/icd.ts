/**
 * ICD codes as the MIMIC tables store them (no dots: "4019", "E8497", "3893", "E119") written with the dot the way
 * the standard MIMIC-III splits (CAML, Mullenbach et al. 2018; PLM-ICD) write them:
 * ICD-9-CM diagnoses: 3 characters then the dot ("401.9", "V58.61"), E-codes 4 then the dot ("E849.7");
 * ICD-9-CM procedures: 2 digits then the dot ("38.93"); ICD-10-CM diagnoses: 3 characters then the dot ("E11.9");
 * ICD-10-PCS procedures: no dot ("0DTJ4ZZ"). Codes already dotted are dotted anew, so both spellings agree.
 */

export type CodeKind = 'diagnosis' | 'procedure';

const dotAfter = (code: string, n: number): string => (code.length > n ? `${code.slice(0, n)}.${code.slice(n)}` : code);

/** An ICD-9-CM code with its dot, as in CAML's `reformat(code, is_diag)`. */
export function formatIcd9(raw: string, kind: CodeKind): string {
  const code = raw.replace(/\./g, '').trim().toUpperCase();
  if (kind === 'procedure') return dotAfter(code, 2);
  return dotAfter(code, code.startsWith('E') ? 4 : 3);
}

/** An ICD-10 code: CM diagnoses dotted after 3 characters, PCS procedures as they are. */
export function formatIcd10(raw: string, kind: CodeKind): string {
  const code = raw.replace(/\./g, '').trim().toUpperCase();
  return kind === 'procedure' ? code : dotAfter(code, 3);
}

/** A code of either version. */
export const formatIcd = (raw: string, version: 9 | 10, kind: CodeKind): string =>
  version === 9 ? formatIcd9(raw, kind) : formatIcd10(raw, kind);
