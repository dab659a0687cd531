// Keeping some indices along several axes of a tensor at once, on raw bytes,
// so any element type is sliced bit for bit and each tensor is copied once.

import { elementCount } from '../../onnx/tensor';

/** keeps[a] lists the indices of axis a to keep (ascending), or is undefined to keep the whole axis. */
export function gatherAxes(bytes: Uint8Array, dims: number[], keeps: (number[] | undefined)[], elemSize: number): Uint8Array {
  let last = -1;
  keeps.forEach((k, a) => {
    if (k) last = a;
  });
  const outDims = dims.map((d, a) => keeps[a]?.length ?? d);
  const out = new Uint8Array(elementCount(outDims) * elemSize);
  if (last < 0) {
    out.set(bytes);
    return out;
  }
  if (dims.length === 2 && !keeps[0] && keeps[1] && (elemSize === 2 || elemSize === 4) && bytes.byteOffset % elemSize === 0) {
    return gatherColumns(bytes, dims[0], dims[1], Int32Array.from(keeps[1]), elemSize, out);
  }
  const stride: number[] = new Array(dims.length);
  stride[dims.length - 1] = elemSize;
  for (let a = dims.length - 2; a >= 0; a--) stride[a] = stride[a + 1] * dims[a + 1];
  // Everything after the last sliced axis is one contiguous block.
  const block = stride[last];
  const lists = dims.map((d, a) => Int32Array.from(keeps[a] ?? { length: d }, (v, i) => v ?? i));
  // Small blocks (a 3x3 kernel is 36 bytes, an fp16 column is 2) are copied by a loop, in the
  // widest words that alignment allows.
  const unit = [4, 2].find((u) => bytes.byteOffset % u === 0 && block % u === 0) ?? 1;
  const view = (b: Uint8Array): Uint32Array | Uint16Array | Uint8Array => (unit === 4 ? new Uint32Array(b.buffer, b.byteOffset, b.length / 4)
    : unit === 2 ? new Uint16Array(b.buffer, b.byteOffset, b.length / 2) : b);
  const src = view(bytes);
  const dst = view(out);
  const n = block / unit;
  let p = 0;
  const copy = (a: number, base: number): void => {
    const list = lists[a];
    const s = stride[a];
    if (a === last) {
      if (block >= 256) {
        for (let j = 0; j < list.length; j++) {
          const from = base + list[j] * s;
          out.set(bytes.subarray(from, from + block), p);
          p += block;
        }
      } else if (n === 1) {
        // One element per kept index (a column of a matrix): the common case of MatMul weights.
        const f = base / unit;
        const step = s / unit;
        let t = p / unit;
        for (let j = 0; j < list.length; j++) dst[t++] = src[f + list[j] * step];
        p = t * unit;
      } else {
        for (let j = 0; j < list.length; j++) {
          const f = (base + list[j] * s) / unit;
          const t = p / unit;
          for (let b = 0; b < n; b++) dst[t + b] = src[f + b];
          p += block;
        }
      }
      return;
    }
    for (let j = 0; j < list.length; j++) copy(a + 1, base + list[j] * s);
  };
  copy(0, 0);
  return out;
}

/** Columns of a row-major matrix of 2- or 4-byte elements (the in-channels of MatMul weights): one tight loop. */
function gatherColumns(bytes: Uint8Array, rows: number, cols: number, keep: Int32Array, elemSize: number, out: Uint8Array): Uint8Array {
  if (elemSize === 2) {
    const src = new Uint16Array(bytes.buffer, bytes.byteOffset, rows * cols);
    gatherRows16(src, new Uint16Array(out.buffer), rows, cols, keep);
  } else {
    const src = new Uint32Array(bytes.buffer, bytes.byteOffset, rows * cols);
    gatherRows32(src, new Uint32Array(out.buffer), rows, cols, keep);
  }
  return out;
}

// One function per element width, so each loop sees one array type (V8 optimises it monomorphically).
function gatherRows16(src: Uint16Array, dst: Uint16Array, rows: number, cols: number, keep: Int32Array): void {
  let t = 0;
  for (let r = 0, base = 0; r < rows; r++, base += cols) for (let j = 0; j < keep.length; j++) dst[t++] = src[base + keep[j]];
}

function gatherRows32(src: Uint32Array, dst: Uint32Array, rows: number, cols: number, keep: Int32Array): void {
  let t = 0;
  for (let r = 0, base = 0; r < rows; r++, base += cols) for (let j = 0; j < keep.length; j++) dst[t++] = src[base + keep[j]];
}
