/**
 * PHI recognisers. Each returns findings with a type, character offsets, a score and its own name.
 * Every regular expression here is linear-time: no nested unbounded quantifiers, every repetition bounded, so
 * adversarial input (100 KB of digits or spaces) cannot trigger catastrophic backtracking (tested).
 */
import { isNearWord } from './near-words.js';
import { COMMON_WORDS, englishWords, gazetteers } from './gazetteers.js';

export interface Finding {
  type: string;
  start: number;
  end: number;
  score: number;
  recognizer: string;
}

export interface RecognizerContext {
  /** words never reported as names/places (e.g. disease eponyms) */
  allow: Set<string>;
  /** the text's word tokens, computed once and shared by the word-based recognisers */
  tokens?: Tok[];
  /** whether the text has a digit / an @ / a colon (cheap pre-filters for the pattern recognisers) */
  hasDigit?: boolean;
}

export type Recognizer = (text: string, ctx: RecognizerContext) => Finding[];

function regexRecognizer(
  name: string,
  type: string,
  re: RegExp,
  score: number,
  validate?: (m: string) => boolean,
  group = 0,
  needsDigit = /\\d/.test(re.source),
): Recognizer {
  return (text, ctx) => {
    const out: Finding[] = [];
    if (needsDigit) {
      ctx.hasDigit ??= /\d/.test(text);
      if (!ctx.hasDigit) return out;
    }
    for (const m of text.matchAll(re)) {
      const value = m[group];
      if (value === undefined) continue;
      const start = m.index! + (group ? m[0].indexOf(value) : 0);
      if (validate && !validate(value)) continue;
      out.push({ type, start, end: start + value.length, score, recognizer: name });
    }
    return out;
  };
}

export function luhn(s: string): boolean {
  const d = s.replace(/\D/g, '');
  if (d.length < 13 || d.length > 19) return false;
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let x = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) {
      x *= 2;
      if (x > 9) x -= 9;
    }
    sum += x;
  }
  return sum % 10 === 0;
}

