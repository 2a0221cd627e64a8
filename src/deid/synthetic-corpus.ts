/**
 * A synthetic PHI-annotated corpus of clinical notes for training medtune's de-identification model (`medtune deid
 * train`): medtune's own note templates (discharge summaries, referrals, lab and radiology reports, nursing and
 * progress notes, ED triage, telephone encounters, patient messages, medication tables) and fakers (names, dates in
 * many formats, ages, phone numbers, MRNs and other ids, room and bed numbers, addresses with ZIP+4, hospitals, cities,
 * e-mail addresses), PHI in headers, lists, tables and signatures; names that are also English words, lower-case and
 * upper-case names, and capitalised misspellings of clinical words that are NOT PHI. Name and place pools come from
 * @faker-js/faker's locale data; every template is written here. Deterministic from the seed: a corpus made with
 * another seed is a held-out set.
 */
import { allLocales } from '@faker-js/faker';
import { Generator } from '../tensor/random.js';

export interface SyntheticNote {
  text: string;
  entities: { start: number; end: number; label: string }[];
  /** the template family, for per-kind counts */
  kind: string;
}

/** PHI types the corpus marks (the rules' names, so model and rules speak the same types). */
export const PHI_TYPES = [
  'PERSON',
  'DATE_TIME',
  'AGE',
  'PHONE_NUMBER',
  'EMAIL_ADDRESS',
  'ID',
  'US_SSN',
  'ADDRESS',
  'LOCATION',
  'ORGANIZATION',
] as const;
export type PhiType = (typeof PHI_TYPES)[number];

type Loc = Record<string, Record<string, unknown> | undefined>;
const strings = (v: unknown): string[] =>
  Array.isArray(v)
    ? v.filter((x): x is string => typeof x === 'string' && !x.includes('{{'))
    : v && typeof v === 'object'
      ? Object.values(v).flatMap(strings)
      : [];

interface Pools {
  first: string[];
  last: string[];
  cities: string[];
  states: [string, string][];
  countries: string[];
  streets: string[];
  suffixes: string[];
}

