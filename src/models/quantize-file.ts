/**
 * `medtune quantize MODEL_DIR --output DIR`: a fine-tuned classifier saved with int8 weights (models/quantize.ts:
 * per-channel symmetric int8 for the transformer blocks' linear layers; mini-biobert: 21 → 12 MB, a base model ~0.4×),
 * loading straight into int8 inference (`--precision int8`) without quantizing again.
 */
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { prepareOutputDir } from '../common/atomic.js';
import { loadClassifier, readModelConfig, saveModel } from './auto.js';
import { modelIdentity } from './metadata.js';
import { QUANTIZATION, quantizedStateDict, quantizeModel, type QuantizationRecord } from './quantize.js';

export interface QuantizeOptions {
  output: string;
  log?: (line: string) => void;
}

export interface QuantizeResult {
  output: string;
  layers: number;
}

/** Writes the int8 version of a classifier folder to `o.output`. */
export async function quantizeFolder(modelDir: string, o: QuantizeOptions): Promise<QuantizeResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  const folder = await readModelConfig(modelDir);
  if ((folder.config.medtune as { quantization?: unknown } | undefined)?.quantization)
    throw new MedtuneError(`${modelDir} is already an int8 model (medtune.quantization in config.json)`, 'E_USAGE');
  if (path.resolve(o.output) === path.resolve(folder.dir))
    throw new MedtuneError('--output must be another folder than the model', 'E_USAGE');
  prepareOutputDir(path.dirname(path.resolve(o.output)), '--output');
  const loaded = await loadClassifier(folder, { log: () => {}, inference: true });
  const layers = quantizeModel(loaded.model);
  const quantization: QuantizationRecord = { ...QUANTIZATION, layers, source_sha256: modelIdentity(folder.dir).sha256 };
  saveModel(o.output, loaded.model, loaded.config, {
    tokenizerFrom: folder.dir,
    medtune: { quantization },
    stateDict: quantizedStateDict(loaded.model),
  });
  loaded.model.dispose();
  log(`int8 model: ${o.output} (${layers} linear layers in int8; run it with --precision int8)`);
  return { output: o.output, layers };
}
