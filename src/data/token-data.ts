/**
 * Token-classification data: CoNLL/IOB files (one token and its tag per line, tab- or space-separated, a blank line
 * between sentences) and JSONL with character-offset spans (`{"text": …, "entities": [{"start", "end", "label"}]}`),
 * read into one form: a text, its words (character ranges) and entities over words. Tags may be IOB2, IOBES or
 * BILOU (tags.ts); every bad line is refused with its line number and never with its text.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { detectScheme, entitiesOf, type TagScheme, type TokenEntity } from './tags.js';

/** One sentence or text with its words and entities. */
export interface TokenExample {
  text: string;
  /** character range [start, end) of each word */
  words: [number, number][];
  /** entities over word indices */
  entities: TokenEntity[];
  /** 1-based line of the file where the example starts */
  line: number;
}

/** An entity as character offsets (end exclusive), as predictions and JSONL files give them. */
export interface CharSpan {
  start: number;
  end: number;
  label: string;
}

export interface TokenData {
  file: string;
  examples: TokenExample[];
  /** entity types, sorted */
  types: string[];
  /** the tag scheme of a CoNLL file (JSONL spans: null) */
  scheme: TagScheme | null;
}

export type TokenFormat = 'conll' | 'jsonl';

const tagsError = (msg: string) => new MedtuneError(msg, 'E_INPUT_TAGS');

/** CoNLL for .tsv/.conll/.iob/.bio/.txt, JSONL spans for .jsonl/.json (or --format conll|jsonl). */
export function tokenFormatOf(file: string, explicit?: string): TokenFormat {
  if (explicit === 'conll' || explicit === 'jsonl') return explicit;
  if (explicit && explicit !== 'tsv')
    throw new MedtuneError(
      `--format ${explicit}: token classification reads conll (token and tag per line) or jsonl (text + spans)`,
      'E_INPUT_FORMAT',
    );
  const ext = path.extname(file).toLowerCase();
  if (['.tsv', '.conll', '.iob', '.bio', '.txt', '.iob2', '.bilou', '.iobes'].includes(ext)) return 'conll';
  if (ext === '.jsonl' || ext === '.json') return 'jsonl';
  throw new MedtuneError(
    `${file}: cannot tell the format from "${ext}"; token classification reads .tsv/.conll/.iob (token and tag per ` +
      'line) or .jsonl (text and character spans); pass --format conll|jsonl',
    'E_INPUT_FORMAT',
  );
}

/** Reads a token-classification file (CoNLL or JSONL spans). */
export function readTokenData(file: string, format?: string): TokenData {
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  const fmt = tokenFormatOf(file, format);
  const { examples, scheme } =
    fmt === 'conll' ? parseConll(text, file) : { examples: parseSpans(text, file), scheme: null };
  if (!examples.length) throw new MedtuneError(`${file} has no sentences or texts`, 'E_INPUT_EMPTY');
  const types = [...new Set(examples.flatMap((e) => e.entities.map((x) => x.type)))].sort();
  return { file, examples, types, scheme };
}

/** CoNLL/IOB text: token and tag (first and last column), a blank line between sentences, -DOCSTART- skipped. */
export function parseConll(content: string, file: string): { examples: TokenExample[]; scheme: TagScheme } {
  const sentences: { tokens: string[]; tags: string[]; lines: number[] }[] = [];
  let cur: { tokens: string[]; tags: string[]; lines: number[] } = { tokens: [], tags: [], lines: [] };
  const flush = () => {
    if (cur.tokens.length) sentences.push(cur);
    cur = { tokens: [], tags: [], lines: [] };
  };
  content.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return flush();
    if (line.startsWith('-DOCSTART-')) return flush();
    const cols = line.split(/\s+/);
    if (cols.length < 2)
      throw tagsError(`${file} line ${i + 1}: a token without a tag (expected "token<TAB>tag", got 1 column)`);
    cur.tokens.push(cols[0]!);
    cur.tags.push(cols[cols.length - 1]!);
    cur.lines.push(i + 1);
  });
  flush();
  const scheme = detectScheme(
    sentences.flatMap((s) => s.tags),
    file,
  );
  const examples = sentences.map((s) => {
    const words: [number, number][] = [];
    let pos = 0;
    for (const t of s.tokens) {
      words.push([pos, pos + t.length]);
      pos += t.length + 1;
    }
    const entities = entitiesOf(s.tags, scheme, (k) => `${file} line ${s.lines[Math.min(k, s.lines.length - 1)]}`);
    return { text: s.tokens.join(' '), words, entities, line: s.lines[0]! };
  });
  return { examples, scheme };
}

