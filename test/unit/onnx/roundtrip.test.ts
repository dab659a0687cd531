// Lossless round trips on every real model: unchanged models are written back
// byte for byte; a forced full re-encode decodes to the same tree and computes
// bit-identical outputs in onnxruntime; an edited model re-encodes only what
// changed and writes every unchanged tensor by reference.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { setAttrInts } from '../../../src/onnx/attributes';
import { loadModelSync, parseModel, serializeModel } from '../../../src/onnx/model';
import type { TensorProto } from '../../../src/onnx/schema';
import { setTensorFloats, tensorDims, tensorFloats } from '../../../src/onnx/tensor';
import { concatChunks } from '../../../src/onnx/wire';
import { isViewOf, modelPath, readNpyFloat32, readNpyInt64, realModelNames, seededRandom, stripRaw, treeDiff } from '../../helpers/models';
import { firstBitDifference, runModel, type Feeds } from '../../helpers/ort';

const names = realModelNames();

function inputsFor(name: string): Feeds {
  if (name.startsWith('digits_')) {
    const x = readNpyFloat32(modelPath('digits_val_x.npy'));
    return { input: { dims: x.shape, data: x.data } };
  }
  // The language models read token ids; the dynamic-axis CNNs come with a sample input.
  if (name.startsWith('lm_')) {
    const x = readNpyInt64(modelPath('lm_licenses_val_x.npy'), 4);
    return { input_ids: { dims: x.shape, data: x.data } };
  }
  const sample = modelPath(name.replace(/\.onnx$/, '_input.npy'));
  if (fs.existsSync(sample)) {
    const x = readNpyFloat32(sample);
    return { images: { dims: x.shape, data: x.data } };
  }
  const rand = seededRandom(18);
  const data = new Float32Array(1 * 3 * 224 * 224);
  for (let i = 0; i < data.length; i++) data[i] = rand() * 4 - 2;
  return { input: { dims: [1, 3, 224, 224], data } };
}

describe('onnx round trip on the real models', () => {
  it('finds the real models', () => {
    assert.ok(names.length >= 5, `only ${names.length} models in ../shared/models`);
  });

  for (const name of names) {
    describe(name, () => {
      it('writes an unchanged model back byte for byte, mostly by reference', () => {
        const m = loadModelSync(modelPath(name));
        const chunks = serializeModel(m);
        const out = concatChunks(chunks);
        assert.ok(Buffer.from(out).equals(Buffer.from(m.bytes)), 'output differs from the input');
        // An unchanged model is its own bytes: one chunk, a view of the file.
        assert.equal(chunks.length, 1);
        assert.ok(isViewOf(chunks[0], m.bytes));
      });

      it('keeps every field through a forced full re-encode, and computes bit-identical outputs', async function () {
        this.timeout(60_000);
        const file = modelPath(name);
        const original = loadModelSync(file);
        const stripped = loadModelSync(file);
        stripRaw(stripped.proto);
        const rewritten = concatChunks(serializeModel(stripped));
        // Nothing may be taken from the old bytes by reference when no message has $raw.
        const reparsed = parseModel(rewritten, 'rewritten.onnx');
        assert.equal(treeDiff(original.proto, reparsed.proto), undefined);

        const feeds = inputsFor(name);
        const before = await runModel(original.bytes, feeds);
        const after = await runModel(rewritten, feeds);
        assert.deepEqual(Object.keys(after), Object.keys(before));
        for (const out of Object.keys(before)) {
          assert.ok(before[out].length > 0);
          const at = firstBitDifference(before[out], after[out]);
          assert.equal(at, -1, `output ${out} differs at element ${at}: ${before[out][at]} vs ${after[out][at]}`);
        }
      });
    });
  }
});

