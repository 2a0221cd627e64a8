/**
 * Out-of-scope detection: how far a note is from what the model was trained on. The detector is the Mahalanobis
 * distance of the note's encoder features to the nearest class mean under one covariance shared by the classes
 * (Lee et al. 2018; the strongest of MSP, energy and Mahalanobis for fine-tuned transformers in Podolskiy et al.
 * 2021), fitted on the training split's features (the covariance shrunk towards a multiple of the identity by
 * Ledoit–Wolf, so that it can be inverted with fewer rows than features; estimated from at most 5,000 rows). Its
 * threshold is set on validation: the distance that keeps a share (`keep`, default 0.95) of in-distribution notes in
 * scope. A note's `ood_score` is its distance over that threshold: above 1 is out of scope. Stored beside the
 * weights as ood.safetensors (`means` [K, H] of the K classes seen in training, `precision` [H, H]) with its settings
 * in config.json's `medtune.ood`.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { MedtuneError } from '../common/errors.js';
import { writeFileAtomic } from '../common/atomic.js';
import { readSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { fileSha256, OOD_FILE, type OodFeatures, type OodSettings } from '../models/metadata.js';

/** In-distribution share kept in scope on validation unless told otherwise. */
export const DEFAULT_OOD_KEEP = 0.95;

export interface MahalanobisFit {
  /** class means, row-major [K, H] */
  means: Float32Array;
  /** inverse of the shared (shrunk) covariance, row-major [H, H] */
  precision: Float32Array;
  classes: number;
  dim: number;
  /** Ledoit–Wolf shrinkage towards (trace / H) · I, in [0, 1] */
  shrinkage: number;
}

/** Inverse of a symmetric positive-definite matrix [n, n] (Cholesky). */
export function invertSpd(a: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j]!;
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) throw new MedtuneError('the feature covariance is not positive definite', 'E_INTERNAL');
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / L[j * n + j]!;
    }
  }
  // inverse of L (lower triangular), then A⁻¹ = L⁻ᵀ L⁻¹
  const Li = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    Li[i * n + i] = 1 / L[i * n + i]!;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += L[i * n + k]! * Li[k * n + j]!;
      Li[i * n + j] = -s / L[i * n + i]!;
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += Li[k * n + i]! * Li[k * n + j]!;
      inv[i * n + j] = s;
      inv[j * n + i] = s;
    }
  return inv;
}

/** Class means of the features (classes without rows left out) and the rows centred on their class mean. */
function centre(features: number[][], classOf: number[]): { means: number[][]; centred: number[][] } {
  const H = features[0]!.length;
  const sums = new Map<number, { sum: number[]; n: number }>();
  features.forEach((f, i) => {
    const c = sums.get(classOf[i]!) ?? { sum: new Array<number>(H).fill(0), n: 0 };
    for (let h = 0; h < H; h++) c.sum[h]! += f[h]!;
    c.n++;
    sums.set(classOf[i]!, c);
  });
  const mean = new Map([...sums].map(([k, v]) => [k, v.sum.map((x) => x / v.n)]));
  const centred = features.map((f, i) => {
    const m = mean.get(classOf[i]!)!;
    return f.map((x, h) => x - m[h]!);
  });
  return { means: [...mean.keys()].sort((a, b) => a - b).map((k) => mean.get(k)!), centred };
}

