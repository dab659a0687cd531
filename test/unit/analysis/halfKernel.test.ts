// The WebAssembly SIMD kernel for fp16/bf16 norms (halfKernel.ts): every bit
// pattern against float64 sums of values converted one at a time; weight-like
// values to the last bit; infinities and NaNs through the JavaScript path;
// grouped rows; and weights in external data read in several chunks straight
// into the kernel's memory, giving the table of the same model in memory.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeFile, analyzeModel } from '../../../src/analysis';
import { halfKernel } from '../../../src/analysis/halfKernel';
import { AxisAccumulator, type AxisStats } from '../../../src/analysis/norms';
import { newGraph, newModel, newNode, newTensor, newValueInfo } from '../../../src/onnx/build';
import { parseModel, saveModel, serializeModel } from '../../../src/onnx/model';
import { bf16ToFloat, DataType, halfToFloat } from '../../../src/onnx/tensor';
import { concatChunks } from '../../../src/onnx/wire';
import { seededRandom, tempDir } from '../../helpers/models';

type Dt = DataType.FLOAT16 | DataType.BFLOAT16;
const DTS: [Dt, string][] = [[DataType.FLOAT16, 'fp16'], [DataType.BFLOAT16, 'bf16']];
const toFloat = (dt: Dt) => (dt === DataType.FLOAT16 ? halfToFloat : bf16ToFloat);

/** Sums in float64, one value at a time in row-major order; `groups` splits the rows, each group with its own columns. */
function naive(h: Uint16Array, dt: Dt, d0: number, d1: number, groups = 1): AxisStats {
  const f = toFloat(dt);
  const s: AxisStats = {
    l1a: new Float64Array(d0), l2a: new Float64Array(d0), l1b: new Float64Array(groups * d1), l2b: new Float64Array(groups * d1),
    zeros: 0, count: d0 * d1,
  };
  const perGroup = d0 / groups;
  for (let r = 0; r < d0; r++) {
    for (let c = 0; c < d1; c++) {
      const x = Math.abs(f(h[r * d1 + c]));
      const b = Math.floor(r / perGroup) * d1 + c;
      s.l1a[r] += x; s.l2a[r] += x * x; s.l1b[b] += x; s.l2b[b] += x * x;
      if (x === 0) s.zeros++;
    }
  }
  return s;
}

function kernelStats(h: Uint16Array, dt: Dt, d0: number, d1: number, groups = 1): AxisStats {
  const acc = new AxisAccumulator(new Uint8Array(h.buffer, h.byteOffset, h.byteLength), [d0, d1], groups, dt);
  assert.ok(acc.usesKernel);
  acc.feed(Infinity);
  return acc.stats;
}

function same(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

/** Equal to the last bit (exact), or within `rel` of the naive sums. */
function compare(got: AxisStats, want: AxisStats, what: string, rel = 0): void {
  assert.equal(got.zeros, want.zeros, `${what} zeros`);
  for (const k of ['l1a', 'l2a', 'l1b', 'l2b'] as const) {
    assert.equal(got[k].length, want[k].length, `${what} ${k}`);
    for (let i = 0; i < want[k].length; i++) {
      const [g, w] = [got[k][i], want[k][i]];
      const ok = rel === 0 || !Number.isFinite(w) ? same(g, w) : Math.abs(g - w) <= rel * Math.abs(w);
      assert.ok(ok, `${what} ${k}[${i}]: ${g} vs ${w}`);
    }
  }
}

/** Weight-like 16-bit values: magnitudes 2^-14..2^-3 (fp16 subnormals below 2^-14 too), random signs, exact zeros. */
function weightLike(n: number, dt: Dt, seed: number): Uint16Array {
  const rand = seededRandom(seed);
  const h = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const u = rand();
    const sign = rand() < 0.5 ? 0x8000 : 0;
    if (u < 0.03) h[i] = sign; // ±0
    else if (dt === DataType.FLOAT16) h[i] = sign | (u < 0.06 ? Math.floor(rand() * 1024) : ((1 + Math.floor(rand() * 12)) << 10) | Math.floor(rand() * 1024));
    else h[i] = sign | ((113 + Math.floor(rand() * 12)) << 7) | Math.floor(rand() * 128);
  }
  return h;
}