/** Words as the BERT pre-tokenizer sees them: runs of letters and digits, and every other non-space character. */
export function splitWords(text: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of text.matchAll(/[\p{L}\p{N}\p{M}]+|[^\s\p{L}\p{N}\p{M}]/gu))
    out.push([m.index, m.index + m[0].length]);
  return out;
}

/** An example from a text and its character spans: the words each span overlaps form its entity. */
export function exampleFromSpans(text: string, spans: CharSpan[], line: number, where = `line ${line}`): TokenExample {
  const words = splitWords(text);
  const sorted = [...spans].sort((a, b) => a.start - b.start || a.end - b.end);
  const entities: TokenEntity[] = [];
  let w = 0;
  sorted.forEach((s, k) => {
    if (
      !Number.isInteger(s.start) ||
      !Number.isInteger(s.end) ||
      s.start < 0 ||
      s.end > text.length ||
      s.start >= s.end
    )
      throw tagsError(`${where}: the span [${s.start}, ${s.end}) falls outside the text (0 to ${text.length})`);
    const prev = sorted[k - 1];
    if (prev && s.start < prev.end)
      throw tagsError(`${where}: the spans [${prev.start}, ${prev.end}) and [${s.start}, ${s.end}) overlap`);
    if (typeof s.label !== 'string' || !s.label) throw tagsError(`${where}: a span without a label`);
    while (w < words.length && words[w]![1] <= s.start) w++;
    const start = w;
    while (w < words.length && words[w]![0] < s.end) w++;
    if (w === start) throw tagsError(`${where}: the span [${s.start}, ${s.end}) covers no word (only spaces)`);
    const last = entities[entities.length - 1];
    if (last && last.end > start) {
      // two spans inside one word (e.g. "12/03" split mid-word): the word goes to the first span
      if (w - 1 < last.end) return;
      entities.push({ start: last.end, end: w, type: s.label });
      return;
    }
    entities.push({ start, end: w, type: s.label });
  });
  return { text, words, entities, line };
}

/** JSONL rows {"text", "entities": [{start, end, label}]} ("spans" and "type" are read as well). */
function parseSpans(content: string, file: string): TokenExample[] {
  const out: TokenExample[] = [];
  content.split(/\r?\n/).forEach((raw, i) => {
    if (!raw.trim()) return;
    const where = `${file} line ${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new MedtuneError(`${where}: not valid JSON`, 'E_INPUT_PARSE');
    }
    if (!row || typeof row !== 'object' || typeof row.text !== 'string')
      throw new MedtuneError(`${where}: expected {"text": "...", "entities": [...]}`, 'E_INPUT_PARSE');
    const list = row.entities ?? row.spans ?? [];
    if (!Array.isArray(list)) throw tagsError(`${where}: "entities" must be a list of {start, end, label}`);
    const spans = list.map((e: Record<string, unknown>) => ({
      start: e?.start as number,
      end: e?.end as number,
      label: (e?.label ?? e?.type) as string,
    }));
    out.push(exampleFromSpans(row.text, spans, i + 1, where));
  });
  return out;
}

/** The character spans of an example's entities. */
export function charSpans(e: Pick<TokenExample, 'words' | 'entities'>): CharSpan[] {
  return e.entities.map((x) => ({ start: e.words[x.start]![0], end: e.words[x.end - 1]![1], label: x.type }));
}

/** Evaluation data must not name entity types the training data lacks (the model could never predict them). */
export function checkTypes(train: TokenData, other: TokenData, option: string): void {
  const unknown = other.types.filter((t) => !train.types.includes(t));
  if (unknown.length)
    throw tagsError(
      `${option} ${other.file} has entity types the training file lacks: ${unknown.slice(0, 6).join(', ')} ` +
        `(training types: ${train.types.join(', ') || 'none'}); use one label set for every split`,
    );
}
