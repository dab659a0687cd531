// Reads the small .npy arrays a plan points at (custom masks and importance
// scores) as float32. The validation layer has a streaming .npy reader for
// datasets; pruning sits below validation and must not import it, and a mask
// is one small array, so this reader stays minimal: little-endian, C order.

import * as fs from 'node:fs';
import { PruneLensError, withFile } from '../../onnx/errors';

export interface NpyArray {
  shape: number[];
  values: Float32Array;
}

const READERS: Record<string, [size: number, read: (v: DataView, o: number) => number]> = {
  f4: [4, (v, o) => v.getFloat32(o, true)], f8: [8, (v, o) => v.getFloat64(o, true)],
  i1: [1, (v, o) => v.getInt8(o)], u1: [1, (v, o) => v.getUint8(o)], b1: [1, (v, o) => v.getUint8(o)],
  i2: [2, (v, o) => v.getInt16(o, true)], u2: [2, (v, o) => v.getUint16(o, true)],
  i4: [4, (v, o) => v.getInt32(o, true)], u4: [4, (v, o) => v.getUint32(o, true)],
  i8: [8, (v, o) => Number(v.getBigInt64(o, true))], u8: [8, (v, o) => Number(v.getBigUint64(o, true))],
};

export function readNpyFloats(file: string): NpyArray {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw withFile(e, file);
  }
  const bad = (why: string) => new PruneLensError('plan', `not a usable .npy file: ${why}`, {}, file);
  if (bytes.length < 10 || bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw bad('missing the \\x93NUMPY magic');
  const major = bytes[6];
  if (major < 1 || major > 3) throw bad(`format version ${major} is not known`);
  const start = major === 1 ? 10 : 12;
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const header = bytes.toString('latin1', start, start + headerLen);
  const descr = /'descr'\s*:\s*'([<>|=])(\w\d)'/.exec(header);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined) throw bad(`cannot read the header ${header.trim()}`);
  if (/'fortran_order'\s*:\s*True/.test(header)) throw bad('Fortran order; save it with np.ascontiguousarray');
  const reader = READERS[descr[2]];
  if (!reader) throw bad(`element type ${descr[1]}${descr[2]} is not supported (use float32, float64, bool or an integer type)`);
  const [size, read] = reader;
  if (descr[1] === '>' && size > 1) throw bad('big-endian data; save it little-endian');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(`shape (${shapeText}) is not valid`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  if (bytes.length < dataStart + count * size) throw bad(`holds ${bytes.length - dataStart} data bytes, the shape needs ${count * size}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart, count * size);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = read(view, i * size);
  return { shape, values };
}
