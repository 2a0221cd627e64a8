/**
 * Augmenting a labelled file (what `medtune augment` runs): N augmented copies of every row (EDA operations, plus
 * contextual substitution with a masked-LM head), written after the originals. Each augmented row records its parent
 * (`parent_id`: the parent's id column, else its row number) and the operations applied (`augment_ops`).
 * Augment training data only: an augmented copy of a row in the test set is leakage. Here because contextual
 * substitution runs a masked-LM (models/).
 */
import { prepareOutputFile } from '../common/atomic.js';
import { MedtuneError } from '../common/errors.js';
import { DataError, pickColumn, readRows, textCell, TEXT_COLUMNS, type Row } from '../data/readers.js';
import { LABEL_COLUMNS } from '../data/dataset.js';
import { openRowWriter } from '../data/rowwriter.js';
import { Generator } from '../tensor/random.js';
import { augmentText, checkAugmentCount, parseAugmentOps, type FillMask } from '../text/augment.js';
import { readLexiconFile } from '../text/spell.js';
import { Tokenizer } from '../text/tokenizer.js';
import { createFillMask } from '../models/fill-mask.js';
import { loadMaskedLM } from '../models/mlm.js';

export interface AugmentFileOptions {
  input: string;
  output: string;
  perExample: number;
  model?: string;
  ops?: string;
  alpha: number;
  seed: number;
  textColumn?: string;
  labelColumn?: string;
  protect?: string;
  log?: (l: string) => void;
}

export async function runAugment(o: AugmentFileOptions): Promise<{ rows: number; augmented: number }> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  checkAugmentCount(o.perExample, '--per-example');
  if (!(o.alpha > 0 && o.alpha <= 0.5))
    throw new MedtuneError(`--alpha must be in (0, 0.5], got ${o.alpha}`, 'E_USAGE');
  const ops = parseAugmentOps(o.ops ?? (o.model ? 'synonym,insert,swap,delete,contextual' : undefined));
  if (ops.includes('contextual') && !o.model)
    throw new MedtuneError('contextual substitution needs --model DIR (a folder with a masked-LM head)', 'E_USAGE');
  prepareOutputFile(o.output, { inputs: [o.input] });
  const protect = o.protect ? [...readLexiconFile(o.protect).keys()] : [];
  let fillMask: FillMask | undefined;
  if (ops.includes('contextual')) {
    const m = await loadMaskedLM(o.model!, {
      log,
      noHeadHint: 'train one with medtune pretrain --init-mlm-head, or leave out --model',
    });
    fillMask = createFillMask(m.model, Tokenizer.fromDir(m.dir));
  }
  const rows: Row[] = [];
  for await (const r of readRows(o.input)) rows.push(r);
  if (!rows.length) throw new DataError(`${o.input} has no rows`, 'E_INPUT_EMPTY');
  const cols = Object.keys(rows[0]!);
  const textCol = pickColumn(cols, o.textColumn, TEXT_COLUMNS, 'text', o.input);
  const labelCol = o.labelColumn
    ? pickColumn(cols, o.labelColumn, [], 'label', o.input)
    : cols.find((c) => LABEL_COLUMNS.includes(c.toLowerCase()));
  const idCol = cols.find((c) => c.toLowerCase() === 'id');
  const out = openRowWriter(o.output, [...cols, 'parent_id', 'augment_ops']);
  const gen = new Generator(o.seed);
  let augmented = 0;
  try {
    for (const r of rows) await out.write({ ...r, parent_id: null, augment_ops: null });
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const text = textCell(r[textCol], { file: o.input, row: i + 1, column: textCol });
      if (!text.trim()) continue;
      const parent = idCol ? String(r[idCol]) : String(i + 1);
      const label = labelCol ? String(r[labelCol] ?? '') : undefined;
      const augs = augmentText(text, o.perExample, gen, { ops, alpha: o.alpha, protect, label, fillMask });
      for (const [k, a] of augs.entries()) {
        await out.write({
          ...r,
          [textCol]: a.text,
          ...(idCol ? { [idCol]: `${parent}-aug${k + 1}` } : {}),
          parent_id: parent,
          augment_ops: a.ops.join(' '),
        });
      }
      augmented += augs.length;
    }
    await out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
  log(`wrote ${rows.length} rows and ${augmented} augmented copies (${ops.join(', ')}; α ${o.alpha}) to ${o.output}`);
  return { rows: rows.length, augmented };
}
