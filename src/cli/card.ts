/** `medtune card MODEL_DIR`: (re)writes the model card, MODEL_DIR/README.md, from the model and its run folder. */
import type { Command } from 'commander';
import { writeModelCard } from '../report/card.js';

export function registerCard(program: Command): void {
  program
    .command('card')
    .description('write the model card MODEL_DIR/README.md (HF metadata, use, data, metrics, subgroups, limitations)')
    .argument('<model-dir>', 'a model folder, e.g. the best_model/ of a training run')
    .option('--run <dir>', "the run folder with metrics.json (default: the model folder's parent, when it has one)")
    .option('--license <id>', 'license identifier for the metadata (default: the base model\'s, else "unknown")')
    .action((dir: string, o: { run?: string; license?: string }) => {
      const r = writeModelCard(dir, { runDir: o.run, license: o.license });
      const from = r.run ? ` (results from ${r.run})` : ' (no run folder found: no results in the card)';
      console.log(`model card: ${r.file}${from}`);
    });
}
