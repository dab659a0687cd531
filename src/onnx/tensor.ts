// Tensor data: element types, validated dims, and typed access to the values,
// whichever field holds them (raw_data, the typed *_data fields, external
// data in a side file, or a slice of external data not made yet). Reading fp32
// raw_data gives a view of the file's bytes when it is aligned; other types
// are converted.

import { takeDeferredBytes } from './deferred';
import { readSpilled, spilledLength } from './spill';
import { PruneLensError } from './errors';
import type { TensorProto } from './schema';
import { clearTypedData } from './tensorData';
import type { Int64 } from './wire';

export const enum DataType {
  UNDEFINED = 0, FLOAT = 1, UINT8 = 2, INT8 = 3, UINT16 = 4, INT16 = 5, INT32 = 6, INT64 = 7, STRING = 8,
  BOOL = 9, FLOAT16 = 10, DOUBLE = 11, UINT32 = 12, UINT64 = 13, COMPLEX64 = 14, COMPLEX128 = 15, BFLOAT16 = 16,
}

const NAMES: Record<number, string> = {
  0: 'undefined', 1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64',
  8: 'string', 9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64',
  15: 'complex128', 16: 'bfloat16', 17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2',
  20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4', 23: 'float4e2m1',
};

const SIZES: Record<number, number> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2,
  17: 1, 18: 1, 19: 1, 20: 1,
};

export function dataTypeName(dt: number | undefined): string {
  return NAMES[dt ?? 0] ?? `type ${dt}`;
}

/** Bytes per element, or 0 for types without a fixed byte size (string, 4-bit). */
export function elementSize(dt: number | undefined): number {
  return SIZES[dt ?? 0] ?? 0;
}

/** Tensors beyond this many elements are not real weights; refuse rather than allocate. */
export const MAX_ELEMENTS = 2 ** 31;

export function toNumber(v: Int64): number {
  return typeof v === 'bigint' ? Number(v) : v;
}

/** The tensor's dims as numbers, checked to be sane. */
export function tensorDims(t: TensorProto): number[] {
  let n = 1;
  const dims = t.dims.map((d) => {
    const v = toNumber(d);
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new PruneLensError('limit', `dimension ${String(d)} is not a valid size`, { tensor: t.name });
    }
    n *= v;
    return v;
  });
  if (n > MAX_ELEMENTS) {
    throw new PruneLensError('limit', `${dims.join('x')} is ${n} elements, more than any real tensor`, { tensor: t.name });
  }
  return dims;
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function isExternal(t: TensorProto): boolean {
  return t.data_location === 1;
}

/**
 * Reads the bytes of an external tensor; provided by the model that owns the tensor.
 * With `scratch`, the bytes go into its buffer (grown as needed) and the result is a
 * view of it, valid until the next read with the same scratch: for callers that only
 * look at a weight once (slicing), so a large model is not a new allocation per tensor.
 */
export type ExternalReader = (t: TensorProto, scratch?: ReadScratch) => Uint8Array;

export interface ReadScratch {
  buffer: Uint8Array;
}

/**
 * The tensor's values as little-endian bytes in its own element type.
 * raw_data and external data are returned as they are (views); typed fields are packed.
 */
export function tensorBytes(t: TensorProto, external?: ExternalReader): Uint8Array {
  const dt = t.data_type ?? 0;
  const size = elementSize(dt);
  const dims = tensorDims(t);
  const count = elementCount(dims);
  if (!size) throw new PruneLensError('unsupported', `tensors of type ${dataTypeName(dt)} are not supported here`, { tensor: t.name });
  let bytes: Uint8Array;
  if (isExternal(t)) {
    if (!external) throw new PruneLensError('external-data', 'tensor data is in an external file, but the model has no folder to read it from', { tensor: t.name });
    bytes = external(t);
  } else if (t.raw_data) {
    bytes = t.raw_data;
  } else if (spilledLength(t) !== undefined) {
    // Pruned weights moved out of memory (spill.ts): read each time, like external data.
    bytes = readSpilled(t);
  } else {
    // A slice not made yet (deferred.ts) is made now and kept, like any data put into raw_data.
    const sliced = takeDeferredBytes(t);
    if (sliced) t.raw_data = sliced;
    bytes = sliced ?? packTypedField(t, dt, count);
  }
  if (bytes.length !== count * size) {
    throw new PruneLensError('tensor',
      `data holds ${bytes.length} bytes, but ${dataTypeName(dt)}[${dims.join(',')}] needs ${count * size}`,
      { tensor: t.name });
  }
  return bytes;
}

