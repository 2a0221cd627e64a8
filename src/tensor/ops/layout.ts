/** Shape and layout ops: reshape (a view), permute/transpose, slice, concat. */
import { empty, record, Tensor } from '../tensor.js';
import { kernels } from '../backend.js';
import { fmt, normAxis, sizeOf, type Shape } from '../shape.js';
import { ShapeError } from '../errors.js';

/** Same data, new shape (one dimension may be -1). Shares memory with x. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = sizeOf(s.filter((_, i) => i !== neg));
    if (rest === 0 || x.size % rest !== 0)
      throw new ShapeError(`reshape: cannot infer -1 for ${x.describe()} -> ${fmt(shape)}`);
    s[neg] = x.size / rest;
  }
  if (sizeOf(s) !== x.size)
    throw new ShapeError(`reshape: ${x.describe()} has ${x.size} elements, ${fmt(shape)} needs ${sizeOf(s)}`);
  const out = x.viewAs(s);
  return record(out, 'reshape', [x], (g) => [g.viewAs(x.shape)]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new ShapeError(`permute: ${fmt(perm)} is not a permutation of the ${x.rank} axes of ${x.describe()}`);
  }
  const out = empty(
    perm.map((p) => x.shape[p]!),
    x.dtype,
  );
  kernels().permute(x.f32, out.f32, x.shape, perm);
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return record(out, 'permute', [x], (g) => {
    const dx = empty(x.shape);
    kernels().permute(g.f32, dx.f32, g.shape, inv);
    return [dx];
  });
}

/** Swaps two axes. */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const i = normAxis(a, x.rank, 'transpose');
  const j = normAxis(b, x.rank, 'transpose');
  const perm = x.shape.map((_, k) => k);
  perm[i] = j;
  perm[j] = i;
  return permute(x, perm);
}

/** x[..., start:end, ...] along one axis. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = normAxis(axis, x.rank, 'slice');
  const n = x.shape[ax]!;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > n || start > end) {
    throw new ShapeError(`slice: range ${start}:${end} is outside axis ${ax} of ${x.describe()}`);
  }
  const outer = sizeOf(x.shape.slice(0, ax));
  const inner = sizeOf(x.shape.slice(ax + 1));
  const out = empty(x.shape.map((d, i) => (i === ax ? end - start : d)));
  const len = end - start;
  kernels().axisCopy({
    src: x.f32,
    srcLen: n,
    srcStart: start,
    dst: out.f32,
    dstLen: len,
    dstStart: 0,
    len,
    outer,
    inner,
  });
  return record(out, 'slice', [x], (g) => {
    const dx = empty(x.shape);
    kernels().fill(dx.f32, 0);
    kernels().axisCopy({
      src: g.f32,
      srcLen: len,
      srcStart: 0,
      dst: dx.f32,
      dstLen: n,
      dstStart: start,
      len,
      outer,
      inner,
    });
    return [dx];
  });
}

/** Joins tensors along an axis; all other dimensions must match. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: needs at least one tensor');
  const first = xs[0]!;
  const ax = normAxis(axis, first.rank, 'concat');
  for (const t of xs) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new ShapeError(`concat: ${t.describe()} does not match ${first.describe()} outside axis ${ax}`);
    }
  }
  const total = xs.reduce((s, t) => s + t.shape[ax]!, 0);
  const outer = sizeOf(first.shape.slice(0, ax));
  const inner = sizeOf(first.shape.slice(ax + 1));
  const out = empty(first.shape.map((d, i) => (i === ax ? total : d)));
  let off = 0;
  const offsets: number[] = [];
  for (const t of xs) {
    offsets.push(off);
    const len = t.shape[ax]!;
    kernels().axisCopy({
      src: t.f32,
      srcLen: len,
      srcStart: 0,
      dst: out.f32,
      dstLen: total,
      dstStart: off,
      len,
      outer,
      inner,
    });
    off += len;
  }
  return record(out, 'concat', xs, (g) =>
    xs.map((t, k) => {
      if (!t.requiresGrad) return null;
      const dx = empty(t.shape);
      const [len, srcStart] = [t.shape[ax]!, offsets[k]!];
      kernels().axisCopy({
        src: g.f32,
        srcLen: total,
        srcStart,
        dst: dx.f32,
        dstLen: len,
        dstStart: 0,
        len,
        outer,
        inner,
      });
      return dx;
    }),
  );
}
