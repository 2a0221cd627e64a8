/**
 * Masked-LM models in and out, like HF's AutoModelForMaskedLM: BertForMaskedLM (cls.predictions.*) and
 * RobertaForMaskedLM (lm_head.*), the decoder tied to the word embeddings (not stored; older checkpoints that store
 * `*.decoder.weight` have it checked against the embeddings and dropped, `*.decoder.bias` is the head's bias).
 * A folder without a head — a classifier or a base model — is refused unless `initHead` asks for a new one.
 * Saved folders load in transformers (AutoModelForMaskedLM) and in `medtune train` (the head is then unused).
 */
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { writeDirAtomic, writeFileAtomic } from '../common/atomic.js';
import { readJson, readWeights, resolveModel } from '../io/hf.js';
import { CheckpointError, serializeSafetensors, type SafetensorsEntry } from '../io/safetensors.js';
import type { Tensor } from '../tensor/tensor.js';
import { BertForMaskedLM, bertConfig, type BertConfig } from './bert.js';
import { RobertaForMaskedLM } from './roberta.js';
import { formatLoadReport, type LoadReport, type ModelConfig } from './auto.js';

export type MaskedLM = BertForMaskedLM | RobertaForMaskedLM;

const HEAD: Record<string, { prefix: string; head: string; arch: string }> = {
  bert: { prefix: 'bert', head: 'cls.predictions', arch: 'BertForMaskedLM' },
  roberta: { prefix: 'roberta', head: 'lm_head', arch: 'RobertaForMaskedLM' },
};

export interface LoadedMaskedLM {
  model: MaskedLM;
  config: ModelConfig;
  dir: string;
  report: LoadReport;
  /** true when the folder had no head and a new one was initialised */
  newHead: boolean;
}

export function maskedLmFromConfig(config: ModelConfig, seed = 42): MaskedLM {
  const c = bertConfig(config as Partial<BertConfig>);
  if (config.model_type === 'bert') return new BertForMaskedLM(c, seed);
  if (config.model_type === 'roberta') return new RobertaForMaskedLM(c, seed);
  throw new MedtuneError(
    `masked-LM training supports model_type bert and roberta, not "${config.model_type}"`,
    'E_MODEL_UNSUPPORTED',
  );
}

/** Checkpoint keys → model keys: base-model keys get the prefix, HF's old names, tied decoder tensors. */
function resolveKeys(
  tensors: Map<string, SafetensorsEntry>,
  model: MaskedLM,
  spec: (typeof HEAD)[string],
): Map<string, SafetensorsEntry> {
  const params = new Set(model.namedParameters().map(([k]) => k));
  const canon = (k: string) => k.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  const hasPrefix = [...tensors.keys()].some((k) => k.startsWith(`${spec.prefix}.`));
  const out = new Map<string, SafetensorsEntry>();
  for (const [raw, v] of tensors) {
    const k = canon(raw);
    out.set(!hasPrefix && params.has(`${spec.prefix}.${k}`) ? `${spec.prefix}.${k}` : k, v);
  }
  const decBias = out.get(`${spec.head}.decoder.bias`);
  if (decBias && !out.has(`${spec.head}.bias`)) out.set(`${spec.head}.bias`, decBias);
  out.delete(`${spec.head}.decoder.bias`);
  return out;
}

/** Copies tensors into the model by name with shape checks; the tied decoder weight must equal the embeddings. */
function copyWeights(
  model: MaskedLM,
  tensors: Map<string, SafetensorsEntry>,
  source: string,
  spec: (typeof HEAD)[string],
): LoadReport {
  const report: LoadReport = {
    source,
    architecture: model.constructor.name,
    loaded: 0,
    missing: [],
    unexpected: [],
    resized: [],
  };
  const params = new Map(model.namedParameters());
  for (const [name, p] of params) {
    const t = tensors.get(name);
    if (!t) {
      report.missing.push(name);
      continue;
    }
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      throw new CheckpointError(
        `${source}: ${name} has shape ${JSON.stringify(t.shape)} but the config asks for ${JSON.stringify(p.shape)}`,
      );
    }
    p.f32.set(t.data instanceof Int32Array ? Float32Array.from(t.data) : t.data);
    report.loaded++;
  }
  const decoder = `${spec.head}.decoder.weight`;
  const emb = params.get(`${spec.prefix}.embeddings.word_embeddings.weight`)!;
  const dec = tensors.get(decoder);
  if (dec && dec.data.some((v, i) => v !== emb.f32[i])) {
    throw new CheckpointError(
      `${source}: ${decoder} differs from the word embeddings; medtune supports tied decoders only`,
    );
  }
  for (const k of tensors.keys()) {
    if (!params.has(k) && k !== decoder && !/(^|\.)position_ids$/.test(k)) report.unexpected.push(k);
  }
  return report;
}

