/**
 * A safe reader for PyTorch's `pytorch_model.bin`: torch.save zip archives (<name>/data.pkl + <name>/data/<key>,
 * PyTorch ≥ 1.6) and the legacy format older checkpoints still use (PyTorch < 1.6, or
 * `_use_new_zipfile_serialization=False`: a magic-number pickle, a protocol pickle, a system-info pickle, the state
 * dict's pickle, a pickle of the storage keys, then each storage as an int64 element count and its bytes).
 *
 * A pickle is a program: Python's unpickler will call any function it names (os.system included). This is not
 * Python's unpickler: it is a small stack machine that understands only the opcodes torch.save emits and only
 * the handful of globals that rebuild tensors and ordered dicts. Any other global — or any opcode it does not
 * know — is refused with an error naming it, before anything is built.
 */
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { CheckpointError, f16ToF32, type SafetensorsEntry } from './safetensors.js';

const ALLOWED_GLOBALS = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch.FloatStorage',
  'torch.HalfStorage',
  'torch.BFloat16Storage',
  'torch.DoubleStorage',
  'torch.LongStorage',
  'torch.IntStorage',
  'torch.ShortStorage',
  'torch.CharStorage',
  'torch.ByteStorage',
  'torch.BoolStorage',
  'torch.float32',
  'torch.float16',
  'torch.bfloat16',
  'torch.int64',
]);

interface Global {
  kind: 'global';
  name: string;
}
interface StorageRef {
  kind: 'storage';
  type: string;
  key: string;
  numel: number;
}
interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  size: number[];
  stride: number[];
}
type PV =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | PV[]
  | Map<PV, PV>
  | Global
  | StorageRef
  | TensorRef
  | { kind: 'tuple'; items: PV[] }
  | { kind: 'mark' };

const MARK = { kind: 'mark' } as const;

function isTuple(v: PV): v is { kind: 'tuple'; items: PV[] } {
  return !!v && typeof v === 'object' && 'kind' in v && v.kind === 'tuple';
}

/** Runs the restricted pickle machine over `data`; returns the top-level object. */
export function safeUnpickle(data: Uint8Array, file: string): PV {
  return unpickleAt(data, file, 0).value;
}