/** The typed field that holds a type's values when raw_data is absent. */
function typedField(t: TensorProto, dt: number): [list: unknown[], field: string] | undefined {
  switch (dt) {
    case DataType.FLOAT: return [t.float_data, 'float_data'];
    case DataType.DOUBLE: return [t.double_data, 'double_data'];
    case DataType.INT64: return [t.int64_data, 'int64_data'];
    case DataType.UINT64: case DataType.UINT32: return [t.uint64_data, 'uint64_data'];
    // These types all live in int32_data, one element per entry (fp16 as its bit pattern).
    case DataType.INT32: case DataType.INT16: case DataType.INT8: case DataType.UINT16: case DataType.UINT8:
    case DataType.BOOL: case DataType.FLOAT16: case DataType.BFLOAT16: return [t.int32_data, 'int32_data'];
    default: return undefined;
  }
}

function packTypedField(t: TensorProto, dt: number, count: number): Uint8Array {
  const field = typedField(t, dt);
  if (!field) {
    if (count !== 0) throw new PruneLensError('tensor', `no data for a ${dataTypeName(dt)} tensor`, { tensor: t.name });
    return new Uint8Array(0);
  }
  // Checked before allocating: the dims of a crafted file can ask for gigabytes its fields do not hold.
  const [list, name] = field;
  if (list.length !== count) {
    throw new PruneLensError('tensor', `${name} holds ${list.length} values, but the dims need ${count}`, { tensor: t.name });
  }
  const size = elementSize(dt);
  const out = new Uint8Array(count * size);
  const view = new DataView(out.buffer);
  switch (dt) {
    case DataType.FLOAT: list.forEach((v, i) => view.setFloat32(i * 4, v as number, true)); break;
    case DataType.DOUBLE: list.forEach((v, i) => view.setFloat64(i * 8, v as number, true)); break;
    case DataType.INT64: list.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v as Int64), true)); break;
    case DataType.UINT32: list.forEach((v, i) => view.setUint32(i * 4, Number(v), true)); break;
    case DataType.UINT64: list.forEach((v, i) => view.setBigUint64(i * 8, BigInt(v as Int64), true)); break;
    default:
      list.forEach((v, i) => {
        const n = v as number;
        if (size === 4) view.setInt32(i * 4, n, true);
        else if (size === 2) view.setUint16(i * 2, n & 0xffff, true);
        else view.setUint8(i, n & 0xff);
      });
  }
  return out;
}

/** Values converted to float32. A view of the file's bytes when the data is aligned fp32. */
export function tensorFloats(t: TensorProto, external?: ExternalReader): Float32Array {
  const bytes = tensorBytes(t, external);
  return bytesToFloats(bytes, t.data_type ?? 0, t.name);
}

export function bytesToFloats(bytes: Uint8Array, dt: number, name?: string): Float32Array {
  const size = elementSize(dt);
  const n = bytes.length / size;
  if (dt === DataType.FLOAT && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  return bytesToFloatsInto(bytes, dt, new Float32Array(n), name);
}

/**
 * Converts into `out` (at least bytes/elementSize long) and returns its first
 * part. fp16 goes through a 65536-entry table and bf16 is a shift into the
 * float's upper half, both over whole arrays: several times faster than a
 * conversion per value through a DataView.
 */
export function bytesToFloatsInto(bytes: Uint8Array, dt: number, out: Float32Array, name?: string): Float32Array {
  const size = elementSize(dt);
  const n = bytes.length / size;
  const res = out.length === n ? out : out.subarray(0, n);
  if ((dt === DataType.FLOAT16 || dt === DataType.BFLOAT16) && bytes.byteOffset % 2 !== 0) {
    // Typed views need alignment: convert from an aligned copy (new Uint8Array copies; a Buffer's slice() would not).
    return bytesToFloatsInto(new Uint8Array(bytes), dt, out, name);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dt) {
    case DataType.FLOAT: new Uint8Array(res.buffer, res.byteOffset, n * 4).set(bytes); break;
    case DataType.FLOAT16: {
      const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
      const table = halfTable();
      for (let i = 0; i < n; i++) res[i] = table[h[i]];
      break;
    }
    case DataType.BFLOAT16: {
      const h = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
      const w = new Uint32Array(res.buffer, res.byteOffset, n);
      for (let i = 0; i < n; i++) w[i] = h[i] << 16;
      break;
    }
    case DataType.DOUBLE: for (let i = 0; i < n; i++) res[i] = view.getFloat64(i * 8, true); break;
    case DataType.INT8: for (let i = 0; i < n; i++) res[i] = view.getInt8(i); break;
    case DataType.UINT8: case DataType.BOOL: for (let i = 0; i < n; i++) res[i] = bytes[i]; break;
    case DataType.INT16: for (let i = 0; i < n; i++) res[i] = view.getInt16(i * 2, true); break;
    case DataType.UINT16: for (let i = 0; i < n; i++) res[i] = view.getUint16(i * 2, true); break;
    case DataType.INT32: for (let i = 0; i < n; i++) res[i] = view.getInt32(i * 4, true); break;
    case DataType.UINT32: for (let i = 0; i < n; i++) res[i] = view.getUint32(i * 4, true); break;
    case DataType.INT64: for (let i = 0; i < n; i++) res[i] = Number(view.getBigInt64(i * 8, true)); break;
    case DataType.UINT64: for (let i = 0; i < n; i++) res[i] = Number(view.getBigUint64(i * 8, true)); break;
    default:
      throw new PruneLensError('unsupported', `cannot read ${dataTypeName(dt)} values as numbers`, { tensor: name });
  }
  return res;
}

let HALF_TABLE: Float32Array | undefined;

/** Every fp16 bit pattern as a float32 (256 KB, built on first use). */
function halfTable(): Float32Array {
  if (!HALF_TABLE) {
    HALF_TABLE = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) HALF_TABLE[h] = halfToFloat(h);
  }
  return HALF_TABLE;
}

