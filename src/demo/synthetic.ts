/**
 * A built-in, deterministic synthetic dataset of patient symptom descriptions -> diagnoses, written for medtune.
 * Diagnoses share symptoms (fever, cough, fatigue, headache, nausea ...) so that no single word decides the
 * class; each symptom has several paraphrases and the sentences vary in frame, order, duration and extras.
 * Not real patient data, and not medical advice.
 */
import { Generator } from '../tensor/random.js';

interface Profile {
  /** symptoms typical of the diagnosis (each included with high probability) */
  core: string[];
  /** symptoms sometimes present */
  extra: string[];
}

/** symptom key -> paraphrases */
const SYMPTOMS: Record<string, string[]> = {
  fever: ['a fever', 'a high temperature', 'feeling feverish', 'chills and fever'],
  cough: ['a cough', 'a persistent cough', 'coughing a lot', 'a hacking cough'],
  dry_cough: ['a dry cough', 'a tickly dry cough', 'a non-productive cough'],
  wet_cough: ['coughing up yellow phlegm', 'a productive cough with green sputum', 'coughing up mucus'],
  sob: ['shortness of breath', 'trouble breathing', 'getting breathless easily', 'difficulty catching my breath'],
  wheeze: ['wheezing', 'a whistling sound when I breathe', 'tightness and wheeze in my chest'],
  chest_pain: ['chest pain', 'a crushing pain in my chest', 'pressure in the chest', 'tightness in my chest'],
  arm_pain: ['pain spreading to my left arm', 'pain radiating down the left arm', 'an ache in my jaw and left arm'],
  sweating: ['sweating heavily', 'cold sweats', 'being drenched in sweat'],
  fatigue: ['fatigue', 'feeling exhausted all the time', 'no energy', 'being very tired'],
  headache: ['a headache', 'a pounding headache', 'pain in my head'],
  throb_one_side: ['a throbbing pain on one side of my head', 'one-sided throbbing headaches'],
  light: ['sensitivity to light', 'bright lights hurting my eyes', 'needing a dark room'],
  aura: ['flashing lights before the pain starts', 'zigzag lines in my vision before the headache'],
  nausea: ['nausea', 'feeling sick to my stomach', 'queasiness'],
  vomiting: ['vomiting', 'throwing up', 'being unable to keep food down'],
  diarrhea: ['diarrhea', 'loose watery stools', 'running to the toilet all day'],
  abd_pain: ['stomach cramps', 'abdominal pain', 'a sore belly'],
  rlq_pain: ['sharp pain in the lower right side of my abdomen', 'pain that moved to the lower right belly'],
  burning_stomach: [
    'a burning pain in my upper stomach',
    'gnawing pain between meals',
    'stomach pain that eases when I eat',
  ],
  heartburn: ['heartburn', 'acid coming up into my throat', 'a burning feeling behind the breastbone after meals'],
  urination_burn: ['burning when I urinate', 'pain when passing urine', 'stinging on urination'],
  frequency: ['needing to urinate often', 'going to the bathroom every hour', 'urgency to pee'],
  cloudy_urine: ['cloudy urine', 'strong-smelling urine', 'dark cloudy pee'],
  thirst: ['being very thirsty', 'a constant dry mouth and thirst', 'drinking water all the time'],
  polyuria: ['passing large amounts of urine', 'waking at night to urinate'],
  weight_loss: ['losing weight without trying', 'unexplained weight loss'],
  blurred: ['blurred vision', 'blurry eyesight'],
  joint_pain: ['joint pain', 'aching joints', 'painful swollen knees'],
  stiffness: ['morning stiffness that lasts an hour', 'stiff joints when I wake up'],
  small_joints: ['swelling in the small joints of my hands', 'painful swollen finger joints'],
  rash: ['a rash', 'red itchy skin', 'an itchy rash'],
  scaly: ['thick silvery scaly patches', 'scaly plaques on my elbows and knees'],
  pimples: ['pimples and blackheads', 'pus-filled spots on my face', 'oily skin with breakouts'],
  sneeze: ['sneezing', 'constant sneezing fits'],
  runny_nose: ['a runny nose', 'a blocked nose', 'nasal congestion'],
  sore_throat: ['a sore throat', 'a scratchy throat', 'pain when swallowing'],
  itchy_eyes: ['itchy watery eyes', 'red itchy eyes'],
  body_aches: ['body aches', 'aching muscles all over', 'sore muscles'],
  dizziness: ['dizziness', 'feeling lightheaded', 'the room spinning'],
  palpitations: ['palpitations', 'a racing heartbeat', 'my heart pounding'],
  neck_pain: ['neck pain', 'a stiff painful neck', 'pain in the back of my neck'],
  numb_arm: ['numbness in my arm', 'tingling down my arm into the fingers'],
  yellow: ['yellowing of my skin and eyes', 'yellow eyes', 'dark urine and yellow skin'],
  itching: ['itching all over', 'itchy skin without a rash'],
  low_mood: ['feeling low', 'no interest in things I used to enjoy', 'feeling hopeless'],
  sleep: ['trouble sleeping', 'waking up early and not getting back to sleep', 'sleeping badly'],
  cold_intolerance: ['always feeling cold', 'intolerance to cold'],
  constipation: ['constipation', 'hard stools'],
  pale: ['pale skin', 'looking pale'],
};