let pools: Pools | null = null;
/** Name and place pools from faker's locale data (Latin-script names of several locales), built once. */
function namePools(): Pools {
  if (pools) return pools;
  const locales = allLocales as unknown as Record<string, Loc>;
  const latin = (xs: string[]) => [...new Set(xs.filter((x) => /^[A-Z][a-zà-ÿ'-]+$/.test(x)))];
  const from = (keys: string[], path: (l: Loc) => unknown) => latin(keys.flatMap((k) => strings(path(locales[k]!))));
  const keys = ['en', 'en_US', 'de', 'fr', 'es', 'it', 'pt_BR', 'nl', 'pl', 'sv', 'en_IE', 'en_NG', 'vi', 'tr'];
  const have = keys.filter((k) => locales[k]);
  const en = locales.en!;
  const loc = en.location as Record<string, string[]>;
  pools = {
    first: from(have, (l) => l.person?.first_name),
    last: from(have, (l) => l.person?.last_name),
    cities: strings(loc.city_name),
    states: loc.state!.map((s, i) => [s, loc.state_abbr![i]!] as [string, string]),
    countries: strings(loc.country).filter((c) => c.length < 20),
    streets: from(['en'], (l) => l.person?.last_name),
    suffixes: strings(loc.street_suffix),
  };
  return pools;
}

/** Names that are also common English words: a model must read them from context. */
const WORD_NAMES = [
  'Hope',
  'Faith',
  'Grace',
  'Rose',
  'Will',
  'Mark',
  'Bill',
  'Grant',
  'Stone',
  'Brown',
  'Young',
  'White',
  'Hill',
  'Page',
  'Wells',
  'Price',
  'Joy',
  'Summer',
  'Dawn',
  'Frank',
  'Hunter',
  'Baker',
  'Cook',
  'Fox',
  'Rich',
  'Major',
  'King',
  'Bishop',
  'Love',
  'March',
];
const SYLLABLES = ['ka', 'lor', 'ven', 'dri', 'mo', 'sa', 'thel', 'bru', 'nix', 'qua', 'zen', 'fa', 'gor', 'ilu', 'pe'];
/** Capitalised misspellings of clinical words: never PHI, whatever the rules' name recogniser thinks. */
const TYPOS = [
  'Pnuemonia',
  'Diabetis',
  'Hypertenshun',
  'Astma',
  'Siezure',
  'Anemea',
  'Bronchitus',
  'Cellulitus',
  'Nausia',
  'Dyspnoae',
  'Hemmorhage',
  'Arrythmia',
  'Colitus',
  'Sinusitus',
  'Migrane',
  'Ostioporosis',
  'Apendicitis',
  'Tachicardia',
];
const CLINICAL = [
  'community-acquired pneumonia',
  'type 2 diabetes mellitus',
  'congestive heart failure',
  'COPD exacerbation',
  'acute kidney injury',
  'urinary tract infection',
  'atrial fibrillation with rapid ventricular response',
  'cellulitis of the left lower leg',
  'small bowel obstruction',
  'new-onset seizure',
  "Parkinson's disease",
  "Crohn's disease",
  'Hodgkin lymphoma',
  'major depressive disorder',
  'sepsis secondary to cholangitis',
];
const DRUGS = [
  ['metformin', '500 mg PO BID'],
  ['lisinopril', '10 mg daily'],
  ['apixaban', '5 mg BID'],
  ['atorvastatin', '40 mg at night'],
  ['furosemide', '40 mg IV'],
  ['ceftriaxone', '1 g IV q24h'],
  ['levetiracetam', '750 mg BID'],
  ['sertraline', '50 mg daily'],
  ['insulin glargine', '18 units at bedtime'],
] as const;
const HOSPITAL_HEADS = ['St.', 'Mercy', 'Good Samaritan', 'Providence', 'Sacred Heart', 'Riverside', 'Lakeshore'];
const HOSPITAL_TAILS = ['Medical Center', 'Hospital', 'Regional Hospital', 'Health', 'Clinic', 'Memorial Hospital'];
const MONTHS = 'January February March April May June July August September October November December'.split(' ');

/** A note under construction: plain text appended, PHI appended with its span. */
class NoteBuilder {
  text = '';
  entities: SyntheticNote['entities'] = [];
  t(s: string): this {
    this.text += s;
    return this;
  }
  p(label: PhiType, s: string): this {
    this.entities.push({ start: this.text.length, end: this.text.length + s.length, label });
    this.text += s;
    return this;
  }
}

/** The fakers: every value drawn from one seeded generator. */
function fakers(g: Generator) {
  const P = namePools();
  const int = (lo: number, hi: number) => lo + Math.floor(g.uniform() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const chance = (p: number) => g.uniform() < p;
  const digits = (k: number) => Array.from({ length: k }, () => int(0, 9)).join('');
  const pad = (n: number) => String(n).padStart(2, '0');
  const invented = () => {
    const s = pick(SYLLABLES) + pick(SYLLABLES) + (chance(0.5) ? pick(SYLLABLES) : '');
    return s[0]!.toUpperCase() + s.slice(1);
  };
  const cased = (s: string) => (chance(0.06) ? s.toLowerCase() : chance(0.08) ? s.toUpperCase() : s);
  const first = () => cased(chance(0.12) ? pick(WORD_NAMES) : pick(P.first));
  const last = () => cased(chance(0.1) ? pick(WORD_NAMES) : chance(0.15) ? invented() : pick(P.last));
  const date = () => {
    const [y, m, d] = [int(1935, 2026), int(1, 12), int(1, 28)];
    return pick([
      `${m}/${d}/${y}`,
      `${pad(m)}/${pad(d)}/${String(y).slice(2)}`,
      `${y}-${pad(m)}-${pad(d)}`,
      `${MONTHS[m - 1]} ${d}, ${y}`,
      `${d} ${MONTHS[m - 1]!.slice(0, 3)} ${y}`,
      `${MONTHS[m - 1]!.slice(0, 3)}. ${d}`,
      `${d}-${MONTHS[m - 1]!.slice(0, 3).toUpperCase()}-${y}`,
      `${pad(d)}.${pad(m)}.${y}`,
      `${MONTHS[m - 1]} ${y}`,
      `${m}/${d}`,
      `${y}`,
    ]);
  };
  const time = () =>
    pick([`${int(0, 23)}:${pad(int(0, 59))}`, `${int(1, 12)}:${pad(int(0, 59))} ${pick(['AM', 'pm'])}`]);
  const phone = () =>
    pick([
      `(${digits(3)}) ${digits(3)}-${digits(4)}`,
      `${digits(3)}-${digits(3)}-${digits(4)}`,
      `${digits(3)}.${digits(3)}.${digits(4)}`,
      `+1 ${digits(3)} ${digits(3)} ${digits(4)}`,
      `x${digits(4)}`,
    ]);
  const mrn = () =>
    pick([digits(int(6, 9)), `${pick(['MR', 'A', 'H'])}${digits(7)}`, `${digits(3)}-${digits(2)}-${digits(3)}`]);
  const zip = () => (chance(0.35) ? `${digits(5)}-${digits(4)}` : digits(5));
  const state = () => pick(P.states);
  const city = () => cased(pick(P.cities));
  const street = () =>
    `${int(1, 9999)} ${pick(P.streets)} ${pick(P.suffixes)}` +
    (chance(0.3) ? `, Apt ${int(1, 40)}${pick(['', 'B'])}` : '');
  const hospital = () =>
    chance(0.5) ? `${pick(HOSPITAL_HEADS)} ${pick(HOSPITAL_TAILS)}` : `${pick(P.cities)} ${pick(HOSPITAL_TAILS)}`;
  const email = (f: string, l: string) =>
    `${f.toLowerCase()}${pick(['.', '_', ''])}${l.toLowerCase().replace(/[^a-z]/g, '')}` +
    `${chance(0.3) ? int(1, 99) : ''}@` +
    pick(['mail.com', 'example.org', 'inbox.net', 'clinic-mail.org', 'webpost.com']);
  return { int, pick, chance, digits, first, last, date, time, phone, mrn, zip, state, city, street, hospital, email };
}

type F = ReturnType<typeof fakers>;

/** A person's name in one of the forms notes use ("Ann Lee", "LEE, ANN", "Ms. Lee", "A. Lee", "ann"). */
function person(n: NoteBuilder, f: F, o: { title?: boolean } = {}): NoteBuilder {
  const [fi, la] = [f.first(), f.last()];
  if (o.title && f.chance(0.6)) n.t(`${f.pick(['Dr.', 'Dr', 'Mr.', 'Mrs.', 'Ms.', 'Nurse'])} `);
  return n.p(
    'PERSON',
    f.pick([
      `${fi} ${la}`,
      `${la}, ${fi}`,
      `${fi[0]}. ${la}`,
      la,
      `${fi} ${f.first()[0]}. ${la}`,
      `${la.toUpperCase()}, ${fi}`,
    ]),
  );
}

function address(n: NoteBuilder, f: F, lines: boolean): NoteBuilder {
  const [st, abbr] = f.state();
  const sep = lines ? '\n' : ', ';
  return n.p('ADDRESS', `${f.street()}${sep}${f.city()}, ${f.chance(0.7) ? abbr : st} ${f.zip()}`);
}

const typo = (f: F) => f.pick(TYPOS);
const clinical = (f: F) => f.pick(CLINICAL);

const NARRATIVE = [
  (f: F) => `Presented with ${f.int(2, 10)} days of productive cough and fever to ${f.int(38, 40)}.${f.int(0, 9)} C.`,
  (f: F) => `${typo(f)} was suspected; chest X-ray showed a right lower lobe infiltrate.`,
  (f: F) => `History of ${clinical(f)} and ${clinical(f)}.`,
  (f: F) => `Started on ${f.pick(DRUGS)[0]} ${f.pick(DRUGS)[1]} with good response.`,
  () => 'Denies chest pain, palpitations, syncope or leg swelling.',
  () => 'Tolerating a regular diet. Ambulating with a walker. Pain controlled on oral medication.',
  (f: F) => `Creatinine peaked at ${f.int(15, 40) / 10} and improved with fluids.`,
  () => 'Goals of care discussed; full code. Will follow up with primary care within one week.',
  (f: F) => `Follow-up ${f.pick(['echocardiogram', 'colonoscopy', 'MRI brain', 'sleep study'])} to be scheduled.`,
  () => "Exam notable for a Babinski sign on the left and a positive Murphy's sign.",
  (f: F) => `Hemoglobin A1c ${f.int(55, 120) / 10}%. Counselled on diet, exercise and ${typo(f).toLowerCase()} signs.`,
  () => 'Patient Education: Warning signs reviewed. Return Precautions given. Questions answered.',
];

/** A few sentences of clinical narrative without PHI (capitalised words that are not names among them). */
function narrative(n: NoteBuilder, f: F): NoteBuilder {
  for (let i = f.int(1, 4); i > 0; i--) n.t(`${f.pick(NARRATIVE)(f)} `);
  return n.t('\n');
}

/** The note templates: each writes one note of its kind. */
const TEMPLATES: Record<string, (n: NoteBuilder, f: F) => void> = {
  discharge(n, f) {
    n.t('DISCHARGE SUMMARY\n').t('Patient: ');
    person(n, f).t('   MRN: ').p('ID', f.mrn()).t('\nAdmission date: ').p('DATE_TIME', f.date());
    n.t('   Discharge date: ').p('DATE_TIME', f.date()).t('\nAttending: ');
    person(n, f, { title: true })
      .t('\n\nHOSPITAL COURSE: The patient is a ')
      .p('AGE', `${f.int(18, 99)}`);
    n.t(`-year-old ${f.pick(['man', 'woman', 'patient'])} admitted to `).p('ORGANIZATION', f.hospital());
    n.t(` with ${clinical(f)}. ${typo(f)} was considered and treated with antibiotics. Seen by `);
    person(n, f, { title: true }).t(` from cardiology on `).p('DATE_TIME', f.date()).t('.\n');
    n.t(`Discharged home to `)
      .p('LOCATION', f.city())
      .t(` with follow-up in clinic. Call `)
      .p('PHONE_NUMBER', f.phone());
    n.t(' with questions.\n\nElectronically signed: ');
    person(n, f).t(', MD  ').p('DATE_TIME', f.date()).t(' ').p('DATE_TIME', f.time()).t('\n');
  },
  referral(n, f) {
    n.p('ORGANIZATION', f.hospital()).t('\n');
    address(n, f, true).t('\nTel ').p('PHONE_NUMBER', f.phone()).t('  Fax ').p('PHONE_NUMBER', f.phone()).t('\n\n');
    n.p('DATE_TIME', f.date()).t('\n\nDear ');
    person(n, f, { title: true }).t(',\n\nThank you for seeing ');
    person(n, f)
      .t(' (DOB ')
      .p('DATE_TIME', f.date())
      .t(`), who has ${clinical(f)}. `);
    n.t(`${f.pick(['She', 'He', 'They'])} lives in `)
      .p('LOCATION', f.city())
      .t(' with ');
    n.t(f.pick(['her daughter ', 'his wife ', 'a friend, ', 'their son ']))
      .p('PERSON', f.first())
      .t('.\n\nSincerely,\n');
    person(n, f, { title: true }).t('\n').p('EMAIL_ADDRESS', f.email(f.first(), f.last())).t('\n');
  },
  lab(n, f) {
    n.t('LABORATORY REPORT    Accession ')
      .p('ID', `${f.pick(['L', 'CH', ''])}${f.digits(8)}`)
      .t('\n');
    n.t('Name: ');
    person(n, f)
      .t('\tSex: ')
      .t(f.pick(['F', 'M']))
      .t('\tAge: ')
      .p('AGE', `${f.int(1, 99)}${f.pick(['', 'y', ' yrs'])}`);
    n.t('\nCollected: ').p('DATE_TIME', `${f.date()} ${f.time()}`).t('\tOrdering: ');
    person(n, f, { title: true }).t('\n\nTest\tResult\tRef\n');
    for (const [t, v, r] of [
      ['Sodium', `${f.int(128, 146)}`, '135-145'],
      ['Potassium', `${f.int(30, 55) / 10}`, '3.5-5.1'],
      ['Creatinine', `${f.int(5, 30) / 10}`, '0.6-1.3'],
      ['WBC', `${f.int(30, 180) / 10}`, '4.0-11.0'],
    ])
      n.t(`${t}\t${v}\t${r}\n`);
    n.t('Verified by ').p('PERSON', f.last()).t(` on `).p('DATE_TIME', f.date()).t('\n');
  },
  nursing(n, f) {
    n.t('Nursing note ')
      .p('DATE_TIME', f.time())
      .t(' — Room ')
      .p('ID', `${f.int(100, 999)}${f.pick(['', 'A', 'B', '-2'])}`);
    n.t(', bed ')
      .p('ID', `${f.int(1, 4)}`)
      .t('\n')
      .t(`Pt resting. Vitals stable. Family (`);
    n.p('PERSON', f.first()).t(`, ${f.pick(['husband', 'niece', 'mother', 'neighbor'])}) at bedside, `);
    n.t('can be reached at ')
      .p('PHONE_NUMBER', f.phone())
      .t(`. ${typo(f)} precautions reviewed. Reports pain 3/10.\n`);
    n.t('Handoff to ');
    person(n, f)
      .t(f.pick([' RN', ', RN', '']))
      .t(' at shift change.\n');
  },
  progress(n, f) {
    n.t(`${f.pick(['S:', 'Subjective:'])} `)
      .p('AGE', `${f.int(18, 104)} yo`)
      .t(` with ${clinical(f)}, `);
    n.t(`seen ${f.pick(['today', 'this morning'])} with `);
    person(n, f, { title: true })
      .t('. ')
      .t(`${typo(f)} improving.\nO: afebrile, HR ${f.int(60, 110)}.\n`);
    n.t(`A/P: continue current plan; ${f.pick(['recheck labs', 'repeat CXR', 'PT/OT eval'])} on `);
    n.p('DATE_TIME', f.date()).t('. Discussed with patient and son ').p('PERSON', f.first()).t('.\n');
    n.t('-- ')
      .p('PERSON', `${f.first()[0]}${f.last()[0]}`.toLowerCase())
      .t(`/${f.pick(['pgy2', 'np', 'md'])}\n`);
  },
  triage(n, f) {
    n.t('ED TRIAGE ').p('DATE_TIME', `${f.date()} ${f.time()}`).t('\nName: ');
    person(n, f)
      .t('  MRN ')
      .p('ID', f.mrn())
      .t('  SSN ')
      .p('US_SSN', `${f.digits(3)}-${f.digits(2)}-${f.digits(4)}`);
    n.t('\nArrived by ambulance from ').p('ADDRESS', `${f.street()}, ${f.city()}`).t('. CC: ');
    n.t(`${f.pick(['chest pain', 'fall', 'shortness of breath', 'fever'])}. Hx ${typo(f)}.\n`);
    n.t('Emergency contact: ');
    person(n, f).t(' ').p('PHONE_NUMBER', f.phone()).t('\n');
  },
  telephone(n, f) {
    n.t('Telephone encounter ').p('DATE_TIME', f.date()).t('\nCaller: ');
    person(n, f)
      .t(` (${f.pick(['patient', 'spouse', 'daughter', 'home health'])}) at `)
      .p('PHONE_NUMBER', f.phone());
    n.t(`\nAsks about ${f.pick(DRUGS)[0]} refill; pharmacy is `).p(
      'ORGANIZATION',
      `${f.pick(['CVS', 'Walgreens', 'Rite Aid', f.last() + ' Pharmacy'])}`,
    );
    n.t(' on ').p('ADDRESS', `${f.street()}`).t('. Message taken by ');
    person(n, f).t('.\n');
  },
  message(n, f) {
    n.t(f.pick(['Hi ', 'Hello ', 'Dear ', 'hey ']))
      .t(f.pick(['Dr. ', 'doctor ', '']))
      .p('PERSON', f.last())
      .t(',\n');
    n.t(`this is `).p('PERSON', f.first()).t(`. since we moved to `).p('LOCATION', f.city());
    n.t(f.chance(0.5) ? ' from ' : ' last ').p(
      f.chance(0.5) ? 'LOCATION' : 'DATE_TIME',
      f.chance(0.5) ? f.pick(namePools().countries) : f.date(),
    );
    n.t(` my ${f.pick(['asthma', 'back pain', 'sugar'])} is worse. My ${f.pick(['new', ''])} number is `).p(
      'PHONE_NUMBER',
      f.phone(),
    );
    n.t(' or email ')
      .p('EMAIL_ADDRESS', f.email(f.first(), f.last()))
      .t(`. I turn `)
      .p('AGE', `${f.int(20, 95)}`)
      .t(' next month.\nThanks, ');
    n.p('PERSON', f.first()).t('\n');
  },
  radiology(n, f) {
    n.t('RADIOLOGY  ')
      .p('ORGANIZATION', f.hospital())
      .t('\nExam: CT chest w/o contrast   Date: ')
      .p('DATE_TIME', f.date());
    n.t('\nPatient: ');
    person(n, f)
      .t('   Acct# ')
      .p('ID', f.digits(10))
      .t('\nIndication: ')
      .t(`${typo(f)}, r/o ${clinical(f)}.\n`);
    n.t('Comparison: prior study from ').p('ORGANIZATION', f.hospital()).t(', ').p('DATE_TIME', f.date()).t('.\n');
    n.t('Impression: no acute findings.\nDictated by ');
    person(n, f, { title: true }).t(', read by ');
    person(n, f, { title: true }).t('.\n');
  },
  medlist(n, f) {
    n.t('MEDICATION RECONCILIATION | ');
    person(n, f).t(' | DOB ').p('DATE_TIME', f.date()).t(' | ').p('ID', f.mrn()).t('\n');
    n.t('Drug | Dose | Prescriber | Last filled\n');
    for (let i = 0; i < f.int(2, 4); i++) {
      const [drug, dose] = f.pick(DRUGS);
      n.t(`${drug} | ${dose} | `).p('PERSON', `${f.first()[0]}. ${f.last()}`).t(' | ').p('DATE_TIME', f.date()).t('\n');
    }
    n.t('Home address: ');
    address(n, f, false).t('\n');
  },
  social(n, f) {
    n.t(`SOCIAL HISTORY: Lives alone in `).p('LOCATION', f.city()).t(', ').p('LOCATION', f.state()[0]);
    n.t(`. Retired ${f.pick(['teacher', 'machinist', 'nurse', 'farmer'])}, worked at `).p(
      'ORGANIZATION',
      `${f.last()} ${f.pick(['Inc.', 'Manufacturing', 'Schools', 'Corp'])}`,
    );
    n.t(` until `)
      .p('DATE_TIME', `${f.int(1980, 2024)}`)
      .t('. Grew up in ')
      .p('LOCATION', f.pick(namePools().countries))
      .t('.\n');
    n.t(`FAMILY HISTORY: mother with ${clinical(f)}; brother `)
      .p('PERSON', f.first())
      .t(' had ')
      .t(typo(f))
      .t('.\n');
  },
};

/** A note of a kind (or a kind picked by the generator) from a seeded generator. */
export function syntheticNote(g: Generator, kind?: string): SyntheticNote {
  const f = fakers(g);
  const k = kind ?? f.pick(Object.keys(TEMPLATES));
  const n = new NoteBuilder();
  if (!kind && f.chance(0.3)) narrative(n, f);
  TEMPLATES[k]!(n, f);
  if (!kind && f.chance(0.5)) narrative(n, f);
  // half the notes carry a second part (a signature block, an addendum) so that PHI also sits deep in long texts
  if (!kind && f.chance(0.35)) {
    n.t('\n');
    TEMPLATES[f.pick(Object.keys(TEMPLATES))]!(n, f);
  }
  return { text: n.text, entities: n.entities, kind: k };
}

/** `n` notes from a seed (a corpus made with another seed is held out from this one). */
export function syntheticCorpus(n: number, seed: number): SyntheticNote[] {
  const g = new Generator(seed);
  return Array.from({ length: n }, () => syntheticNote(g));
}

/** The template kinds (docs, tests). */
export const NOTE_KINDS = Object.keys(TEMPLATES);
