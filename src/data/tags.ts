/**
 * Tag schemes of token classification: IOB2 (B- begins, I- continues), IOBES (E- ends, S- a single token) and BILOU
 * (L- last, U- unit). Files may use any of them; medtune converts to IOB2, which its models predict. Entities are
 * half-open ranges of token (word) indices with a type.
 */
import { MedtuneError } from '../common/errors.js';

export type TagScheme = 'IOB2' | 'IOBES' | 'BILOU';

/** An entity over tokens [start, end) (word indices) of one type. */
export interface TokenEntity {
  start: number;
  end: number;
  type: string;
}

const tagsError = (msg: string) => new MedtuneError(msg, 'E_INPUT_TAGS');

/** Prefix and type of a tag ("B-Disease" -> ["B", "Disease"]; "O" -> ["O", ""]). */
export function splitTag(tag: string): [string, string] {
  if (tag === 'O') return ['O', ''];
  const m = /^([A-Z])[-_](.+)$/.exec(tag);
  return m ? [m[1]!, m[2]!] : ['?', tag];
}

/** The scheme of a set of tags; E_INPUT_TAGS for prefixes of no scheme, or of two. */
export function detectScheme(tags: Iterable<string>, where: string): TagScheme {
  const prefixes = new Set<string>();
  for (const t of tags) {
    const [p] = splitTag(t);
    if (p === '?' || !'OBIESLU'.includes(p))
      throw tagsError(`${where}: tag "${t}" is of no known scheme (IOB2: O, B-X, I-X; IOBES: + E-X, S-X; BILOU)`);
    prefixes.add(p);
  }
  const iobes = prefixes.has('E') || prefixes.has('S');
  const bilou = prefixes.has('L') || prefixes.has('U');
  if (iobes && bilou) throw tagsError(`${where}: tags mix IOBES (E-, S-) and BILOU (L-, U-) prefixes`);
  return iobes ? 'IOBES' : bilou ? 'BILOU' : 'IOB2';
}

/**
 * The entities of one tag sequence, strictly: an I- (or E-/L-) tag must continue an entity of its type begun by B-
 * (E_INPUT_TAGS naming `lineOf(i)` otherwise), and IOBES/BILOU entities must close with E-/L-.
 */
export function entitiesOf(tags: string[], scheme: TagScheme, lineOf: (i: number) => string): TokenEntity[] {
  const out: TokenEntity[] = [];
  const [last, unit] = scheme === 'BILOU' ? ['L', 'U'] : ['E', 'S'];
  let open: TokenEntity | null = null;
  const close = (i: number) => {
    if (open && scheme !== 'IOB2')
      throw tagsError(
        `${lineOf(i)}: the ${open.type} entity begun on ${lineOf(open.start)} is never closed by ${last}-`,
      );
    if (open) out.push(open);
    open = null;
  };
  tags.forEach((tag, i) => {
    const [p, type] = splitTag(tag);
    if (p === 'O' || p === 'B' || p === unit) {
      close(i);
      if (p === 'B') open = { start: i, end: i + 1, type };
      if (p === unit) out.push({ start: i, end: i + 1, type });
      return;
    }
    const cur = open as TokenEntity | null;
    if (!cur || cur.type !== type) {
      const before = i === 0 ? 'at the start of a sentence' : `after ${tags[i - 1]}`;
      throw tagsError(`${lineOf(i)}: ${tag} ${before} continues no entity (a ${type} entity begins with B-${type})`);
    }
    cur.end = i + 1;
    if (p === last) {
      out.push(cur);
      open = null;
    }
  });
  if (open && scheme !== 'IOB2') close(tags.length);
  if (open) out.push(open);
  return out;
}

/**
 * The entities of predicted IOB2 tags, leniently as seqeval's default mode (conlleval): an I-X that follows O or
 * another type begins an entity.
 */
export function decodeIob2(tags: string[]): TokenEntity[] {
  const out: TokenEntity[] = [];
  let open: TokenEntity | null = null;
  tags.forEach((tag, i) => {
    const [p, type] = splitTag(tag);
    if (p === 'I' && open && open.type === type) {
      open.end = i + 1;
      return;
    }
    if (open) out.push(open);
    open = p === 'O' ? null : { start: i, end: i + 1, type };
  });
  if (open) out.push(open);
  return out;
}

/** IOB2 tags of n tokens from entities. */
export function iob2Tags(n: number, entities: TokenEntity[]): string[] {
  const tags: string[] = new Array<string>(n).fill('O');
  for (const e of entities) for (let i = e.start; i < e.end; i++) tags[i] = `${i === e.start ? 'B' : 'I'}-${e.type}`;
  return tags;
}

/** The IOB2 label list of entity types: O first, then B-/I- per type in name order. */
export function iob2Labels(types: Iterable<string>): string[] {
  const sorted = [...new Set(types)].sort();
  return ['O', ...sorted.flatMap((t) => [`B-${t}`, `I-${t}`])];
}

/** The entity types of an IOB2 label list. */
export function typesOfLabels(labels: string[]): string[] {
  return [...new Set(labels.filter((l) => l !== 'O').map((l) => splitTag(l)[1]))];
}
