/**
 * Tensor, memory scopes and the autograd tape.
 *
 * - A Tensor is a handle: shape + dtype + a reference to a Storage. dispose() drops the handle's reference.
 * - scope(fn) (like tf.tidy) disposes every tensor created inside fn except those returned or kept.
 * - Autograd: an op that has an input with requiresGrad records a Node on its output: the inputs, the tensors it
 *   saved for backward (their storage is retained, so disposing the handles is safe) and a closure that maps the
 *   output gradient to input gradients. backward() walks the nodes in reverse creation order, accumulates
 *   gradients into leaves' `.grad` and frees each node's saved tensors as soon as it has run.
 */
import { allocStorage, Storage, type DType } from './storage.js';
import { DisposedError, ShapeError } from './errors.js';
import { checkShape, fmt, sizeOf, type Shape } from './shape.js';
import { kernels } from './backend.js';

let nextId = 1;

export interface Node {
  readonly id: number;
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Maps the output gradient to one gradient per input (null where the input needs none). */
  backward: ((grad: Tensor) => (Tensor | null)[]) | null;
  saved: Tensor[];
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  readonly dtype: DType;
  private _storage: Storage;
  private _disposed = false;
  requiresGrad = false;
  grad: Tensor | null = null;
  node: Node | null = null;
  /** Set by keep(): scopes leave this tensor alone. */
  kept = false;
  name?: string;

  constructor(storage: Storage, shape: Shape) {
    checkShape(shape);
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    if (storage.data.length < this.size)
      throw new ShapeError(`storage of ${storage.data.length} elements is too small for shape ${fmt(shape)}`);
    this._storage = storage;
    this.dtype = storage.dtype;
    track(this);
  }

  get rank(): number {
    return this.shape.length;
  }
  get disposed(): boolean {
    return this._disposed;
  }
  get storage(): Storage {
    if (this._storage.refs <= 0)
      throw new DisposedError(
        `tensor ${this.describe()} was used after its memory was released (dispose() or the end of a scope); ` +
          'keep() it or return it from the scope',
      );
    return this._storage;
  }
  /** The float32 buffer (shared, not a copy). */
  get f32(): Float32Array {
    const d = this.storage.data;
    if (!(d instanceof Float32Array))
      throw new ShapeError(`tensor ${this.describe()} is ${this.dtype}, expected float32`);
    return d;
  }
  /** The int32 buffer (shared, not a copy). */
  get i32(): Int32Array {
    const d = this.storage.data;
    if (!(d instanceof Int32Array)) throw new ShapeError(`tensor ${this.describe()} is ${this.dtype}, expected int32`);
    return d;
  }
  get data(): Float32Array | Int32Array {
    return this.storage.data;
  }

  describe(): string {
    return `${this.name ?? `#${this.id}`}${fmt(this.shape)}${this.dtype === 'int32' ? ':int32' : ''}`;
  }