const DIAGNOSES: Record<string, Profile> = {
  Influenza: {
    core: ['fever', 'body_aches', 'fatigue', 'dry_cough'],
    extra: ['headache', 'sore_throat', 'runny_nose'],
  },
  'Common cold': { core: ['runny_nose', 'sneeze', 'sore_throat'], extra: ['cough', 'headache', 'fatigue'] },
  Pneumonia: { core: ['fever', 'wet_cough', 'sob'], extra: ['chest_pain', 'fatigue', 'sweating'] },
  'Bronchial asthma': { core: ['wheeze', 'sob', 'cough'], extra: ['chest_pain', 'fatigue'] },
  'Myocardial infarction': { core: ['chest_pain', 'arm_pain', 'sweating'], extra: ['sob', 'nausea', 'dizziness'] },
  Migraine: { core: ['throb_one_side', 'light', 'nausea'], extra: ['aura', 'vomiting', 'dizziness'] },
  Gastroenteritis: { core: ['diarrhea', 'vomiting', 'abd_pain'], extra: ['fever', 'nausea', 'fatigue'] },
  Appendicitis: { core: ['rlq_pain', 'nausea', 'fever'], extra: ['vomiting', 'abd_pain'] },
  'Peptic ulcer disease': { core: ['burning_stomach', 'nausea'], extra: ['heartburn', 'vomiting', 'weight_loss'] },
  GERD: { core: ['heartburn', 'chest_pain'], extra: ['sore_throat', 'cough', 'nausea'] },
  'Urinary tract infection': { core: ['urination_burn', 'frequency', 'cloudy_urine'], extra: ['fever', 'abd_pain'] },
  Diabetes: { core: ['thirst', 'polyuria', 'fatigue'], extra: ['weight_loss', 'blurred'] },
  'Rheumatoid arthritis': { core: ['small_joints', 'stiffness', 'joint_pain'], extra: ['fatigue', 'fever'] },
  Psoriasis: { core: ['scaly', 'rash'], extra: ['joint_pain', 'itching'] },
  Acne: { core: ['pimples'], extra: ['rash'] },
  'Allergic rhinitis': { core: ['sneeze', 'itchy_eyes', 'runny_nose'], extra: ['cough', 'headache'] },
  'Cervical spondylosis': { core: ['neck_pain', 'numb_arm'], extra: ['headache', 'dizziness'] },
  Jaundice: { core: ['yellow', 'itching'], extra: ['fatigue', 'abd_pain', 'nausea'] },
  Depression: { core: ['low_mood', 'sleep', 'fatigue'], extra: ['weight_loss', 'headache'] },
  Hypothyroidism: { core: ['cold_intolerance', 'fatigue', 'constipation'], extra: ['low_mood', 'weight_loss'] },
  Anemia: { core: ['pale', 'fatigue', 'dizziness'], extra: ['sob', 'palpitations', 'headache'] },
};

const OPENERS = [
  'I have been having {list}',
  'For the past {dur} I have had {list}',
  'Patient reports {list}',
  'I keep getting {list}',
  'Lately I am suffering from {list}',
  'Presents with {list}',
  'My main problems are {list}',
  'I noticed {list} over the last {dur}',
  '{age} year old {sex} complaining of {list}',
  'Symptoms include {list}',
];
const DURATIONS = ['two days', 'a week', 'three weeks', 'a few months', 'several days', 'a month', 'ten days'];
const CLOSERS = [
  '',
  '',
  ' It is getting worse.',
  ' Nothing seems to help.',
  ' It started suddenly.',
  ' I am worried about it.',
  ' It comes and goes.',
  ' Please advise.',
];
const NOISE = [
  'a mild headache',
  'some tiredness',
  'feeling a bit low',
  'occasional nausea',
  'poor appetite',
  'back pain',
];

function pick<T>(xs: readonly T[], g: Generator): T {
  return xs[Math.floor(g.uniform() * xs.length)]!;
}

