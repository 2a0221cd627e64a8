/**
 * `medtune models register|list|show|promote|rollback|compare|export`: the model registry (registry/registry.ts),
 * the comparison of two versions (registry/compare.ts) and the export of reviewed served cases
 * (registry/capture-store.ts) as a training file.
 */
import { Option, type Command } from 'commander';
import { ALIASES, Registry, type Alias, type Version } from '../registry/registry.js';
import { runCompare } from '../registry/compare.js';
import { exportServedReviews } from '../registry/served-reviews.js';
import { captureKey } from '../registry/capture-store.js';

const registryOption = () =>
  new Option('--registry <dir>', 'the registry folder (or MEDTUNE_REGISTRY)')
    .env('MEDTUNE_REGISTRY')
    .makeOptionMandatory();

const out = (s: string) => process.stdout.write(s + '\n');
const say = (s: string) => process.stderr.write(`medtune: ${s}\n`);

function withRegistry<T>(dir: string, f: (r: Registry) => Promise<T> | T, readonly = false): Promise<T> {
  const r = Registry.open(dir, { readonly });
  return Promise.resolve()
    .then(() => f(r))
    .finally(() => r.close());
}

const summary = (v: Version) =>
  [
    `${v.name}@${v.version}`,
    v.aliases.join(',') || '-',
    v.sha256.slice(0, 12),
    v.validation?.accuracy != null ? `acc ${v.validation.accuracy.toFixed(3)}` : 'acc -',
    v.lineage.parent ? `parent ${v.lineage.parent.version ?? v.lineage.parent.sha256.slice(0, 12)}` : 'no parent',
    v.created,
  ].join('\t');

export function registerModels(program: Command): void {
  const models = program
    .command('models')
    .description('the model registry: versions, champion/challenger aliases, lineage, comparison, rollback');
  models
    .command('register')
    .description('copy a model folder into the registry as an immutable version (addressed by its version)')
    .argument('<model-dir>', 'a model folder, e.g. RUN/best_model')
    .requiredOption('--name <name>', 'the registered model name')
    .addOption(registryOption())
    .action(async (dir: string, o: { name: string; registry: string }) => {
      await withRegistry(o.registry, async (r) => {
        const { version, created } = await r.register(dir, o.name);
        say(`${created ? 'registered' : 'already registered:'} ${o.name}@${version.version} (${o.registry})`);
        out(version.version);
      });
    });
  models
    .command('list')
    .description('every version: aliases, weights sha256, validation accuracy, parent, time')
    .addOption(registryOption())
    .action(async (o: { registry: string }) => {
      await withRegistry(o.registry, (r) => r.versions().forEach((v) => out(summary(v))), true);
    });
  models
    .command('show')
    .description('one version (NAME: the champion) as JSON: files and sha256, lineage, validation, alias history')
    .argument('<ref>', 'NAME, NAME@VERSION or NAME@champion|challenger')
    .addOption(registryOption())
    .action(async (ref: string, o: { registry: string }) => {
      await withRegistry(
        o.registry,
        (r) => {
          const v = r.get(ref);
          out(JSON.stringify({ ...v, history: r.history(v.name) }, null, 2));
        },
        true,
      );
    });
  models
    .command('promote')
    .description('point an alias at a version (sha256 checked); a worse champion is refused unless --force')
    .argument('<ref>', 'NAME@VERSION')
    .addOption(new Option('--alias <alias>', 'champion or challenger').choices(ALIASES).makeOptionMandatory())
    .option('--force', 'promote a champion that the comparison on reviewed cases found worse')
    .addOption(registryOption())
    .action(async (ref: string, o: { alias: Alias; force?: boolean; registry: string }) => {
      await withRegistry(o.registry, async (r) => {
        const { version, previous, note } = await r.promote(ref, o.alias, { force: o.force });
        say(`${version.name} ${o.alias}: ${previous ?? 'none'} → ${version.version}${note ? ` (${note})` : ''}`);
      });
    });
  models
    .command('rollback')
    .description('move the champion back to the one before it')
    .argument('<name>', 'the registered model name')
    .addOption(registryOption())
    .action(async (name: string, o: { registry: string }) => {
      await withRegistry(o.registry, async (r) => {
        const { from, to } = await r.rollback(name);
        say(`${name} champion: ${from} → ${to} (rolled back)`);
      });
    });
  models
    .command('compare')
    .description('two versions on reviewed served cases and/or a test file: paired bootstrap of the difference')
    .argument('<a>', 'NAME@VERSION (the reference, e.g. the champion)')
    .argument('<b>', 'NAME@VERSION (the candidate)')
    .option('--test <file>', 'a labelled test file (CSV/TSV/JSONL/Parquet, text and label columns)')
    .option('--capture <dir>', 'a capture folder with reviewed served cases (key: MEDTUNE_CAPTURE_KEY)')
    .option('--capture-key-file <file>', 'the capture key (base64 of 32 bytes) in a file')
    .option('--seed <n>', 'bootstrap seed', (v) => Number(v), 42)
    .addOption(registryOption())
    .action(
      async (
        a: string,
        b: string,
        o: { test?: string; capture?: string; captureKeyFile?: string; seed: number; registry: string },
      ) => {
        await withRegistry(o.registry, async (r) => {
          const key = o.capture ? captureKey(o.captureKeyFile) : undefined;
          const res = await runCompare(r, a, b, { test: o.test, capture: o.capture, key, seed: o.seed, log: say });
          out(JSON.stringify(res, null, 2));
        });
      },
    );
  models
    .command('export')
    .description('the reviewed served cases of a capture folder as a training file (for train --replay)')
    .requiredOption('--capture <dir>', 'the capture folder (serve --capture)')
    .requiredOption('--output <file>', 'CSV, TSV or JSONL: text, label, case_id, reviewers')
    .option('--capture-key-file <file>', 'the capture key (base64 of 32 bytes) in a file (or MEDTUNE_CAPTURE_KEY)')
    .option('--model <name>', 'only cases served by this model name')
    .action((o: { capture: string; output: string; captureKeyFile?: string; model?: string }) => {
      exportServedReviews({ ...o, key: captureKey(o.captureKeyFile), log: say });
    });
}
