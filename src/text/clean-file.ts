/**
 * Cleaning the text column of a CSV/TSV/JSONL file (what `medtune clean` runs): Unicode, controls, whitespace, line
 * breaks; lower-casing and stop words on request; with `spell`, misspellings corrected against a lexicon built from
 * the file itself plus a model's vocabulary and an optional word list. Every spelling change goes to a JSONL sidecar
 * (row, offsets in the cleaned text, from, to, distance). Other columns pass through unchanged.
 */
import { prepareOutputFile, atomicWriteStream, refuseSameOutputs } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { DataError, pickColumn, readRows, textCell, TEXT_COLUMNS, type Row } from '../data/readers.js';
import { openRowWriter } from '../data/rowwriter.js';
import { resolveModel } from '../io/hf.js';
import { cleanText, parseCleanSteps } from './clean.js';
import { Lexicon, modelVocabWords, readLexiconFile, SpellCorrector, type ContextScorer } from './spell.js';

export interface CleanFileOptions {
  input: string;
  output: string;
  textColumn?: string;
  steps: string;
  spell?: boolean;
  lexicon?: string;
  model?: string;
  /** decides corrections that could change a word's meaning (infer/clean-context.ts: the --model's masked LM) */
  context?: ContextScorer;
  minCount: number;
  changes?: string;
  log?: (l: string) => void;
}

async function readAll(file: string, textColumn?: string): Promise<{ rows: Row[]; column: string }> {
  const rows: Row[] = [];
  let column = '';
  for await (const r of readRows(file)) {
    if (!column) column = pickColumn(Object.keys(r), textColumn, TEXT_COLUMNS, 'text', file);
    rows.push(r);
  }
  if (!rows.length) throw new DataError(`${file} has no rows`, 'E_INPUT_EMPTY');
  return { rows, column };
}

async function spellCorrector(o: CleanFileOptions, texts: string[], log: (l: string) => void): Promise<SpellCorrector> {
  const user = o.lexicon ? readLexiconFile(o.lexicon) : undefined;
  const vocab = o.model ? modelVocabWords(await resolveModel(o.model)) : [];
  const lex = new Lexicon({ corpus: texts, vocab, user, minCount: o.minCount });
  const sources = [
    `corpus words seen ≥ ${o.minCount} times`,
    ...(o.model ? [`${vocab.length} vocabulary words`] : []),
    ...(user ? [`${user.size} from ${o.lexicon}`] : []),
  ];
  log(`spelling lexicon: ${lex.counts.size} words (${sources.join(', ')}) + English and WordNet words as known`);
  return new SpellCorrector(lex, 2, o.context);
}

export async function runClean(o: CleanFileOptions): Promise<{ rows: number; changes: number }> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const steps = parseCleanSteps(o.steps || true)!;
  if (!o.spell && (o.lexicon || o.model))
    throw new MedtuneError('--lexicon and --model build the spelling lexicon; add --spell', 'E_USAGE');
  const changesFile = o.changes ?? `${o.output}.changes.jsonl`;
  prepareOutputFile(o.output, { inputs: [o.input] });
  if (o.spell) prepareOutputFile(changesFile, { option: '--changes', inputs: [o.input] });
  if (o.spell)
    refuseSameOutputs([
      ['--output', o.output],
      ['--changes', changesFile],
    ]);
  const { rows, column } = await readAll(o.input, o.textColumn);
  const cleaned = rows.map((r, i) => cleanText(textCell(r[column], { file: o.input, row: i + 1, column }), steps));
  const spell = o.spell ? await spellCorrector(o, cleaned, log) : null;
  const out = openRowWriter(o.output, Object.keys(rows[0]!));
  const side = spell ? atomicWriteStream(changesFile) : null;
  let changed = 0;
  let nChanges = 0;
  try {
    for (let i = 0; i < rows.length; i++) {
      let text = cleaned[i]!;
      if (spell) {
        const r = spell.correct(text);
        for (const c of r.changes) await side!.write(JSON.stringify({ row: i + 1, ...c }) + '\n');
        nChanges += r.changes.length;
        text = r.text;
      }
      if (text !== String(rows[i]![column] ?? '')) changed++;
      await out.write({ ...rows[i]!, [column]: text });
    }
    await out.commit();
    await side?.commit();
  } catch (e) {
    out.abort();
    side?.abort();
    throw e;
  }
  const spelling = spell ? `; ${nChanges} spelling corrections listed in ${changesFile}` : '';
  const stepList = Object.keys(steps).join(', ');
  log(`cleaned ${rows.length} rows (${changed} changed; steps: ${stepList}) -> ${o.output}${spelling}`);
  return { rows: rows.length, changes: nChanges };
}
