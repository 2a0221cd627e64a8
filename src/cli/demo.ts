/**
 * `medtune demo`: the main job on built-in data. The full pipeline (synthetic clinical data, tokenizer, fine-tuning,
 * evaluation) arrives with the training issue; until then the demo trains a small BERT on a synthetic
 * sequence-classification task to show the engine working end to end, offline.
 */
import type { Command } from 'commander';
import { performance } from 'node:perf_hooks';
import { BertForSequenceClassification, bertConfig } from '../models/bert.js';
import { AdamW, hfParamGroups } from '../train/adamw.js';
import { Generator } from '../tensor/random.js';
import { noGrad, scope, tensor } from '../tensor/tensor.js';
import { backendName, getThreads } from '../tensor/backend.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train a small BERT from scratch on built-in synthetic data (offline)')
    .option('--steps <n>', 'training steps', '150')
    .option('--seed <n>', 'random seed', '1')
    .action((o: { steps: string; seed: string }) => {
      const steps = Math.max(1, Number(o.steps) || 150);
      const gen = new Generator(Number(o.seed) || 1);
      console.log(`medtune demo (engine preview): backend ${backendName()}, ${getThreads()} threads`);
      console.log('task: which of 4 "diagnosis" marker tokens dominates a 24-token sequence (synthetic data; the clinical demo comes with the training pipeline)');
      const V = 64, T = 24, B = 32, L = 4;
      const cfg = bertConfig({ vocab_size: V, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 32, num_labels: L, hidden_dropout_prob: 0.0, attention_probs_dropout_prob: 0.0 });
      const model = new BertForSequenceClassification(cfg, 7);
      const opt = new AdamW(hfParamGroups(model, 0.01), { lr: 1e-3 });
      const batch = (): { ids: number[]; y: number[] } => {
        const ids: number[] = [];
        const y: number[] = [];
        for (let b = 0; b < B; b++) {
          const label = Math.floor(gen.uniform() * L);
          y.push(label);
          for (let t = 0; t < T; t++) {
            const r = gen.uniform();
            ids.push(t === 0 ? 1 : r < 0.3 ? 10 + label : r < 0.4 ? 10 + Math.floor(gen.uniform() * L) : 20 + Math.floor(gen.uniform() * (V - 20)));
          }
        }
        return { ids, y };
      };
      const t0 = performance.now();
      for (let s = 1; s <= steps; s++) {
        const { ids, y } = batch();
        const loss = scope(() => {
          const out = model.forward({ input_ids: tensor(ids, [B, T], 'int32'), labels: tensor(y, [B], 'int32') });
          out.loss!.backward();
          opt.step({ maxGradNorm: 1, lr: 1e-3 * (1 - s / steps) });
          opt.zeroGrad();
          return out.loss!.item();
        });
        if (s % 25 === 0 || s === steps) console.log(`step ${String(s).padStart(4)}  loss ${loss.toFixed(4)}`);
      }
      model.eval();
      let correct = 0;
      const evalBatches = 8;
      for (let i = 0; i < evalBatches; i++) {
        const { ids, y } = batch();
        const logits = scope(() => noGrad(() => model.forward({ input_ids: tensor(ids, [B, T], 'int32') }).logits.toArray()));
        for (let b = 0; b < B; b++) {
          const row = logits.slice(b * L, b * L + L);
          if (row.indexOf(Math.max(...row)) === y[b]) correct++;
        }
      }
      console.log(`held-out accuracy: ${(correct / (evalBatches * B)).toFixed(3)} on ${evalBatches * B} sequences; ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    });
}
