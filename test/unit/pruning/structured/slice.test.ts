// gatherAxes: keeping indices along axes, bit for bit, for every element width
// and alignment, against a naive element-by-element copy.

import { strict as assert } from 'node:assert';
import { gatherAxes } from '../../../../src/pruning/structured/slice';
import { seededRandom } from '../../../helpers/models';

function naive(bytes: Uint8Array, dims: number[], keeps: (number[] | undefined)[], size: number): Uint8Array {
  const lists = dims.map((d, a) => keeps[a] ?? Array.from({ length: d }, (_, i) => i));
  const out: number[] = [];
  const walk = (a: number, offset: number) => {
    if (a === dims.length) {
      for (let b = 0; b < size; b++) out.push(bytes[offset * size + b]);
      return;
    }
    const stride = dims.slice(a + 1).reduce((p, d) => p * d, 1);
    for (const i of lists[a]) walk(a + 1, offset + i * stride);
  };
  walk(0, 0);
  return Uint8Array.from(out);
}

describe('structured: gatherAxes', () => {
  const rand = seededRandom(3);
  const pick = (n: number) => Array.from({ length: n }, (_, i) => i).filter(() => rand() < 0.5);
  for (const size of [1, 2, 4, 8]) {
    for (const shift of [0, 1]) {
      it(`${size}-byte elements${shift ? ', unaligned' : ''}: columns, rows, both, and 4-D slices match a naive copy`, () => {
        for (const [dims, keeps] of [
          [[7, 13], [undefined, pick(13)]],
          [[7, 13], [pick(7), undefined]],
          [[7, 13], [pick(7), pick(13)]],
          [[6, 5, 3, 3], [pick(6), pick(5), undefined, undefined]],
          [[6, 5, 3, 3], [undefined, pick(5), undefined, undefined]],
          [[200, 70], [undefined, pick(70)]],
        ] as [number[], (number[] | undefined)[]][]) {
          const n = dims.reduce((p, d) => p * d, 1) * size;
          const buf = Uint8Array.from({ length: n + shift }, () => Math.floor(rand() * 256));
          const bytes = buf.subarray(shift);
          assert.deepEqual(gatherAxes(bytes, dims, keeps, size), naive(bytes, dims, keeps, size), `${dims} ${keeps.map((k) => k?.length)}`);
        }
      });
    }
  }
});
