/**
 * A labelled set of synthetic clinical documents with PHI (admission notes, discharge summaries, referral letters,
 * progress notes), written for medtune. Deterministic from a seed; spans are recorded as the text is assembled, in
 * Presidio's format. Surnames are partly built from syllables so that they are in no name list (recall on unseen
 * names is what matters for real notes). Every person, number and place here is invented.
 */
import { Generator } from '../tensor/random.js';
import type { GoldDoc } from './evaluate.js';

const FIRST = [
  'Maria',
  'James',
  'Aisha',
  'Wei',
  'Olga',
  'Rahul',
  'Fatima',
  'Liam',
  'Chloe',
  'Mateo',
  'Grace',
  'Tomasz',
  'Ngozi',
  'Hiroshi',
  'Elena',
  'Samuel',
  'Priya',
  'Jonas',
  'Amara',
  'Diego',
  'Ingrid',
  'Kofi',
  'Leila',
  'Patrick',
];
const SURNAME = [
  'Okafor',
  'Lindqvist',
  'Haddad',
  'Moreau',
  'Kowalczyk',
  'Nakamura',
  'Fitzgerald',
  'Abernathy',
  'Castellanos',
  'Van der Berg',
  'Oyelaran',
  'Petrov',
  'McAllister',
  'Rosenthal',
  'Dubois',
  'Chen',
  'Lopez',
  'Singh',
  'Johansson',
  'Whitaker',
];
const SYL = [
  'vra',
  'dek',
  'lo',
  'mir',
  'tas',
  'ken',
  'bu',
  'zel',
  'ori',
  'fan',
  'qui',
  'rost',
  'ney',
  'sha',
  'bel',
  'dun',
  'ik',
  'ova',
  'ser',
  'tal',
];
const CITIES = [
  ['Springfield', 'IL'],
  ['Riverton', 'WY'],
  ['Fairview', 'OR'],
  ['Madison', 'WI'],
  ['Greenville', 'SC'],
  ['Bristol', 'CT'],
  ['Clinton', 'IA'],
  ['Salem', 'MA'],
  ['Georgetown', 'TX'],
  ['Ashland', 'KY'],
] as const;
const STREETS = [
  'Maple Street',
  'Oak Avenue',
  'Elm Road',
  'Cedar Lane',
  'Harbor Drive',
  'Willow Court',
  'Lakeview Boulevard',
  'Pine Street',
  'Sunset Way',
  'Mill Road',
];
const HOSPITALS = [
  'St. Agnes Hospital',
  'Riverside Medical Center',
  'Mercy General Hospital',
  'Northfield Community Clinic',
  'Lakeshore Regional Medical Center',
  'Good Samaritan Hospital',
];
const DIAGNOSES = [
  'community-acquired pneumonia',
  'acute decompensated heart failure',
  'NSTEMI',
  'diabetic ketoacidosis',
  'COPD exacerbation',
  'cellulitis of the left leg',
  'acute pyelonephritis',
  "Parkinson's disease with falls",
  "Crohn's disease flare",
  'Hodgkin lymphoma, on chemotherapy',
];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** Builds a document and records its PHI spans (Presidio's format) as they are appended. */
export class Doc {
  text = '';
  spans: GoldDoc['spans'] = [];
  add(s: string): this {
    this.text += s;
    return this;
  }
  phi(type: string, s: string): this {
    this.spans.push({
      entity_type: type,
      start_position: this.text.length,
      end_position: this.text.length + s.length,
      entity_value: s,
    });
    this.text += s;
    return this;
  }
}

export function clinicalSet(n = 120, seed = 2026): GoldDoc[] {
  const g = new Generator(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(g.uniform() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const surname = () =>
    g.uniform() < 0.5
      ? pick(SURNAME)
      : (() => {
          const s = pick(SYL) + pick(SYL) + pick(SYL);
          return s[0]!.toUpperCase() + s.slice(1);
        })();
  const digits = (k: number) => Array.from({ length: k }, () => int(0, 9)).join('');
  const date = () => {
    const y = int(1990, 2025);
    const m = int(1, 12);
    const d = int(1, 28);
    switch (int(0, 4)) {
      case 0:
        return `${m}/${d}/${y}`;
      case 1:
        return `${String(m).padStart(2, '0')}/${String(d).padStart(2, '0')}/${String(y).slice(2)}`;
      case 2:
        return `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
      case 3:
        return `${MONTHS[m - 1]} ${d}, ${y}`;
      default:
        return `${d} ${MONTHS[m - 1]} ${y}`;
    }
  };
  const phone = () =>
    pick([
      `(${digits(3)}) ${digits(3)}-${digits(4)}`,
      `${digits(3)}-${digits(3)}-${digits(4)}`,
      `${digits(3)}.${digits(3)}.${digits(4)}`,
    ]);
  const docs: GoldDoc[] = [];
  for (let i = 0; i < n; i++) {
    const d = new Doc();
    const pf = pick(FIRST);
    const pl = surname();
    const doc1 = surname();
    const doc2 = surname();
    const nurse = surname();
    const [city, state] = pick(CITIES);
    const hosp = pick(HOSPITALS);
    const age = g.uniform() < 0.2 ? int(90, 104) : int(23, 88);
    const dx = pick(DIAGNOSES);
    const kind = i % 4;
    if (kind === 0) {
      d.add('ADMISSION NOTE\n')
        .add('Patient: ')
        .phi('PERSON', `${pf} ${pl}`)
        .add('    MRN: ')
        .phi('ID', digits(7))
        .add('\nDate of admission: ')
        .phi('DATE_TIME', date())
        .add('\nAttending: Dr. ')
        .phi('PERSON', doc1)
        .add('\n\n');
      d.add('HPI: ').add(age >= 90 ? '' : `${age}-year-old `);
      if (age >= 90) d.phi('AGE', `${age}-year-old`).add(' ');
      d.add(`${g.uniform() < 0.5 ? 'woman' : 'man'} with a history of hypertension admitted with ${dx}. Her daughter `)
        .phi('PERSON', `${pick(FIRST)} ${pl}`)
        .add(' (')
        .phi('PHONE_NUMBER', phone())
        .add(') accompanied her. ');
      d.add('Transferred from ')
        .phi('ORGANIZATION', hosp)
        .add(' where she was seen on ')
        .phi('DATE_TIME', date())
        .add('.\n');
      d.add('Home address: ')
        .phi('ADDRESS', `${int(10, 9999)} ${pick(STREETS)}`)
        .add(', ')
        .phi('LOCATION', city)
        .add(', ')
        .phi('ADDRESS', `${state} ${digits(5)}`)
        .add('.\n');
      d.add('Insurance: health plan ID ')
        .phi('ID', `${'HPX'}${digits(8)}`)
        .add('. Seen by RN ')
        .phi('PERSON', nurse)
        .add(' at triage.\n');
    } else if (kind === 1) {
      d.add('DISCHARGE SUMMARY\n')
        .add('Name: ')
        .phi('PERSON', `${pl}, ${pf}`)
        .add('\nAcct #: ')
        .phi('ID', digits(9))
        .add('\nAdmitted: ')
        .phi('DATE_TIME', date())
        .add('  Discharged: ')
        .phi('DATE_TIME', date())
        .add('\n\n');
      d.add(`Diagnosis: ${dx}. The patient was treated with IV antibiotics and improved. Discussed with Dr. `)
        .phi('PERSON', `${pick(FIRST)} ${doc2}`)
        .add(' of cardiology.\n');
      d.add('Follow-up with Dr. ')
        .phi('PERSON', doc1)
        .add(' in 2 weeks; clinic phone ')
        .phi('PHONE_NUMBER', phone())
        .add(', fax ')
        .phi('PHONE_NUMBER', phone())
        .add('.\n');
      if (g.uniform() < 0.5)
        d.add('Patient portal: ')
          .phi('URL', `https://portal.${pick(['mercyhealth', 'riversidemed', 'stagnes'])}.org/p/${digits(6)}`)
          .add('\n');
      d.add('Condition at discharge: stable. ').add(
        g.uniform() < 0.5 ? 'Wilson disease was ruled out.\n' : 'No Hodgkin disease on imaging.\n',
      );
    } else if (kind === 2) {
      d.add('REFERRAL LETTER\n\n')
        .phi('DATE_TIME', date())
        .add('\n\nDear Dr. ')
        .phi('PERSON', doc2)
        .add(',\n\nI am writing to refer ')
        .phi('PERSON', `Mrs. ${pf} ${pl}`)
        .add(', date of birth ')
        .phi('DATE_TIME', date())
        .add(`, for evaluation of ${dx}. `);
      d.add('She lives at ')
        .phi('ADDRESS', `${int(10, 999)} ${pick(STREETS)}, Apt ${int(1, 40)}`)
        .add(' in ')
        .phi('LOCATION', city)
        .add(' and can be reached at ')
        .phi('PHONE_NUMBER', phone())
        .add(' or ')
        .phi('EMAIL_ADDRESS', `${pf.toLowerCase()}.${pl.toLowerCase().replace(/ /g, '')}${int(1, 99)}@mailbox.net`)
        .add('.\n');
      d.add('Her SSN is ')
        .phi('US_SSN', `${int(100, 665)}-${int(10, 99)}-${int(1000, 9999)}`)
        .add(' for the insurer. Medicare number ')
        .phi('ID', `${digits(4)}-${pick(['AB', 'KC', 'TR'])}${digits(4)}`)
        .add('.\n\nKind regards,\n')
        .phi('PERSON', `${pick(FIRST)} ${doc1}`)
        .add(', MD\n')
        .phi('ORGANIZATION', hosp)
        .add('\n');
    } else {
      d.add('PROGRESS NOTE ')
        .phi('DATE_TIME', date())
        .add('\n')
        .add('S: ')
        .phi('PERSON', pf)
        .add(` reports less dyspnea. ${age >= 90 ? '' : `Age ${age}.`}`);
      if (age >= 90) d.add('Age ').phi('AGE', `${age} yo`).add('.');
      d.add(' Wife ').phi('PERSON', pick(FIRST)).add(' at bedside.\n');
      d.add('O: vitals stable. Telemetry device serial ')
        .phi('ID', `TX${digits(6)}`)
        .add('.\nA/P: continue current plan; reassess ')
        .phi('DATE_TIME', `${pick(MONTHS)} ${int(1, 28)}`)
        .add('. Call pager ')
        .phi('PHONE_NUMBER', `${digits(3)}-${digits(4)}`)
        .add(' with questions.\n');
      d.add('Signed: ')
        .phi('PERSON', `${pick(FIRST)} ${nurse}`)
        .add(', NP\n');
    }
    docs.push({ full_text: d.text, spans: d.spans });
  }
  return docs;
}