/** Loads a masked-LM from a folder or hub name; without a head: an error, or a new head with `initHead`. */
export interface LoadMaskedLMOptions {
  /** initialise a new head when the folder has none (else: E_MODEL_NO_MLM_HEAD) */
  initHead?: boolean;
  /** what the error tells the user to do when the head is missing */
  noHeadHint?: string;
  seed?: number;
  log?: (l: string) => void;
  offline?: boolean;
}

export async function loadMaskedLM(nameOrDir: string, o: LoadMaskedLMOptions = {}): Promise<LoadedMaskedLM> {
  const dir = await resolveModel(nameOrDir, { offline: o.offline });
  const config = readJson<ModelConfig>(path.join(dir, 'config.json'));
  const spec = HEAD[config.model_type];
  if (!spec)
    throw new MedtuneError(
      `${dir}: masked-LM training supports model_type bert and roberta, not "${config.model_type}"`,
      'E_MODEL_UNSUPPORTED',
    );
  const model = maskedLmFromConfig(config, o.seed ?? 42);
  const { tensors, files } = readWeights(dir);
  const source = files.length === 1 ? files[0]! : `${dir} (${files.length} shards)`;
  const resolved = resolveKeys(tensors, model, spec);
  const hasHead = [...resolved.keys()].some(
    (k) => k.startsWith(`${spec.head}.`) && k !== `${spec.head}.decoder.weight`,
  );
  if (!hasHead && !o.initHead) {
    const hint =
      o.noHeadHint ?? 'pass --init-mlm-head to start a new head (randomly initialised, then trained by pretraining)';
    throw new MedtuneError(
      `${dir} has no masked-LM head (${spec.head}.*): it was saved as a classifier or a base model; ${hint}`,
      'E_MODEL_NO_MLM_HEAD',
    );
  }
  const report = copyWeights(model, resolved, source, spec);
  const missingBody = report.missing.filter((k) => !k.startsWith(`${spec.head}.`));
  if (missingBody.length)
    throw new CheckpointError(
      `${source} lacks ${missingBody.length} encoder tensors (${missingBody[0]}, ...); ` +
        'is config.json from the same model?',
    );
  (o.log ?? ((l: string) => process.stderr.write(l + '\n')))(formatLoadReport(report));
  model.eval();
  return { model, config, dir, report, newHead: !hasHead };
}

const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.txt',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
];

/** The tensors saved for a masked-LM (tied decoder left out, as transformers saves it). */
export function maskedLmTensors(model: MaskedLM): [string, { shape: readonly number[]; data: Float32Array }][] {
  return model.namedParameters().map(([k, t]: [string, Tensor]) => [k, { shape: t.shape, data: t.f32 }]);
}

/** Writes config.json (architectures *ForMaskedLM, classifier keys dropped), model.safetensors and tokenizer files. */
function writeMaskedLMFiles(dir: string, model: MaskedLM, config: ModelConfig, o: SaveMaskedLMOptions): void {
  const spec = HEAD[config.model_type]!;
  const cfg: Record<string, unknown> = { ...config, architectures: [spec.arch], tie_word_embeddings: true };
  for (const k of ['id2label', 'label2id', 'num_labels', 'problem_type']) delete cfg[k];
  if (o.medtune) cfg.medtune = { ...(cfg.medtune as object | undefined), ...o.medtune };
  writeFileAtomic(path.join(dir, 'model.safetensors'), serializeSafetensors(maskedLmTensors(model)));
  const from = o.tokenizerFrom;
  if (from && path.resolve(from) !== path.resolve(dir)) {
    for (const f of TOKENIZER_FILES)
      if (existsSync(path.join(from, f))) copyFileSync(path.join(from, f), path.join(dir, f));
  }
  writeFileAtomic(path.join(dir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
}

export interface SaveMaskedLMOptions {
  tokenizerFrom?: string;
  /** keys merged into config.json's medtune object */
  medtune?: Record<string, unknown>;
  /**
   * write the files into an existing folder one by one (each atomic; config.json last) instead of replacing the
   * folder — for a run's output folder that also holds its checkpoints
   */
  inPlace?: boolean;
}

/** Saves in HF's layout, loadable by transformers' AutoModelForMaskedLM and by `medtune train`. */
export function saveMaskedLM(dir: string, model: MaskedLM, config: ModelConfig, o: SaveMaskedLMOptions = {}): void {
  if (o.inPlace) writeMaskedLMFiles(dir, model, config, o);
  else writeDirAtomic(dir, (tmp) => writeMaskedLMFiles(tmp, model, config, o));
}
