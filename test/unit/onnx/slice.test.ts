// Slicing: keeping indices along axes, bit for bit, for every element width
// and alignment, against a naive element-by-element copy: in memory
// (gatherAxes), and from a data file in chunks of rows (sliceJobs, runSliceJob)
// as the writer does it; composed cuts; zeros counted by their bits.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  composeKeeps, countZeroElements, gatherAxes, runSliceJob, sliceBuffers, sliceBytes, sliceDims, sliceJobs, type Keeps,
} from '../../../src/onnx/slice';
import { seededRandom, tempDir } from '../../helpers/models';

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

describe('slice: gatherAxes', () => {
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

describe('slice: from a data file, a chunk of rows at a time', () => {
  const rand = seededRandom(5);
  const pick = (n: number, p = 0.5) => Array.from({ length: n }, (_, i) => i).filter(() => rand() < p);
  const cases: [number[], (number[] | undefined)[]][] = [
    [[40, 13], [undefined, pick(13)]],
    [[40, 13], [pick(40), undefined]],
    [[40, 13], [pick(40, 0.2), pick(13)]],
    [[12, 5, 3, 3], [pick(12), pick(5), undefined, undefined]],
    [[12, 5, 3, 3], [undefined, pick(5), undefined, undefined]],
    [[50], [pick(50)]],
  ];
  for (const size of [1, 2, 4, 8]) {
    it(`${size}-byte elements: every chunk size gives the naive copy, and the jobs tile the output exactly`, () => {
      const dir = tempDir('slice-file');
      for (const [dims, keeps] of cases) {
        const n = dims.reduce((p, d) => p * d, 1) * size;
        const file = path.join(dir, 'data.bin');
        // The tensor at an odd offset of its file, as external data may be.
        const offset = 3;
        const all = Uint8Array.from({ length: offset + n + 5 }, () => Math.floor(rand() * 256));
        fs.writeFileSync(file, all);
        const bytes = all.subarray(offset, offset + n);
        const slice = { file, offset, dims, keeps: keeps.map((k) => k && Int32Array.from(k)), elemSize: size, floating: false };
        const expected = naive(bytes, dims, keeps, size);
        assert.equal(sliceBytes(slice), expected.length);
        assert.deepEqual(sliceDims(slice), dims.map((d, a) => keeps[a]?.length ?? d));
        const rowBytes = (n / dims[0]);
        for (const chunk of [1, rowBytes, 3 * rowBytes + 1, n]) {
          const jobs = sliceJobs(slice, chunk);
          const out = new Uint8Array(expected.length).fill(0xaa);
          let covered = 0;
          const buffers = sliceBuffers();
          for (const job of jobs) {
            const got = runSliceJob(job, buffers);
            assert.equal(got.length, job.length);
            out.set(got, job.at);
            covered += job.length;
          }
          assert.equal(covered, expected.length, `${dims} chunk ${chunk}`);
          assert.deepEqual(out, expected, `${dims} ${keeps.map((k) => k?.length)} chunk ${chunk}`);
          // Each job reads at most one chunk of the source, unless one row is larger.
          if (chunk >= rowBytes) assert.ok(jobs.length <= Math.ceil(n / rowBytes), `${jobs.length} jobs`);
        }
      }
    });
  }

  it('a data file shorter than the tensor is an error naming the tensor', () => {
    const file = path.join(tempDir('slice-short'), 'data.bin');
    fs.writeFileSync(file, new Uint8Array(10));
    const slice = { file, offset: 0, dims: [4, 4], keeps: [undefined, Int32Array.of(1, 2)], elemSize: 1, floating: false, tensor: 'w' };
    assert.throws(() => runSliceJob(sliceJobs(slice)[0], sliceBuffers()), (e: any) => e.code === 'external-data' && /ends before/.test(e.message) && /tensor w/.test(e.message));
  });
});

describe('slice: composed cuts and zeros', () => {
  it('keeping some of what a cut kept is one cut of the original', () => {
    const rand = seededRandom(9);
    const dims = [9, 7, 2];
    const bytes = Uint8Array.from({ length: 9 * 7 * 2 * 4 }, () => Math.floor(rand() * 256));
    const first: Keeps = [[0, 2, 3, 5, 8], undefined, [1]];
    const second: Keeps = [[1, 4], [0, 3, 6], undefined];
    const once = gatherAxes(gatherAxes(bytes, dims, first, 4), [5, 7, 1], second, 4);
    assert.deepEqual(gatherAxes(bytes, dims, composeKeeps(first, second), 4), once);
    assert.deepEqual(Array.from(composeKeeps(first, second)[0]!), [2, 8]);
  });

  it('counts zeros by their bits: -0 is a zero of a float, and not of an integer', () => {
    const f32 = new Float32Array([0, -0, 1e-45, -1, 0, NaN]);
    assert.equal(countZeroElements(new Uint8Array(f32.buffer), 4, true), 3);
    assert.equal(countZeroElements(new Uint8Array(f32.buffer), 4, false), 2);
    const f16 = new Uint16Array([0x0000, 0x8000, 0x0001, 0x3c00]);
    assert.equal(countZeroElements(new Uint8Array(f16.buffer), 2, true), 2);
    const f64 = new Float64Array([0, -0, 5e-324, 2]);
    assert.equal(countZeroElements(new Uint8Array(f64.buffer), 8, true), 2);
    assert.equal(countZeroElements(Uint8Array.of(0, 1, 0, 0x80), 1, false), 2);
    // Unaligned 16-bit data takes the byte path and agrees.
    const odd = new Uint8Array(9);
    odd.set(new Uint8Array(f16.buffer), 1);
    assert.equal(countZeroElements(odd.subarray(1), 2, true), 2);
  });
});
