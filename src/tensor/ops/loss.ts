/** Losses, all reduced to a scalar mean as PyTorch's defaults do. */
import { empty, record, scalar, Tensor } from '../tensor.js';
import { kernels } from '../backend.js';
import { ShapeError } from '../errors.js';
import { mean } from './reduce.js';
import { square, sub } from './elementwise.js';
import { reshape } from './layout.js';

export interface CrossEntropyOptions {
  /** per-class weights [C] (PyTorch `weight`) */
  weights?: Tensor | null;
  /** targets equal to this are skipped (default -100, as in PyTorch/HF) */
  ignoreIndex?: number;
  /** label smoothing ε in [0, 1) */
  labelSmoothing?: number;
}

/**
 * Cross-entropy from logits [N, C] and int32 class targets [N], mean over non-ignored rows weighted by the class
 * weight of each row's target (PyTorch's `reduction='mean'`). A batch where every target is ignored gives 0.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  if (logits.rank !== 2) throw new ShapeError(`crossEntropy: logits must be [N, C], got ${logits.describe()}`);
  const [N, C] = logits.shape as [number, number];
  if (targets.dtype !== 'int32' || targets.size !== N)
    throw new ShapeError(`crossEntropy: targets must be int32 [${N}], got ${targets.describe()}`);
  const ignore = opts.ignoreIndex ?? -100;
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new ShapeError(`crossEntropy: labelSmoothing must be in [0, 1), got ${eps}`);
  const w = opts.weights ?? null;
  if (w && w.size !== C) throw new ShapeError(`crossEntropy: class weights ${w.describe()} must have ${C} elements`);
  const t = targets.i32;
  for (let i = 0; i < N; i++) {
    if (t[i] !== ignore && (t[i]! < 0 || t[i]! >= C))
      throw new ShapeError(
        `crossEntropy: target ${t[i]} in row ${i} is not a class index in [0, ${C}) (nor the ignore index ${ignore})`,
      );
  }
  const loss = empty([N]);
  const weight = empty([N]);
  const [x, classWeights] = [logits.f32, w ? w.f32 : null];
  const [ignoreIndex, smoothing] = [ignore, eps];
  kernels().crossEntropyForward({
    logits: x,
    targets: t,
    classWeights,
    loss: loss.f32,
    weight: weight.f32,
    N,
    C,
    ignoreIndex,
    smoothing,
  });
  let sl = 0;
  let sw = 0;
  for (let i = 0; i < N; i++) {
    sl += loss.f32[i]!;
    sw += weight.f32[i]!;
  }
  loss.dispose();
  weight.dispose();
  const out = scalar(sw > 0 ? sl / sw : 0);
  return record(
    out,
    'crossEntropy',
    [logits],
    (g) => {
      const d = empty(logits.shape);
      const gradScale = sw > 0 ? g.item() / sw : 0;
      kernels().crossEntropyBackward({
        logits: x,
        targets: t,
        classWeights,
        dlogits: d.f32,
        N,
        C,
        ignoreIndex,
        smoothing,
        gradScale,
      });
      return [d];
    },
    w ? [logits, targets, w] : [logits, targets],
  );
}

export interface BceOptions {
  /** per-class positive weights [C] (PyTorch `pos_weight`) */
  posWeight?: Tensor | null;
}

/** Binary cross-entropy with logits, mean over all N·C elements; targets float in [0, 1]. */
export function bceWithLogits(logits: Tensor, targets: Tensor, opts: BceOptions = {}): Tensor {
  if (targets.dtype !== 'float32' || targets.size !== logits.size)
    throw new ShapeError(
      `bceWithLogits: targets ${targets.describe()} must be float32 with the shape of ${logits.describe()}`,
    );
  const C = logits.shape[logits.rank - 1] ?? 1;
  const N = logits.size / C;
  const pw = opts.posWeight ?? null;
  if (pw && pw.size !== C) throw new ShapeError(`bceWithLogits: posWeight ${pw.describe()} must have ${C} elements`);
  const loss = empty([N * C]);
  kernels().bceWithLogitsForward(logits.f32, targets.f32, pw ? pw.f32 : null, loss.f32, N, C);
  let s = 0;
  for (let i = 0; i < N * C; i++) s += loss.f32[i]!;
  loss.dispose();
  const out = scalar(s / (N * C));
  return record(
    out,
    'bceWithLogits',
    [logits],
    (g) => {
      const d = empty(logits.shape);
      kernels().bceWithLogitsBackward(logits.f32, targets.f32, pw ? pw.f32 : null, d.f32, N, C, g.item() / (N * C));
      return [d];
    },
    pw ? [logits, targets, pw] : [logits, targets],
  );
}

/** Mean squared error. */
export function mse(pred: Tensor, target: Tensor): Tensor {
  if (pred.size !== target.size)
    throw new ShapeError(`mse: ${pred.describe()} and ${target.describe()} differ in size`);
  const t = target.rank === pred.rank ? target : reshape(target, pred.shape);
  return mean(square(sub(pred, t)));
}
