import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PruneLensError } from '../../../src/onnx/errors';
import { ModelInput, openDataset, typedView, Batch } from '../../../src/validation/datasets';
import { encodeNpy, parseNpyHeader, readNpyHeader, writeNpy } from '../../../src/validation/npy';
import { readNpz } from '../../../src/validation/npz';
import { ROOT, modelPath, tempDir } from '../../helpers/models';
import { floatToHalf, halfToFloat } from '../../../src/onnx/tensor';

const VAL_X = modelPath('digits_val_x.npy');
const VAL_Y = modelPath('digits_val_y.npy');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'validation');
const DIGITS_INPUT: ModelInput[] = [{ name: 'input', type: 'float32', shape: ['N', 1, 8, 8] }];

/** The data bytes of a .npy file, read whole: the reference the streamed reads must equal. */
function npyData(file: string): Buffer {
  const bytes = fs.readFileSync(file);
  return bytes.subarray(parseNpyHeader(bytes, file).dataOffset);
}

async function readAll(spec: Parameters<typeof openDataset>[0], inputs = DIGITS_INPUT) {
  const dataset = openDataset(spec, inputs);
  const reader = dataset.open();
  const batches: Batch[] = [];
  for (let b = await reader.next(); b; b = await reader.next()) batches.push(b);
  reader.close();
  return { dataset, batches, input: Buffer.concat(batches.map((b) => b.inputs.input.data)), labels: batches.flatMap((b) => [...(b.labels ?? [])]) };
}

describe('validation data: .npy', () => {
  it('reads the header of the real digits data without its rows', () => {
    const h = readNpyHeader(VAL_X);
    assert.equal(h.dtype, 'float32');
    assert.deepEqual(h.shape, [360, 1, 8, 8]);
    assert.equal(h.rowBytes, 256);
    assert.equal(h.dataOffset + 360 * 256, fs.statSync(VAL_X).size);
    assert.equal(readNpyHeader(VAL_Y).dtype, 'int64');
  });

  it('refuses a FIFO or a device named as .npy at once, instead of blocking on it', function () {
    if (process.platform === 'win32') this.skip();
    const fifo = path.join(tempDir('npy-fifo'), 'x.npy');
    execFileSync('mkfifo', [fifo]);
    for (const file of [fifo, '/dev/zero']) {
      assert.throws(() => readNpyHeader(file), (e: Error) => e instanceof PruneLensError && e.code === 'io' && e.file === file && /not a regular file/.test(e.message));
    }
  });

  it('writes what NumPy reads: header padded to 64 bytes, data after it', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const bytes = encodeNpy('float32', [2, 3], data);
    const h = parseNpyHeader(bytes, 'x.npy');
    assert.equal(h.dataOffset % 64, 0);
    assert.deepEqual(h.shape, [2, 3]);
    assert.deepEqual([...(typedView(bytes.subarray(h.dataOffset), 'float32') as Float32Array)], [1, 2, 3, 4, 5, 6]);
  });

  it('rejects what it cannot read with the file named', () => {
    assert.throws(() => parseNpyHeader(Buffer.from('PK\x03\x04 not numpy'), 'a.npy'), /a\.npy: not a valid \.npy file: missing/);
    const big = Buffer.from(encodeNpy('float32', [1], new Float32Array(1)).toString('latin1').replace("'<f4'", "'>f4'"), 'latin1');
    assert.throws(() => parseNpyHeader(big, 'b.npy'), /b\.npy: .*big-endian/);
    const strings = Buffer.from(encodeNpy('float32', [1], new Float32Array(1)).toString('latin1').replace("'<f4'", "'<U3'"), 'latin1');
    assert.throws(() => parseNpyHeader(strings, 'c.npy'), /c\.npy: .*'<U3' is not supported/);
  });

  it('streams batches whose bytes equal the file, labels included, last batch short', async () => {
    const { dataset, batches, input, labels } = await readAll({ data: VAL_X, labels: VAL_Y, batchSize: 50 });
    assert.equal(dataset.samples, 360);
    assert.deepEqual(batches.map((b) => b.rows), [50, 50, 50, 50, 50, 50, 50, 10]);
    assert.deepEqual(batches[0].inputs.input.dims, [50, 1, 8, 8]);
    assert.ok(input.equals(npyData(VAL_X)));
    assert.deepEqual(labels, [...(typedView(npyData(VAL_Y), 'int64') as BigInt64Array)].map(Number));
  });

  it('a truncated file fails at the row where it ends', async () => {
    const dir = tempDir('npy');
    const cut = path.join(dir, 'cut.npy');
    fs.writeFileSync(cut, fs.readFileSync(VAL_X).subarray(0, 128 + 100 * 256 + 17));
    const reader = openDataset({ data: cut, batchSize: 64 }, DIGITS_INPUT).open();
    await reader.next();
    await assert.rejects(reader.next(), /cut\.npy: data ends at byte \d+, inside row 100/);
    reader.close();
  });
});

