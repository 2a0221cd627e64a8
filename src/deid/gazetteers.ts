/**
 * Word lists for the name, place and organisation recognisers, taken at run time from @faker-js/faker's locale
 * data (77 locales: first and last names, cities, countries, states) — no fetched data in the repo.
 * Built once, lazily; all lower-cased.
 */
import { createRequire } from 'node:module';
import { allLocales } from '@faker-js/faker';

let english: Set<string> | null = null;
/** ~275,000 English words (an-array-of-english-words), lower case: a capitalised word outside it is likely a name. */
export function englishWords(): Set<string> {
  if (!english) english = new Set(createRequire(import.meta.url)('an-array-of-english-words') as string[]);
  return english;
}

export interface Gazetteers {
  firstNames: Set<string>;
  lastNames: Set<string>;
  places: Set<string>;
  /** longest place name in words, to bound multi-word lookups */
  maxPlaceWords: number;
  /** first words of multi-word place names ("saint", "new", "costa"): only these start a multi-word lookup */
  placeFirstWords: Set<string>;
}

let cache: Gazetteers | null = null;

function collect(set: Set<string>, v: unknown): void {
  if (!v) return;
  if (Array.isArray(v)) for (const x of v) collect(set, x);
  else if (typeof v === 'object') for (const x of Object.values(v as Record<string, unknown>)) collect(set, x);
  else if (typeof v === 'string' && !v.includes('{{') && v.length > 1) set.add(v.toLowerCase());
}

/** Common English words that are also names or places; never matched on their own without context. */
export const COMMON_WORDS = new Set(
  (
    'a about after again all also am an and any are as at back be been before being below between both but ' +
    'by can could did do does during each few for from further had has have having he her here hers him his ' +
    'how i if in into is it its just me more most my no nor not now of off on once only or other our out ' +
    'over own same she should so some such than that the their them then there these they this those through ' +
    'to too under until up very was we were what when where which while who whom why will with would you ' +
    'your may june april august march will can general major long young white black green gray grey king ' +
    'rich page art street road care home well new best good general major may can patient doctor nurse day ' +
    'week month year today morning evening night pain left right normal mild severe acute chronic history ' +
    'blood heart lung chest head back side note notes plan exam test tests result results date time case ' +
    'cases name princess royal baby country club tales cautionary house court field park hill valley lake ' +
    'river city town center centre north south east west mount saint san santa port fort new old great ' +
    'little upper lower central acct pt dob mrn hpi ros pmh psh fh sh cc ap ed er icu or pacu npo prn bid ' +
    'tid qid qd iv im po sq'
  ).split(' '),
);

export function gazetteers(): Gazetteers {
  if (cache) return cache;
  const firstNames = new Set<string>();
  const lastNames = new Set<string>();
  const places = new Set<string>();
  for (const loc of Object.values(allLocales) as Record<string, Record<string, unknown> | undefined>[]) {
    collect(firstNames, loc.person?.first_name);
    collect(lastNames, loc.person?.last_name);
    collect(places, loc.location?.city_name);
    collect(places, loc.location?.country);
    collect(places, loc.location?.state);
  }
  for (const set of [firstNames, lastNames, places]) for (const w of COMMON_WORDS) set.delete(w);
  let maxPlaceWords = 1;
  const placeFirstWords = new Set<string>();
  for (const p of places) {
    const words = p.split(' ');
    maxPlaceWords = Math.max(maxPlaceWords, words.length);
    if (words.length > 1) placeFirstWords.add(words[0]!);
  }
  cache = { firstNames, lastNames, places, maxPlaceWords: Math.min(maxPlaceWords, 5), placeFirstWords };
  return cache;
}
