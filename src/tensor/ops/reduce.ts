/** Sums and means over axes; sumTo reduces a broadcast gradient back to an input's shape. */
import { empty, record, Tensor } from '../tensor.js';
import { kernels } from '../backend.js';
import { broadcastStrides, normAxis, sizeOf, stridesOf, type Shape } from '../shape.js';
import { ShapeError } from '../errors.js';

/** Sum over one axis (raw, no autograd). */
function sumAxisRaw(x: Tensor, axis: number, keepDims: boolean): Tensor {
  const outer = sizeOf(x.shape.slice(0, axis));
  const r = x.shape[axis]!;
  const inner = sizeOf(x.shape.slice(axis + 1));
  const shape = keepDims ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
  const out = empty(shape);
  kernels().reduceSum(x.f32, out.f32, outer, r, inner);
  return out;
}

/** Raw multi-axis sum: axes reduced one at a time, last first. */
function sumAxesRaw(x: Tensor, axes: number[], keepDims: boolean): Tensor {
  const sorted = [...new Set(axes)].sort((a, b) => b - a);
  let cur = x;
  for (const a of sorted) {
    const next = sumAxisRaw(cur, a, keepDims);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  if (cur === x) {
    const c = empty(x.shape);
    c.f32.set(x.f32);
    return c;
  }
  return cur;
}

/** Sum of a broadcast result back to `shape` (no autograd; used by gradients). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g.viewAs(shape);
  const lead = g.shape.length - shape.length;
  if (lead < 0) throw new ShapeError(`sumTo: cannot reduce ${g.describe()} to a larger rank`);
  const axes: number[] = [];
  for (let i = 0; i < g.shape.length; i++) {
    if (i < lead) axes.push(i);
    else if (shape[i - lead] === 1 && g.shape[i] !== 1) axes.push(i);
  }
  const r = sumAxesRaw(g, axes, true);
  const v = r.viewAs(shape);
  r.dispose();
  return v;
}

/** Broadcast g (same rank, size-1 dims where reduced) back to `shape` (no autograd): out = 0 + g. */
function expandRaw(g: Tensor, shape: Shape): Tensor {
  const out = empty(shape);
  kernels().fill(out.f32, 0);
  kernels().binary('add', out.f32, g.f32, out.f32, shape, stridesOf(shape), broadcastStrides(g.shape, shape));
  return out;
}

/** Sum over axes (all axes when omitted). */
export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const list =
    axes === undefined
      ? x.shape.map((_, i) => i)
      : (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(a, x.rank, 'sum'));
  const kept = sumAxesRaw(x, list, true);
  const shape = keepDims ? kept.shape : x.shape.filter((_, i) => !list.includes(i));
  const out = kept.viewAs(shape);
  kept.dispose();
  return record(out, 'sum', [x], (g) => {
    const gk = g.viewAs(x.shape.map((d, i) => (list.includes(i) ? 1 : d)));
    const e = expandRaw(gk, x.shape);
    gk.dispose();
    return [e];
  });
}

/** Mean over axes (all axes when omitted). */
export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const list =
    axes === undefined
      ? x.shape.map((_, i) => i)
      : (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(a, x.rank, 'mean'));
  const n = list.reduce((p, a) => p * x.shape[a]!, 1);
  const s = sum(x, list, keepDims);
  // scale by 1/n with its own gradient
  const out = empty(s.shape);
  kernels().scale(s.f32, 1 / n, out.f32);
  return record(out, 'mean', [s], (g) => {
    const d = empty(g.shape);
    kernels().scale(g.f32, 1 / n, d.f32);
    return [d];
  });
}