describe('validation data: .npz', () => {
  it('reads stored entries by offset, equal to the source rows', async () => {
    const arrays = readNpz(path.join(FIXTURES, 'digits_val_stored.npz'));
    assert.deepEqual([...arrays.keys()].sort(), ['input', 'labels']);
    const { dataset, input, labels } = await readAll({ data: path.join(FIXTURES, 'digits_val_stored.npz'), batchSize: 16 });
    assert.equal(dataset.samples, 40);
    assert.ok(dataset.hasLabels, 'an array named labels is taken as the labels');
    assert.ok(input.equals(npyData(VAL_X).subarray(0, 40 * 256)));
    assert.equal(labels.length, 40);
  });

  it('inflates deflated entries as a stream, equal to the source rows', async () => {
    const { input, labels } = await readAll({ data: path.join(FIXTURES, 'digits_val_deflated.npz'), batchSize: 32 });
    assert.ok(input.equals(npyData(VAL_X)));
    assert.deepEqual(labels, [...(typedView(npyData(VAL_Y), 'int64') as BigInt64Array)].map(Number));
  });

  it('a file that is not a zip gets a clear error', () => {
    assert.throws(() => readNpz(VAL_X), /digits_val_x\.npy: not a valid \.npz \(zip\) file: no end-of-central-directory record/);
  });
});