/** The Ledoit–Wolf shrunk covariance of centred rows: (1 − s) S + s (tr S / H) I, and s. */
function shrunkCovariance(x: number[][]): { cov: Float64Array; shrinkage: number } {
  const n = x.length;
  const H = x[0]!.length;
  const S = new Float64Array(H * H);
  for (const r of x)
    for (let i = 0; i < H; i++) {
      const ri = r[i]!;
      for (let j = 0; j <= i; j++) S[i * H + j]! += ri * r[j]!;
    }
  for (let i = 0; i < H; i++)
    for (let j = 0; j <= i; j++) {
      S[i * H + j]! /= n;
      S[j * H + i] = S[i * H + j]!;
    }
  let trace = 0;
  for (let i = 0; i < H; i++) trace += S[i * H + i]!;
  const mu = trace / H;
  let frob = 0; // ‖S‖²
  let d2 = 0; // ‖S − μI‖²
  for (let i = 0; i < H; i++)
    for (let j = 0; j < H; j++) {
      const v = S[i * H + j]!;
      frob += v * v;
      d2 += (v - (i === j ? mu : 0)) ** 2;
    }
  // b̄² = (1/n²) Σ_k ‖x_k x_kᵀ − S‖², with ‖x xᵀ − S‖² = ‖x‖⁴ − 2 xᵀ S x + ‖S‖²
  let b2 = 0;
  const Sx = new Float64Array(H);
  for (const r of x) {
    let norm2 = 0;
    let xSx = 0;
    for (let i = 0; i < H; i++) {
      norm2 += r[i]! * r[i]!;
      let s = 0;
      for (let j = 0; j < H; j++) s += S[i * H + j]! * r[j]!;
      Sx[i] = s;
      xSx += r[i]! * s;
    }
    b2 += norm2 * norm2 - 2 * xSx + frob;
  }
  b2 /= n * n;
  const shrinkage = d2 > 0 ? Math.min(1, Math.max(b2 / d2, 1e-6)) : 1;
  const cov = new Float64Array(H * H);
  for (let i = 0; i < H * H; i++) cov[i] = (1 - shrinkage) * S[i]!;
  for (let i = 0; i < H; i++) cov[i * H + i]! += shrinkage * Math.max(mu, 1e-12);
  return { cov, shrinkage };
}

/** Rows the covariance is estimated from at most (evenly spaced): its cost grows with rows × features². */
export const MAX_COVARIANCE_ROWS = 5000;

/** Fits class means and the shared precision on training features (`classOf`: each row's class, or 0 for one). */
export function fitMahalanobis(features: number[][], classOf: number[]): MahalanobisFit {
  if (features.length < 2)
    throw new MedtuneError('the out-of-scope detector needs at least two training rows', 'E_INPUT_EMPTY');
  const H = features[0]!.length;
  const { means, centred } = centre(features, classOf);
  const step = Math.max(1, centred.length / MAX_COVARIANCE_ROWS);
  const rows =
    step === 1 ? centred : Array.from({ length: MAX_COVARIANCE_ROWS }, (_, i) => centred[Math.floor(i * step)]!);
  const { cov, shrinkage } = shrunkCovariance(rows);
  return {
    means: Float32Array.from(means.flat()),
    precision: Float32Array.from(invertSpd(cov, H)),
    classes: means.length,
    dim: H,
    shrinkage,
  };
}

/** The threshold that keeps `keep` of the distances in scope (midway to the next larger one). */
export function keepThreshold(distances: number[], keep: number): number {
  if (!(keep > 0 && keep <= 1)) throw new MedtuneError(`--ood-keep must be in (0, 1], got ${keep}`, 'E_USAGE');
  if (!distances.length) throw new MedtuneError('the out-of-scope threshold needs validation rows', 'E_NO_EVAL_DATA');
  const d = [...distances].sort((a, b) => a - b);
  const k = Math.min(d.length, Math.max(1, Math.ceil(keep * d.length)));
  const next = k < d.length ? d[k]! : d[k - 1]! * 1.05;
  return (d[k - 1]! + next) / 2;
}

/** A fitted detector with its threshold: distances and out-of-scope scores of feature vectors. */
export class OodDetector {
  private readonly pm: Float64Array; // P μ_k, [K, H]
  private readonly mpm: Float64Array; // μ_kᵀ P μ_k, [K]

  constructor(
    readonly fit: MahalanobisFit,
    readonly threshold: number,
  ) {
    const { means, precision, classes: K, dim: H } = fit;
    this.pm = new Float64Array(K * H);
    this.mpm = new Float64Array(K);
    for (let k = 0; k < K; k++)
      for (let i = 0; i < H; i++) {
        let s = 0;
        for (let j = 0; j < H; j++) s += precision[i * H + j]! * means[k * H + j]!;
        this.pm[k * H + i] = s;
        this.mpm[k]! += means[k * H + i]! * s;
      }
  }