/** The restricted pickle machine from byte `start`: the object and the byte after its STOP. */
function unpickleAt(data: Uint8Array, file: string, start: number): { value: PV; end: number } {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: PV[] = [];
  const memo = new Map<number, PV>();
  let pos = start;
  const need = (n: number) => {
    if (pos + n > data.length) throw new CheckpointError(`${file}: pickle is truncated`);
  };
  const u8 = () => {
    need(1);
    return data[pos++]!;
  };
  const u16 = () => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const bytes = (n: number) => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const str = (n: number) => new TextDecoder().decode(bytes(n));
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new CheckpointError(`${file}: pickle is truncated`);
    const s = new TextDecoder().decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const popMark = (): PV[] => {
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stack[i] === MARK) {
        const items = stack.splice(i);
        items.shift();
        return items;
      }
    }
    throw new CheckpointError(`${file}: malformed pickle (no MARK)`);
  };
  const pop = (): PV => {
    if (!stack.length) throw new CheckpointError(`${file}: malformed pickle (stack underflow)`);
    return stack.pop()!;
  };
  const global = (name: string): Global => {
    if (!ALLOWED_GLOBALS.has(name)) {
      throw new CheckpointError(
        `${file}: refused to load: the pickle calls ${name}, which is not part of a saved tensor. ` +
          "A .bin file can run arbitrary code in Python; medtune only accepts torch's tensor layout. " +
          'If you trust the file, convert it to safetensors with HF transformers ' +
          '(save_pretrained(safe_serialization=True)).',
      );
    }
    return { kind: 'global', name };
  };
  const call = (fn: PV, args: PV): PV => {
    if (!fn || typeof fn !== 'object' || !('kind' in fn) || fn.kind !== 'global')
      throw new CheckpointError(`${file}: refused to load: the pickle calls something that is not an allowed function`);
    const a = isTuple(args) ? args.items : [];
    switch (fn.name) {
      case 'collections.OrderedDict':
        return new Map();
      case 'torch._utils._rebuild_tensor_v2': {
        const [storage, offset, size, stride] = a;
        if (!storage || typeof storage !== 'object' || !('kind' in storage) || storage.kind !== 'storage')
          throw new CheckpointError(`${file}: tensor without storage`);
        const toNums = (v: PV) => (isTuple(v) ? v.items : []).map(Number);
        return { kind: 'tensor', storage, offset: Number(offset), size: toNums(size), stride: toNums(stride) };
      }
      case 'torch._utils._rebuild_parameter':
        return a[0] ?? null;
      default:
        throw new CheckpointError(`${file}: refused to load: ${fn.name} cannot be called`);
    }
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        pos += 8;
        break; // FRAME
      case 0x2e:
        return { value: pop(), end: pos }; // STOP
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push({ kind: 'tuple', items: [] });
        break; // EMPTY_TUPLE
      case 0x28:
        stack.push(MARK);
        break; // MARK
      case 0x74:
        stack.push({ kind: 'tuple', items: popMark() });
        break; // TUPLE
      case 0x85:
        stack.push({ kind: 'tuple', items: [pop()] });
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push({ kind: 'tuple', items: [a, b] });
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push({ kind: 'tuple', items: [a, b, c] });
        break;
      } // TUPLE3
      case 0x71:
        memo.set(u8(), stack[stack.length - 1]!);
        break; // BINPUT
      case 0x72:
        memo.set(u32(), stack[stack.length - 1]!);
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, stack[stack.length - 1]!);
        break; // MEMOIZE
      case 0x68:
        stack.push(memo.get(u8()) ?? null);
        break; // BINGET
      case 0x6a:
        stack.push(memo.get(u32()) ?? null);
        break; // LONG_BINGET
      case 0x58:
        stack.push(str(u32()));
        break; // BINUNICODE
      case 0x8c:
        stack.push(str(u8()));
        break; // SHORT_BINUNICODE
      case 0x8d: {
        const n = Number(dv.getBigUint64(pos, true));
        pos += 8;
        stack.push(str(n));
        break;
      } // BINUNICODE8
      case 0x55:
        stack.push(str(u8()));
        break; // SHORT_BINSTRING
      case 0x54:
        stack.push(str(u32()));
        break; // BINSTRING
      case 0x43:
        stack.push(bytes(u8()));
        break; // SHORT_BINBYTES
      case 0x42:
        stack.push(bytes(u32()));
        break; // BINBYTES
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x8a: {
        // LONG1
        const n = u8();
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
        if (n > 0 && b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v));
        break;
      }
      case 0x47: {
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      } // BINFLOAT
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x63: {
        const mod = line();
        const name = line();
        stack.push(global(`${mod}.${name}`));
        break;
      } // GLOBAL
      case 0x93: {
        const name = pop();
        const mod = pop();
        stack.push(global(`${String(mod)}.${String(name)}`));
        break;
      } // STACK_GLOBAL
      case 0x52: {
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      } // REDUCE
      case 0x81: {
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ
      case 0x62:
        pop();
        break; // BUILD: state of an OrderedDict (_metadata) — ignored
      case 0x51: {
        // BINPERSID: ('storage', storage_type, key, location, numel)
        const pid = pop();
        if (!isTuple(pid) || pid.items[0] !== 'storage')
          throw new CheckpointError(`${file}: unsupported persistent id`);
        const t = pid.items[1];
        const type = t && typeof t === 'object' && 'kind' in t && t.kind === 'global' ? t.name : String(t);
        stack.push({ kind: 'storage', type, key: String(pid.items[2]), numel: Number(pid.items[4]) });
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        const d = stack[stack.length - 1];
        if (d instanceof Map) d.set(k, v);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        const d = stack[stack.length - 1];
        if (d instanceof Map) for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i]!, items[i + 1]!);
        break;
      } // SETITEMS
      case 0x61: {
        const v = pop();
        const l = stack[stack.length - 1];
        if (Array.isArray(l)) l.push(v);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        const l = stack[stack.length - 1];
        if (Array.isArray(l)) l.push(...items);
        break;
      } // APPENDS
      default:
        throw new CheckpointError(
          `${file}: refused to load: pickle opcode 0x${op.toString(16)} at byte ${pos - 1} ` +
            'is not one torch.save uses for tensors',
        );
    }
  }
}

