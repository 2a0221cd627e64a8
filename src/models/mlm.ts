/**
 * Masked-LM models in and out, like HF's AutoModelForMaskedLM: BertForMaskedLM (cls.predictions.*) and
 * RobertaForMaskedLM (lm_head.*), the decoder tied to the word embeddings (not stored; older checkpoints that store
 * `*.decoder.weight` have it checked against the embeddings and dropped, `*.decoder.bias` is the head's bias).
 * A folder without a head — a classifier or a base model — is refused unless `initHead` asks for a new one.
 * Saved folders load in transformers (AutoModelForMaskedLM) and in `medtune train` (the head is then unused).
 * The `masked-lm` head of the family table, through auto.ts's one loadModel / saveModel.
 */
import { createModel, type MaskedLM, type ModelConfig } from './families.js';
import { loadModel, saveModel, type LoadedModel, type ModelSource, type SaveModelOptions } from './auto.js';

export type { MaskedLM };
export type LoadedMaskedLM = LoadedModel<MaskedLM>;
export type SaveMaskedLMOptions = SaveModelOptions;

export interface LoadMaskedLMOptions {
  /** initialise a new head when the folder has none (else: E_MODEL_NO_MLM_HEAD) */
  initHead?: boolean;
  /** what the error tells the user to do when the head is missing */
  noHeadHint?: string;
  seed?: number;
  log?: (l: string) => void;
  offline?: boolean;
}

export function maskedLmFromConfig(config: ModelConfig, seed = 42): MaskedLM {
  return createModel(config, 'masked-lm', seed);
}

/** Loads a masked-LM from a folder or hub name; without a head: an error, or a new head with `initHead`. */
export async function loadMaskedLM(from: ModelSource, o: LoadMaskedLMOptions = {}): Promise<LoadedMaskedLM> {
  return loadModel(from, { ...o, head: 'masked-lm' });
}

/** Saves in HF's layout, loadable by transformers' AutoModelForMaskedLM and by `medtune train`. */
export function saveMaskedLM(dir: string, model: MaskedLM, config: ModelConfig, o: SaveMaskedLMOptions = {}): void {
  saveModel(dir, model, config, o);
}
