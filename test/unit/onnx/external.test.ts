// External tensor data: read lazily from the side file, only from inside the
// model's folder, with errors that name the tensor.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeModel } from '../../../src/analysis';
import { newGraph, newModel, newNode, newTensor, newValueInfo } from '../../../src/onnx/build';
import { encodeMessage } from '../../../src/onnx/codec';
import { loadModelSync, serializeModel } from '../../../src/onnx/model';
import type { TensorProto } from '../../../src/onnx/schema';
import { DataType, tensorFloats } from '../../../src/onnx/tensor';
import { concatChunks } from '../../../src/onnx/wire';
import { tempDir } from '../../helpers/models';

const W = Float32Array.from({ length: 4 * 2 * 3 * 3 }, (_, i) => (i % 7) - 3 + i / 100);
const B = new Float32Array([0.5, -0.5, 1.5, 2.5]);

function externalTensor(name: string, dims: number[], location: string, offset: number, length?: number): TensorProto {
  const t = newTensor(name, DataType.FLOAT, dims, new Uint8Array(0));
  delete t.raw_data;
  t.data_location = 1;
  t.external_data = [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }];
  if (length !== undefined) t.external_data.push({ key: 'length', value: String(length) });
  return t;
}

/** A Conv model whose weight and bias live in `location` (weight at 0, bias at 4096). */
function writeModel(dir: string, location = 'weights.bin', name = 'model.onnx'): string {
  const graph = newGraph('g', [newNode('Conv', ['x', 'w', 'b'], ['y'], 'conv', { pads: [1, 1, 1, 1] })],
    [newValueInfo('x', DataType.FLOAT, [1, 2, 5, 5])], [newValueInfo('y', DataType.FLOAT, [1, 4, 5, 5])],
    [externalTensor('w', [4, 2, 3, 3], location, 0, W.byteLength), externalTensor('b', [4], location, 4096)]);
  const file = path.join(dir, name);
  fs.writeFileSync(file, concatChunks(encodeMessage('ModelProto', newModel(graph))));
  return file;
}

function writeSideFile(file: string, w = W, b = B): void {
  const bytes = new Uint8Array(4096 + b.byteLength);
  bytes.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength), 0);
  bytes.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), 4096);
  fs.writeFileSync(file, bytes);
}

function external(m: ReturnType<typeof loadModelSync>, name: string): TensorProto {
  return m.graph.initializer.find((t) => t.name === name)!;
}

