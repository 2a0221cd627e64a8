/**
 * A second synthetic clinical set, written after the recognisers were tuned and never used to tune them: other
 * document types (ED triage, operative note, nursing handoff, telephone encounter, lab report, letters to
 * patients), other phrasings and other name pools. Its numbers are the honest estimate of how the recognisers
 * generalise (docs/deid.md). Deterministic from the seed; every value is invented.
 */
import { Generator } from '../tensor/random.js';
import type { GoldDoc } from './evaluate.js';
import { Doc } from './clinical-set.js';

const GIVEN = [
  'Beatriz',
  'Oluwaseun',
  'Henrik',
  'Sun-Hee',
  'Dmitri',
  'Anneliese',
  'Tariq',
  'Marisol',
  'Kwame',
  'Ulrike',
  'Esperanza',
  'Bogdan',
  'Yuki',
  'Saoirse',
  'Emeka',
  'Rosalind',
  'Anders',
  'Imani',
  'Lucian',
  'Thandiwe',
];
const FAMILY = [
  'Achterberg',
  'Mbeki',
  'Quintero',
  'Halvorsen',
  'Szymanski',
  'Oyelowo',
  'Brannigan',
  'Yoshida',
  'Castellano',
  'Delacroix',
  'Ferreira',
  'Gundersen',
  'Iwu',
  'Kaczmarek',
  'Lindgren',
  'Mwangi',
  "O'Sullivan",
  'Papadakis',
  'Rautenberg',
  'Tshabalala',
];
const PARTS = [
  'ger',
  'lin',
  'oka',
  'vesk',
  'mar',
  'ti',
  'bron',
  'ula',
  'dze',
  'hof',
  'ram',
  'sel',
  'wyn',
  'cor',
  'and',
  'ett',
];
const TOWNS = [
  ['Lakewood', 'CO', '80226'],
  ['Bellingham', 'WA', '98225'],
  ['Dover', 'DE', '19901'],
  ['Wausau', 'WI', '54401'],
  ['Bozeman', 'MT', '59715'],
  ['Pueblo', 'CO', '81003'],
  ['Macon', 'GA', '31201'],
  ['Duluth', 'MN', '55802'],
] as const;
const ROADS = [
  'Birchwood Drive',
  'Quarry Road',
  'Hawthorne Avenue',
  'Chestnut Street',
  'Ridgeview Terrace',
  'Old Mill Lane',
  'Prospect Place',
  'Juniper Court',
];
const FACILITIES = [
  'Holy Cross Hospital',
  'Valley View Medical Center',
  'Eastside Family Clinic',
  'Pinecrest Rehabilitation Institute',
  'Bayfront Health',
  'University of Wyoming Medical Center',
];