describe('onnx re-encoding an edited model', () => {
  const file = modelPath('digits_vgg_slim_s1e-2.onnx');

  /** Bytes of the chunks that are not views of the original file: what was re-encoded. */
  function freshBytes(chunks: Uint8Array[], original: Uint8Array): number {
    return chunks.filter((c) => !isViewOf(c, original)).reduce((n, c) => n + c.length, 0);
  }

  /** Every initializer other than `except` must appear as its own original bytes, by reference. */
  function assertTensorsByReference(chunks: Uint8Array[], tensors: TensorProto[], original: Uint8Array, except?: TensorProto) {
    const byOffset = new Map<number, Uint8Array>();
    for (const c of chunks) if (isViewOf(c, original)) byOffset.set(c.byteOffset, c);
    for (const t of tensors) {
      if (t === except || t.$raw!.length <= 64) continue; // small messages are copied by design
      const c = byOffset.get(t.$raw!.byteOffset);
      assert.ok(c && c.length === t.$raw!.length, `tensor ${t.name} was not written by reference`);
    }
  }

  it('changing one tensor rewrites that tensor only', () => {
    const m = loadModelSync(file);
    const target = m.graph.initializer.find((t) => t.name === 'features.3.0.weight')!;
    const dims = tensorDims(target);
    const values = tensorFloats(target).slice();
    values[0] = 12.5;
    values[values.length - 1] = -0.25;
    setTensorFloats(target, dims, values);

    const chunks = serializeModel(m);
    assertTensorsByReference(chunks, m.graph.initializer, m.bytes, target);
    // The new tensor's data plus a few bytes of re-encoded headers (tensor, graph, model).
    const fresh = freshBytes(chunks, m.bytes);
    assert.ok(fresh >= values.length * 4 && fresh < values.length * 4 + 1024, `${fresh} bytes re-encoded`);

    const back = parseModel(concatChunks(chunks));
    const edited = back.graph.initializer.find((t) => t.name === 'features.3.0.weight')!;
    assert.deepEqual(tensorFloats(edited), values);
    const reference = loadModelSync(file);
    // Everything but the edited tensor decodes as before.
    back.graph.initializer = back.graph.initializer.filter((t) => t.name !== 'features.3.0.weight');
    reference.graph.initializer = reference.graph.initializer.filter((t) => t.name !== 'features.3.0.weight');
    assert.equal(treeDiff(reference.proto, back.proto), undefined);
  });

  it('changing one attribute rewrites a few bytes', () => {
    const m = loadModelSync(file);
    const pool = m.graph.node.find((n) => n.op_type === 'MaxPool')!;
    setAttrInts(pool, 'strides', [1, 1]);
    const chunks = serializeModel(m);
    assertTensorsByReference(chunks, m.graph.initializer, m.bytes);
    const fresh = freshBytes(chunks, m.bytes);
    assert.ok(fresh < 2048, `${fresh} bytes re-encoded for one attribute`);

    const back = parseModel(concatChunks(chunks));
    const i = m.graph.node.indexOf(pool);
    const strides = back.graph.node[i].attribute.find((a) => a.name === 'strides')!;
    assert.deepEqual(strides.ints, [1, 1]);
    const reference = loadModelSync(file);
    assert.equal(treeDiff(reference.proto.graph!.initializer, back.proto.graph!.initializer, 'initializer'), undefined);
  });

  it('removing a node rewrites the node list, not the weights', () => {
    const m = loadModelSync(file);
    const before = m.graph.node.length;
    const relu = m.graph.node.findIndex((n) => n.op_type === 'Relu');
    const removed = m.graph.node.splice(relu, 1)[0];
    const chunks = serializeModel(m);
    assertTensorsByReference(chunks, m.graph.initializer, m.bytes);
    const back = parseModel(concatChunks(chunks));
    assert.equal(back.graph.node.length, before - 1);
    assert.ok(!back.graph.node.some((n) => n.name === removed.name));
    // Unchanged nodes are still written as their original bytes.
    for (const n of m.graph.node) {
      if (n.$raw!.length <= 64) continue;
      assert.ok(chunks.some((c) => c.buffer === m.bytes.buffer && c.byteOffset === n.$raw!.byteOffset), `node ${n.name} was re-encoded`);
    }
  });

  it('notices an edit made in place inside raw_data-free fields (a dims change)', () => {
    const m = loadModelSync(file);
    const bias = m.graph.initializer.find((t) => t.name === 'classifier.3.bias')!;
    bias.dims = [1, 10];
    const back = parseModel(concatChunks(serializeModel(m)));
    assert.deepEqual(back.graph.initializer.find((t) => t.name === 'classifier.3.bias')!.dims, [1, 10]);
  });

  it('an unchanged model saved to disk is identical to the file', () => {
    const m = loadModelSync(file);
    assert.ok(Buffer.from(concatChunks(serializeModel(m))).equals(fs.readFileSync(file)));
  });
});
