/**
 * `medtune data mimic | mimic4 | pubmed | ctgov`: the methodology's data sources (local files, plain or .gz) as
 * labelled files ready for `train` (multi-label rows with a `labels` list) and a JSON summary beside them. Each
 * conversion runs in a worker thread with a bounded heap (data/sources/run.ts).
 */
import type { Command } from 'commander';
import { CTGOV_LABELS, type CtgovOptions } from '../data/sources/ctgov.js';
import { DEFAULT_CATEGORIES, type Mimic3Options } from '../data/sources/mimic.js';
import type { Mimic4Options } from '../data/sources/mimic4.js';
import type { PubmedOptions } from '../data/sources/pubmed.js';
import { runDataConversion } from '../data/sources/run.js';
import { choice, int } from './args.js';
import { encodingOption, normalizeLabelsOption, seedOption } from './options.js';

const OUTPUT = 'labelled CSV, TSV, JSONL or Parquet (by extension); the summary goes to FILE.summary.json';

/** --output and --top: every source. */
function common(c: Command, what: string): Command {
  return c
    .requiredOption('--output <file>', OUTPUT)
    .option('--top <n>', `keep the N most frequent ${what}; rows left without one are dropped`, int('--top'));
}

/** The options of both MIMIC sources. */
function admissions(c: Command, tables: { notes: string; diagnoses: string; procedures: string; titles: string }) {
  common(c, 'codes')
    .requiredOption('--notes <file>', `${tables.notes} (.csv or .csv.gz)`)
    .requiredOption('--diagnoses <file>', tables.diagnoses)
    .option('--procedures <file>', `${tables.procedures}: procedure codes become labels too`)
    .option('--descriptions <file>', `${tables.titles}: code titles in the summary`)
    .option('--split-files <dir>', 'standard split files (train_*.csv, dev_*.csv, test_*.csv: one HADM_ID a line)')
    .option('--split-ratio <t,d,t>', 'shares of the split grouped by patient (without --split-files)', '0.8,0.1,0.1')
    .option('--write-splits', 'also write FILE.train.EXT, FILE.dev.EXT and FILE.test.EXT')
    .addOption(seedOption())
    .addOption(encodingOption());
  return c;
}

/** --normalize-labels: the free-text sources. */
const normalize = (c: Command) => c.addOption(normalizeLabelsOption());

export function registerData(program: Command): void {
  const data = program
    .command('data')
    .description('turn MIMIC-III/IV, PubMed or ClinicalTrials.gov files into labelled training files');
  admissions(data.command('mimic').description('MIMIC-III: notes joined per admission, labelled with ICD-9 codes'), {
    notes: 'NOTEEVENTS',
    diagnoses: 'DIAGNOSES_ICD',
    procedures: 'PROCEDURES_ICD',
    titles: 'D_ICD_DIAGNOSES',
  })
    .option(
      '--categories <list>',
      'note categories joined per admission, comma-separated, or "all"',
      DEFAULT_CATEGORIES,
    )
    .action(async (o: Mimic3Options) => {
      await runDataConversion('mimic', o);
    });
  admissions(
    data.command('mimic4').description('MIMIC-IV: discharge notes joined per admission, labelled with ICD-9/10 codes'),
    {
      notes: 'MIMIC-IV-Note discharge',
      diagnoses: 'MIMIC-IV hosp diagnoses_icd',
      procedures: 'MIMIC-IV hosp procedures_icd',
      titles: 'MIMIC-IV hosp d_icd_diagnoses',
    },
  )
    .addOption(
      choice(
        '--icd-version <v>',
        'ICD version(s) kept; labels carry theirs (ICD10:E11.9)',
        ['9', '10', 'both'],
        'both',
      ),
    )
    .action(async (o: Mimic4Options) => {
      await runDataConversion('mimic4', o);
    });
  normalize(
    common(
      data.command('pubmed').description('PubMed XML: title + abstract, labelled with MeSH descriptors'),
      'labels',
    ),
  )
    .requiredOption('--input <files...>', 'MEDLINE/PubMed XML files (PubmedArticleSet; .xml or .xml.gz)')
    .addOption(choice('--mesh <which>', 'major topics only, or every descriptor', ['major', 'all'], 'major'))
    .option(
      '--mesh-level <n>',
      'label with the ancestors at this MeSH tree level (1: C04 Neoplasms)',
      int('--mesh-level'),
    )
    .option('--mesh-branch <prefixes>', 'keep descriptors under these tree numbers only, comma-separated (e.g. C)')
    .option('--mesh-tree <file>', 'the MeSH tree for --mesh-level/--mesh-branch: desc20XX.xml[.gz] or mtrees20XX.bin')
    .action(async (o: PubmedOptions) => {
      await runDataConversion('pubmed', o);
    });
  normalize(
    common(
      data.command('ctgov').description('ClinicalTrials.gov API v2 JSON: summary + eligibility, labelled by a field'),
      'labels',
    ),
  )
    .requiredOption('--input <paths...>', 'study files (.json, .jsonl; plain or .gz) or folders of them')
    .addOption(choice('--label <field>', 'the field the labels come from', CTGOV_LABELS, 'conditions'))
    .action(async (o: CtgovOptions) => {
      await runDataConversion('ctgov', o);
    });
}
