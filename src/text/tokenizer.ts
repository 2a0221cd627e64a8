/**
 * Tokenizers: HF tokenizer.json through @huggingface/tokenizers (tokenizers.js), or — for folders that only have
 * vocab.txt, like dmis-lab/biobert-v1.1 — the equivalent BERT WordPiece tokenizer built from the vocabulary and
 * tokenizer_config.json (do_lower_case, strip_accents). On top: truncation (pairs: longest first), special tokens
 * from the post-processor template, padding, attention masks, token type ids and character offsets.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer as HFTokenizer } from '@huggingface/tokenizers';
import { MedtuneError } from '../common/errors.js';

export class TokenizerError extends MedtuneError {
  constructor(message: string) {
    super(message, 'E_TOKENIZER');
    this.name = 'TokenizerError';
  }
}

interface TemplatePiece {
  SpecialToken?: { id: string; type_id: number };
  Sequence?: { id: 'A' | 'B'; type_id: number };
}
interface Template {
  single: TemplatePiece[];
  pair: TemplatePiece[];
  special: Map<string, number>;
}

export interface EncodeOptions {
  /** maximum length including special tokens (default: the model's max, else 512) */
  maxLength?: number;
  /** 'longest' pads to the longest in the batch (default), 'max_length' pads to maxLength, false: no padding */
  padding?: 'longest' | 'max_length' | false;
  /** default true */
  truncation?: boolean;
  addSpecialTokens?: boolean;
}

export interface BatchEncoding {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  /** [start, end) character offsets into the original text for each token; [0, 0] for special and padding tokens */
  offsets: [number, number][][];
  /** how many texts had tokens cut off by truncation */
  truncated: number;
  /** per text: how many tokens truncation cut off (0 when it fit) */
  cut_tokens: number[];
}

type JsonObj = Record<string, unknown>;

