// Reading at disk speed: fp16 and bf16 converted over whole arrays and fp16
// norms read from the bits, each checked against a conversion per value; weights
// in external data reduced in chunks on worker threads, giving the same table as
// the same model analysed in memory; cancel stops the workers.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeFile, analyzeModel, type LayerTable } from '../../../src/analysis';
import { axisStats } from '../../../src/analysis/norms';
import { newGraph, newModel, newNode, newTensor, newValueInfo } from '../../../src/onnx/build';
import { parseModel, saveModel, serializeModel, type OnnxModel } from '../../../src/onnx/model';
import { bf16ToFloat, bytesToFloats, DataType, floatsToBytes, halfToFloat } from '../../../src/onnx/tensor';
import { concatChunks } from '../../../src/onnx/wire';
import { seededRandom, tempDir } from '../../helpers/models';

/**
 * Every 16-bit pattern, as little-endian bytes at `shift` bytes into a buffer (0: aligned, 1: not).
 * A Buffer, as files are read into: its slice() is a view, not a copy.
 */
function allPatterns(shift: number): Uint8Array {
  const buf = Buffer.alloc(65536 * 2 + shift);
  const bytes = buf.subarray(shift);
  for (let h = 0; h < 65536; h++) {
    bytes[2 * h] = h & 0xff;
    bytes[2 * h + 1] = h >> 8;
  }
  return bytes;
}

