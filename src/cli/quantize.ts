/** `medtune quantize MODEL_DIR --output DIR`: flags → models/quantize-file.ts (a classifier with int8 weights). */
import { Option, type Command } from 'commander';
import { quantizeFolder } from '../models/quantize-file.js';

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('save a classifier with int8 weights (per channel) for fast int8 inference (--precision int8)')
    .argument('<model-dir>', 'a fine-tuned model folder, e.g. the best_model/ of a training run')
    .addOption(new Option('--output <dir>', 'the int8 model folder to write').makeOptionMandatory())
    .action(async (dir: string, o: { output: string }) => {
      await quantizeFolder(dir, { output: o.output });
    });
}
