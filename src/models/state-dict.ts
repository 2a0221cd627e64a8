/**
 * Checkpoint tensors into a model by name, as transformers does it for every family and head: HF's old key names,
 * base-model checkpoints (keys without the encoder prefix), the decoder older checkpoints store although it is tied
 * to the word embeddings, shape checks, a classification head loaded by label name, and the load report (new,
 * unused, resized keys) printed in transformers' words.
 */
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { CheckpointError, readSafetensors, type SafetensorsEntry } from '../io/safetensors.js';
import type { LoadableModel } from './families.js';

export interface LoadReport {
  source: string;
  architecture: string;
  loaded: number;
  /** parameters the checkpoint did not have: newly initialised */
  missing: string[];
  /** checkpoint tensors the model does not use */
  unexpected: string[];
  /** head tensors re-initialised because --num-labels / labels changed their size */
  resized: string[];
  /** the head was loaded by label name: rows kept from the checkpoint, and labels that got new rows */
  headByLabel?: { kept: number; added: string[] };
}

/** Where a model's tensors live: the encoder's key prefix and the head's. */
export interface KeyLayout {
  encoder: string;
  head: string;
  /** the head's decoder is the word embedding matrix (older checkpoints store it as `${head}.decoder.weight`) */
  tiedDecoder?: boolean;
}

/** HF renames applied to old checkpoints: LayerNorm gamma/beta -> weight/bias. */
export function canonicalKey(k: string): string {
  return k.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
}

/** Keys transformers drops silently (non-persistent buffers of older versions). */
const IGNORED_UNEXPECTED = /(^|\.)position_ids$/;

/** Checkpoint keys → model keys: HF's old names, the encoder prefix for base-model keys, the old decoder bias name. */
export function resolveKeys(
  tensors: Map<string, SafetensorsEntry>,
  model: LoadableModel,
  layout: KeyLayout,
): Map<string, SafetensorsEntry> {
  const params = new Set(model.namedParameters().map(([k]) => k));
  const byKey = new Map<string, SafetensorsEntry>();
  for (const [k, v] of tensors) byKey.set(canonicalKey(k), v);
  // A base-model checkpoint (keys without "bert.") loads under the encoder's prefix, as in HF.
  const prefix = `${layout.encoder}.`;
  const hasPrefix = [...byKey.keys()].some((k) => k.startsWith(prefix));
  const out = new Map<string, SafetensorsEntry>();
  for (const [k, v] of byKey) out.set(!hasPrefix && params.has(prefix + k) ? prefix + k : k, v);
  if (layout.tiedDecoder) {
    const bias = out.get(`${layout.head}.decoder.bias`);
    if (bias && !out.has(`${layout.head}.bias`)) out.set(`${layout.head}.bias`, bias);
    out.delete(`${layout.head}.decoder.bias`);
  }
  return out;
}

export interface CopyOptions {
  /** the file(s) named in errors and in the report */
  source: string;
  layout: KeyLayout;
  /** re-initialise (and report) head tensors of another shape instead of refusing them */
  resizeHead?: boolean;
  /** what a shape error of a head tensor adds (default: the question whether config.json fits) */
  headHint?: string;
}

const shapeOf = (s: readonly number[]) => JSON.stringify(s);

/** Copies tensors into the model by name with shape checks; a stored tied decoder must equal the embeddings. */
export function copyStateDict(
  model: LoadableModel,
  tensors: Map<string, SafetensorsEntry>,
  o: CopyOptions,
): LoadReport {
  const report: LoadReport = {
    source: o.source,
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
      const isHead = !name.startsWith(`${o.layout.encoder}.`);
      if (o.resizeHead && isHead) {
        report.resized.push(`${name} ${shapeOf(t.shape)} -> ${shapeOf(p.shape)}`);
        continue;
      }
      throw new CheckpointError(
        `${o.source}: ${name} has shape ${shapeOf(t.shape)} in the checkpoint ` +
          `but the model expects ${shapeOf(p.shape)}` +
          (isHead && o.headHint ? o.headHint : '; is config.json from the same model?'),
      );
    }
    p.f32.set(t.data instanceof Int32Array ? Float32Array.from(t.data) : t.data);
    report.loaded++;
  }
  const decoder = o.layout.tiedDecoder ? `${o.layout.head}.decoder.weight` : null;
  if (decoder) checkTiedDecoder(tensors.get(decoder), params, decoder, o);
  for (const k of tensors.keys())
    if (!params.has(k) && k !== decoder && !IGNORED_UNEXPECTED.test(k)) report.unexpected.push(k);
  return report;
}

