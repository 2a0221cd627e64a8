/**
 * Storage: the memory behind tensors. Buffers are ArrayBuffers, i.e. native (off-V8-heap) memory that both
 * backends read and write in place: the js backend through typed arrays, the native addon through raw pointers.
 *
 * Ownership is by reference count: a tensor handle holds one reference, autograd holds one for each tensor it saved
 * for backward, a reshape view holds one. When the count reaches zero the buffer goes back to a pool and is handed
 * out again to the next tensor of its size class (a training loop allocates the same shapes every step, so after the
 * first step it allocates nothing). Size classes (2^k and 1.5·2^k bytes, ≤ 33 % slack) matter for inference, where
 * every batch has another shape: with exact sizes the pool kept one list per shape ever seen and grew to its cap
 * (measured: a server at 200 clients went from 0.8 to 2.4 GB in 40 s). A buffer never released is reclaimed by the GC.
 */
export type DType = 'float32' | 'int32';
export type TypedArrayFor<D extends DType> = D extends 'float32' ? Float32Array : Int32Array;

export class Storage {
  refs = 1;
  constructor(
    readonly data: Float32Array | Int32Array,
    readonly dtype: DType,
  ) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) pool.put(this.data);
  }
}

const MAX_POOLED_BYTES_DEFAULT = 2 * 1024 * 1024 * 1024;

/** The allocation size for a request: the next 2^k or 1.5·2^k bytes (small requests: exact multiples of 64). */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return Math.max(64, Math.ceil(bytes / 64) * 64);
  const p = 2 ** Math.ceil(Math.log2(bytes));
  return bytes <= p * 0.75 ? p * 0.75 : p;
}

class BufferPool {
  private free = new Map<number, ArrayBuffer[]>();
  pooledBytes = 0;
  maxPooledBytes = MAX_POOLED_BYTES_DEFAULT;
  liveBuffers = 0;
  allocatedBytes = 0;

  take(request: number): ArrayBuffer {
    const bytes = sizeClass(request);
    const list = this.free.get(bytes);
    if (list && list.length > 0) {
      this.pooledBytes -= bytes;
      this.liveBuffers++;
      return list.pop()!;
    }
    this.allocatedBytes += bytes;
    this.liveBuffers++;
    return new ArrayBuffer(bytes);
  }

  put(view: Float32Array | Int32Array): void {
    this.liveBuffers--;
    const buf = view.buffer as ArrayBuffer;
    const bytes = buf.byteLength;
    if (bytes === 0) return;
    if (this.pooledBytes + bytes > this.maxPooledBytes) {
      this.allocatedBytes -= bytes; // let the GC have it
      return;
    }
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buf);
    this.pooledBytes += bytes;
  }

  /** Drop every pooled buffer (the GC frees them). */
  clear(): void {
    for (const [bytes, list] of this.free) this.allocatedBytes -= bytes * list.length;
    this.free.clear();
    this.pooledBytes = 0;
  }
}

export const pool = new BufferPool();

/** A new storage of `size` elements. Contents are NOT zeroed when the buffer comes from the pool unless `zero`. */
export function allocStorage(size: number, dtype: DType = 'float32', zero = false): Storage {
  const buf = pool.take(Math.max(size, 1) * 4);
  const data = dtype === 'float32' ? new Float32Array(buf, 0, size) : new Int32Array(buf, 0, size);
  if (zero) data.fill(0);
  return new Storage(data, dtype);
}

export function memoryStats(): { liveBuffers: number; pooledBytes: number; allocatedBytes: number } {
  return { liveBuffers: pool.liveBuffers, pooledBytes: pool.pooledBytes, allocatedBytes: pool.allocatedBytes };
}
