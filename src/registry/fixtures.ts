/**
 * Test support: model folders to register (copies of the tiny-bert fixture, as a training run would leave them), notes
 * with made-up identifiers, and a grep of a folder for them.
 */
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fixturePath } from '../testing-fixtures.js';

/** A copy of tiny-bert as RUN/best_model with a metrics.json beside it; `temperature` makes another version. */
export function modelRun(root: string, name: string, temperature?: number, accuracy = 0.9): string {
  const run = path.join(root, name);
  const dir = path.join(run, 'best_model');
  cpSync(fixturePath('fixtures', 'hf', 'tiny-bert')!, dir, { recursive: true });
  if (temperature !== undefined) {
    const cfg = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
    cfg.medtune = { temperature };
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
  }
  writeFileSync(path.join(run, 'run.json'), '{}');
  writeFileSync(path.join(run, 'metrics.json'), JSON.stringify({ split: 'test', accuracy, f1_macro: accuracy - 0.05 }));
  return dir;
}

const NAMES = ['Johnathan Whitfield', 'Maria Kowalczyk', 'Priya Raman', 'Dmitri Volkonsky'];
const MRNS = ['4829301', '77120934', '00918273', '55501234'];
const PHONES = ['555-201-7788', '(617) 555-0143', '312-555-0199', '415-555-0122'];
const SYMPTOMS = ['fever and a dry cough', 'chest pain when climbing stairs', 'itchy rash on both arms', 'headache'];

/** A note with a made-up name, MRN and phone number. */
export const noteWithPhi = (i: number) =>
  `Patient ${NAMES[i % 4]} (MRN ${MRNS[i % 4]}) called from ${PHONES[i % 4]} about ${SYMPTOMS[(i >> 2) % 4]}.`;

/** Every made-up identifier, and its parts (a surname alone, digits without punctuation). */
export const IDENTIFIERS = [
  ...NAMES.flatMap((n) => [n, n.split(' ')[1]!]),
  ...MRNS,
  ...PHONES,
  ...PHONES.map((p) => p.replace(/\D/g, '')),
];

/** Every file under a folder, as bytes (to grep). */
export function grepFolder(dir: string, needles: string[]): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const body = readFileSync(p).toString('latin1');
        for (const n of needles) if (body.includes(n)) hits.push(`${p}: ${n}`);
      }
    }
  };
  walk(dir);
  return hits;
}