function checkTiedDecoder(
  dec: SafetensorsEntry | undefined,
  params: Map<string, Tensor>,
  decoder: string,
  o: CopyOptions,
): void {
  const emb = params.get(`${o.layout.encoder}.embeddings.word_embeddings.weight`)!;
  if (dec && dec.data.some((v, i) => v !== emb.f32[i]))
    throw new CheckpointError(
      `${o.source}: ${decoder} differs from the word embeddings; medtune supports tied decoders only`,
    );
}

/** Loads the weights a run saved into a checkpoint folder back into its model (every parameter must be there). */
export function loadCheckpointWeights(model: LoadableModel, dir: string): void {
  const file = path.join(dir, 'model.safetensors');
  const tensors = readSafetensors(file);
  const r = copyStateDict(model, tensors, { source: file, layout: { encoder: '', head: '' } });
  if (r.missing.length)
    throw new MedtuneError(`${dir} lacks ${r.missing[0]}; is it a checkpoint of this run?`, 'E_CHECKPOINT');
}

/**
 * Loading a fine-tuned head by label name, not by position: a label the checkpoint has gets its row, a new label keeps
 * its fresh initialisation. (By position, another label order would load the head under the wrong mapping, and a
 * different label count would silently re-initialise all of it.) Call before the copy (it keeps the fresh rows);
 * `apply` after it.
 */
export function headByLabel(model: LoadableModel, outputLayer: string, parent: string[], labels: string[]) {
  const rows = model
    .namedParameters()
    .filter(([k, p]) => (k === `${outputLayer}.weight` || k === `${outputLayer}.bias`) && p.shape[0] === labels.length);
  const fresh = new Map(rows.map(([name, p]) => [name, Float32Array.from(p.f32)] as const));
  return {
    apply(tensors: Map<string, SafetensorsEntry>, report: LoadReport): void {
      let kept = 0;
      for (const [name, p] of rows) {
        const t = [...tensors].find(([k]) => canonicalKey(k) === name || canonicalKey(k).endsWith(`.${name}`))?.[1];
        if (!t || t.shape[0] !== parent.length || t.data instanceof Int32Array) continue;
        const width = p.size / labels.length;
        labels.forEach((l, i) => {
          const j = parent.indexOf(l);
          const src =
            j >= 0
              ? t.data.subarray(j * width, (j + 1) * width)
              : fresh.get(name)!.subarray(i * width, (i + 1) * width);
          p.f32.set(src, i * width);
        });
        kept = labels.filter((l) => parent.includes(l)).length;
        report.resized = report.resized.filter((r) => !r.startsWith(`${name} `));
      }
      const added = labels.filter((l) => !parent.includes(l));
      if (kept) report.headByLabel = { kept, added };
    },
  };
}

/** Groups keys sharing a prefix: a.b.{weight,bias}. */
function compactKeys(keys: string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const i = k.lastIndexOf('.');
    const head = i < 0 ? '' : k.slice(0, i);
    if (!groups.has(head)) groups.set(head, []);
    groups.get(head)!.push(i < 0 ? k : k.slice(i + 1));
  }
  return [...groups].map(([h, tails]) =>
    tails.length === 1 ? (h ? `${h}.${tails[0]}` : tails[0]!) : `${h}.{${tails.join(',')}}`,
  );
}

/** The report as transformers prints it, in a short table. */
export function formatLoadReport(r: LoadReport): string {
  const lines = [`Loaded ${r.loaded} tensors from ${r.source} into ${r.architecture}.`];
  const row = (label: string, keys: string[]) => {
    if (keys.length) lines.push(`  ${label.padEnd(34)} ${compactKeys(keys).join(', ')}`);
  };
  row('newly initialised (not in checkpoint):', r.missing);
  row('resized head, newly initialised:', r.resized);
  row('unused (not in this architecture):', r.unexpected);
  if (r.headByLabel) {
    const { kept, added } = r.headByLabel;
    lines.push(
      `  classification head loaded by label name: ${kept} labels kept` +
        (added.length
          ? `, ${added.length} new (newly initialised): ${added.slice(0, 6).join(', ')}${added.length > 6 ? ', …' : ''}`
          : ''),
    );
  }
  if (r.missing.length || r.resized.length)
    lines.push('  New weights must be trained on a down-stream task before the model is used for predictions.');
  return lines.join('\n');
}