  /** A copy of the values as a plain array (for tests and small outputs). */
  toArray(): number[] {
    return Array.from(this.data);
  }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item() needs a tensor with one element, got ${this.describe()}`);
    return this.data[0]!;
  }

  /** Releases this handle's reference to its memory. Safe to call twice. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    this._storage.release();
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Marks the tensor so that enclosing scopes do not dispose it. */
  keep(): this {
    this.kept = true;
    return this;
  }

  /** A new handle on the same memory with another shape (same size). Shares storage; not tracked by autograd. */
  viewAs(shape: Shape): Tensor {
    if (sizeOf(shape) !== this.size)
      throw new ShapeError(`cannot view ${this.describe()} as ${fmt(shape)}: sizes differ`);
    return new Tensor(this.storage.retain(), shape);
  }

  backward(grad?: Tensor): void {
    runBackward(this, grad);
  }
}

// ---------------------------------------------------------------- creation

export function empty(shape: Shape, dtype: DType = 'float32'): Tensor {
  return new Tensor(allocStorage(sizeOf(shape), dtype), shape);
}

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  const size = sizeOf(shape);
  // large float buffers (the word-embedding gradient: 7.8M floats per step) are cleared by the kernels, on every thread
  if (dtype !== 'float32' || size < 1 << 16) return new Tensor(allocStorage(size, dtype, true), shape);
  const t = new Tensor(allocStorage(size, dtype), shape);
  kernels().fill(t.f32, 0);
  return t;
}

export function full(shape: Shape, value: number): Tensor {
  const t = empty(shape);
  kernels().fill(t.f32, value);
  return t;
}

export function ones(shape: Shape): Tensor {
  return full(shape, 1);
}

/** A tensor from values (copied). */
export function tensor(values: ArrayLike<number>, shape?: Shape, dtype: DType = 'float32'): Tensor {
  const s = shape ?? [values.length];
  if (sizeOf(s) !== values.length)
    throw new ShapeError(`tensor(): ${values.length} values do not fill shape ${fmt(s)}`);
  const t = empty(s, dtype);
  t.data.set(values);
  return t;
}

export function scalar(v: number): Tensor {
  return tensor([v], []);
}

/** A trainable leaf tensor. */
export function parameter(t: Tensor, name?: string): Tensor {
  t.requiresGrad = true;
  t.kept = true;
  if (name) t.name = name;
  return t;
}

// ---------------------------------------------------------------- scopes

const scopes: Tensor[][] = [];

function track(t: Tensor): void {
  const s = scopes[scopes.length - 1];
  if (s) s.push(t);
}

function collectTensors(v: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 4 || v === null || typeof v !== 'object') return;
  if (v instanceof Tensor) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collectTensors(x, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype)
    for (const x of Object.values(v)) collectTensors(x, out, depth + 1);
}

/**
 * Runs fn and disposes every tensor created inside it, except tensors it returns (directly, in an array or a plain
 * object) and tensors marked with keep(). Returned tensors move to the enclosing scope.
 */
export function scope<T>(fn: () => T): T {
  scopes.push([]);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    const created = scopes.pop()!;
    for (const t of created) if (!t.kept) t.dispose();
    throw e;
  }
  const created = scopes.pop()!;
  const keepSet = new Set<Tensor>();
  collectTensors(result, keepSet);
  const parent = scopes[scopes.length - 1];
  for (const t of created) {
    if (t.kept) continue;
    if (keepSet.has(t)) parent?.push(t);
    else t.dispose();
  }
  return result;
}

// ---------------------------------------------------------------- autograd

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording the tape (inference). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

let nodeIds = 1;

/**
 * Called by every op after computing `out`: if gradients are needed, attaches a Node. `saved` are the tensors
 * the backward closure reads; their memory is retained until the node has run.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  backward: (grad: Tensor) => (Tensor | null)[],
  saved: readonly Tensor[] = [],
): Tensor {
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return out;
  out.requiresGrad = true;
  out.node = {
    id: nodeIds++,
    op,
    inputs,
    backward,
    saved: saved.map((t) => new Tensor(t.storage.retain(), t.shape).keep()),
  };
  return out;
}

function releaseNode(n: Node): void {
  for (const t of n.saved) t.dispose();
  n.saved = [];
  n.backward = null;
}

/** Frees the graph behind t without computing gradients (e.g. after an evaluation forward pass with grad on). */
export function releaseGraph(t: Tensor): void {
  const stack = [t];
  const seen = new Set<number>();
  while (stack.length) {
    const x = stack.pop()!;
    const n = x.node;
    if (!n || seen.has(n.id)) continue;
    seen.add(n.id);
    stack.push(...n.inputs);
    releaseNode(n);
    x.node = null;
  }
}

function runBackward(root: Tensor, seed?: Tensor): void {
  if (!root.requiresGrad)
    throw new ShapeError(
      `backward(): ${root.describe()} does not require grad ` +
        '(no input had requiresGrad, or it was computed under noGrad)',
    );
  if (!seed && root.size !== 1)
    throw new ShapeError(`backward() without a gradient needs a scalar, got ${root.describe()}`);
  if (!root.node)
    throw new ShapeError(
      `backward(): ${root.describe()} is a leaf or its graph was already used; ` +
        'backward() frees the graph, so run the forward pass again',
    );
  // Topological order: the tensors reachable from root, by node id descending (ids increase with creation).
  const order: Tensor[] = [];
  const seen = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const t = stack.pop()!;
    if (!t.node || seen.has(t.node.id)) continue;
    seen.add(t.node.id);
    order.push(t);
    for (const i of t.node.inputs) if (i.node && i.requiresGrad) stack.push(i);
  }
  order.sort((a, b) => b.node!.id - a.node!.id);

  // Every holder of a gradient has its own handle (shared storage, reference counted); a leaf's .grad is copied
  // before an in-place accumulation if its storage is still shared (copy on write).
  const grads = new Map<Tensor, Tensor>();
  const K = kernels();
  const give = (t: Tensor, g: Tensor): void => {
    if (!t.requiresGrad) return;
    if (g.size !== t.size)
      throw new ShapeError(`internal: a gradient of shape ${fmt(g.shape)} was produced for ${t.describe()}`);
    if (t.node) {
      const prev = grads.get(t);
      if (!prev) grads.set(t, g.viewAs(t.shape));
      else {
        const sum = empty(t.shape);
        K.binary('add', prev.f32, g.f32, sum.f32, [t.size], [1], [1]);
        prev.dispose();
        grads.set(t, sum);
      }
      return;
    }
    if (!t.grad) {
      t.grad = g.viewAs(t.shape).keep();
      return;
    }
    if (t.grad.storage.refs > 1) {
      const c = empty(t.shape).keep();
      c.f32.set(t.grad.f32);
      t.grad.dispose();
      t.grad = c;
    }
    K.axpy(t.grad.f32, g.f32, 1);
  };
  const seedGrad = seed ? seed.viewAs(root.shape) : full(root.shape, 1);
  grads.set(root, seedGrad);
  for (const t of order) {
    const n = t.node!;
    const g = grads.get(t);
    grads.delete(t);
    if (g && n.backward) {
      const inGrads = n.backward(g);
      n.inputs.forEach((inp, i) => {
        const ig = inGrads[i];
        if (ig) give(inp, ig);
      });
      for (const ig of new Set(inGrads)) if (ig && ig !== g) ig.dispose();
    }
    g?.dispose();
    releaseNode(n);
    t.node = null;
  }
  for (const g of grads.values()) g.dispose();
}
