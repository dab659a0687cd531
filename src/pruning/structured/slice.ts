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
  const stride: number[] = new Array(dims.length);
  stride[dims.length - 1] = elemSize;
  for (let a = dims.length - 2; a >= 0; a--) stride[a] = stride[a + 1] * dims[a + 1];
  // Everything after the last sliced axis is one contiguous block.
  const block = stride[last];
  const lists = dims.map((d, a) => keeps[a] ?? Array.from({ length: d }, (_, i) => i));
  // Small blocks (a 3x3 kernel is 36 bytes) are copied by a loop, in 4-byte words when aligned.
  const words = bytes.byteOffset % 4 === 0 && block % 4 === 0;
  const src = words ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2) : bytes;
  const dst = words ? new Uint32Array(out.buffer) : out;
  const unit = words ? 4 : 1;
  const n = block / unit;
  let p = 0;
  const copy = (a: number, base: number): void => {
    const list = lists[a];
    const s = stride[a];
    if (a === last) {
      for (const i of list) {
        const from = base + i * s;
        if (block >= 256) out.set(bytes.subarray(from, from + block), p);
        else for (let b = 0, f = from / unit, t = p / unit; b < n; b++) dst[t + b] = src[f + b];
        p += block;
      }
      return;
    }
    for (const i of list) copy(a + 1, base + i * s);
  };
  copy(0, 0);
  return out;
}
