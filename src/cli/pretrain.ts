/** `medtune pretrain`: continued masked-LM pretraining (train/pretrain.ts) — its options and one call. */
import type { Command } from 'commander';
import { runPretrain, type PretrainOptions } from '../train/pretrain.js';
import { int, num } from './args.js';

export function registerPretrain(program: Command): void {
  program
    .command('pretrain')
    .description('continue masked-LM pretraining on a corpus (domain- or task-adaptive), whole-word masking')
    .requiredOption(
      '--model <dir-or-name>',
      'BERT or RoBERTa folder with its masked-LM head (cls.predictions.* / lm_head.*)',
    )
    .requiredOption('--corpus <files...>', 'texts: .txt (one per line) or CSV/TSV/JSONL/Parquet with a text column')
    .requiredOption('--output-dir <dir>', 'where the model, checkpoints and metrics go')
    .option('--text-column <name>', 'text column of tabular corpora (default: detected)')
    .option('--init-mlm-head', 'initialise a new masked-LM head when the folder has none (a classifier or base model)')
    .option('--epochs <n>', 'epochs over the corpus', num('--epochs', 0), 3)
    .option('--max-steps <n>', 'stop after N optimizer steps (overrides --epochs)', int('--max-steps'))
    .option('--learning-rate <lr>', 'peak learning rate', num('--learning-rate'), 5e-5)
    .option('--batch-size <n>', 'sequences per step', int('--batch-size'), 32)
    .option(
      '--max-length <n>',
      "max tokens per sequence (default: 128, at most the model's limit)",
      int('--max-length'),
    )
    .option('--weight-decay <w>', 'AdamW weight decay (not on biases/LayerNorm)', num('--weight-decay'), 0.01)
    .option('--warmup <n>', 'warm-up steps, or a ratio of all steps if < 1', num('--warmup'), 0.06)
    .option('--scheduler <name>', 'linear, cosine or constant', 'linear')
    .option('--max-grad-norm <x>', 'clip the global gradient norm (0: off)', num('--max-grad-norm'), 1)
    .option(
      '--mask-probability <p>',
      'share of tokens predicted, chosen by whole words (80% mask, 10% random, 10% kept)',
      num('--mask-probability'),
      0.15,
    )
    .option(
      '--validation-split <f>',
      'share of texts held out for masked-token accuracy and perplexity',
      num('--validation-split'),
      0.05,
    )
    .option('--seed <n>', 'random seed', int('--seed', 0), 42)
    .option('--save-steps <n>', 'checkpoint every N steps (default: every epoch)', int('--save-steps'))
    .option('--save-total-limit <n>', 'keep the N newest checkpoints (0: all)', int('--save-total-limit', 0), 2)
    .option('--resume [checkpoint]', 'continue from a checkpoint folder (default: the latest in --output-dir)')
    .option(
      '--clean [steps]',
      'clean the corpus first (default steps, or a list: unicode,controls,whitespace,linebreaks,...)',
    )
    .option('--threads <n>', 'threads', int('--threads'))
    .action(async (o: PretrainOptions) => {
      await runPretrain(o);
    });
}
