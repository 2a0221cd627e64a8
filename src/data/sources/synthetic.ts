/**
 * Synthetic MIMIC-III-schema tables (NOTEEVENTS, DIAGNOSES_ICD, PROCEDURES_ICD) for tests and the throughput
 * measurement: the real column names and quoting, multi-line quoted note texts, discharge summaries with addenda
 * among notes of other categories, in an order not sorted by admission. Every text is invented from a small word
 * list; the diagnoses named in a summary are its codes, so a model can learn them. Written as a stream (flat
 * memory), to any size.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Generator } from '../../tensor/random.js';
import { shuffle } from '../dataset.js';
import { NOTEEVENTS } from './mimic.js';

/** ICD-9 codes (as the tables store them) with the words a summary uses for them; the first ones are commonest. */
export const SYNTHETIC_CODES: { code: string; kind: 'diagnosis' | 'procedure'; words: string }[] = [
  { code: '4019', kind: 'diagnosis', words: 'essential hypertension' },
  { code: '4280', kind: 'diagnosis', words: 'congestive heart failure' },
  { code: '42731', kind: 'diagnosis', words: 'atrial fibrillation' },
  { code: '41401', kind: 'diagnosis', words: 'coronary atherosclerosis' },
  { code: '5849', kind: 'diagnosis', words: 'acute kidney failure' },
  { code: '25000', kind: 'diagnosis', words: 'type two diabetes' },
  { code: '5990', kind: 'diagnosis', words: 'urinary tract infection' },
  { code: '486', kind: 'diagnosis', words: 'pneumonia' },
  { code: '0389', kind: 'diagnosis', words: 'septicemia' },
  { code: 'V5861', kind: 'diagnosis', words: 'long term anticoagulant use' },
  { code: 'E8497', kind: 'diagnosis', words: 'accident in a residential institution' },
  { code: '9604', kind: 'procedure', words: 'endotracheal intubation' },
  { code: '3893', kind: 'procedure', words: 'venous catheterization' },
];

const FILLER = (
  'patient was seen by the team and remained stable overnight with vital signs within normal limits ' +
  'labs were reviewed and medications were continued as before the family was updated at the bedside ' +
  'physical therapy evaluated mobility and the plan was discussed with the attending physician follow up ' +
  'appointments were arranged and instructions were given to return for fever chest pain or shortness of breath'
).split(' ');

const OTHER_CATEGORIES: [string, string][] = [
  ['Nursing/other', 'Report'],
  ['Radiology', 'CHEST (PORTABLE AP)'],
  ['ECG', 'Report'],
  ['Nursing', 'Nursing Progress Note'],
  ['Physician ', 'Physician Resident Progress Note'],
];

export interface SyntheticMimicOptions {
  dir: string;
  /** admissions with a discharge summary */
  admissions: number;
  seed?: number;
  /** words of filler in each discharge summary (default 120) */
  summaryWords?: number;
  /** notes of other categories per admission (default 3) */
  otherNotes?: number;
  /** words in each of those (default 60) */
  otherWords?: number;
  /** diagnosis codes per admission drawn from ~90,000 filler codes on top of the named ones (default 0; MIMIC-III
   * has about 15 codes per admission) */
  extraCodes?: number;
}

const q = (s: string) => `"${s.replace(/"/g, '""')}"`;

class Out {
  private fd: number;
  private buf = '';
  bytes = 0;
  constructor(file: string) {
    this.fd = openSync(file, 'w');
  }
  line(s: string): void {
    this.buf += s + '\n';
    this.bytes += Buffer.byteLength(s) + 1;
    if (this.buf.length > 1 << 20) this.flush();
  }
  private flush(): void {
    writeSync(this.fd, this.buf);
    this.buf = '';
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

/** Writes NOTEEVENTS.csv, DIAGNOSES_ICD.csv and PROCEDURES_ICD.csv into `o.dir`; returns their paths and sizes. */
export function writeSyntheticMimic3(o: SyntheticMimicOptions) {
  const g = new Generator(o.seed ?? 7);
  const pick = <T>(xs: T[]) => xs[Math.floor(g.uniform() * xs.length)]!;
  const words = (n: number) => Array.from({ length: n }, () => pick(FILLER)).join(' ');
  const files = {
    notes: path.join(o.dir, 'NOTEEVENTS.csv'),
    diagnoses: path.join(o.dir, 'DIAGNOSES_ICD.csv'),
    procedures: path.join(o.dir, 'PROCEDURES_ICD.csv'),
  };
  const notes = new Out(files.notes);
  const dx = new Out(files.diagnoses);
  const px = new Out(files.procedures);
  notes.line(NOTEEVENTS.header.map((c) => `"${c}"`).join(','));
  dx.line('"ROW_ID","SUBJECT_ID","HADM_ID","SEQ_NUM","ICD9_CODE"');
  px.line('"ROW_ID","SUBJECT_ID","HADM_ID","SEQ_NUM","ICD9_CODE"');
  let rowId = 0;
  let dxRow = 0;
  let pxRow = 0;
  const BLOCK = 500;
  let deferred: string[] = [];
  for (let start = 0; start < o.admissions; start += BLOCK) {
    const lines: string[] = deferred;
    deferred = [];
    for (let a = start; a < Math.min(o.admissions, start + BLOCK); a++) {
      const hadm = 100000 + ((a * 7919) % 900000);
      const subject = 1000 + Math.floor(a / 2);
      const n = 1 + Math.floor(g.uniform() * 3);
      const codes = new Set<number>();
      while (codes.size < n) codes.add(Math.floor(SYNTHETIC_CODES.length * g.uniform() ** 2));
      const chosen = [...codes].map((i) => SYNTHETIC_CODES[i]!);
      let seqDx = 0;
      let seqPx = 0;
      for (const c of chosen) {
        if (c.kind === 'diagnosis') dx.line(`${++dxRow},${subject},${hadm},${++seqDx},"${c.code}"`);
        else px.line(`${++pxRow},${subject},${hadm},${++seqPx},${c.code}`);
      }
      for (let k = 0; k < (o.extraCodes ?? 0); k++)
        dx.line(`${++dxRow},${subject},${hadm},${++seqDx},"${10000 + Math.floor(90000 * g.uniform())}"`);
      const day = `21${String(10 + (a % 80)).padStart(2, '0')}-0${1 + (a % 9)}-1${a % 10}`;
      const text =
        `Admission Date:  [**${day}**]\n\nDischarge Diagnosis:\n` +
        chosen.map((c, i) => `${i + 1}. ${c.words}`).join('\n') +
        `\n\nHospital Course:\n${words(o.summaryWords ?? 120)}\n\nDischarge Condition: stable\n`;
      const note = (cat: string, desc: string, t: string, h: string = String(hadm)) =>
        `${++rowId},${subject},${h},${day},,,${q(cat)},${q(desc)},,,${q(t)}`;
      lines.push(note('Discharge summary', 'Report', text));
      if (g.uniform() < 0.2) deferred.push(note('Discharge summary', 'Addendum', `Addendum:\n${words(20)}\n`));
      for (let k = 0; k < (o.otherNotes ?? 3); k++) {
        const [cat, desc] = pick(OTHER_CATEGORIES);
        lines.push(
          note(cat, desc, `${words(o.otherWords ?? 60)}\n${words(10)}`, g.uniform() < 0.1 ? '' : String(hadm)),
        );
      }
    }
    for (const l of shuffle(lines, g)) notes.line(l);
  }
  for (const l of deferred) notes.line(l);
  for (const f of [notes, dx, px]) f.close();
  return { ...files, bytes: notes.bytes };
}