/** tokenizer.json for a BERT WordPiece vocabulary (what HF's BertTokenizerFast builds from vocab.txt). */
export function bertTokenizerJson(
  vocab: string[],
  cfg: {
    do_lower_case?: boolean;
    strip_accents?: boolean | null;
    tokenize_chinese_chars?: boolean;
    unk_token?: string;
    cls_token?: string;
    sep_token?: string;
    pad_token?: string;
    mask_token?: string;
  },
): JsonObj {
  const v: Record<string, number> = {};
  vocab.forEach((t, i) => {
    if (!(t in v)) v[t] = i;
  });
  const tok = (name: string | undefined, dflt: string) => name ?? dflt;
  const cls = tok(cfg.cls_token, '[CLS]');
  const sep = tok(cfg.sep_token, '[SEP]');
  const specials = [tok(cfg.pad_token, '[PAD]'), tok(cfg.unk_token, '[UNK]'), cls, sep, tok(cfg.mask_token, '[MASK]')];
  for (const s of [cls, sep]) if (!(s in v)) throw new TokenizerError(`vocab.txt has no ${s} token`);
  return {
    version: '1.0',
    added_tokens: specials
      .filter((s) => s in v)
      .map((s) => ({
        id: v[s],
        content: s,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: cfg.tokenize_chinese_chars ?? true,
      strip_accents: cfg.strip_accents ?? null,
      lowercase: cfg.do_lower_case ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [v[cls]], tokens: [cls] },
        [sep]: { id: sep, ids: [v[sep]], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: tok(cfg.unk_token, '[UNK]'),
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: v,
    },
  };
}

function templateOf(json: JsonObj, tk: HFTokenizer): Template {
  const pp = json.post_processor as JsonObj | null;
  const special = new Map<string, number>();
  const id = (t: string): number => {
    const i = tk.token_to_id(t);
    if (i === undefined) throw new TokenizerError(`special token ${t} is not in the vocabulary`);
    return i;
  };
  const S = (t: string, type_id = 0): TemplatePiece => {
    special.set(t, id(t));
    return { SpecialToken: { id: t, type_id } };
  };
  const A: TemplatePiece = { Sequence: { id: 'A', type_id: 0 } };
  const B = (type_id: number): TemplatePiece => ({ Sequence: { id: 'B', type_id } });
  if (!pp) return { single: [A], pair: [A, B(1)], special };
  switch (pp.type) {
    case 'TemplateProcessing': {
      const single = pp.single as TemplatePiece[];
      const pair = pp.pair as TemplatePiece[];
      const st = pp.special_tokens as Record<string, { ids: number[] }>;
      for (const [k, v] of Object.entries(st)) special.set(k, v.ids[0]!);
      return { single, pair, special };
    }
    case 'BertProcessing': {
      const [cls] = pp.cls as [string, number];
      const [sep] = pp.sep as [string, number];
      return { single: [S(cls), A, S(sep)], pair: [S(cls), A, S(sep), B(1), S(sep, 1)], special };
    }
    case 'RobertaProcessing': {
      const [cls] = pp.cls as [string, number];
      const [sep] = pp.sep as [string, number];
      return { single: [S(cls), A, S(sep)], pair: [S(cls), A, S(sep), S(sep), B(0), S(sep)], special };
    }
    default:
      throw new TokenizerError(
        `post-processor ${String(pp.type)} is not supported ` +
          '(TemplateProcessing, BertProcessing, RobertaProcessing are)',
      );
  }
}

export class Tokenizer {
  private readonly tk: HFTokenizer;
  private readonly template: Template;
  readonly padId: number;
  readonly padToken: string;
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
  readonly modelMaxLength: number;

  constructor(
    readonly json: JsonObj,
    readonly config: JsonObj = {},
  ) {
    try {
      this.tk = new HFTokenizer(json, config);
    } catch (e) {
      throw new TokenizerError(`cannot build the tokenizer: ${(e as Error).message}`);
    }
    this.template = templateOf(json, this.tk);
    const padding = json.padding as JsonObj | null;
    this.padToken = (config.pad_token as string | undefined) ?? (padding?.pad_token as string | undefined) ?? '[PAD]';
    this.padId = (padding?.pad_id as number | undefined) ?? this.tk.token_to_id(this.padToken) ?? 0;
    const norm = json.normalizer as JsonObj | null;
    this.lowercase = norm?.type === 'BertNormalizer' ? norm.lowercase !== false : !!config.do_lower_case;
    this.stripAccents = norm?.type === 'BertNormalizer' ? (norm.strip_accents ?? this.lowercase) === true : false;
    const mml = Number(config.model_max_length);
    this.modelMaxLength = Number.isFinite(mml) && mml > 0 && mml < 1e9 ? mml : 512;
  }

  /** Loads tokenizer.json (+ tokenizer_config.json) from a model folder, or builds WordPiece from vocab.txt. */
  static fromDir(dir: string): Tokenizer {
    const cfgFile = path.join(dir, 'tokenizer_config.json');
    const config = existsSync(cfgFile) ? readTokenizerJson(cfgFile) : {};
    const tj = path.join(dir, 'tokenizer.json');
    if (existsSync(tj)) return new Tokenizer(readTokenizerJson(tj), config);
    const vocabFile = path.join(dir, 'vocab.txt');
    if (existsSync(vocabFile)) {
      const vocab = readFileSync(vocabFile, 'utf8').split('\n');
      if (vocab[vocab.length - 1] === '') vocab.pop();
      const cfg = { do_lower_case: true, ...config } as Parameters<typeof bertTokenizerJson>[1];
      return new Tokenizer(
        bertTokenizerJson(
          vocab.map((t) => t.replace(/\r$/, '')),
          cfg,
        ),
        { ...config, do_lower_case: cfg.do_lower_case },
      );
    }
    throw new TokenizerError(`${dir} has neither tokenizer.json nor vocab.txt`);
  }

  get vocabSize(): number {
    return this.tk.get_vocab(true).size;
  }

  /** Ids of the special tokens the post-processor adds, and padding. */
  specialIds(): number[] {
    return [...new Set([...this.template.special.values(), this.padId])];
  }

  tokenToId(t: string): number | undefined {
    return this.tk.token_to_id(t);
  }

  /** Special tokens the post-processor puts before ([CLS]) and after ([SEP]) a single text. */
  singleSpecials(): { head: number; tail: number } {
    const pieces = this.template.single;
    const a = pieces.findIndex((p) => p.Sequence);
    const count = (xs: TemplatePiece[]) => xs.filter((p) => p.SpecialToken).length;
    return { head: count(pieces.slice(0, a)), tail: count(pieces.slice(a + 1)) };
  }

  private numSpecial(pair: boolean): number {
    return (pair ? this.template.pair : this.template.single).filter((p) => p.SpecialToken).length;
  }

  /** Encodes a batch (texts, optionally paired with textPairs). */
  encode(texts: string[], textPairs: string[] | null = null, opts: EncodeOptions = {}): BatchEncoding {
    const maxLength = opts.maxLength ?? this.modelMaxLength;
    const truncation = opts.truncation ?? true;
    const addSpecial = opts.addSpecialTokens ?? true;
    if (textPairs && textPairs.length !== texts.length)
      throw new TokenizerError(`${texts.length} texts but ${textPairs.length} text pairs`);
    const out: BatchEncoding = {
      input_ids: [],
      attention_mask: [],
      token_type_ids: [],
      offsets: [],
      truncated: 0,
      cut_tokens: [],
    };
    texts.forEach((text, i) => {
      const pairText = textPairs ? textPairs[i]! : null;
      const a = this.raw(text);
      const b = pairText !== null ? this.raw(pairText) : null;
      if (truncation) {
        const budget = maxLength - (addSpecial ? this.numSpecial(!!b) : 0);
        if (budget < 0) throw new TokenizerError(`max length ${maxLength} leaves no room for the special tokens`);
        let cut = 0;
        if (!b) {
          if (a.ids.length > budget) {
            cut = a.ids.length - budget;
            a.ids.length = budget;
            a.offsets.length = budget;
          }
        } else {
          // longest first: drop from the longer sequence one token at a time
          while (a.ids.length + b.ids.length > budget) {
            const t = a.ids.length >= b.ids.length ? a : b;
            t.ids.pop();
            t.offsets.pop();
            cut++;
          }
        }
        if (cut) out.truncated++;
        out.cut_tokens.push(cut);
      } else out.cut_tokens.push(0);
      const ids: number[] = [];
      const types: number[] = [];
      const offs: [number, number][] = [];
      const pieces = addSpecial
        ? b
          ? this.template.pair
          : this.template.single
        : b
          ? [{ Sequence: { id: 'A' as const, type_id: 0 } }, { Sequence: { id: 'B' as const, type_id: 1 } }]
          : [{ Sequence: { id: 'A' as const, type_id: 0 } }];
      for (const p of pieces) {
        if (p.SpecialToken) {
          ids.push(this.template.special.get(p.SpecialToken.id) ?? this.tk.token_to_id(p.SpecialToken.id)!);
          types.push(p.SpecialToken.type_id);
          offs.push([0, 0]);
        } else if (p.Sequence) {
          const s = p.Sequence.id === 'A' ? a : b!;
          ids.push(...s.ids);
          for (let k = 0; k < s.ids.length; k++) types.push(p.Sequence.type_id);
          offs.push(...s.offsets);
        }
      }
      out.input_ids.push(ids);
      out.token_type_ids.push(types);
      out.attention_mask.push(ids.map(() => 1));
      out.offsets.push(offs);
    });
    const padding = opts.padding ?? 'longest';
    if (padding) {
      const target = padding === 'max_length' ? maxLength : Math.max(0, ...out.input_ids.map((x) => x.length));
      for (let i = 0; i < texts.length; i++) {
        while (out.input_ids[i]!.length < target) {
          out.input_ids[i]!.push(this.padId);
          out.attention_mask[i]!.push(0);
          out.token_type_ids[i]!.push(0);
          out.offsets[i]!.push([0, 0]);
        }
      }
    }
    return out;
  }

  /** Token ids and character offsets of one text, without special tokens. */
  private raw(text: string): { ids: number[]; offsets: [number, number][] } {
    const enc = this.tk.encode(text, { add_special_tokens: false });
    return { ids: [...enc.ids], offsets: alignOffsets(text, enc.tokens, this.lowercase, this.stripAccents) };
  }

  decode(ids: number[], skipSpecialTokens = true): string {
    return this.tk.decode(ids, { skip_special_tokens: skipSpecialTokens });
  }
}

/**
 * Character offsets of tokens in the original text, by walking the normalised text (lowercased / accents removed
 * as the tokenizer did) with a map back to original positions. WordPiece "##" and byte-level "Ġ" markers are
 * stripped; an unknown token covers the rest of its word.
 */
export function alignOffsets(
  text: string,
  tokens: string[],
  lowercase: boolean,
  stripAccents: boolean,
): [number, number][] {
  const norm: string[] = [];
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    let n = lowercase ? ch.toLowerCase() : ch;
    if (stripAccents) n = n.normalize('NFD').replace(/\p{Mn}/gu, '');
    for (const c of n) {
      norm.push(c);
      from.push(i);
      to.push(i + ch.length);
    }
    i += ch.length;
  }
  const isSpace = (c: string | undefined) => c !== undefined && /\s/u.test(c);
  const isPunct = (c: string | undefined) => c !== undefined && /[\p{P}\p{S}]/u.test(c);
  const out: [number, number][] = [];
  let cur = 0;
  for (const tok of tokens) {
    let piece = tok.startsWith('##') ? tok.slice(2) : tok.replace(/^Ġ/, '');
    if (lowercase) piece = piece.toLowerCase();
    while (cur < norm.length && (isSpace(norm[cur]) || norm[cur] === '\u0000')) cur++;
    let ok = piece.length > 0;
    let k = 0;
    for (const c of piece) {
      if (norm[cur + k] !== c) {
        ok = false;
        break;
      }
      k++;
    }
    if (ok && k > 0) {
      out.push([from[cur]!, to[cur + k - 1]!]);
      cur += k;
      continue;
    }
    // unknown or unmatched token: cover the rest of the current word (or one punctuation mark)
    const start = cur;
    if (isPunct(norm[cur])) cur++;
    else while (cur < norm.length && !isSpace(norm[cur]) && !isPunct(norm[cur])) cur++;
    out.push(cur > start ? [from[start]!, to[cur - 1]!] : [from[start] ?? text.length, from[start] ?? text.length]);
  }
  return out;
}

/** A tokenizer file that is not a JSON object is refused with E_TOKENIZER (a corrupt or truncated download). */
function readTokenizerJson(file: string): JsonObj {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    v = undefined;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new TokenizerError(`${file} is corrupt (not a JSON object); restore it from the model's source`);
  return v as JsonObj;
}
