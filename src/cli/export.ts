/** `medtune export MODEL_DIR --format onnx --output DIR`: flags → models/onnx-export.ts (ONNX + tokenizer + labels). */
import { Option, type Command } from 'commander';
import { exportModel } from '../models/onnx-export.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a classifier for other runtimes: ONNX (opset 17, dynamic batch and sequence) + tokenizer')
    .argument('<model-dir>', 'a fine-tuned model folder, e.g. the best_model/ of a training run')
    .addOption(new Option('--format <format>', 'the format').choices(['onnx']).default('onnx'))
    .addOption(
      new Option('--output <dir>', 'the folder to write (model.onnx, config.json, tokenizer)').makeOptionMandatory(),
    )
    .action(async (dir: string, o: { format: string; output: string }) => {
      await exportModel(dir, o);
    });
}
