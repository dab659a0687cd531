// NumPy .npy files (format versions 1-3): header parsing, row reads by byte
// offset, and a writer for tests and fixtures. Only the header is read up
// front, so a data file of any size costs one batch of memory.

import * as fs from 'node:fs';
import { PruneLensError } from '../onnx/errors';

/** Element types we can feed to onnxruntime (and read as labels), by ONNX name. */
export type NpyDtype = 'float16' | 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

const DESCR_TO_DTYPE: Record<string, NpyDtype> = {
  f2: 'float16', f4: 'float32', f8: 'float64', i1: 'int8', u1: 'uint8', i2: 'int16', u2: 'uint16',
  i4: 'int32', u4: 'uint32', i8: 'int64', u8: 'uint64', b1: 'bool',
};

export const DTYPE_BYTES: Record<NpyDtype, number> = {
  float16: 2, float32: 4, float64: 8, int8: 1, uint8: 1, int16: 2, uint16: 2,
  int32: 4, uint32: 4, int64: 8, uint64: 8, bool: 1,
};

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first element, counted from the start of the .npy bytes. */
  dataOffset: number;
  /** Bytes of one row (one index along axis 0); the element size for 0-d arrays. */
  rowBytes: number;
  rows: number;
}

/**
 * Parses the header at the start of `bytes` (which may hold only a prefix of
 * the file). Throws a 'malformed' or 'unsupported' error naming `file`.
 */
export function parseNpyHeader(bytes: Buffer, file: string): NpyHeader {
  const fail = (detail: string) => new PruneLensError('malformed', `not a valid .npy file: ${detail}`, {}, file);
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) throw fail('missing the \\x93NUMPY magic');
  const major = bytes[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = bytes.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw fail('header ends early');
    headerLen = bytes.readUInt32LE(8);
    start = 12;
  } else {
    throw fail(`format version ${major} is not known`);
  }
  if (start + headerLen > bytes.length) throw fail(`header of ${headerLen} bytes ends past the data read`);
  const text = bytes.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw fail(`header dictionary lacks descr, fortran_order or shape: ${text.trim()}`);
  }
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw fail(`bad shape (${shapeText})`);

  const order = descr[0];
  const dtype = DESCR_TO_DTYPE[descr.slice(1)];
  if (!dtype || !'<>|='.includes(order)) {
    throw new PruneLensError('unsupported', `.npy element type '${descr}' is not supported (use float16, float32, float64 or an integer type)`, {}, file);
  }
  if (order === '>' && DTYPE_BYTES[dtype] > 1) {
    throw new PruneLensError('unsupported', `.npy data is big-endian ('${descr}'); save it little-endian (arr.astype('<${descr.slice(1)}'))`, {}, file);
  }
  if (fortran === 'True' && shape.filter((d) => d > 1).length > 1) {
    throw new PruneLensError('unsupported', '.npy data is in Fortran order; save it with np.ascontiguousarray', {}, file);
  }
  const rowElems = shape.slice(1).reduce((a, b) => a * b, 1);
  return {
    dtype,
    shape,
    dataOffset: start + headerLen,
    rowBytes: rowElems * DTYPE_BYTES[dtype],
    rows: shape.length === 0 ? 1 : shape[0],
  };
}

/**
 * Reads the header of a .npy file from disk (without reading its data). Only
 * a regular file: the extension host reads headers on hover, and a FIFO or a
 * device named as data would block it (opened without blocking, then checked).
 */
export function readNpyHeader(file: string, fileOffset = 0): NpyHeader {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    if (!fs.fstatSync(fd).isFile()) throw new PruneLensError('io', 'not a regular file (a .npy must be a file on disk)', {}, file);
    const prefix = Buffer.alloc(64 * 1024);
    const n = fs.readSync(fd, prefix, 0, prefix.length, fileOffset);
    return parseNpyHeader(prefix.subarray(0, n), file);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads `count` rows starting at row `start` from an array stored at `dataStart` in `file`. */
export function readRowsAt(fd: number, file: string, dataStart: number, rowBytes: number, start: number, count: number): Buffer {
  const out = Buffer.alloc(rowBytes * count);
  const pos = dataStart + rowBytes * start;
  let got = 0;
  while (got < out.length) {
    const n = fs.readSync(fd, out, got, out.length - got, pos + got);
    if (n === 0) throw new PruneLensError('truncated', `data ends at byte ${pos + got}, inside row ${start + Math.floor(got / rowBytes)}`, {}, file);
    got += n;
  }
  return out;
}

const DTYPE_TO_DESCR: Record<NpyDtype, string> = {
  float16: '<f2', float32: '<f4', float64: '<f8', int8: '|i1', uint8: '|u1', int16: '<i2', uint16: '<u2',
  int32: '<i4', uint32: '<u4', int64: '<i8', uint64: '<u8', bool: '|b1',
};

/** Encodes an array as .npy (version 1) bytes. */
export function encodeNpy(dtype: NpyDtype, shape: number[], data: ArrayBufferView): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${DTYPE_TO_DESCR[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad with spaces so the data starts on a 64-byte boundary, as NumPy does.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  if (data.byteLength !== expected) throw new Error(`encodeNpy: ${data.byteLength} bytes given for shape [${shape}] of ${dtype}`);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

export function writeNpy(file: string, dtype: NpyDtype, shape: number[], data: ArrayBufferView): void {
  fs.writeFileSync(file, encodeNpy(dtype, shape, data));
}
