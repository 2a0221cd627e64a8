/**
 * safetensors reader: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
 * then the raw little-endian data. F32, F16 and BF16 load into float32; I64/I32 into int32 where they fit.
 * Every offset is validated so that a truncated or corrupt file gives an error naming the file.
 */
import { readFileSync } from 'node:fs';
import { MedtuneError } from '../common/errors.js';

export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

export class CheckpointError extends MedtuneError {
  constructor(message: string) {
    super(message, 'E_MODEL_WEIGHTS');
    this.name = 'CheckpointError';
  }
}

const DTYPE_BYTES: Record<string, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** IEEE half -> number (also used by the torch .bin reader). */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Parses a safetensors file held in memory. */
export function parseSafetensors(buf: Uint8Array, file = 'safetensors file'): Map<string, SafetensorsEntry> {
  if (buf.byteLength < 8)
    throw new CheckpointError(`${file} is truncated: ${buf.byteLength} bytes, not even a header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (headerLen > buf.byteLength - 8 || headerLen > 100 * 1024 * 1024)
    throw new CheckpointError(
      `${file} is truncated or not safetensors: header length ${headerLen} exceeds the file size ${buf.byteLength}`,
    );
  let header: Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>
  >;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new CheckpointError(`${file} has a corrupt header (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const out = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const info = raw as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const width = DTYPE_BYTES[info.dtype];
    if (!width) throw new CheckpointError(`${file}: tensor ${name} has unsupported dtype ${info.dtype}`);
    const n = info.shape.reduce((a, b) => a * b, 1);
    const [b0, b1] = info.data_offsets;
    if (b1 - b0 !== n * width || b0 < 0 || dataStart + b1 > buf.byteLength) {
      throw new CheckpointError(
        `${file} is truncated or corrupt: tensor ${name} (${info.dtype} ${JSON.stringify(info.shape)}) ` +
          `needs bytes ${b0}..${b1} of the data section, which has ${buf.byteLength - dataStart}`,
      );
    }
    const off = dataStart + b0;
    let data: Float32Array | Int32Array;
    switch (info.dtype) {
      case 'F32': {
        data = new Float32Array(n);
        new Uint8Array(data.buffer).set(buf.subarray(off, off + n * 4));
        break;
      }
      case 'F16': {
        data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = f16ToF32(dv.getUint16(off + 2 * i, true));
        break;
      }
      case 'BF16': {
        const u = new Uint32Array(n);
        for (let i = 0; i < n; i++) u[i] = dv.getUint16(off + 2 * i, true) << 16;
        data = new Float32Array(u.buffer);
        break;
      }
      case 'F64': {
        data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = dv.getFloat64(off + 8 * i, true);
        break;
      }
      case 'I64': {
        data = new Int32Array(n);
        for (let i = 0; i < n; i++) data[i] = Number(dv.getBigInt64(off + 8 * i, true));
        break;
      }
      case 'I32': {
        data = new Int32Array(n);
        for (let i = 0; i < n; i++) data[i] = dv.getInt32(off + 4 * i, true);
        break;
      }
      default: {
        data = new Float32Array(n);
        for (let i = 0; i < n; i++)
          data[i] =
            info.dtype === 'I8'
              ? dv.getInt8(off + i)
              : info.dtype === 'I16'
                ? dv.getInt16(off + 2 * i, true)
                : dv.getUint8(off + i);
      }
    }
    out.set(name, { dtype: info.dtype, shape: info.shape, data });
  }
  return out;
}

export function readSafetensors(file: string): Map<string, SafetensorsEntry> {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new CheckpointError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseSafetensors(buf, file);
}

/** Serialises float32 / int32 / int8 tensors to safetensors bytes (header padded to 8 bytes, keys in order). */
export function serializeSafetensors(
  tensors: [string, { shape: readonly number[]; data: Float32Array | Int32Array | Int8Array }][],
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  for (const [name, t] of tensors) {
    const bytes = t.data.byteLength;
    header[name] = {
      dtype: t.data instanceof Float32Array ? 'F32' : t.data instanceof Int8Array ? 'I8' : 'I32',
      shape: [...t.shape],
      data_offsets: [off, off + bytes],
    };
    off += bytes;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const head = new Uint8Array(8 + Buffer.byteLength(json));
  new DataView(head.buffer).setBigUint64(0, BigInt(Buffer.byteLength(json)), true);
  head.set(Buffer.from(json), 8);
  return [head, ...tensors.map(([, t]) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}
