/**
 * HuggingFace model folders: where a model is (local folder, HF cache, or the Hub when online), its config, and its
 * weights (model.safetensors, sharded safetensors with an index, pytorch_model.bin through the safe reader).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MedtuneError } from '../common/errors.js';
import { CheckpointError, readSafetensors, type SafetensorsEntry } from './safetensors.js';
import { readTorchBin } from './torch-pickle.js';

export class ModelNotFoundError extends MedtuneError {
  constructor(message: string) {
    super(message, 'E_MODEL_NOT_FOUND');
    this.name = 'ModelNotFoundError';
  }
}

/** The HF hub cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub. */
export function hubCacheDir(): string {
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  const home =
    process.env.HF_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  return path.join(home, 'hub');
}

const HUB_NAME = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** A cached snapshot of a hub repo (standard layout: models--org--name/snapshots/<commit>), or null. */
export function findInHubCache(repo: string, revision = 'main', cacheDir = hubCacheDir()): string | null {
  const repoDir = path.join(cacheDir, `models--${repo.replace('/', '--')}`);
  if (!existsSync(repoDir)) return null;
  const refFile = path.join(repoDir, 'refs', revision);
  const commit = existsSync(refFile) ? readFileSync(refFile, 'utf8').trim() : revision;
  const snap = path.join(repoDir, 'snapshots', commit);
  return existsSync(path.join(snap, 'config.json')) ? snap : null;
}

const HUB_FILES = [
  'config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.txt',
  'special_tokens_map.json',
  'merges.txt',
  'vocab.json',
];

/** Downloads a model's files into the HF cache with @huggingface/hub (needs network). */
async function downloadFromHub(repo: string, revision: string, cacheDir: string): Promise<string> {
  const hub = await import('@huggingface/hub');
  const get = async (p: string): Promise<string | null> => {
    try {
      return await hub.downloadFileToCacheDir({ repo, path: p, revision, cacheDir });
    } catch (e) {
      if (/404|not found|Entry not found/i.test((e as Error).message)) return null;
      throw e;
    }
  };
  const config = await get('config.json');
  if (!config) throw new ModelNotFoundError(`${repo} has no config.json on the Hub`);
  for (const f of HUB_FILES.slice(1)) await get(f);
  if (!(await get('model.safetensors'))) {
    const index = await get('model.safetensors.index.json');
    if (index) {
      const shards = new Set(
        Object.values((JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map),
      );
      for (const s of shards) await get(s);
    } else if (!(await get('pytorch_model.bin'))) {
      throw new ModelNotFoundError(`${repo} has neither model.safetensors nor pytorch_model.bin on the Hub`);
    }
  }
  return path.dirname(config);
}

/**
 * Resolves --model: a local folder, else a hub name found in the HF cache, else (when online) downloaded into the
 * cache. Offline, a missing hub model is a clear error that says to pass a local folder.
 */
export async function resolveModel(
  nameOrDir: string,
  opts: { revision?: string; cacheDir?: string; offline?: boolean } = {},
): Promise<string> {
  if (existsSync(nameOrDir)) {
    if (!statSync(nameOrDir).isDirectory())
      throw new ModelNotFoundError(
        `${nameOrDir} is a file; ` +
          '--model needs a model folder (with config.json) or a hub name like dmis-lab/biobert-v1.1',
      );
    if (!existsSync(path.join(nameOrDir, 'config.json')))
      throw new ModelNotFoundError(`${nameOrDir} has no config.json; is it a HuggingFace model folder?`);
    return nameOrDir;
  }
  if (!HUB_NAME.test(nameOrDir))
    throw new ModelNotFoundError(`model folder ${nameOrDir} does not exist (and it is not a hub name like org/name)`);
  const revision = opts.revision ?? 'main';
  const cacheDir = opts.cacheDir ?? hubCacheDir();
  const cached = findInHubCache(nameOrDir, revision, cacheDir);
  if (cached) return cached;
  const offline = opts.offline ?? (process.env.HF_HUB_OFFLINE === '1' || process.env.MEDTUNE_OFFLINE === '1');
  const hint =
    `download it on a machine with network access (e.g. \`huggingface-cli download ${nameOrDir}\`) ` +
    `and pass the folder with --model DIR, or copy it into the HF cache (${cacheDir})`;
  if (offline) throw new ModelNotFoundError(`${nameOrDir} is not in the HF cache and offline mode is on; ${hint}`);
  try {
    return await downloadFromHub(nameOrDir, revision, cacheDir);
  } catch (e) {
    if (e instanceof ModelNotFoundError) throw e;
    throw new ModelNotFoundError(
      `could not download ${nameOrDir} from the HuggingFace Hub (${(e as Error).message.split('\n')[0]}); ${hint}`,
    );
  }
}

export function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new CheckpointError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** Every tensor of a model folder, from whichever weight format it has (safetensors preferred). */
export function readWeights(dir: string): { tensors: Map<string, SafetensorsEntry>; files: string[] } {
  const st = path.join(dir, 'model.safetensors');
  if (existsSync(st)) return { tensors: readSafetensors(st), files: [st] };
  for (const [index, reader] of [
    ['model.safetensors.index.json', readSafetensors],
    ['pytorch_model.bin.index.json', readTorchBin],
  ] as const) {
    const idx = path.join(dir, index);
    if (!existsSync(idx)) continue;
    const map = readJson<{ weight_map?: Record<string, string> }>(idx).weight_map;
    if (!map) throw new CheckpointError(`${idx} has no weight_map`);
    const tensors = new Map<string, SafetensorsEntry>();
    const files = [...new Set(Object.values(map))].map((f) => path.join(dir, f));
    for (const f of files) {
      if (!existsSync(f))
        throw new CheckpointError(`${idx} lists the shard ${path.basename(f)}, which is missing from ${dir}`);
      for (const [k, v] of reader(f)) tensors.set(k, v);
    }
    return { tensors, files };
  }
  const bin = path.join(dir, 'pytorch_model.bin');
  if (existsSync(bin)) return { tensors: readTorchBin(bin), files: [bin] };
  throw new CheckpointError(
    `${dir} has no weights: expected model.safetensors, model.safetensors.index.json with shards, or pytorch_model.bin`,
  );
}
