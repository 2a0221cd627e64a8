/**
 * Long synthetic notes for measuring how models read documents longer than their window (docs/long-documents.md):
 * each labelled text is placed at the start, in the middle or at the end of 600–1,200 words of note text that says
 * nothing about the label — vitals, medications, labs, examination, history, drawn at random from a seeded
 * generator, independently of the label.
 */
import { Generator } from '../tensor/random.js';

const pick = <T>(gen: Generator, xs: readonly T[]): T => xs[Math.floor(gen.uniform() * xs.length)]!;
const between = (gen: Generator, lo: number, hi: number, digits = 0) =>
  (lo + gen.uniform() * (hi - lo)).toFixed(digits);

const DRUGS = [
  'lisinopril 10 mg daily',
  'metoprolol 25 mg twice daily',
  'atorvastatin 40 mg at night',
  'omeprazole 20 mg daily',
  'acetaminophen 650 mg as needed',
  'heparin 5000 units subcutaneously three times daily',
  'docusate 100 mg twice daily',
  'senna two tablets at night',
  'amlodipine 5 mg daily',
  'insulin sliding scale with meals',
  'vitamin D 1000 units daily',
  'folic acid 1 mg daily',
];
const LABS = ['sodium', 'potassium', 'chloride', 'bicarbonate', 'BUN', 'creatinine', 'glucose', 'calcium'];
const EXAM = [
  'alert and oriented, in no acute distress',
  'pupils equal and reactive, extraocular movements intact',
  'neck supple without lymphadenopathy',
  'regular rate and rhythm, no murmurs rubs or gallops',
  'clear to auscultation bilaterally with good air movement',
  'abdomen soft, non-distended, bowel sounds present',
  'extremities warm and well perfused, no edema',
  'cranial nerves two through twelve grossly intact',
  'skin warm and dry without visible lesions on the exposed areas examined today',
];
const HISTORY = [
  'The patient lives at home with family and is independent in activities of daily living.',
  'No known drug allergies were recorded at admission.',
  'Surgical history includes a remote appendectomy without complications.',
  'The patient quit smoking more than ten years ago and drinks alcohol rarely.',
  'Family history was reviewed and is noncontributory for the current admission.',
  'Immunizations are reported to be up to date per the primary care records.',
  'The patient works part time and walks for exercise most days of the week.',
  'Code status was discussed and the patient remains full code.',
];
const PLAN = [
  'Continue current medications and monitor daily labs.',
  'Encourage oral intake and early ambulation with nursing assistance.',
  'Physical therapy to evaluate before discharge.',
  'Social work to follow for discharge planning.',
  'Follow up with the primary care physician within two weeks.',
  'Nursing to continue routine vital signs every four hours.',
];

/** One paragraph of label-independent note text (a section of a day's progress note). */
function section(gen: Generator, day: number): string {
  switch (Math.floor(gen.uniform() * 5)) {
    case 0:
      return (
        `Hospital day ${day} vital signs: blood pressure ${between(gen, 100, 150)}/${between(gen, 60, 95)}, heart ` +
        `rate ${between(gen, 58, 104)}, respiratory rate ${between(gen, 12, 22)}, temperature ` +
        `${between(gen, 36.1, 37.6, 1)} degrees, oxygen saturation ${between(gen, 93, 100)} percent on room air, ` +
        `weight ${between(gen, 52, 110, 1)} kilograms. Intake and output were recorded by nursing overnight.`
      );
    case 1:
      return (
        `Medications on day ${day}: ${Array.from({ length: 4 }, () => pick(gen, DRUGS)).join(', ')}. ` +
        'No changes were made to the regimen and the patient tolerated doses without reported side effects.'
      );
    case 2:
      return (
        `Laboratory results from day ${day}: ` +
        LABS.map((l) => `${l} ${between(gen, 1, 140, 1)}`).join(', ') +
        `, white blood cell count ${between(gen, 4, 11, 1)}, hemoglobin ${between(gen, 10, 15, 1)}, platelets ` +
        `${between(gen, 150, 400)}. These values were reviewed with the team on morning rounds.`
      );
    case 3:
      return `Examination on day ${day}: ${Array.from({ length: 4 }, () => pick(gen, EXAM)).join('; ')}.`;
    default:
      return `${pick(gen, HISTORY)} ${pick(gen, HISTORY)} Plan: ${pick(gen, PLAN)} ${pick(gen, PLAN)}`;
  }
}

export type Position = 'start' | 'middle' | 'end';
export const POSITIONS: readonly Position[] = ['start', 'middle', 'end'];

/**
 * A long note with `text` at `position` inside `minWords`–`maxWords` (default 600–1,200) words of label-independent
 * note text; the same seed gives the same note.
 */
export function longNote(
  text: string,
  position: Position,
  seed: number,
  o: { minWords?: number; maxWords?: number } = {},
): string {
  const gen = new Generator(seed);
  const target = Math.round(Number(between(gen, o.minWords ?? 600, o.maxWords ?? 1200)));
  const parts: string[] = [];
  let words = 0;
  for (let day = 1; words < target; day++) {
    const s = section(gen, Math.ceil(day / 3));
    parts.push(s);
    words += s.split(/\s+/).length;
  }
  const at = position === 'start' ? 0 : position === 'end' ? parts.length : Math.floor(parts.length / 2);
  parts.splice(at, 0, `Chief complaint in the patient's words: ${text}`);
  return parts.join('\n');
}