export function heldoutClinicalSet(n = 120, seed = 77): GoldDoc[] {
  const g = new Generator(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(g.uniform() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const fam = () =>
    g.uniform() < 0.4
      ? (() => {
          const s = pick(PARTS) + pick(PARTS) + pick(PARTS);
          return s[0]!.toUpperCase() + s.slice(1);
        })()
      : pick(FAMILY);
  const dg = (k: number) => Array.from({ length: k }, () => int(0, 9)).join('');
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const date = () =>
    pick([
      `${int(1, 12)}/${int(1, 28)}/${int(2000, 2025)}`,
      `${mon[int(0, 11)]} ${int(1, 28)}, ${int(1940, 2025)}`,
      `${int(2000, 2025)}-${String(int(1, 12)).padStart(2, '0')}-${String(int(1, 28)).padStart(2, '0')}`,
      `${int(1, 28)}-${mon[int(0, 11)]}-${int(2000, 2025)}`,
    ]);
  const tel = () =>
    pick([`${dg(3)}-${dg(3)}-${dg(4)}`, `(${dg(3)})${dg(3)}-${dg(4)}`, `+1 ${dg(3)} ${dg(3)} ${dg(4)}`]);
  const docs: GoldDoc[] = [];
  for (let i = 0; i < n; i++) {
    const d = new Doc();
    const first = pick(GIVEN);
    const last = fam();
    const [town, st, zip] = pick(TOWNS);
    const fac = pick(FACILITIES);
    switch (i % 6) {
      case 0:
        d.add('ED TRIAGE  ')
          .phi('DATE_TIME', date())
          .add(' ')
          .phi('DATE_TIME', `${int(0, 23)}:${String(int(0, 59)).padStart(2, '0')}`)
          .add('\n');
        d.add('Pt name: ')
          .phi('PERSON', `${last.toUpperCase()}, ${first.toUpperCase()}`)
          .add('  DOB ')
          .phi('DATE_TIME', date())
          .add('  MR# ')
          .phi('ID', dg(8))
          .add('\n');
        d.add('CC: chest tightness x2h. Brought in by EMS from home (')
          .phi('ADDRESS', `${int(2, 9999)} ${pick(ROADS)}`)
          .add(', ')
          .phi('LOCATION', town)
          .add('). Wife ')
          .phi('PERSON', pick(GIVEN))
          .add(' can be reached on ')
          .phi('PHONE_NUMBER', tel())
          .add('.\n');
        d.add('Triage RN: ')
          .phi('PERSON', `${pick(GIVEN)} ${fam()}`)
          .add('\n');
        break;
      case 1:
        d.add('OPERATIVE NOTE\nSurgeon: ')
          .phi('PERSON', `${pick(GIVEN)} ${fam()}, MD`)
          .add('\nAssistant: ')
          .phi('PERSON', `${pick(GIVEN)} ${fam()}, PA-C`)
          .add('\nDate of surgery: ')
          .phi('DATE_TIME', date())
          .add('\n');
        d.add(`Patient ${''}`)
          .phi('PERSON', `${first} ${last}`)
          .add(' underwent laparoscopic cholecystectomy at ')
          .phi('ORGANIZATION', fac)
          .add('. Implant lot ')
          .phi('ID', `LOT-${dg(6)}`)
          .add('. EBL 20 mL.\n');
        break;
      case 2:
        d.add('Nursing handoff: ')
          .phi('PERSON', `${first} ${last}`)
          .add(', rm 4B, is a ')
          .add('pleasant ')
          .add(`${int(40, 85)} y/o with Guillain-Barre syndrome. Son `)
          .phi('PERSON', `${pick(GIVEN)} ${last}`)
          .add(' visiting until 8 pm. Next of kin phone ')
          .phi('PHONE_NUMBER', tel())
          .add('. Account ')
          .phi('ID', `${dg(3)}-${dg(6)}`)
          .add('.\n');
        break;
      case 3:
        d.add('Telephone encounter ')
          .phi('DATE_TIME', date())
          .add('\nCaller: ')
          .phi('PERSON', `${first} ${last}`)
          .add(' (self), callback ')
          .phi('PHONE_NUMBER', tel())
          .add('.\nAsks to move appointment with Dr ')
          .phi('PERSON', fam())
          .add(' to ')
          .phi('DATE_TIME', `${pick(['Monday', 'Tuesday', 'Friday'])}`)
          .add('. Verified identity with DOB ')
          .phi('DATE_TIME', date())
          .add(' and zip ')
          .phi('ADDRESS', zip)
          .add('.\n');
        break;
      case 4:
        d.add('LAB REPORT  Specimen ')
          .phi('ID', `S${dg(2)}-${dg(5)}`)
          .add('\nPatient: ')
          .phi('PERSON', `${first} ${last}`)
          .add('   Age: ')
          .add(g.uniform() < 0.5 ? `${int(20, 89)}` : '')
          .add('\n');
        if (d.text.endsWith('Age: \n')) {
          d.text = d.text.slice(0, -1);
          d.phi('AGE', `${int(90, 101)}`).add('\n');
        }
        d.add('Ordering provider: ')
          .phi('PERSON', `${pick(GIVEN)} ${fam()}`)
          .add(', ')
          .phi('ORGANIZATION', fac)
          .add('\nCollected ')
          .phi('DATE_TIME', date())
          .add('. Hemoglobin 11.2 g/dL, WBC 7.4, platelets 212.\n');
        break;
      default:
        d.add(`${fac}\n`);
        d.spans.push({ entity_type: 'ORGANIZATION', start_position: 0, end_position: fac.length, entity_value: fac });
        d.phi('ADDRESS', `${int(100, 999)} ${pick(ROADS)}`)
          .add(', ')
          .phi('LOCATION', town)
          .add(', ')
          .phi('ADDRESS', `${st} ${zip}`)
          .add('\n\n')
          .phi('DATE_TIME', date())
          .add('\n\nDear ')
          .phi('PERSON', `${pick(['Mr.', 'Ms.', 'Mrs.'])} ${last}`)
          .add(',\nYour results from your visit are normal. Questions: ')
          .phi('EMAIL_ADDRESS', `${first.toLowerCase()}.${last.toLowerCase().replace(/'/g, '')}@patientmail.com`)
          .add(' or ')
          .phi('PHONE_NUMBER', tel())
          .add('. Portal: ')
          .phi('URL', `www.${pick(['holycross', 'valleyview', 'bayfront'])}health.org/login`)
          .add('\n\nSincerely,\n')
          .phi('PERSON', `${pick(GIVEN)} ${fam()}, DO`)
          .add('\n');
    }
    docs.push({ full_text: d.text, spans: d.spans });
  }
  return docs;
}