describe('onnx external data', () => {
  it('gives the values from the side file, at their offsets', () => {
    const dir = tempDir('ext');
    const file = writeModel(dir);
    writeSideFile(path.join(dir, 'weights.bin'));
    const m = loadModelSync(file);
    assert.deepEqual(tensorFloats(external(m, 'w'), m.external), W);
    assert.deepEqual(tensorFloats(external(m, 'b'), m.external), B);
    // And analysis reads them the same way.
    const layer = analyzeModel(m).layers[0];
    assert.equal(layer.weightName, 'w');
    const l1 = Array.from({ length: 4 }, (_, o) => W.subarray(o * 18, o * 18 + 18).reduce((s, v) => s + Math.abs(v), 0));
    layer.out.l1.forEach((v, i) => assert.ok(Math.abs(v - l1[i]) <= 1e-9 * l1[i]));
  });

  it('is read lazily: loading does not touch the side file, the first access does', () => {
    const dir = tempDir('ext-lazy');
    const file = writeModel(dir);
    const side = path.join(dir, 'weights.bin');
    writeSideFile(side, W.map(() => 9));
    const m = loadModelSync(file);
    // Delete the side file after loading: the first access fails, so loading read nothing;
    // once a file with other values is back, those are the values seen.
    fs.rmSync(side);
    assert.throws(() => tensorFloats(external(m, 'w'), m.external),
      (e: any) => e.code === 'external-data' && /not found/.test(e.message) && /tensor w/.test(e.message));
    writeSideFile(side);
    assert.deepEqual(tensorFloats(external(m, 'w'), m.external), W);
    // The serialised model still points at the side file; nothing was inlined.
    const out = concatChunks(serializeModel(m));
    assert.ok(Buffer.from(out).equals(fs.readFileSync(file)));
  });

  it('without a folder (bytes alone) external data is an error naming the tensor', () => {
    const dir = tempDir('ext-nofolder');
    const m = loadModelSync(writeModel(dir));
    assert.throws(() => tensorFloats(external(m, 'w')), (e: any) => e.code === 'external-data' && /tensor w/.test(e.message));
  });

  for (const [what, location] of [
    ['an absolute path', '/etc/passwd'],
    ['a parent folder', '../x'],
    ['a path through the parent', 'sub/../../secret.bin'],
    ['a Windows drive', 'C:\\weights.bin'],
  ]) {
    it(`refuses ${what} (${location}) with an error naming the tensor`, () => {
      const dir = tempDir('ext-escape');
      const inner = path.join(dir, 'model');
      fs.mkdirSync(inner);
      writeSideFile(path.join(dir, 'x'));
      writeSideFile(path.join(dir, 'secret.bin'));
      const m = loadModelSync(writeModel(inner, location));
      assert.throws(() => tensorFloats(external(m, 'w'), m.external), (e: any) =>
        e.code === 'external-data' && e.location.tensor === 'w' && /tensor w\)$/.test(e.message) && e.message.includes(location));
    });
  }

  it('refuses a symlink inside the folder that points outside it', () => {
    const dir = tempDir('ext-link');
    const inner = path.join(dir, 'model');
    fs.mkdirSync(inner);
    writeSideFile(path.join(dir, 'outside.bin'));
    fs.symlinkSync(path.join(dir, 'outside.bin'), path.join(inner, 'weights.bin'));
    const m = loadModelSync(writeModel(inner));
    assert.throws(() => tensorFloats(external(m, 'w'), m.external),
      (e: any) => e.code === 'external-data' && /links outside the model's folder/.test(e.message) && /tensor w/.test(e.message));
    // A symlink that stays inside the folder is fine.
    fs.rmSync(path.join(inner, 'weights.bin'));
    writeSideFile(path.join(inner, 'real.bin'));
    fs.symlinkSync(path.join(inner, 'real.bin'), path.join(inner, 'weights.bin'));
    const again = loadModelSync(path.join(inner, 'model.onnx'));
    assert.deepEqual(tensorFloats(external(again, 'w'), again.external), W);
  });

  it('a side file too short for offset + length is an error naming the tensor and the bytes', () => {
    const dir = tempDir('ext-short');
    const file = writeModel(dir);
    fs.writeFileSync(path.join(dir, 'weights.bin'), new Uint8Array(100));
    const m = loadModelSync(file);
    assert.throws(() => tensorFloats(external(m, 'w'), m.external),
      (e: any) => e.code === 'external-data' && /bytes 0\.\.288 of "weights.bin", which has 100/.test(e.message) && /tensor w/.test(e.message));
  });

  it('a non-numeric or negative offset is refused', () => {
    for (const offset of ['-4', '1e3', 'abc', '99999999999999999999']) {
      const t = externalTensor('w', [2], 'weights.bin', 0);
      t.external_data[1].value = offset;
      const dir = tempDir('ext-offset');
      writeSideFile(path.join(dir, 'weights.bin'));
      const m = loadModelSync(writeModel(dir));
      assert.throws(() => tensorFloats(t, m.external), (e: any) => e.code === 'external-data' && e.message.includes(`"${offset}"`));
    }
  });

  it('a length that disagrees with the dims is a tensor error', () => {
    const dir = tempDir('ext-length');
    writeSideFile(path.join(dir, 'weights.bin'));
    const m = loadModelSync(writeModel(dir));
    const t = externalTensor('w', [4, 2, 3, 3], 'weights.bin', 0, 16);
    assert.throws(() => tensorFloats(t, m.external), (e: any) => e.code === 'tensor' && /16 bytes/.test(e.message));
  });
});
