/**
 * The demo (what `medtune demo` runs): the main job on built-in data, offline. Generates a synthetic dataset of
 * patient symptom descriptions -> 21 diagnoses (synthetic.ts), builds a WordPiece vocabulary from it, initialises a
 * small BERT from scratch (or takes a model), fine-tunes it with `medtune train`'s pipeline, evaluates on held-out
 * rows and prints the metrics, what abstention (on by default) did, and where the model and reports are.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { makeDirs, prepareOutputDir, writeFileAtomic } from '../common/atomic.js';
import { backendName, getThreads } from '../tensor/backend.js';
import { runTrain } from '../train/run.js';
import { writeRunOutputs } from '../report/outputs.js';
import { syntheticSymptoms, DEMO_DIAGNOSES, DISPARITY_GROUP, type DemoRow } from './synthetic.js';
import { createScratchModel } from './scratch.js';

function csv(rows: DemoRow[], demographics: boolean): string {
  const columns = demographics ? ['text', 'label', 'sex', 'age_band'] : ['text', 'label'];
  return stringify(rows, { header: true, columns });
}

export interface DemoOptions {
  outputDir: string;
  model?: string;
  seed: number;
  epochs?: number;
  /** sex and age_band columns with an injected disparity (the 80+ band's notes present atypically), audited */
  demographics?: boolean;
}

/** What abstention (on by default) did on the test split: answered, their accuracy, referred and why. */
function abstentionLine(dir: string): string {
  const m = JSON.parse(readFileSync(path.join(dir, 'metrics.json'), 'utf8')) as {
    abstention?: {
      coverage: number;
      accuracy_of_the_rest: number | null;
      out_of_scope: number;
      low_confidence: number;
    };
  };
  const a = m.abstention;
  if (!a) return 'Abstention is off.';
  const acc = a.accuracy_of_the_rest === null ? '–' : a.accuracy_of_the_rest.toFixed(3);
  return (
    `Abstention is on by default ("not sure — refer to a clinician"): the model answered ` +
    `${(100 * a.coverage).toFixed(1)}% of them, with accuracy ${acc}, and referred ${a.out_of_scope} as out of ` +
    `scope (unlike its training data) and ${a.low_confidence} for low confidence.`
  );
}

export async function runDemo(o: DemoOptions, log: (l: string) => void = (l) => console.log(l)): Promise<number> {
  prepareOutputDir(o.outputDir);
  log(`medtune demo: backend ${backendName()}, ${getThreads()} threads; output in ${o.outputDir}`);
  const dataDir = path.join(o.outputDir, 'data');
  makeDirs(dataDir);
  const demo = !!o.demographics;
  // with demographics the test split is larger, so that the smallest age band has enough rows to judge
  const train = syntheticSymptoms(60, o.seed, { demographics: demo });
  const test = syntheticSymptoms(demo ? 30 : 15, o.seed + 1000, { demographics: demo });
  writeFileAtomic(path.join(dataDir, 'train.csv'), csv(train, demo));
  writeFileAtomic(path.join(dataDir, 'test.csv'), csv(test, demo));
  log(
    `synthetic data: ${train.length} training and ${test.length} test descriptions ` +
      `of ${DEMO_DIAGNOSES.length} diagnoses -> ${dataDir}`,
  );
  if (demo) {
    log(
      `  with sex and age_band columns; injected disparity: notes of the ${DISPARITY_GROUP.value} age band present ` +
        'atypically (fewer typical symptoms, non-specific complaints)',
    );
  }
  log(`  e.g. "${train[7]!.text}" -> ${train[7]!.label}`);
  let model = o.model;
  if (!model) {
    model = path.join(o.outputDir, 'initial_model');
    const vocabSize = createScratchModel(
      model,
      train.map((r) => r.text),
      [...DEMO_DIAGNOSES].sort((a, b) => a.localeCompare(b)),
      o.seed,
    );
    log(
      `WordPiece vocabulary of ${vocabSize} tokens built from the training texts; ` +
        'a 2-layer BERT (hidden 128) initialised from scratch',
    );
  }
  const fromScratch = !o.model;
  let epochs = o.epochs ?? (fromScratch ? 12 : 5);
  if (o.epochs === undefined && backendName() === 'js') {
    epochs = fromScratch ? 4 : 2;
    log(
      `the native backend is not built, so the demo trains ${epochs} epochs on the slow TypeScript backend ` +
        '(see the warning above to install it)',
    );
  }
  const { metrics, baseline } = await runTrain(
    {
      model,
      train: path.join(dataDir, 'train.csv'),
      test: path.join(dataDir, 'test.csv'),
      outputDir: o.outputDir,
      epochs,
      learningRate: fromScratch ? 1e-3 : 1e-4,
      batchSize: 32,
      maxLength: 64,
      weightDecay: 0.01,
      warmup: 0.1,
      scheduler: 'linear',
      seed: o.seed,
      evalEvery: 0,
      gradAccum: 1,
      maxGradNorm: 1,
      labelSmoothing: 0,
      validationSplit: 0.1,
      // the demo's folder is its own: a second run replaces the first
      overwrite: true,
      commandLine: [
        'medtune',
        'demo',
        ...(demo ? ['--demographics'] : []),
        '--seed',
        String(o.seed),
        ...(o.epochs ? ['--epochs', String(o.epochs)] : []),
      ],
      dataNote: 'Synthetic data generated by `medtune demo` (written for medtune, not real patients).',
      ...(demo ? { auditColumns: ['sex', 'age_band'] } : {}),
    },
    log,
  );
  const report = await writeRunOutputs(o.outputDir, { card: true, log });
  const acc = (metrics as { accuracy: number }).accuracy;
  const bacc = baseline ? (baseline.accuracy as number) : null;
  log(
    `\ndemo test accuracy ${acc.toFixed(3)} on ${test.length} held-out descriptions` +
      `${bacc !== null ? ` (TF-IDF + logistic regression baseline: ${bacc.toFixed(3)} — always compare)` : ''}.`,
  );
  log(abstentionLine(o.outputDir));
  log('Try it on your own text:');
  log(
    `  echo '{"text":"burning when I pee and cloudy urine"}' > note.jsonl && ` +
      `npx medtune predict --model ${path.join(o.outputDir, 'best_model')} --input note.jsonl --output out.jsonl`,
  );
  log(`Open the run report${demo ? ' (with the bias audit)' : ''} in a browser: ${report}`);
  return acc;
}