const STORAGE_DTYPES: Record<string, { bytes: number; read: (dv: DataView, off: number) => number; int?: boolean }> = {
  'torch.FloatStorage': { bytes: 4, read: (dv, o) => dv.getFloat32(o, true) },
  'torch.DoubleStorage': { bytes: 8, read: (dv, o) => dv.getFloat64(o, true) },
  'torch.HalfStorage': { bytes: 2, read: (dv, o) => f16ToF32(dv.getUint16(o, true)) },
  'torch.BFloat16Storage': {
    bytes: 2,
    read: (dv, o) => {
      const b = new DataView(new ArrayBuffer(4));
      b.setUint32(0, dv.getUint16(o, true) << 16);
      return b.getFloat32(0);
    },
  },
  'torch.LongStorage': { bytes: 8, read: (dv, o) => Number(dv.getBigInt64(o, true)), int: true },
  'torch.IntStorage': { bytes: 4, read: (dv, o) => dv.getInt32(o, true), int: true },
  'torch.ShortStorage': { bytes: 2, read: (dv, o) => dv.getInt16(o, true), int: true },
  'torch.CharStorage': { bytes: 1, read: (dv, o) => dv.getInt8(o), int: true },
  'torch.ByteStorage': { bytes: 1, read: (dv, o) => dv.getUint8(o), int: true },
  'torch.BoolStorage': { bytes: 1, read: (dv, o) => dv.getUint8(o), int: true },
};

/** Reads a torch.save file (pytorch_model.bin: zip, or the legacy format) into name -> tensor, nothing else. */
export function readTorchBin(file: string): Map<string, SafetensorsEntry> {
  const buf = readFileSync(file);
  // a zip starts with PK\x03\x04; a legacy file with a pickle (PROTO) of torch's magic number
  if (buf[0] === 0x80 && buf[2] === 0x8a) return readLegacyTorchBin(buf, file);
  let zip: Record<string, Uint8Array>;
  try {
    zip = unzipSync(buf);
  } catch (e) {
    throw new CheckpointError(
      `${file} is not a readable torch.save archive (${(e as Error).message}); ` +
        'it is neither a zip (PyTorch ≥ 1.6) nor the legacy format — re-save it or use safetensors',
    );
  }
  const pklName = Object.keys(zip).find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pklName) throw new CheckpointError(`${file}: no data.pkl inside; not a torch.save archive`);
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  return tensorsOf(safeUnpickle(zip[pklName]!, file), (key) => zip[`${prefix}data/${key}`], file);
}

/** torch's magic number for the legacy format (the first pickle of the file). */
const LEGACY_MAGIC = Number(0x1950a86a20f9469cfc6cn);