  /** Mahalanobis distance to the nearest class mean: √ min_k (x − μ_k)ᵀ P (x − μ_k). */
  distance(x: number[]): number {
    const { precision, classes: K, dim: H } = this.fit;
    if (x.length !== H) throw new MedtuneError(`features of size ${x.length}, detector of ${H}`, 'E_INTERNAL');
    let xPx = 0;
    for (let i = 0; i < H; i++) {
      let s = 0;
      for (let j = 0; j < H; j++) s += precision[i * H + j]! * x[j]!;
      xPx += x[i]! * s;
    }
    let best = Infinity;
    for (let k = 0; k < K; k++) {
      let xpm = 0;
      for (let i = 0; i < H; i++) xpm += x[i]! * this.pm[k * H + i]!;
      best = Math.min(best, xPx - 2 * xpm + this.mpm[k]!);
    }
    return Math.sqrt(Math.max(0, best));
  }

  /** The out-of-scope score: distance over the threshold (above 1: out of scope). */
  score(x: number[]): number {
    return this.distance(x) / this.threshold;
  }

  /** The bytes of ood.safetensors and their sha256 (recorded in medtune.ood). */
  serialize(): { bytes: Uint8Array[]; sha256: string } {
    const { means, precision, classes: K, dim: H } = this.fit;
    const bytes = serializeSafetensors(
      [
        ['means', { shape: [K, H], data: means }],
        ['precision', { shape: [H, H], data: precision }],
      ],
      { format: 'medtune-ood', method: 'mahalanobis' },
    );
    const h = createHash('sha256');
    for (const b of bytes) h.update(b);
    return { bytes, sha256: h.digest('hex') };
  }

  /** Writes ood.safetensors into a model folder (atomically); returns its sha256. */
  write(dir: string): string {
    const { bytes, sha256 } = this.serialize();
    writeFileAtomic(path.join(dir, OOD_FILE), bytes);
    return sha256;
  }

  /** The detector of a model folder (null when its metadata has none); the file must match the recorded sha256. */
  static read(dir: string, s: OodSettings | undefined): OodDetector | null {
    if (!s) return null;
    const file = path.join(dir, OOD_FILE);
    const bad = (why: string) =>
      new MedtuneError(
        `${file}: ${why}; refit it (medtune calibrate --ood-data TRAIN_FILE) or remove "medtune.ood" from config.json`,
        'E_MODEL_WEIGHTS',
      );
    if (!existsSync(file)) throw bad('config.json records an out-of-scope detector but the file is missing');
    if (fileSha256(file) !== s.sha256) throw bad('the file is not the one config.json records (sha256 differs)');
    const t = readSafetensors(file);
    const means = t.get('means');
    const precision = t.get('precision');
    if (!means || !precision || means.shape.length !== 2 || precision.shape.join() !== `${s.dim},${s.dim}`)
      throw bad(`expected means [K, ${s.dim}] and precision [${s.dim}, ${s.dim}]`);
    const fit: MahalanobisFit = {
      means: means.data as Float32Array,
      precision: precision.data as Float32Array,
      classes: means.shape[0]!,
      dim: s.dim,
      shrinkage: s.shrinkage ?? 0,
    };
    return new OodDetector(fit, s.threshold);
  }
}

/** A detector fitted on training features with its threshold set on validation, and its settings (no sha256 yet). */
export interface FittedDetector {
  detector: OodDetector;
  settings: Omit<OodSettings, 'sha256'>;
  /** the validation rows' out-of-scope scores (above 1: out of scope) */
  validationScores: number[];
}

/**
 * Fits the detector: means and covariance on the training features (`classOf`: each row's class; 0 for every row of
 * a multi-label model), the threshold keeping `keep` of the validation features in scope.
 */
export function fitDetector(x: {
  train: number[][];
  classOf: number[];
  validation: number[][];
  features: OodFeatures;
  keep?: number;
}): FittedDetector {
  const keep = x.keep ?? DEFAULT_OOD_KEEP;
  const fit = fitMahalanobis(x.train, x.classOf);
  const unit = new OodDetector(fit, 1);
  const threshold = keepThreshold(
    x.validation.map((f) => unit.distance(f)),
    keep,
  );
  const detector = new OodDetector(fit, threshold);
  return {
    detector,
    settings: {
      method: 'mahalanobis',
      features: x.features,
      threshold,
      keep,
      classes: fit.classes,
      dim: fit.dim,
      shrinkage: Number(fit.shrinkage.toFixed(6)),
      fitted_on: { train: x.train.length, validation: x.validation.length },
    },
    validationScores: x.validation.map((f) => detector.score(f)),
  };
}
