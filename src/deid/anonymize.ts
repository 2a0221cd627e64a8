/**
 * Anonymisers and the deidentify() API. Operators:
 * - tag: `[NAME]`, `[DATE]`, … (default)
 * - redact: removes the text
 * - mask: every letter/digit becomes `*`
 * - hash: `[NAME:3f9a2c1d0b]`, an HMAC of the value keyed by the user's secret (same value -> same hash)
 * - surrogate: a realistic fake value; the same real value always maps to the same fake within a dataset, keyed
 *   by the secret. Dates are shifted by a per-patient offset instead, which keeps intervals between dates.
 */
import { createHmac } from 'node:crypto';
import { analyze, type AnalyzeOptions, type Entity } from './analyzer.js';
import { gazetteers } from './gazetteers.js';
import { MedtuneError } from '../common/errors.js';

export type Operator = 'tag' | 'redact' | 'mask' | 'hash' | 'surrogate';

export interface DeidOptions extends AnalyzeOptions {
  operator?: Operator;
  /** key for hash / surrogate / date shifts; without it a fixed default (not secret) is used */
  secret?: string;
  /** dates of the same patient shift by the same number of days */
  patientId?: string;
  /** shift dates (default: on with the surrogate operator) */
  shiftDates?: boolean;
  /** entities found already (e.g. rules ∪ model, infer/deid-model.ts): replaced as given, not looked for again */
  entities?: Entity[];
}

export interface DeidResult {
  text: string;
  /** offsets into the ORIGINAL text */
  entities: Entity[];
}

const TAGS: Record<string, string> = {
  PERSON: 'NAME',
  DATE_TIME: 'DATE',
  AGE: 'AGE',
  PHONE_NUMBER: 'PHONE',
  EMAIL_ADDRESS: 'EMAIL',
  US_SSN: 'SSN',
  ID: 'ID',
  US_DRIVER_LICENSE: 'ID',
  ADDRESS: 'ADDRESS',
  LOCATION: 'LOCATION',
  URL: 'URL',
  IP_ADDRESS: 'IP',
  CREDIT_CARD: 'CARD',
  IBAN_CODE: 'IBAN',
  ORGANIZATION: 'ORGANIZATION',
  DENY: 'REDACTED',
};

const DEFAULT_SECRET = 'medtune-default-key';

function hmac(secret: string, value: string): Buffer {
  return createHmac('sha256', secret).update(value).digest();
}

/** Per-patient date offset in days: 1..365 in either direction, never 0. */
export function dateOffsetDays(secret: string, patientId: string): number {
  const v = hmac(secret, `date-shift:${patientId}`).readUInt32BE(0);
  const d = 1 + (v % 365);
  return v & 0x80000000 ? -d : d;
}

const MONTH_NAMES = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

function monthIndex(name: string): number {
  const n = name.toLowerCase().replace(/\.$/, '');
  return MONTH_NAMES.findIndex((m) => m === n || (n.length >= 3 && m.startsWith(n)));
}

function caseLike(sample: string, word: string): string {
  if (sample === sample.toUpperCase()) return word.toUpperCase();
  if (sample[0] === sample[0]!.toUpperCase()) return word[0]!.toUpperCase() + word.slice(1);
  return word;
}