function listText(items: string[]): string {
  if (items.length === 1) return items[0]!;
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

export interface DemoRow {
  text: string;
  label: string;
  /** with `demographics`: "female" or "male" */
  sex?: string;
  /** with `demographics`: one of AGE_BANDS */
  age_band?: string;
}

export const AGE_BANDS = ['18-39', '40-59', '60-79', '80+'] as const;
/** Shares of the age bands (the oldest band is the smallest, as in many clinics' notes). */
const AGE_SHARES = [0.3, 0.3, 0.25, 0.15];
/** The group whose notes are written differently when the disparity is injected. */
export const DISPARITY_GROUP = { column: 'age_band', value: '80+' } as const;
/** Non-specific complaints that dominate atypical presentations in the very old (confusion, falls, ...). */
const ATYPICAL = [
  'new confusion',
  'a fall at home',
  'being off my food',
  'general weakness',
  'not being myself',
  'sleeping more than usual',
];

export interface SyntheticOptions {
  /** add sex and age_band columns (drawn from their own generator: texts of unaffected rows do not change) */
  demographics?: boolean;
  /**
   * with demographics: the notes of the 80+ band present atypically — each typical symptom is mentioned with
   * probability 0.35 instead of 0.85, and one or two non-specific complaints are added — so a model does worse on
   * that group. Default true; false gives the control dataset (same columns, no disparity).
   */
  disparity?: boolean;
}

interface Person {
  sex: string;
  band: string;
  age: number;
}

function drawPerson(g: Generator): Person {
  const sex = g.uniform() < 0.5 ? 'female' : 'male';
  let u = g.uniform();
  let b = 0;
  while (b < AGE_SHARES.length - 1 && u >= AGE_SHARES[b]!) u -= AGE_SHARES[b++]!;
  const [lo, hi] = [
    [18, 39],
    [40, 59],
    [60, 79],
    [80, 95],
  ][b]!;
  return { sex, band: AGE_BANDS[b]!, age: lo! + Math.floor(g.uniform() * (hi! - lo! + 1)) };
}

/** One description of a diagnosis; `atypical` is the injected disparity. */
function describe(prof: Profile, g: Generator, person: Person | null, atypical: boolean): string {
  const keep = atypical ? 0.35 : 0.85;
  const keys = prof.core.filter(() => g.uniform() < keep);
  if (keys.length === 0) keys.push(pick(prof.core, g));
  for (const e of prof.extra) if (g.uniform() < 0.35) keys.push(e);
  const phrases = keys.map((k) => pick(SYMPTOMS[k]!, g));
  if (g.uniform() < 0.3) phrases.push(pick(NOISE, g));
  if (atypical) {
    const more = [pick(ATYPICAL, g)];
    if (g.uniform() < 0.5) more.push(pick(ATYPICAL, g));
    phrases.push(...new Set(more));
  }
  for (let j = phrases.length - 1; j > 0; j--) {
    const k = Math.floor(g.uniform() * (j + 1));
    [phrases[j], phrases[k]] = [phrases[k]!, phrases[j]!];
  }
  // the draws in this order (opener, duration, age, sex, closer) keep the data of the plain demo unchanged
  const opener = pick(OPENERS, g);
  const dur = pick(DURATIONS, g);
  const age = 18 + Math.floor(g.uniform() * 70);
  const sex = g.uniform() < 0.5 ? 'woman' : 'man';
  const text =
    opener
      .replace('{list}', listText(phrases))
      .replace('{dur}', dur)
      .replace('{age}', String(person ? person.age : age))
      .replace('{sex}', person ? (person.sex === 'female' ? 'woman' : 'man') : sex) +
    '.' +
    pick(CLOSERS, g);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** `perClass` descriptions for each diagnosis, deterministic from the seed (and, optionally, demographics). */
export function syntheticSymptoms(perClass: number, seed: number, o: SyntheticOptions = {}): DemoRow[] {
  const g = new Generator(seed);
  const people = o.demographics ? new Generator(seed ^ 0x2545f491) : null;
  const rows: DemoRow[] = [];
  for (const [label, prof] of Object.entries(DIAGNOSES)) {
    for (let i = 0; i < perClass; i++) {
      const person = people ? drawPerson(people) : null;
      const atypical = !!person && o.disparity !== false && person.band === DISPARITY_GROUP.value;
      const text = describe(prof, g, person, atypical);
      rows.push(person ? { text, label, sex: person.sex, age_band: person.band } : { text, label });
    }
  }
  return rows;
}

/**
 * A WordPiece vocabulary for the demo: special tokens, every character (and its ## form) seen, and the words that
 * occur at least `minCount` times. Rare words then split into characters, as WordPiece does.
 */
export function buildWordPieceVocab(texts: string[], minCount = 2): string[] {
  const counts = new Map<string, number>();
  const chars = new Set<string>();
  for (const t of texts) {
    for (const w of t.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? []) {
      counts.set(w, (counts.get(w) ?? 0) + 1);
      for (const c of w) chars.add(c);
    }
  }
  const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const sortedChars = [...chars].sort();
  vocab.push(...sortedChars, ...sortedChars.map((c) => `##${c}`));
  const words = [...counts]
    .filter(([w, n]) => n >= minCount && w.length > 1)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([w]) => w);
  return [...new Set([...vocab, ...words])];
}

export const DEMO_DIAGNOSES = Object.keys(DIAGNOSES);