export function ibanValid(s: string): boolean {
  const v = s.replace(/\s/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(v)) return false;
  const r = v.slice(4) + v.slice(0, 4);
  let mod = 0;
  for (const ch of r) {
    const n = ch >= 'A' ? String(ch.charCodeAt(0) - 55) : ch;
    for (const digit of n) mod = (mod * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return mod === 1;
}

const MONTHS =
  'January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|' +
  'Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec';
const STREET =
  'Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter|' +
  'Circle|Cir|Highway|Hwy|Parkway|Pkwy|Square|Sq|Trail|Trl|Alley|Crescent|Close|Gardens|Row|Plaza|Pike|' +
  'Loop|Path|Gate|Strasse|Straße|gatan|gata|vej|veien|straat|laan|weg|gasse|utca|ulica|Str';
const ORG_SUFFIX =
  'Inc|LLC|Ltd|PLC|Corp|Corporation|Company|Co|Group|GmbH|AG|SA|SAS|BV|NV|Oy|AB|AS|ApS|Hospital|' +
  'Medical Center|Medical Centre|Clinic|Health|Healthcare|Health System|Infirmary|University|College|' +
  'Institute|Foundation|Laboratories|Labs|Pharmacy|Associates|Partners|Bank|Insurance';

/** Words that, before a number, make "Word 12" something other than a street name and house number. */
const NOT_A_STREET = new RegExp(
  '^(?:\\d+ )?(?:Type|Chapter|Room|Page|Grade|Stage|Level|Step|Phase|Day|Week|Year|Class|Figure|Table|Section|' +
    'Version|Vol|No|Number|Item|Question|Lot|Batch|Bed|Floor|Age|Aged|Apgar|Score|Hour|Since|Until|For|On|At|In|' +
    'And|The|Of|Mg|Ml)\\b',
  'i',
);

export const PATTERN_RECOGNIZERS: Recognizer[] = [
  regexRecognizer(
    'email',
    'EMAIL_ADDRESS',
    /\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,6}\b/g,
    1.0,
  ),
  regexRecognizer('url', 'URL', /\b(?:https?:\/\/|www\.)[^\s<>"'()]{2,500}[^\s<>"'().,;:!?]/gi, 0.9),
  regexRecognizer(
    'domain',
    'URL',
    new RegExp(
      '\\b[a-z0-9][a-z0-9-]{1,62}\\.(?:com|org|net|edu|gov|io|co|uk|de|fr|nl|be|ch|at|se|no|dk|fi|is|es|it|pt|hu|' +
        'cz|si|hr|pl|ru|jp|cn|au|nz|ca|us|tn|br)\\b(?:\\/[^\\s]{0,200})?',
      'gi',
    ),
    0.5,
  ),
  regexRecognizer('ipv4', 'IP_ADDRESS', /\b(?:\d{1,3}\.){3}\d{1,3}\b/g, 0.95, (m) =>
    m.split('.').every((x) => Number(x) <= 255),
  ),
  regexRecognizer(
    'ipv6',
    'IP_ADDRESS',
    /\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b|\b(?:[0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}\b/g,
    0.95,
  ),
  regexRecognizer('ssn', 'US_SSN', /\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b/g, 0.95),
  regexRecognizer('credit_card', 'CREDIT_CARD', /\b\d{4}(?:[ -]?\d{4}){2}[ -]?\d{1,7}\b/g, 1.0, luhn),
  regexRecognizer(
    'iban',
    'IBAN_CODE',
    /\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,4})?\b/g,
    1.0,
    ibanValid,
  ),
  // dates: every form except a bare year
  regexRecognizer('date_numeric', 'DATE_TIME', /\b\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})\b/g, 0.85),
  regexRecognizer('date_iso', 'DATE_TIME', /\b\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?\b/g, 0.95),
  regexRecognizer(
    'date_text',
    'DATE_TIME',
    new RegExp(
      `\\b(?:\\d{1,2}(?:st|nd|rd|th)? (?:of )?(?:${MONTHS})\\.?(?:,? \\d{4})?|` +
        `(?:${MONTHS})\\.? \\d{1,2}(?:st|nd|rd|th)?(?:,? \\d{4})?|` +
        `(?:${MONTHS}) \\d{4})\\b`,
      'gi',
    ),
    0.9,
  ),
  regexRecognizer(
    'date_dmy_hyphen',
    'DATE_TIME',
    new RegExp(`\\b\\d{1,2}[- ](?:${MONTHS})[- ](?:\\d{4}|\\d{2})\\b`, 'gi'),
    0.9,
  ),
  regexRecognizer('weekday', 'DATE_TIME', /\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b/g, 0.4),
  regexRecognizer('time', 'DATE_TIME', /\b(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:\s?[ap]\.?m\.?)?\b/gi, 0.5),
  // ages over 89
  regexRecognizer(
    'age_over_89',
    'AGE',
    /\b(?:9\d|1[0-4]\d)(?:[- ](?:years?|yrs?|yo|y\/o|year-old|years-old)(?:[- ]old)?|yo\b|y\/o)/gi,
    0.9,
  ),
  regexRecognizer('age_labelled', 'AGE', /\b(?:age|aged)\s{0,3}:?\s{0,3}((?:9\d|1[0-4]\d))\b/gi, 0.85, undefined, 1),
  // phones: 7-15 digits in groups, optional country code, parentheses and extension
  regexRecognizer('phone_plain', 'PHONE_NUMBER', /(?<![\d.-])(?:\+?\d{1,3}[ -])?\d{10,11}(?![\d.-])/g, 0.5),
  regexRecognizer(
    'phone',
    'PHONE_NUMBER',
    new RegExp(
      '(?:\\+\\d{1,3}[ .-]?)?(?:\\(\\d{1,4}\\)[ .-]?)?\\b\\d{2,4}(?:[ .-]\\d{2,8}){1,4}' +
        '(?:\\s?(?:x|ext\\.?)\\s?\\d{1,6})?\\b|(?:\\+\\d{1,3}[ .-]?)?\\(\\d{1,4}\\)[ .-]?\\d{3,4}' +
        '(?:[ .-]?\\d{2,4}){0,2}(?:\\s?(?:x|ext\\.?)\\s?\\d{1,6})?\\b',
      'g',
    ),
    0.6,
    (m) => {
      const ext = /(?:x|ext\.?)\s?\d+$/.test(m);
      const digits = m.replace(/(?:x|ext\.?)\s?\d+$/, '').replace(/\D/g, '').length;
      if (digits < 7 || digits > (ext ? 14 : 13)) return false;
      if (/^\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}$/.test(m) || /^\d{4}-\d{2}-\d{2}/.test(m)) return false; // a date
      return true;
    },
  ),
  // identifiers introduced by a label: MRN, account, health plan, licence, device, vehicle ...
  regexRecognizer(
    'labelled_id',
    'ID',
    new RegExp(
      '\\b(?:MRN|MR\\s?#|medical record(?: number| no\\.?)?|record (?:no\\.?|number|#)|' +
        'specimen(?: (?:id|no\\.?|number|#))?|accession(?: (?:no\\.?|number|#))?|lot(?: (?:no\\.?|number|#))?|' +
        'encounter(?: (?:id|no\\.?|number|#))|acct\\.?|account(?: number| no\\.?)?|' +
        'health plan(?: (?:id|number|no\\.?))?|member id|policy(?: (?:id|number|no\\.?))?|insurance id|' +
        'licen[cs]e(?: (?:number|no\\.?|#))?|DEA|NPI|device(?: (?:id|serial))?|serial(?: number| no\\.?)?|VIN|' +
        'plate(?: number)?|passport(?: number| no\\.?)?|medicare(?: number| no\\.?| id)?|' +
        'medicaid(?: number| no\\.?| id)?|ID(?: number)?)\\s{0,3}(?:(?:#|:|no\\.?|number)\\s{0,3}){0,2}(?:is\\s)?' +
        '([A-Z0-9][A-Z0-9-]{3,24})\\b',
      'gi',
    ),
    0.9,
    (m) => /\d/.test(m),
    1,
  ),
  regexRecognizer(
    'driver_license',
    'US_DRIVER_LICENSE',
    /\b(?:driver'?s? licen[cs]e|DL)(?: (?:number|no\.?|#))?\s{0,3}:?\s{0,3}([A-Za-z]?\d{6,14}[A-Za-z]?)\b/gi,
    0.9,
    undefined,
    1,
  ),
  // street addresses: number + up to 4 words + street type, optional unit
  regexRecognizer(
    'street_address',
    'ADDRESS',
    new RegExp(
      `\\b(?:\\d{1,5} )?\\d{1,6}[A-Za-z]?(?: (?:\\d{1,4}(?:st|nd|rd|th)|[\\p{Lu}\\p{Ll}][\\p{L}'.-]{0,30})){1,4}` +
        ` (?:${STREET})\\b\\.?(?:,? (?:Apt\\.?|Suite|Unit|#) ?\\w{1,6})?`,
      'gu',
    ),
    0.85,
  ),
  regexRecognizer(
    'street_number_after',
    'ADDRESS',
    new RegExp(
      `\\b\\p{Lu}[\\p{L}'-]{1,30}(?:${STREET.split('|')
        .filter((s) => s.length > 3 && s[0] === s[0]!.toLowerCase())
        .join('|')}) \\d{1,5}\\b`,
      'gu',
    ),
    0.8,
  ),
  regexRecognizer(
    'street_name_number',
    'ADDRESS',
    new RegExp(
      "\\b(?:\\d{1,5} ){0,2}\\p{Lu}[\\p{L}'.-]{2,30}(?: \\p{Lu}[\\p{L}'.-]{1,30}){0,2} \\d{1,4}[A-Za-z]?\\b" +
        '(?!\\s?(?:%|mg|ml|kg|years?|yrs?|days?|weeks?|months?|hours?|minutes?|times|mmHg|bpm))',
      'gu',
    ),
    0.65,
    (m) =>
      !NOT_A_STREET.test(m.trim()) &&
      m
        .trim()
        .split(/\s+/)
        .some((w) => /^\p{L}/u.test(w) && !englishWords().has(w.toLowerCase())) &&
      !/^(?:\d+ )*\p{Lu}{2,5}\s\d/u.test(m.trim()),
  ),
  regexRecognizer(
    'zip_alone',
    'ADDRESS',
    /(?<![\d$.,-])\b\d{5}(?:-\d{4})?\b(?![.,]\d)(?!\s?(?:%|mg|ml|kg|units?|cells|copies|IU|\/))/g,
    0.45,
  ),
  // US military and post-office boxes: "PSC 7004, Box 8380 / APO AP 11949", "P.O. Box 15"
  regexRecognizer(
    'military_po_box',
    'ADDRESS',
    new RegExp(
      '\\b(?:(?:PSC|CMR|Unit) \\d{1,5},? Box \\d{1,5}(?:,?\\s{1,3}(?:APO|FPO|DPO) (?:AA|AE|AP) \\d{5})?|' +
        'P\\.? ?O\\.? Box \\d{1,6})\\b',
      'gi',
    ),
    0.85,
  ),
  regexRecognizer('unit', 'ADDRESS', /\b(?:Apt\.?|Apartment|Suite|Unit|Room|Bldg\.?) ?#?\d{1,6}[A-Za-z]?\b/g, 0.7),
  regexRecognizer('zip_with_state', 'ADDRESS', /\b[A-Z]{2},? \d{5}(?:-\d{4})?\b/g, 0.8),
  regexRecognizer(
    'zip_labelled',
    'ADDRESS',
    /\b(?:ZIP|zip code|postal code|postcode)\s{0,3}:?\s{0,3}(\d{4,5}(?:-\d{4})?)\b/gi,
    0.9,
    undefined,
    1,
  ),
  regexRecognizer(
    'organization_suffix',
    'ORGANIZATION',
    new RegExp(
      `\\b(?:\\p{Lu}[\\p{L}'&.-]{0,30}[ ,]{1,2}){1,4}(?:(?:Inc|Ltd|Corp|Co)\\b\\.?|(?:${ORG_SUFFIX})\\b)`,
      'gu',
    ),
    0.75,
  ),
  regexRecognizer(
    'organization_of',
    'ORGANIZATION',
    /\b(?:University|Hospital|Bank|Institute|College) of(?: \p{Lu}[\p{L}'-]{1,30}){1,3}/gu,
    0.8,
  ),
];

const TITLES = /^(?:dr|mr|mrs|ms|miss|mx|prof|sir|madam|dame|rn|np|pa|md|nurse|doctor)\.?$/i;
/**
 * Eponyms that are also common surnames (Wilson, Bell, Murphy, Barrett, Graves, Down, ...): not a name only when a
 * clinical word follows ("Wilson disease", "Bell's palsy", "Murphy's sign", "Barrett's esophagus").
 */
const CONTEXT_EPONYMS = new Set([
  'wilson',
  'bell',
  'murphy',
  'barrett',
  'graves',
  'down',
  'bishop',
  'homan',
  'homans',
  'hartmann',
  'roux',
  'pap',
  'west',
  'turner',
  'marfan',
  'reiter',
  'paget',
  'bright',
  'still',
  'conn',
  'horner',
  'charcot',
  'meniere',
  'ménière',
  'osgood',
  'tay',
  'sachs',
  'fallot',
  'bartholin',
  'dupuytren',
  'colles',
  'baker',
  'lou',
  'gehrig',
]);
const EPONYM_FOLLOW = new RegExp(
  "^(?:['’]s)?[ -](?:disease|syndrome|sign|signs|palsy|esophagus|oesophagus|procedure|test|smear|score|scale|" +
    'criteria|phenomenon|maneuver|manoeuvre|reflex|triad|ulcer|cyst|fracture|contracture|tetralogy|anomaly|nile|' +
    'gehrig|nodes?|lymphoma|sarcoma|virus|fever)\\b',
  'i',
);
const LOCATION_CONTEXT = new RegExp(
  '\\b(?:in|from|to|at|near|visiting|visited|lives in|living in|born in|moved to|travel(?:l?ed)? to|city of|' +
    'town of|village of)\\s$',
  'i',
);
const ORG_CONTEXT = new RegExp(
  '\\b(?:works? (?:at|for)|working (?:at|for)|employed (?:at|by)|employer:?|company:?|firm|joined|hired by|' +
    'job at|position at|transferred from|admitted to|seen at)\\s(?:the\\s)?$',
  'i',
);
const NAME_CONTEXT = new RegExp(
  '\\b(?:name is|named|patient|pt\\.?|seen by|dear|signed|attending|physician|surgeon|resident|referred by|' +
    'referring|son|daughter|wife|husband|mother|father|brother|sister|nurse|mr\\.?|mrs\\.?|ms\\.?|' +
    'dr\\.?)\\s*:?\\s*$',
  'i',
);

const WORD = /[\p{L}][\p{L}'’.-]{0,40}/gu;

/** Allow-listed words (and hyphenated pairs of them), and surname-like eponyms followed by a clinical word. */
function allowedToken(text: string, t: Tok, ctx: RecognizerContext): boolean {
  if (ctx.allow.has(t.lower) || (t.lower.includes('-') && t.lower.split('-').every((p) => ctx.allow.has(p))))
    return true;
  const base = t.lower.replace(/['’]s$/, '');
  return (
    CONTEXT_EPONYMS.has(base) &&
    EPONYM_FOLLOW.test(text.slice(t.end - (base.length < t.lower.length ? 2 : 0), t.end + 16))
  );
}

export interface Tok {
  w: string;
  lower: string;
  start: number;
  end: number;
  cap: boolean;
}

function tokensOf(text: string, ctx: RecognizerContext): Tok[] {
  ctx.tokens ??= tokens(text);
  return ctx.tokens;
}

function tokens(text: string): Tok[] {
  const out: Tok[] = [];
  for (const m of text.matchAll(WORD)) {
    let w = m[0];
    while (w.length > 1 && /[.'’-]$/.test(w) && !TITLES.test(w)) w = w.slice(0, -1);
    const first = w[0]!;
    out.push({
      w,
      lower: w.toLowerCase(),
      start: m.index!,
      end: m.index! + w.length,
      cap: first !== first.toLowerCase(),
    });
  }
  return out;
}

/** Names: gazetteer hits (capitalised), extended over adjacent capitalised words, titles and context words. */
export const nameRecognizer: Recognizer = (text, ctx) => {
  const g = gazetteers();
  const dict = englishWords();
  const toks = tokensOf(text, ctx);
  const out: Finding[] = [];
  const unknownWord = (t: Tok) => {
    const short = t.w.length <= 2 || (t.w === t.w.toUpperCase() && t.w.length <= 6);
    if (short || !/^[\p{L}'’-]+$/u.test(t.w)) return false;
    if (t.w.includes('-') && t.lower.split('-').every((p) => dict.has(p))) return false; // Follow-up, X-ray
    const base = t.lower.replace(/['’](?:s|t|m|re|d|ll|ve)$/, '').replace(/n['’]t$/, '');
    if (base !== t.lower && dict.has(base)) return false; // contractions and possessives of words
    if (dict.has(t.lower) || dict.has(base) || g.places.has(t.lower) || g.places.has(base)) return false;
    if (isNearWord(base)) return false; // a misspelt word ("Pnuemonia"), not a name
    if (!/(?:n|an|ian|ese|ish|i)$/.test(base)) return true;
    // demonyms: American, Norwegian, Japanese, Danish
    for (const suf of ['n', 'an', 'ian', 'ese', 'ish', 'i'])
      if (
        base.endsWith(suf) &&
        (g.places.has(base.slice(0, -suf.length)) || g.places.has(base.slice(0, -suf.length) + 'a'))
      )
        return false;
    return true;
  };
  const isName = (t: Tok) =>
    !ctx.allow.has(t.lower) && !COMMON_WORDS.has(t.lower) && (g.firstNames.has(t.lower) || g.lastNames.has(t.lower));
  const allowed = (t: Tok) => allowedToken(text, t, ctx);
  const capWord = (t: Tok | undefined) =>
    !!t && t.cap && !COMMON_WORDS.has(t.lower) && !allowed(t) && !TITLES.test(t.w) && t.w.length > 1;
  const adjacent = (a: Tok, b: Tok) => /^[ \t]{1,2}$/.test(text.slice(a.end, b.start));
  const PARTICLES = /^(?:van|von|der|den|de|del|della|di|da|du|la|le|bin|ibn|al|el|ter|ten|st\.?)$/;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    let score = 0;
    if (allowed(t)) continue;
    if (capWord(t) && isName(t)) score = g.firstNames.has(t.lower) ? 0.7 : 0.6;
    else if (
      i > 0 &&
      TITLES.test(toks[i - 1]!.w) &&
      /^(?:dr|mr|mrs|ms|miss|mx|prof)\.?$/i.test(toks[i - 1]!.w) &&
      adjacent(toks[i - 1]!, t) &&
      !COMMON_WORDS.has(t.lower)
    )
      score = 0.8;
    else if (capWord(t) && NAME_CONTEXT.test(text.slice(Math.max(0, t.start - 30), t.start))) score = 0.55;
    else if (capWord(t) && unknownWord(t)) score = 0.45;
    else if (
      !t.cap &&
      t.w.length > 3 &&
      !dict.has(t.lower) &&
      (g.firstNames.has(t.lower) || g.lastNames.has(t.lower)) &&
      !ctx.allow.has(t.lower)
    )
      score = 0.45;
    else if (
      !t.cap &&
      t.w.length > 3 &&
      g.firstNames.has(t.lower) &&
      !COMMON_WORDS.has(t.lower) &&
      !ctx.allow.has(t.lower) &&
      toks[i + 1] &&
      adjacent(t, toks[i + 1]!) &&
      (g.lastNames.has(toks[i + 1]!.lower) || g.firstNames.has(toks[i + 1]!.lower))
    )
      score = 0.5;
    if (!score) continue;
    let start = t.start;
    let end = t.end;
    let j = i;
    // include a preceding title
    if (i > 0 && TITLES.test(toks[i - 1]!.w) && adjacent(toks[i - 1]!, t)) start = toks[i - 1]!.start;
    // extend over following capitalised words (surnames the lists do not know), or known names in any case
    const surname = (n: Tok) =>
      n.cap
        ? n.w.length > 1 &&
          !COMMON_WORDS.has(n.lower) &&
          !TITLES.test(n.w) &&
          !(n.w.length === 2 && n.w === n.w.toUpperCase())
        : PARTICLES.test(n.lower) || (!t.cap && (isName(n) || (n.w.length > 2 && !dict.has(n.lower))));
    while (
      j + 1 < toks.length &&
      j - i < 3 &&
      !/^['’]s\b/.test(text.slice(toks[j]!.end, toks[j]!.end + 3)) &&
      adjacent(toks[j]!, toks[j + 1]!) &&
      surname(toks[j + 1]!)
    ) {
      j++;
      end = toks[j]!.end;
      score = Math.min(0.95, score + 0.15);
    }
    // "Last, First" (charts and lists)
    if (
      j + 1 < toks.length &&
      /^, $/.test(text.slice(toks[j]!.end, toks[j + 1]!.start)) &&
      toks[j + 1]!.cap &&
      g.firstNames.has(toks[j + 1]!.lower)
    ) {
      j++;
      end = toks[j]!.end;
    }
    // a name ending in a particle ("Van der") is not a name's end: drop trailing particles
    while (j > i && PARTICLES.test(toks[j]!.lower)) {
      j--;
      end = toks[j]!.end;
    }
    out.push({ type: 'PERSON', start, end, score: Math.min(score, 0.8), recognizer: 'name' });
    i = j;
  }
  return out;
};

/** Places: cities, countries and states from the gazetteer (capitalised or all caps), longest match first. */
export const placeRecognizer: Recognizer = (text, ctx) => {
  const g = gazetteers();
  const toks = tokensOf(text, ctx);
  const out: Finding[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (allowedToken(text, t, ctx)) continue;
    if (!t.cap) {
      // lower-case place names only when long, unambiguous and in the list ("vanuatu", "bahrain")
      if (
        t.w.length >= 6 &&
        g.places.has(t.lower) &&
        !COMMON_WORDS.has(t.lower) &&
        !ctx.allow.has(t.lower) &&
        !englishWords().has(t.lower)
      )
        out.push({ type: 'LOCATION', start: t.start, end: t.end, score: 0.45, recognizer: 'place' });
      continue;
    }
    if (
      LOCATION_CONTEXT.test(text.slice(Math.max(0, t.start - 16), t.start)) &&
      !COMMON_WORDS.has(t.lower) &&
      !ctx.allow.has(t.lower) &&
      !TITLES.test(t.w)
    ) {
      let j = i;
      while (
        j + 1 < toks.length &&
        j - i < 2 &&
        toks[j + 1]!.cap &&
        /^[ -]$/.test(text.slice(toks[j]!.end, toks[j + 1]!.start))
      )
        j++;
      if (!g.firstNames.has(t.lower) || g.places.has(t.lower)) {
        out.push({
          type: 'LOCATION',
          start: t.start,
          end: toks[j]!.end,
          score: g.places.has(t.lower) ? 0.7 : 0.42,
          recognizer: 'place_context',
        });
        i = j;
        continue;
      }
    }
    for (let n = g.placeFirstWords.has(t.lower) ? Math.min(g.maxPlaceWords, toks.length - i) : 1; n >= 1; n--) {
      const span = text.slice(toks[i]!.start, toks[i + n - 1]!.end);
      const key = span.toLowerCase();
      if (n === 1 && (COMMON_WORDS.has(key) || ctx.allow.has(key) || key.length < 3)) continue;
      if (g.places.has(key)) {
        out.push({
          type: 'LOCATION',
          start: toks[i]!.start,
          end: toks[i + n - 1]!.end,
          score: n > 1 ? 0.8 : 0.6,
          recognizer: 'place',
        });
        i += n - 1;
        break;
      }
    }
  }
  return out;
};

/** Organisations named after a work context ("works at Redfin", "employed by Open Data Nation"). */
export const orgContextRecognizer: Recognizer = (text, ctx) => {
  const toks = tokensOf(text, ctx);
  const out: Finding[] = [];
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (!t.cap || COMMON_WORDS.has(t.lower) || ctx.allow.has(t.lower)) continue;
    if (!ORG_CONTEXT.test(text.slice(Math.max(0, t.start - 24), t.start))) continue;
    let j = i;
    while (
      j + 1 < toks.length &&
      j - i < 4 &&
      /^(?: |, | and | & | of )$/.test(text.slice(toks[j]!.end, toks[j + 1]!.start)) &&
      (toks[j + 1]!.cap || /^(?:and|of)$/.test(text.slice(toks[j]!.end, toks[j + 1]!.start).trim()))
    )
      j++;
    out.push({ type: 'ORGANIZATION', start: t.start, end: toks[j]!.end, score: 0.5, recognizer: 'org_context' });
    i = j;
  }
  return out;
};

export const ALL_RECOGNIZERS: Recognizer[] = [
  ...PATTERN_RECOGNIZERS,
  nameRecognizer,
  placeRecognizer,
  orgContextRecognizer,
];
