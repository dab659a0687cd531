// An array on disk that is read row by row: a .npy file, an entry of an .npz,
// or several .npy files read one after the other. Readers are sequential and
// hold at most one batch (plus one inflated chunk) in memory.

import * as fs from 'node:fs';
import { PruneLensError } from '../onnx/errors';
import { DTYPE_BYTES, NpyDtype, NpyHeader, readNpyHeader, readRowsAt } from './npy';

export interface RowReader {
  /** The next `count` rows, as raw little-endian bytes. */
  read(count: number): Promise<Buffer>;
  close(): void;
}

export interface ArraySource {
  /** Where the array lives, for messages: `x.npy`, `data.npz:input`, a folder. */
  label: string;
  dtype: NpyDtype;
  shape: number[];
  rowBytes: number;
  open(): RowReader;
}

/** A plain .npy file, or a stored (uncompressed) .npz entry: rows are read by byte offset. */
export function offsetArray(file: string, label: string, npyStart = 0, header: NpyHeader = readNpyHeader(file, npyStart)): ArraySource {
  const dataStart = npyStart + header.dataOffset;
  return {
    label,
    dtype: header.dtype,
    shape: header.shape,
    rowBytes: header.rowBytes,
    open() {
      const fd = fs.openSync(file, 'r');
      let next = 0;
      return {
        async read(count) {
          if (next + count > header.rows) throw new PruneLensError('validation', `asked for rows ${next}..${next + count} of ${header.rows}`, {}, label);
          const rows = readRowsAt(fd, label, dataStart, header.rowBytes, next, count);
          next += count;
          return rows;
        },
        close: () => fs.closeSync(fd),
      };
    },
  };
}

/** Several arrays with the same row layout, read as one (a folder of .npy shards or samples). */
export function concatArrays(label: string, parts: ArraySource[]): ArraySource {
  const first = parts[0];
  const rows = parts.reduce((n, p) => n + p.shape[0], 0);
  return {
    label,
    dtype: first.dtype,
    shape: [rows, ...first.shape.slice(1)],
    rowBytes: first.rowBytes,
    open() {
      let index = 0;
      let left = parts[0].shape[0];
      let reader = parts[0].open();
      return {
        async read(count) {
          const chunks: Buffer[] = [];
          while (count > 0) {
            while (left === 0) {
              reader.close();
              index += 1;
              if (index >= parts.length) throw new PruneLensError('validation', `asked for more rows than the ${rows} there are`, {}, label);
              reader = parts[index].open();
              left = parts[index].shape[0];
            }
            const take = Math.min(count, left);
            chunks.push(await reader.read(take));
            left -= take;
            count -= take;
          }
          return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        },
        close: () => reader.close(),
      };
    },
  };
}

/** Treats a single-sample array (no batch axis) as an array of one row. */
export function asOneRow(source: ArraySource): ArraySource {
  const elements = source.shape.reduce((a, b) => a * b, 1);
  const innerRows = source.shape.length === 0 ? 1 : source.shape[0];
  return {
    ...source,
    shape: [1, ...source.shape],
    rowBytes: elements * DTYPE_BYTES[source.dtype],
    open() {
      const inner = source.open();
      let consumed = false;
      return {
        async read(count) {
          if (count === 0) return Buffer.alloc(0);
          if (count !== 1 || consumed) throw new PruneLensError('validation', 'asked for more than its one sample', {}, source.label);
          consumed = true;
          return inner.read(innerRows);
        },
        close: () => inner.close(),
      };
    },
  };
}