/** Integer values (shape tensors, axes, pads). */
export function tensorInts(t: TensorProto, external?: ExternalReader): number[] {
  const dt = t.data_type ?? 0;
  const bytes = tensorBytes(t, external);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  if (dt === DataType.INT64) for (let i = 0; i < bytes.length; i += 8) out.push(clampInt(view.getBigInt64(i, true)));
  else if (dt === DataType.INT32) for (let i = 0; i < bytes.length; i += 4) out.push(view.getInt32(i, true));
  else return Array.from(bytesToFloats(bytes, dt, t.name));
  return out;
}

/** int64 sentinels such as INT64_MAX (Slice's "to the end") become ±Infinity-like safe values. */
function clampInt(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(v);
}

/**
 * Replaces a tensor's values and dims, keeping its element type. The data goes
 * into raw_data (a fresh buffer); typed fields and external data are cleared.
 */
export function setTensorFloats(t: TensorProto, dims: number[], values: Float32Array): void {
  const dt = t.data_type ?? DataType.FLOAT;
  if (values.length !== elementCount(dims)) throw new Error(`setTensorFloats: ${values.length} values for dims ${dims}`);
  t.raw_data = floatsToBytes(values, dt, t.name);
  t.dims = dims.slice();
  clearTypedData(t);
}

/** Replaces a tensor's bytes (already in its element type) and dims. */
export function setTensorBytes(t: TensorProto, dims: number[], bytes: Uint8Array): void {
  t.raw_data = bytes;
  t.dims = dims.slice();
  clearTypedData(t);
}

export function floatsToBytes(values: Float32Array, dt: number, name?: string): Uint8Array {
  const n = values.length;
  const out = new Uint8Array(n * elementSize(dt));
  const view = new DataView(out.buffer);
  switch (dt) {
    case DataType.FLOAT: out.set(new Uint8Array(values.buffer, values.byteOffset, n * 4)); break;
    case DataType.DOUBLE: for (let i = 0; i < n; i++) view.setFloat64(i * 8, values[i], true); break;
    case DataType.FLOAT16: for (let i = 0; i < n; i++) view.setUint16(i * 2, floatToHalf(values[i]), true); break;
    case DataType.BFLOAT16: for (let i = 0; i < n; i++) view.setUint16(i * 2, floatToBf16(values[i]), true); break;
    case DataType.INT8: for (let i = 0; i < n; i++) view.setInt8(i, values[i]); break;
    case DataType.UINT8: for (let i = 0; i < n; i++) view.setUint8(i, values[i]); break;
    case DataType.INT32: for (let i = 0; i < n; i++) view.setInt32(i * 4, values[i], true); break;
    default:
      throw new PruneLensError('unsupported', `cannot write ${dataTypeName(dt)} values`, { tensor: name });
  }
  return out;
}

/**
 * Gathers slices along one axis: keeps `keep` indices of axis `axis`, in order.
 * Works on bytes, so any fixed-size element type is sliced exactly, bit for bit.
 */
export function gatherAxis(bytes: Uint8Array, dims: number[], axis: number, keep: number[], elemSize: number): Uint8Array {
  const outer = elementCount(dims.slice(0, axis));
  const inner = elementCount(dims.slice(axis + 1)) * elemSize;
  const axisLen = dims[axis];
  const out = new Uint8Array(outer * keep.length * inner);
  let p = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * axisLen * inner;
    for (const k of keep) {
      out.set(bytes.subarray(base + k * inner, base + (k + 1) * inner), p);
      p += inner;
    }
  }
  return out;
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return half;
}

export function bf16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

export function floatToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
