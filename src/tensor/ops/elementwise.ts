/** Elementwise ops with broadcasting, and unary activations. Each op: shape checks, kernel call, gradient. */
import { empty, record, Tensor } from '../tensor.js';
import { kernels } from '../backend.js';
import { broadcastShapes, broadcastStrides, sameShape } from '../shape.js';
import type { BinaryOp, UnaryOp } from '../kernels.js';
import { sumTo } from './reduce.js';
import { ShapeError } from '../errors.js';

function checkFloat(t: Tensor, op: string): void {
  if (t.dtype !== 'float32') throw new ShapeError(`${op}: expected a float32 tensor, got ${t.describe()}`);
}

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(a.shape, b.shape, op);
  const out = empty(shape);
  if (sameShape(a.shape, b.shape)) kernels().binary(op, a.f32, b.f32, out.f32, [out.size], [1], [1]);
  else
    kernels().binary(
      op,
      a.f32,
      b.f32,
      out.f32,
      shape,
      broadcastStrides(a.shape, shape),
      broadcastStrides(b.shape, shape),
    );
  return out;
}

export function add(a: Tensor, b: Tensor): Tensor {
  checkFloat(a, 'add');
  checkFloat(b, 'add');
  const out = binaryRaw('add', a, b);
  return record(out, 'add', [a, b], (g) => [
    a.requiresGrad ? sumTo(g, a.shape) : null,
    b.requiresGrad ? sumTo(g, b.shape) : null,
  ]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  checkFloat(a, 'sub');
  checkFloat(b, 'sub');
  const out = binaryRaw('sub', a, b);
  return record(out, 'sub', [a, b], (g) => [
    a.requiresGrad ? sumTo(g, a.shape) : null,
    b.requiresGrad ? sumTo(scale(g, -1), b.shape) : null,
  ]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  checkFloat(a, 'mul');
  checkFloat(b, 'mul');
  const out = binaryRaw('mul', a, b);
  return record(
    out,
    'mul',
    [a, b],
    (g) => [
      a.requiresGrad ? sumTo(binaryRaw('mul', g, b), a.shape) : null,
      b.requiresGrad ? sumTo(binaryRaw('mul', g, a), b.shape) : null,
    ],
    [a, b],
  );
}

export function div(a: Tensor, b: Tensor): Tensor {
  checkFloat(a, 'div');
  checkFloat(b, 'div');
  const out = binaryRaw('div', a, b);
  return record(
    out,
    'div',
    [a, b],
    (g) => {
      const ga = a.requiresGrad ? sumTo(binaryRaw('div', g, b), a.shape) : null;
      let gb: Tensor | null = null;
      if (b.requiresGrad) {
        // d(a/b)/db = -a/b² = -out/b
        const t = binaryRaw('div', binaryRaw('mul', g, out), b);
        gb = sumTo(scale(t, -1), b.shape);
      }
      return [ga, gb];
    },
    [a, b, out],
  );
}

/** alpha * x */
export function scale(x: Tensor, alpha: number): Tensor {
  checkFloat(x, 'scale');
  const out = empty(x.shape);
  kernels().scale(x.f32, alpha, out.f32);
  return record(out, 'scale', [x], (g) => [scale(g, alpha)]);
}

function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  checkFloat(x, op);
  const out = empty(x.shape);
  kernels().unary(op, x.f32, out.f32);
  return record(
    out,
    op,
    [x],
    (g) => {
      const dx = empty(x.shape);
      kernels().unaryBackward(op, x.f32, out.f32, g.f32, dx.f32);
      return [dx];
    },
    [x, out],
  );
}

/** HF "gelu" (exact, erf form). */
export const gelu = (x: Tensor): Tensor => unaryOp('gelu', x);
/** HF "gelu_new" / "gelu_pytorch_tanh" (tanh approximation). */
export const geluTanh = (x: Tensor): Tensor => unaryOp('gelu_tanh', x);
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
export const log = (x: Tensor): Tensor => unaryOp('log', x);
export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
export const square = (x: Tensor): Tensor => unaryOp('square', x);
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);

/** A contiguous copy (not tracked). */
export function copyOf(x: Tensor): Tensor {
  const out = empty(x.shape, x.dtype);
  out.data.set(x.data.subarray(0, x.size));
  return out;
}