/** Shifts a date written in one of the recognised forms, keeping the form. Null if it cannot be parsed. */
export function shiftDate(s: string, days: number): string | null {
  const add = (y: number, m: number, d: number) => {
    const t = new Date(Date.UTC(y, m, d));
    if (t.getUTCMonth() !== m || t.getUTCDate() !== d) return null; // invalid date
    t.setUTCDate(t.getUTCDate() + days);
    return t;
  };
  let m = /^(\d{4})-(\d{2})-(\d{2})(.*)$/.exec(s);
  if (m) {
    const t = add(+m[1]!, +m[2]! - 1, +m[3]!);
    return t
      ? `${t.getUTCFullYear()}-${String(t.getUTCMonth() + 1).padStart(2, '0')}-` +
          `${String(t.getUTCDate()).padStart(2, '0')}${m[4]}`
      : null;
  }
  m = /^(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})$/.exec(s);
  if (m) {
    const yy = m[4]!.length === 2 ? (+m[4]! > 30 ? 1900 : 2000) + +m[4]! : +m[4]!;
    const t = add(yy, +m[1]! - 1, +m[3]!); // US month/day/year
    if (!t) return null;
    const y = m[4]!.length === 2 ? String(t.getUTCFullYear() % 100).padStart(2, '0') : String(t.getUTCFullYear());
    const pad = (v: number, w: string) => (w.length === 2 ? String(v).padStart(2, '0') : String(v));
    return `${pad(t.getUTCMonth() + 1, m[1]!)}${m[2]}${pad(t.getUTCDate(), m[3]!)}${m[2]}${y}`;
  }
  m = /^([A-Za-z]+)\.? (\d{1,2})(st|nd|rd|th)?(,? )?(\d{4})?$/.exec(s);
  if (m && monthIndex(m[1]!) >= 0) {
    const t = add(m[5] ? +m[5] : 2001, monthIndex(m[1]!), +m[2]!);
    if (!t) return null;
    const name = caseLike(m[1]!, MONTH_NAMES[t.getUTCMonth()]!);
    return (
      `${m[1]!.length <= 4 ? name.slice(0, 3) : name} ${t.getUTCDate()}${m[3] ? ordinal(t.getUTCDate()) : ''}` +
      `${m[5] ? `${m[4] ?? ' '}${t.getUTCFullYear()}` : ''}`
    );
  }
  m = /^(\d{1,2})(st|nd|rd|th)? (of )?([A-Za-z]+)\.?(,? (\d{4}))?$/.exec(s);
  if (m && monthIndex(m[4]!) >= 0) {
    const t = add(m[6] ? +m[6] : 2001, monthIndex(m[4]!), +m[1]!);
    if (!t) return null;
    const name = caseLike(m[4]!, MONTH_NAMES[t.getUTCMonth()]!);
    return (
      `${t.getUTCDate()}${m[2] ? ordinal(t.getUTCDate()) : ''} ${m[3] ?? ''}` +
      `${m[4]!.length <= 4 ? name.slice(0, 3) : name}` +
      `${m[6] ? `${m[5]!.startsWith(',') ? ',' : ''} ${t.getUTCFullYear()}` : ''}`
    );
  }
  return null;
}

function ordinal(d: number): string {
  if (d % 100 >= 11 && d % 100 <= 13) return 'th';
  return ['th', 'st', 'nd', 'rd'][d % 10] ?? 'th';
}