/** The legacy (pre-1.6) format: five pickles through the same restricted machine, then the raw storages. */
export function readLegacyTorchBin(buf: Uint8Array, file: string): Map<string, SafetensorsEntry> {
  const bad = (why: string) => new CheckpointError(`${file}: not a legacy torch.save file (${why})`);
  const magic = unpickleAt(buf, file, 0);
  if (magic.value !== LEGACY_MAGIC) throw bad('wrong magic number');
  const proto = unpickleAt(buf, file, magic.end);
  if (proto.value !== 1001) throw bad(`protocol ${String(proto.value)}, expected 1001`);
  const info = unpickleAt(buf, file, proto.end);
  if (info.value instanceof Map && info.value.get('little_endian') === false)
    throw bad('written on a big-endian machine');
  const root = unpickleAt(buf, file, info.end);
  const keys = unpickleAt(buf, file, root.end);
  if (!Array.isArray(keys.value)) throw bad('no list of storage keys');
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const storages = new Map<string, Uint8Array>();
  const sizes = elementSizes(root.value);
  let pos = keys.end;
  for (const k of keys.value) {
    const key = String(k);
    if (pos + 8 > buf.length) throw new CheckpointError(`${file}: storage ${key} is truncated`);
    const numel = Number(dv.getBigInt64(pos, true));
    const bytes = numel * (sizes.get(key) ?? 4);
    pos += 8;
    if (numel < 0 || pos + bytes > buf.length) throw new CheckpointError(`${file}: storage ${key} is truncated`);
    storages.set(key, buf.subarray(pos, pos + bytes));
    pos += bytes;
  }
  return tensorsOf(root.value, (key) => storages.get(key), file);
}

/** Bytes per element of each storage the state dict's tensors name. */
function elementSizes(root: PV): Map<string, number> {
  const out = new Map<string, number>();
  if (root instanceof Map)
    for (const v of root.values())
      if (v && typeof v === 'object' && 'kind' in v && v.kind === 'tensor') {
        const t = v as TensorRef;
        out.set(t.storage.key, STORAGE_DTYPES[t.storage.type]?.bytes ?? 4);
      }
  return out;
}

/** The tensors of an unpickled state dict, their bytes from `storage(key)`. */
function tensorsOf(
  root: PV,
  storage: (key: string) => Uint8Array | undefined,
  file: string,
): Map<string, SafetensorsEntry> {
  if (!(root instanceof Map))
    throw new CheckpointError(`${file}: expected a state dict (a mapping of names to tensors)`);
  const out = new Map<string, SafetensorsEntry>();
  for (const [k, v] of root) {
    if (!v || typeof v !== 'object' || !('kind' in v) || v.kind !== 'tensor') continue;
    const t = v as TensorRef;
    const dt = STORAGE_DTYPES[t.storage.type];
    if (!dt) throw new CheckpointError(`${file}: tensor ${String(k)} has unsupported storage ${t.storage.type}`);
    const raw = storage(t.storage.key);
    if (!raw)
      throw new CheckpointError(`${file}: storage ${t.storage.key} for ${String(k)} is missing from the archive`);
    const sdv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const n = t.size.reduce((a, b) => a * b, 1);
    const data = dt.int ? new Int32Array(n) : new Float32Array(n);
    let contiguous = true;
    for (let d = t.size.length - 1, acc = 1; d >= 0; d--) {
      if (t.size[d]! > 1 && t.stride[d] !== acc) contiguous = false;
      acc *= t.size[d]!;
    }
    if (contiguous && t.storage.type === 'torch.FloatStorage') {
      if ((t.offset + n) * 4 > raw.byteLength)
        throw new CheckpointError(`${file}: tensor ${String(k)} reads past its storage (truncated file?)`);
      new Uint8Array(data.buffer).set(raw.subarray(t.offset * 4, (t.offset + n) * 4));
      out.set(String(k), { dtype: 'F32', shape: t.size, data });
      continue;
    }
    const idx = new Array<number>(t.size.length).fill(0);
    for (let i = 0; i < n; i++) {
      let off = t.offset;
      for (let d = 0; d < idx.length; d++) off += idx[d]! * t.stride[d]!;
      if ((off + 1) * dt.bytes > raw.byteLength)
        throw new CheckpointError(`${file}: tensor ${String(k)} reads past its storage (truncated file?)`);
      data[i] = dt.read(sdv, off * dt.bytes);
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d]! < t.size[d]!) break;
        idx[d] = 0;
      }
    }
    out.set(String(k), { dtype: t.storage.type.replace('torch.', '').replace('Storage', ''), shape: t.size, data });
  }
  return out;
}
