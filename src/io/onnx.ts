/**
 * A small ONNX writer: graphs built node by node (GraphBuilder) and serialised as an ONNX ModelProto (protobuf,
 * field numbers from onnx/onnx.proto; proto2, so repeated numbers are written unpacked). Enough for the inference
 * graphs medtune exports (models/onnx-export.ts): float/int64 tensors, initializers as raw little-endian data, node
 * attributes of the kinds those graphs use, inputs and outputs with symbolic (dynamic) dimensions.
 */

/** ONNX TensorProto.DataType codes. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;

type Attr = number | number[] | string | { float: number };

/** Protobuf bytes, written field by field. */
class Proto {
  private parts: number[] = [];
  private chunks: Uint8Array[] = [];
  private flush(): void {
    if (this.parts.length) this.chunks.push(Uint8Array.from(this.parts));
    this.parts = [];
  }
  private varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.parts.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.parts.push(Number(x));
  }
  int(field: number, v: number): this {
    this.varint(field << 3);
    this.varint(v);
    return this;
  }
  float(field: number, v: number): this {
    this.varint((field << 3) | 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }
  bytes(field: number, data: Uint8Array | Proto): this {
    const payload = data instanceof Proto ? data.finish() : data;
    this.varint((field << 3) | 2);
    this.varint(payload.byteLength);
    this.flush();
    this.chunks.push(payload);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  finish(): Uint8Array {
    this.flush();
    return Buffer.concat(this.chunks);
  }
}

/** A tensor input or output: element type and dimensions (a string is a dynamic axis, e.g. 'batch'). */
export interface ValueInfo {
  name: string;
  elemType: number;
  dims: (number | string)[];
}

function valueInfo(v: ValueInfo): Proto {
  const shape = new Proto();
  for (const d of v.dims) shape.bytes(1, typeof d === 'number' ? new Proto().int(1, d) : new Proto().string(2, d));
  const tensorType = new Proto().int(1, v.elemType).bytes(2, shape);
  return new Proto().string(1, v.name).bytes(2, new Proto().bytes(1, tensorType));
}

function tensorProto(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): Proto {
  const t = new Proto();
  for (const d of dims) t.int(1, d);
  t.int(2, data instanceof Float32Array ? ONNX_FLOAT : ONNX_INT64);
  t.string(8, name);
  return t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

function attribute(name: string, v: Attr): Proto {
  const a = new Proto().string(1, name);
  if (typeof v === 'string') return a.bytes(4, Buffer.from(v)).int(20, 3);
  if (typeof v === 'object' && !Array.isArray(v)) return a.float(2, v.float).int(20, 1);
  if (Array.isArray(v)) {
    for (const x of v) a.int(8, x);
    return a.int(20, 7);
  }
  return a.int(3, v).int(20, 2);
}

/** Builds one graph: initializers, nodes (each output named automatically), inputs and outputs. */
export class GraphBuilder {
  private nodes: Proto[] = [];
  private inits: Proto[] = [];
  private count = 0;
  private consts = new Map<string, string>();
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];

  /** A weight or constant tensor; returns its name. */
  init(name: string, dims: readonly number[], data: Float32Array | BigInt64Array): string {
    this.inits.push(tensorProto(name, dims, data));
    return name;
  }

  /** An int64 constant (shared by value): a scalar for a number, 1-D for a list. */
  ints(v: number | number[]): string {
    const key = JSON.stringify(v);
    let name = this.consts.get(key);
    if (!name) {
      name = `const_i${this.consts.size}`;
      const list = Array.isArray(v) ? v : [v];
      this.init(name, Array.isArray(v) ? [v.length] : [], BigInt64Array.from(list.map(BigInt)));
      this.consts.set(key, name);
    }
    return name;
  }

  /** A float scalar constant. */
  float(v: number): string {
    const key = `f${v}`;
    let name = this.consts.get(key);
    if (!name) {
      name = `const_f${this.consts.size}`;
      this.init(name, [], Float32Array.of(v));
      this.consts.set(key, name);
    }
    return name;
  }

  /** A node; returns the name of its (first) output. */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string): string {
    const output = out ?? `${type.toLowerCase()}_${this.count++}`;
    const n = new Proto();
    for (const i of inputs) n.string(1, i);
    n.string(2, output).string(3, `${type}_${this.count++}`).string(4, type);
    for (const [k, v] of Object.entries(attrs)) n.bytes(5, attribute(k, v));
    this.nodes.push(n);
    return output;
  }

  /** The model: opset `opset` of the default domain, ONNX IR version 8. */
  serialize(o: { name: string; opset: number; producer: string; version: string }): Uint8Array {
    const g = new Proto();
    for (const n of this.nodes) g.bytes(1, n);
    g.string(2, o.name);
    for (const t of this.inits) g.bytes(5, t);
    for (const v of this.inputs) g.bytes(11, valueInfo(v));
    for (const v of this.outputs) g.bytes(12, valueInfo(v));
    return new Proto()
      .int(1, 8)
      .string(2, o.producer)
      .string(3, o.version)
      .bytes(7, g)
      .bytes(8, new Proto().string(1, '').int(2, o.opset))
      .finish();
  }
}