let nameLists: { first: string[]; last: string[]; places: string[] } | null = null;
function lists() {
  if (!nameLists) {
    const g = gazetteers();
    const clean = (xs: Set<string>) => [...xs].filter((x) => /^[a-z][a-z'-]{2,14}$/.test(x)).sort();
    nameLists = { first: clean(g.firstNames), last: clean(g.lastNames), places: clean(g.places) };
  }
  return nameLists;
}

const cap = (w: string) =>
  w
    .split(/([ -])/)
    .map((p) => (p.length > 1 ? p[0]!.toUpperCase() + p.slice(1) : p))
    .join('');

/** Replaces each digit and letter deterministically from the hash, keeping separators and length. */
function scramble(value: string, h: Buffer): string {
  let i = 0;
  return value.replace(/[0-9A-Za-z]/g, (c) => {
    const b = h[i++ % h.length]!;
    if (/\d/.test(c)) return String(b % 10);
    const l = String.fromCharCode(97 + (b % 26));
    return c === c.toUpperCase() ? l.toUpperCase() : l;
  });
}

const surrogateCache = new Map<string, string>();

/** A realistic fake for an entity value, the same for the same (type, value, secret). */
export function surrogate(type: string, value: string, secret: string): string {
  const key = `${secret}\u0000${type}\u0000${value.trim().toLowerCase()}`;
  const hit = surrogateCache.get(key);
  if (hit !== undefined) return hit;
  const made = makeSurrogate(type, value, secret);
  if (surrogateCache.size > 200_000) surrogateCache.clear();
  surrogateCache.set(key, made);
  return made;
}

function makeSurrogate(type: string, value: string, secret: string): string {
  const h = hmac(secret, `${type}:${value.trim().toLowerCase()}`);
  const pick = (xs: string[], k: number) => xs[h.readUInt32BE(k) % xs.length]!;
  const L = lists();
  switch (type) {
    case 'PERSON': {
      const title = /^(?:Dr|Mr|Mrs|Ms|Miss|Prof)\.?\s/i.exec(value)?.[0] ?? '';
      const words = value.slice(title.length).trim().split(/\s+/);
      const first = cap(pick(L.first, 0));
      const last = cap(pick(L.last, 4));
      const out =
        words.length >= 2
          ? `${first} ${last}`
          : title
            ? last
            : value[0] === value[0]!.toLowerCase()
              ? first.toLowerCase()
              : first;
      return title + out;
    }
    case 'LOCATION':
      return cap(pick(L.places, 0));
    case 'EMAIL_ADDRESS':
      return `${pick(L.first, 0)}.${pick(L.last, 4)}@example.org`;
    case 'URL':
      return `https://example.org/${h.toString('hex').slice(0, 8)}`;
    case 'ORGANIZATION':
      return `${cap(pick(L.last, 0))} ${['Clinic', 'Medical Group', 'Health', 'Associates'][h[8]! % 4]}`;
    case 'ADDRESS':
      return /[A-Za-z]{3}/.test(value)
        ? `${(h.readUInt16BE(0) % 9000) + 100} ${cap(pick(L.last, 4))} ` +
            `${['Street', 'Avenue', 'Road', 'Lane'][h[9]! % 4]}`
        : scramble(value, h);
    case 'AGE':
      return '90+';
    case 'IP_ADDRESS':
      return value.includes(':')
        ? scramble(value.toLowerCase(), h).replace(/[g-z]/g, 'a')
        : `10.${h[0]}.${h[1]}.${h[2]}`;
    default:
      return scramble(value, h);
  }
}

function applyOperator(
  e: Entity,
  o: Required<Pick<DeidOptions, 'operator' | 'secret'>> & { dateDays: number | null },
): string {
  const tag = TAGS[e.type] ?? e.type;
  if (e.type === 'DATE_TIME' && o.dateDays !== null) {
    const shifted = shiftDate(e.text, o.dateDays);
    if (shifted !== null) return shifted;
  }
  switch (o.operator) {
    case 'tag':
      return `[${tag}]`;
    case 'redact':
      return '';
    case 'mask':
      return e.text.replace(/[\p{L}\p{N}]/gu, '*');
    case 'hash':
      return `[${tag}:${hmac(o.secret, `${e.type}:${e.text.trim().toLowerCase()}`).toString('hex').slice(0, 10)}]`;
    case 'surrogate':
      return e.type === 'DATE_TIME' ? `[${tag}]` : surrogate(e.type, e.text, o.secret);
  }
}

/** Finds PHI in `text` and replaces it. Entity offsets refer to the original text. */
export function deidentify(text: string, options: DeidOptions = {}): DeidResult {
  const operator = options.operator ?? 'tag';
  if (!['tag', 'redact', 'mask', 'hash', 'surrogate'].includes(operator))
    throw new MedtuneError(`unknown operator "${operator}" (tag, surrogate, redact, mask, hash)`, 'E_USAGE');
  const secret = options.secret ?? DEFAULT_SECRET;
  const shift = options.shiftDates ?? operator === 'surrogate';
  const dateDays = shift ? dateOffsetDays(secret, options.patientId ?? '') : null;
  const entities = options.entities ?? analyze(text, options);
  let out = '';
  let pos = 0;
  for (const e of entities) {
    out += text.slice(pos, e.start) + applyOperator(e, { operator, secret, dateDays });
    pos = e.end;
  }
  out += text.slice(pos);
  return { text: out, entities };
}