describe('analysis: the SIMD kernel for fp16 and bf16 norms', () => {
  before(function () {
    if (!halfKernel()) this.skip(); // no WebAssembly SIMD: the JavaScript kernel alone, tested in external.test.ts
  });

  for (const [dt, label] of DTS) {
    it(`${label}: every finite bit pattern, 67 columns (not a multiple of 8), rows not a multiple of 4`, () => {
      const special = dt === DataType.FLOAT16 ? 0x7c00 : 0x7f80;
      const finite = Array.from({ length: 65536 }, (_, i) => i).filter((i) => (i & 0x7fff) < special);
      const d1 = 67;
      const d0 = Math.floor(finite.length / d1);
      assert.ok(d0 % 4 !== 0);
      const h = Uint16Array.from(finite.slice(0, d0 * d1));
      // Sums of values up to 65504 (or 3e38) are not exact in float64: equal to the rounding of sums in another order.
      compare(kernelStats(h, dt, d0, d1), naive(h, dt, d0, d1), label, 1e-13);
    });

    it(`${label}: weight-like values give the naive float64 sums to the last bit, fp16 subnormals and zeros included`, () => {
      for (const [d0, d1, seed] of [[1, 1, 1], [3, 7, 2], [4, 8, 3], [37, 5632, 4], [130, 2051, 5]]) {
        const h = weightLike(d0 * d1, dt, seed);
        compare(kernelStats(h, dt, d0, d1), naive(h, dt, d0, d1), `${label} [${d0},${d1}]`);
      }
    });

    it(`${label}: an infinity or a NaN in a block gives it its IEEE meaning, the rest of the block as usual`, () => {
      const [d0, d1] = [9, 19];
      // -inf, the smallest NaN pattern, a quiet NaN: each alone in its block
      const cases = dt === DataType.FLOAT16 ? [0xfc00, 0x7c01, 0x7e00] : [0xff80, 0x7f81, 0x7fc0];
      for (const bits of cases) {
        const h = weightLike(d0 * d1, dt, 7);
        h[6 * d1 + 11] = bits;
        const s = kernelStats(h, dt, d0, d1);
        compare(s, naive(h, dt, d0, d1), `${label} ${bits.toString(16)}`);
        const want = bits === cases[0] ? Infinity : NaN;
        for (const x of [s.l1a[6], s.l2a[6], s.l1b[11], s.l2b[11]]) assert.ok(same(x, want), `${bits.toString(16)}: ${x}`);
      }
    });

    it(`${label}: grouped rows (a 1x1 convolution with 3 groups) keep each group's columns apart`, () => {
      const [d0, d1] = [30, 13];
      const h = weightLike(d0 * d1, dt, 9);
      compare(kernelStats(h, dt, d0, d1, 3), naive(h, dt, d0, d1, 3), label);
    });
  }

  it('weights in external data, read in several chunks straight into the kernel, give the table of the model in memory', async () => {
    // 1201 x 2100 fp16 is 5 MB: several 1 MB chunks, rows not a multiple of four.
    const rand = seededRandom(11);
    const [k, n] = [1201, 2100];
    const w = weightLike(k * n, DataType.FLOAT16, 13);
    const bias = Uint16Array.from({ length: n }, () => 0x3c00 ^ (rand() < 0.5 ? 0x8000 : 0));
    // and a grouped 1x1 convolution, whose groups are read in place at offsets into the kernel's memory
    const wc = weightLike(48 * 16, DataType.FLOAT16, 17); // 1.5 KB: large enough to go to external data
    const graph = newGraph('g', [
      newNode('MatMul', ['x', 'w'], ['h'], 'mm'), newNode('Add', ['h', 'b'], ['y'], 'add'),
      newNode('Conv', ['img', 'wc'], ['z'], 'conv', { group: 3, kernel_shape: [1, 1] }),
    ], [newValueInfo('x', DataType.FLOAT16, ['N', k]), newValueInfo('img', DataType.FLOAT16, [1, 48, 4, 4])],
    [newValueInfo('y', DataType.FLOAT16, ['N', n]), newValueInfo('z', DataType.FLOAT16, [1, 48, 4, 4])],
    [newTensor('w', DataType.FLOAT16, [k, n], new Uint8Array(w.buffer)), newTensor('b', DataType.FLOAT16, [n], new Uint8Array(bias.buffer)),
      newTensor('wc', DataType.FLOAT16, [48, 16, 1, 1], new Uint8Array(wc.buffer))]);
    const m = parseModel(concatChunks(serializeModel(newModel(graph, 17, 8))));
    const inMemory = analyzeModel(m);
    const file = path.join(tempDir('half-kernel'), 'm.onnx');
    await saveModel(m, file, { externalThreshold: 0 });
    assert.ok(fs.statSync(`${file}.data`).size > 4 * 1024 * 1024);
    const saved = parseModel(fs.readFileSync(file), file);
    assert.ok(['w', 'wc'].every((name) => saved.graph.initializer.find((t) => t.name === name)!.external_data.length > 0));
    for (const threads of [1, 0]) {
      const t = await analyzeFile(file, { threads });
      assert.deepEqual({ ...t, file: '', totals: { ...t.totals, bytes: 0 } }, { ...inMemory, file: '', totals: { ...inMemory.totals, bytes: 0 } });
    }
    // and both are the naive sums: L1 and L2 per output channel (axis 1 of a MatMul weight, axis 0 of a Conv's)
    const ref = naive(w, DataType.FLOAT16, k, n);
    const mm = inMemory.layers.find((l) => l.op === 'MatMul')!;
    for (let j = 0; j < n; j++) {
      assert.equal(mm.out.l1[j], ref.l1b[j]);
      assert.equal(mm.out.l2[j], Math.sqrt(ref.l2b[j]));
    }
    const conv = inMemory.layers.find((l) => l.op === 'Conv')!;
    const refc = naive(wc, DataType.FLOAT16, 48, 16, 3);
    assert.deepEqual(conv.out.l1, Array.from(refc.l1a));
    assert.deepEqual(conv.in.l1, Array.from(refc.l1b));
  });
});