function sameFloat(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

/** Values with exact zeros (and negative zeros) among them, scaled like weights. */
function weights(n: number, seed: number): Float32Array {
  const rand = seededRandom(seed);
  return Float32Array.from({ length: n }, (_, i) => (i % 11 === 0 ? (i % 22 === 0 ? 0 : -0) : (rand() - 0.5) * 0.2));
}

/** MatMul 64→67→32 and a grouped Conv, weights in `dt`; 67 rows are not a multiple of four. */
function model16(dt: DataType.FLOAT16 | DataType.BFLOAT16): OnnxModel {
  const t = (name: string, dims: number[], seed: number) =>
    newTensor(name, dt, dims, floatsToBytes(weights(dims.reduce((a, b) => a * b, 1), seed), dt));
  const graph = newGraph('g', [
    newNode('MatMul', ['x', 'w1'], ['h'], 'mm1'),
    newNode('MatMul', ['h', 'w2'], ['y'], 'mm2'),
    newNode('Conv', ['img', 'wc'], ['z'], 'conv', { group: 2, kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
  ], [newValueInfo('x', dt, ['N', 64]), newValueInfo('img', dt, [1, 8, 6, 6])],
  [newValueInfo('y', dt, ['N', 32]), newValueInfo('z', dt, [1, 12, 6, 6])],
  [t('w1', [64, 67], 1), t('w2', [67, 32], 2), t('wc', [12, 4, 3, 3], 3)]);
  return parseModel(concatChunks(serializeModel(newModel(graph, 17, 8))));
}

/** Per-channel sums computed naively in float64 from values converted one by one. */
function naive(values: Float32Array, dims: number[]): { l1a: number[]; l2a: number[]; l1b: number[] } {
  const [d0, d1] = dims;
  const inner = values.length / (d0 * d1);
  const l1a = new Array(d0).fill(0);
  const l2a = new Array(d0).fill(0);
  const l1b = new Array(d1).fill(0);
  values.forEach((v, i) => {
    const r = Math.floor(i / (d1 * inner));
    const c = Math.floor(i / inner) % d1;
    l1a[r] += Math.abs(v);
    l2a[r] += v * v;
    l1b[c] += Math.abs(v);
  });
  return { l1a, l2a, l1b };
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-12 * Math.max(1, Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

/** The table without what depends on where the file is. */
function comparable(t: LayerTable): unknown {
  return { ...t, file: '', totals: { ...t.totals, bytes: 0 } };
}

describe('analysis: fp16 and bf16 in bulk', () => {
  for (const shift of [0, 1]) {
    it(`every fp16 and bf16 bit pattern converts as one value at a time does (${shift ? 'unaligned' : 'aligned'})`, () => {
      const bytes = allPatterns(shift);
      const half = bytesToFloats(bytes, DataType.FLOAT16);
      const bf = bytesToFloats(bytes, DataType.BFLOAT16);
      for (let h = 0; h < 65536; h++) {
        assert.ok(sameFloat(half[h], Math.fround(halfToFloat(h))), `fp16 ${h.toString(16)}: ${half[h]}`);
        assert.ok(sameFloat(bf[h], bf16ToFloat(h)), `bf16 ${h.toString(16)}: ${bf[h]}`);
      }
    });
  }

  for (const dt of [DataType.FLOAT16, DataType.BFLOAT16] as const) {
    it(`${dt === DataType.FLOAT16 ? 'fp16' : 'bf16'} norms and zeros match a naive computation, rows not a multiple of four`, () => {
      for (const t of model16(dt).graph.initializer) {
        const dims = t.dims.map(Number);
        const values = bytesToFloats(t.raw_data!, dt);
        const s = axisStats(t, dims, 1);
        const ref = naive(values, dims);
        close(s.l1a, ref.l1a, `${t.name} l1a`);
        close(s.l2a, ref.l2a, `${t.name} l2a`);
        close(s.l1b, ref.l1b, `${t.name} l1b`);
        assert.equal(s.zeros, values.filter((v) => v === 0).length, `${t.name} zeros`);
        assert.ok(s.zeros > 0);
      }
    });
  }
});

describe('analysis: weights in external data', () => {
  async function externalCopy(dt: DataType.FLOAT16 | DataType.BFLOAT16): Promise<{ file: string; inMemory: LayerTable }> {
    const m = model16(dt);
    const inMemory = analyzeModel(m);
    const file = path.join(tempDir('analysis-ext'), 'm.onnx');
    await saveModel(m, file, { externalThreshold: 0 });
    assert.ok(fs.existsSync(`${file}.data`));
    return { file, inMemory };
  }

  for (const threads of [2, 0]) {
    it(`gives the table of the same model in memory (${threads ? `${threads} worker threads` : 'in-thread'}), with progress to the end`, async () => {
      for (const dt of [DataType.FLOAT16, DataType.BFLOAT16] as const) {
        const { file, inMemory } = await externalCopy(dt);
        const seen: [number, number][] = [];
        const t = await analyzeFile(file, { threads, onProgress: (done, total) => seen.push([done, total]) });
        assert.deepEqual(comparable(t), comparable(inMemory));
        const last = seen[seen.length - 1];
        assert.equal(last[0], last[1]);
        assert.equal(last[1], fs.statSync(file).size + fs.statSync(`${file}.data`).size - padding(file));
      }
    });
  }

  it('stops when cancelled, before or during the external weights', async () => {
    const { file } = await externalCopy(DataType.FLOAT16);
    const before = new AbortController();
    before.abort();
    await assert.rejects(analyzeFile(file, { signal: before.signal, threads: 2 }), (e: any) => e.code === 'cancelled');
    const during = new AbortController();
    await assert.rejects(analyzeFile(file, {
      signal: during.signal, threads: 2,
      onProgress: (done, total) => {
        if (done < total) during.abort();
      },
    }), (e: any) => e.code === 'cancelled');
    // Nothing was left running: a fresh analysis works.
    assert.equal((await analyzeFile(file, { threads: 2 })).layers.length, 3);
  });

  it('a length that disagrees with the dims is a tensor error naming it, as for weights in memory', async () => {
    const { file } = await externalCopy(DataType.FLOAT16);
    const m = parseModel(fs.readFileSync(file), file);
    m.graph.initializer.find((t) => t.name === 'w2')!.external_data.find((e) => e.key === 'length')!.value = '100';
    fs.writeFileSync(file, concatChunks(serializeModel(m)));
    for (const threads of [2, 0]) {
      await assert.rejects(analyzeFile(file, { threads }), (e: any) => e.code === 'tensor' && /100 bytes/.test(e.message) && /tensor w2/.test(e.message));
    }
  });

  it('a data file too short is an error naming the model and the tensor, from a worker too', async () => {
    const { file } = await externalCopy(DataType.FLOAT16);
    fs.truncateSync(`${file}.data`, 5000);
    await assert.rejects(analyzeFile(file, { threads: 2 }), (e: any) => e.code === 'external-data' && e.message.startsWith(file) && /tensor w\d|tensor wc/.test(e.message));
  });
});

/** Bytes of alignment padding in the data file (between tensors): not tensor data, so not progress. */
function padding(file: string): number {
  const m = parseModel(fs.readFileSync(file), file);
  let data = 0;
  for (const t of m.graph.initializer) {
    const len = t.external_data.find((e) => e.key === 'length');
    if (len) data += Number(len.value);
  }
  return fs.statSync(`${file}.data`).size - data;
}
