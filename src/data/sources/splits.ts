/**
 * Train/dev/test splits of admissions. Either the standard split files (one HADM_ID per line, `train_*.csv`,
 * `dev_*.csv`, `test_*.csv`, as CAML and PLM-ICD publish them), or a split grouped by patient: patients are
 * shuffled with the seed and given whole to one split until each split holds its share of the admissions, so no
 * patient's admissions cross splits.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Generator } from '../../tensor/random.js';
import { shuffle } from '../dataset.js';
import { DataError } from '../readers.js';

export const SPLITS = ['train', 'dev', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

/** "0.8,0.1,0.1" → [0.8, 0.1, 0.1] (any positive numbers, scaled to sum to 1). */
export function parseSplitRatio(spec: string): [number, number, number] {
  const parts = spec.split(',').map((x) => Number(x.trim()));
  if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x) || x < 0) || parts[0]! <= 0) {
    throw new DataError(
      `--split-ratio must be three numbers TRAIN,DEV,TEST (e.g. 0.8,0.1,0.1) with TRAIN > 0, got "${spec}"`,
      'E_USAGE',
    );
  }
  const sum = parts[0]! + parts[1]! + parts[2]!;
  return [parts[0]! / sum, parts[1]! / sum, parts[2]! / sum];
}

/**
 * Split per admission, grouped by patient: `admissions` maps HADM_ID → SUBJECT_ID. Patients are taken in a seeded
 * random order; each goes to the split whose cumulative share its admissions' midpoint falls in.
 */
export function splitBySubject(
  admissions: Map<number, number>,
  ratio: [number, number, number],
  seed: number,
): Map<number, SplitName> {
  const bySubject = new Map<number, number[]>();
  for (const [hadm, subject] of admissions) {
    const list = bySubject.get(subject);
    if (list) list.push(hadm);
    else bySubject.set(subject, [hadm]);
  }
  const subjects = shuffle(
    [...bySubject.keys()].sort((a, b) => a - b),
    new Generator(seed),
  );
  const total = admissions.size;
  const out = new Map<number, SplitName>();
  let done = 0;
  for (const s of subjects) {
    const hadms = bySubject.get(s)!;
    const mid = (done + hadms.length / 2) / total;
    const split: SplitName = mid < ratio[0] ? 'train' : mid < ratio[0] + ratio[1] ? 'dev' : 'test';
    for (const h of hadms) out.set(h, split);
    done += hadms.length;
  }
  return out;
}

/**
 * The split files of a folder: for each split the one `SPLIT_*.csv`; when a folder holds several sets (CAML's
 * `train_full_hadm_ids.csv` and `train_50_hadm_ids.csv`), the set named by `prefer` (e.g. "50" for --top 50,
 * "full" otherwise).
 */
export function findSplitFiles(dir: string, prefer: string): Record<SplitName, string> {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DataError(`--split-files ${dir} is not a folder`, 'E_INPUT_NOT_FOUND');
  const names = readdirSync(dir).sort();
  const out = {} as Record<SplitName, string>;
  for (const s of SPLITS) {
    const all = names.filter((n) => n.startsWith(`${s}_`) && /\.csv$/i.test(n));
    const chosen = all.length > 1 ? all.filter((n) => n.includes(`_${prefer}_`)) : all;
    if (chosen.length !== 1) {
      throw new DataError(
        all.length
          ? `--split-files ${dir}: ${all.length} files for ${s} (${all.join(', ')}) and none or several ` +
              `named *_${prefer}_*; give a folder with one set of split files`
          : `--split-files ${dir} has no ${s}_*.csv file (expected train_*.csv, dev_*.csv and test_*.csv, ` +
              'one HADM_ID per line)',
        'E_INPUT_NOT_FOUND',
      );
    }
    out[s] = path.join(dir, chosen[0]!);
  }
  return out;
}

/**
 * Reads split files into HADM_ID → split. Every id must be an admission of the inputs (`known`): an id that is
 * not names the file and line. An id in two files is an error too.
 */
export function readSplitFiles(files: Record<SplitName, string>, known: (hadm: number) => boolean) {
  const out = new Map<number, SplitName>();
  const where = new Map<number, string>();
  for (const s of SPLITS) {
    const file = files[s];
    const lines = readFileSync(file, 'utf8').split(/\r?\n/);
    lines.forEach((raw, i) => {
      const v = raw.split(',')[0]!.trim().replace(/^"|"$/g, '');
      if (!v || (i === 0 && /^[a-z_]+$/i.test(v))) return; // blank line, or a header such as HADM_ID
      const at = `${file} line ${i + 1}`;
      const id = Number(v);
      if (!Number.isSafeInteger(id))
        throw new DataError(`${at} is not an admission id (HADM_ID, one per line)`, 'E_INPUT_DATA');
      if (!known(id)) {
        throw new DataError(
          `${at}: admission ${id} is in none of the input tables; are the split files from this MIMIC release ` +
            'and the notes file complete?',
          'E_INPUT_DATA',
        );
      }
      const before = where.get(id);
      if (before) throw new DataError(`${at}: admission ${id} is already in ${before}`, 'E_INPUT_DATA');
      where.set(id, at);
      out.set(id, s);
    });
  }
  return out;
}
