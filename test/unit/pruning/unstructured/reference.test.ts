// The LeNet reference: torch.nn.utils.prune.global_unstructured(L1Unstructured,
// amount=0.2) over the weights of conv1, conv2, fc1, fc2, fc3 of digits_lenet.
// Counts, the k-th |w| and the accuracy come from the reference JSON and README.

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { tensorBytes } from '../../../../src/onnx/tensor';
import { applyMaskStep } from '../../../../src/pruning/unstructured';
import { accuracy, layer, layersOf, load, weights, zeros } from './helpers';
import { modelPath } from '../../../helpers/models';

interface Reference {
  [layer: string]: { zeros: number; total: number; threshold_kth_abs?: number };
}

describe('unstructured: the LeNet global L1 reference (torch global_unstructured)', () => {
  const ref = JSON.parse(fs.readFileSync(modelPath('digits_lenet_global_l1u_0.2.json'), 'utf8')) as Reference;
  const names = Object.keys(ref).filter((k) => !k.startsWith('_'));

  it('zeroes exactly the reference count in every layer, and nothing else', async () => {
    const model = load('digits_lenet.onnx');
    const original = load('digits_lenet.onnx');
    const chosen = layersOf(model).filter((l) => names.includes(l.displayName));
    assert.equal(chosen.length, names.length);
    const result = applyMaskStep(model, chosen, { method: 'l1', granularity: 'element', scope: 'global', amount: { fraction: 0.2 } });
    assert.deepEqual(result.warnings, []);

    let total = 0;
    for (const name of names) {
      const w = weights(model, name);
      assert.equal(w.length, ref[name].total, name);
      assert.equal(zeros(w), ref[name].zeros, `zeros of ${name}`);
      total += zeros(w);
      // Every weight that is not zeroed keeps its exact bits.
      const before = weights(original, name);
      for (let i = 0; i < w.length; i++) if (w[i] !== 0) assert.equal(Object.is(w[i], before[i]), true);
      // Biases are not pruned.
      assert.deepEqual(weights(model, name, 'bias'), weights(original, name, 'bias'));
    }
    assert.equal(total, ref._global.zeros);
  });

  it('prunes every |w| below the reference k-th value and keeps every one above it', () => {
    const model = load('digits_lenet.onnx');
    const original = load('digits_lenet.onnx');
    const kth = ref._global.threshold_kth_abs!;
    applyMaskStep(model, layersOf(model).filter((l) => names.includes(l.displayName)),
      { method: 'l1', granularity: 'element', scope: 'global', amount: { fraction: 0.2 } });
    // Ties would make the cut depend on topk's order; there is exactly one weight at the k-th |w|.
    let atKth = 0;
    for (const name of names) {
      const before = weights(original, name);
      const after = weights(model, name);
      for (let i = 0; i < before.length; i++) {
        const a = Math.abs(before[i]);
        if (a === Math.fround(kth)) atKth++;
        if (a < Math.fround(kth)) assert.equal(after[i], 0);
        if (a > Math.fround(kth)) assert.notEqual(after[i], 0);
      }
    }
    assert.equal(atKth, 1);
  });

  it('keeps the held-out accuracy of 0.925', async () => {
    const model = load('digits_lenet.onnx');
    assert.equal(await accuracy(model), 0.925);
    applyMaskStep(model, layersOf(model).filter((l) => names.includes(l.displayName)),
      { method: 'l1', granularity: 'element', scope: 'global', amount: { fraction: 0.2 } });
    assert.equal(await accuracy(model), 0.925);
  });

  it('leaves tensors it does not prune byte for byte, and never writes into the file bytes', () => {
    const model = load('digits_lenet.onnx');
    const fileBytes = Buffer.from(model.bytes);
    const fc3 = layer(model, 'fc3');
    const before = Buffer.from(tensorBytes(fc3.weight.tensor));
    applyMaskStep(model, [layer(model, 'fc1')], { method: 'l1', granularity: 'element', scope: 'local', amount: { fraction: 0.5 } });
    assert.ok(Buffer.from(tensorBytes(layer(model, 'fc3').weight.tensor)).equals(before));
    // Tensors are views of the bytes the model was read from; the edit must go to a copy.
    assert.ok(Buffer.from(model.bytes).equals(fileBytes));
    assert.equal(zeros(weights(model, 'fc1')), 3840);
  });
});