describe('validation data: folders, generated inputs, mismatches', () => {
  it('a folder of one-sample .npy files is read in natural name order, with labels.npy', async () => {
    const dir = tempDir('folder');
    const rows = npyData(VAL_X);
    for (let i = 0; i < 12; i++) {
      writeNpy(path.join(dir, `sample${i}.npy`), 'float32', [1, 8, 8], new Float32Array(rows.buffer.slice(rows.byteOffset + i * 256, rows.byteOffset + (i + 1) * 256)));
    }
    writeNpy(path.join(dir, 'labels.npy'), 'int32', [12], Int32Array.from({ length: 12 }, (_, i) => i % 10));
    const { dataset, input, labels } = await readAll({ data: dir, batchSize: 5 });
    assert.equal(dataset.samples, 12);
    assert.ok(input.equals(rows.subarray(0, 12 * 256)), 'sample10 comes after sample9, not after sample1');
    assert.deepEqual(labels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
  });

  it('float64 data feeds a float32 input', async () => {
    const dir = tempDir('f64');
    const file = path.join(dir, 'x.npy');
    writeNpy(file, 'float64', [3, 1, 8, 8], Float64Array.from({ length: 192 }, (_, i) => i / 4));
    const { input } = await readAll({ data: file, batchSize: 2 });
    assert.deepEqual([...(typedView(input, 'float32') as Float32Array)].slice(0, 5), [0, 0.25, 0.5, 0.75, 1]);
    assert.equal(input.length, 3 * 64 * 4);
  });

  it('float16 data (<f2) feeds a float16 input as its bits; float32 data is converted for it, and generated inputs are fp16 normals', async () => {
    const dir = tempDir('f16');
    const FP16_INPUT: ModelInput[] = [{ name: 'input', type: 'float16', shape: ['N', 4] }];
    const values = [0, 0.25, -1.5, 65504, 1e-3, 3, -0.125, 2];
    const half = path.join(dir, 'half.npy');
    // 0x3c00 is 1.0, 0xc000 is -2.0: bits as NumPy writes them.
    writeNpy(half, 'float16', [2, 4], Uint16Array.from([0x3c00, 0xc000, 0, 0x3800, 1, 2, 3, 4]));
    assert.equal(readNpyHeader(half).dtype, 'float16');
    const a = await readAll({ data: half, batchSize: 2 }, FP16_INPUT);
    assert.equal(a.batches[0].inputs.input.type, 'float16');
    assert.deepEqual([...(typedView(a.input, 'float16') as Uint16Array)], [0x3c00, 0xc000, 0, 0x3800, 1, 2, 3, 4]);
    const single = path.join(dir, 'single.npy');
    writeNpy(single, 'float32', [2, 4], Float32Array.from(values));
    const b = await readAll({ data: single, batchSize: 1 }, FP16_INPUT);
    assert.equal(b.batches[0].inputs.input.type, 'float16');
    assert.deepEqual([...(typedView(b.input, 'float16') as Uint16Array)].map(halfToFloat), values.map((v) => halfToFloat(floatToHalf(v))));
    const g = await readAll({ samples: 64, batchSize: 64 }, FP16_INPUT);
    const generated = [...(typedView(g.input, 'float16') as Uint16Array)].map(halfToFloat);
    const mean = generated.reduce((s, v) => s + v, 0) / generated.length;
    const sd = Math.sqrt(generated.reduce((s, v) => s + v * v, 0) / generated.length);
    assert.ok(Math.abs(mean) < 0.2 && sd > 0.8 && sd < 1.2, `generated fp16: mean ${mean}, sd ${sd}`);
  });

  it('a wrong shape or type names the input, the expected and the given shape', () => {
    const dir = tempDir('shape');
    const flat = path.join(dir, 'flat.npy');
    writeNpy(flat, 'float32', [4, 64], new Float32Array(256));
    assert.throws(() => openDataset({ data: flat, batchSize: 2 }, DIGITS_INPUT),
      /flat\.npy: input 'input' expects shape \[N, 1, 8, 8\] of float32, but the data has shape \[4, 64\] of float32/);
    const ints = path.join(dir, 'ints.npy');
    writeNpy(ints, 'int32', [4, 1, 8, 8], new Int32Array(256));
    assert.throws(() => openDataset({ data: ints, batchSize: 2 }, DIGITS_INPUT), /expects shape \[N, 1, 8, 8\] of float32, but the data has shape \[4, 1, 8, 8\] of int32/);
    assert.throws(() => openDataset({ data: VAL_X, labels: path.join(FIXTURES, 'digits_val_stored.npz'), batchSize: 2 }, DIGITS_INPUT), /labels must be an \.npy file/);
    assert.throws(() => openDataset({ data: VAL_X, labels: path.join(dir, 'missing.npy'), batchSize: 2 }, DIGITS_INPUT), /missing\.npy: labels file not found/);
  });

  it('labels and data of different lengths are refused', () => {
    const dir = tempDir('len');
    const y = path.join(dir, 'y.npy');
    writeNpy(y, 'int64', [10], new BigInt64Array(10));
    assert.throws(() => openDataset({ data: VAL_X, labels: y, batchSize: 8 }, DIGITS_INPUT), /has 360 samples but the other arrays have 10/);
  });

  it('generated inputs follow the model shape, resolve symbolic dims and repeat with the seed', async () => {
    const inputs: ModelInput[] = [
      { name: 'tokens', type: 'int64', shape: ['batch', 'seq'] },
      { name: 'image', type: 'float32', shape: ['batch', 3, 4, 4] },
    ];
    assert.throws(() => openDataset({ batchSize: 4 }, inputs), /input 'tokens' has symbolic dimension 'seq' on axis 1 .*--dim seq=SIZE/);
    const read = async (seed: number) => {
      const reader = openDataset({ batchSize: 4, samples: 10, seed, dims: { seq: 7 } }, inputs).open();
      const out: Batch[] = [];
      for (let b = await reader.next(); b; b = await reader.next()) out.push(b);
      return out;
    };
    const a = await read(1);
    assert.deepEqual(a.map((b) => b.rows), [4, 4, 2]);
    assert.deepEqual(a[0].inputs.tokens.dims, [4, 7]);
    assert.deepEqual(a[2].inputs.image.dims, [2, 3, 4, 4]);
    assert.ok(a[0].inputs.image.data.equals((await read(1))[0].inputs.image.data));
    assert.ok(!a[0].inputs.image.data.equals((await read(2))[0].inputs.image.data));
    const floats = typedView(a[0].inputs.image.data, 'float32') as Float32Array;
    const mean = floats.reduce((s, v) => s + v, 0) / floats.length;
    assert.ok(Math.abs(mean) < 0.25, `standard-normal inputs should average near 0, got ${mean}`);
  });

  it('a fixed batch dimension overrides the batch size, with a warning', () => {
    const fixed: ModelInput[] = [{ name: 'input', type: 'float32', shape: [1, 3, 224, 224] }];
    const d = openDataset({ batchSize: 32, samples: 3 }, fixed);
    assert.equal(d.batchSize, 1);
    assert.match(d.warnings[0], /fixed at 1; using batches of 1 instead of 32/);
  });
});
