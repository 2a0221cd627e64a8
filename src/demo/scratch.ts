/**
 * A small BERT initialised from scratch, with a WordPiece vocabulary built from the training texts, as an HF folder.
 */
import { writeFileSync } from 'node:fs';
import { makeDirs } from '../common/atomic.js';
import path from 'node:path';
import { buildWordPieceVocab } from './synthetic.js';
import { classifierFromConfig, saveClassifier, type ModelConfig } from '../models/auto.js';

/** Writes the model folder (config, random weights, vocab.txt) and returns the vocabulary size. */
export function createScratchModel(
  dir: string,
  texts: string[],
  labels: string[],
  seed: number,
  size: { hidden?: number; layers?: number } = {},
): number {
  const vocab = buildWordPieceVocab(texts);
  const hidden = size.hidden ?? 128;
  const config: ModelConfig = {
    model_type: 'bert',
    vocab_size: vocab.length,
    hidden_size: hidden,
    num_hidden_layers: size.layers ?? 2,
    num_attention_heads: 4,
    intermediate_size: hidden * 4,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: 128,
    type_vocab_size: 2,
    // no label names: an untrained head is not a fine-tuned classifier whose label map training must keep
    layer_norm_eps: 1e-12,
    initializer_range: 0.02,
    pad_token_id: 0,
    num_labels: labels.length,
    id2label: Object.fromEntries(labels.map((_, i) => [String(i), `LABEL_${i}`])),
    label2id: Object.fromEntries(labels.map((_, i) => [`LABEL_${i}`, i])),
  };
  const tokDir = `${dir}.tokenizer`;
  makeDirs(tokDir);
  writeFileSync(path.join(tokDir, 'vocab.txt'), vocab.join('\n') + '\n');
  writeFileSync(
    path.join(tokDir, 'tokenizer_config.json'),
    JSON.stringify({ tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: 128 }, null, 2),
  );
  saveClassifier(dir, classifierFromConfig(config, seed), config, tokDir);
  return vocab.length;
}
