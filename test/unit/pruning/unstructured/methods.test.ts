// Each mask method on real layers of the digits models: the counts, the
// patterns and the reproducibility each one promises.

import { strict as assert } from 'node:assert';
import type { PrunableLayer } from '../../../../src/analysis';
import type { OnnxModel } from '../../../../src/onnx/model';
import { tensorFloats } from '../../../../src/onnx/tensor';
import { applyMaskStep, roundHalfEven, type MaskStep } from '../../../../src/pruning/unstructured';
import { layer, load, weights, zeros } from './helpers';

const element = (m: Partial<MaskStep>): MaskStep => ({ method: 'l1', granularity: 'element', scope: 'local', ...m });

/** Per index along `axis` of a 4-D or 2-D weight: is every entry zero? */
function deadAlong(values: Float32Array, dims: number[], axis: number): boolean[] {
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const size = dims[axis];
  const alive = new Array<boolean>(size).fill(false);
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) alive[Math.floor(i / inner) % size] = true;
  return alive.map((a) => !a);
}

function prune(model: OnnxModel, names: string[], step: Partial<MaskStep>) {
  return applyMaskStep(model, names.map((n) => layer(model, n)), element(step));
}

describe('unstructured: methods on real layers', () => {
  it('l1 local prunes round(amount * n) of each layer, the smallest |w|', () => {
    const model = load('digits_mlp.onnx');
    const before = weights(model, 'net.3');
    prune(model, ['net.1', 'net.3'], { amount: { fraction: 0.3 } });
    const after = weights(model, 'net.3');
    assert.equal(zeros(after), roundHalfEven(0.3 * 40000));
    const maxPruned = Math.max(...before.filter((_, i) => after[i] === 0).map(Math.abs));
    const minKept = Math.min(...before.filter((_, i) => after[i] !== 0).map(Math.abs));
    assert.ok(maxPruned <= minKept);
    assert.equal(zeros(weights(model, 'net.1')), roundHalfEven(0.3 * 12800));
  });

  it('an integer count prunes exactly that many, and more than there are is refused', () => {
    const m2 = load('digits_lenet.onnx');
    applyMaskStep(m2, [layer(m2, 'conv1')], element({ amount: { count: 7 } }));
    assert.equal(zeros(weights(m2, 'conv1')), 7);
    const m3 = load('digits_lenet.onnx');
    assert.throws(() => applyMaskStep(m3, [layer(m3, 'conv1')], element({ amount: { count: 55 } })), /count 55 is more than the 54 unpruned weights.*conv1/);
    assert.equal(zeros(weights(m3, 'conv1')), 0, 'a refused step changes nothing');
  });

  it('random with a seed is reproducible, exact in count, and differs with another seed', () => {
    const masks = [1, 1, 2].map((seed) => {
      const model = load('digits_lenet.onnx');
      prune(model, ['fc2'], { method: 'random', seed, amount: { fraction: 0.4 } });
      return weights(model, 'fc2').map((v) => (v === 0 ? 0 : 1));
    });
    assert.equal(zeros(masks[0]), roundHalfEven(0.4 * 10080));
    assert.deepEqual(masks[0], masks[1]);
    assert.notDeepEqual(masks[0], masks[2]);
    // Not magnitude in disguise: some pruned weights are larger than some kept ones.
    const w = weights(load('digits_lenet.onnx'), 'fc2');
    const maxPruned = Math.max(...w.filter((_, i) => masks[0][i] === 0).map(Math.abs));
    const minKept = Math.min(...w.filter((_, i) => masks[0][i] === 1).map(Math.abs));
    assert.ok(maxPruned > minKept);
  });

  it('N:M 2:4 leaves exactly 2 nonzeros in every group of 4 consecutive input channels, the largest', () => {
    const model = load('digits_vgg_slim_s1e-2.onnx');
    const before = weights(model, 'features.1.0');
    const result = prune(model, ['features.0.0', 'features.1.0'], { method: 'nm', nm: { n: 2, m: 4 } });
    const l = layer(model, 'features.1.0');
    const [O, I, KH, KW] = l.dims;
    const w = weights(model, 'features.1.0');
    for (let o = 0; o < O; o++) {
      for (let k = 0; k < KH * KW; k++) {
        for (let g = 0; g < I; g += 4) {
          const idx = [0, 1, 2, 3].map((j) => (o * I + g + j) * KH * KW + k);
          const kept = idx.filter((i) => w[i] !== 0);
          assert.equal(kept.length, 2);
          const dropped = idx.filter((i) => w[i] === 0);
          assert.ok(Math.min(...kept.map((i) => Math.abs(before[i]))) >= Math.max(...dropped.map((i) => Math.abs(before[i]))));
        }
      }
    }
    assert.equal(zeros(w), w.length / 2);
    // features.0.0 has one input channel: not a multiple of 4, skipped and said so.
    assert.match(result.warnings.join('\n'), /features\.0\.0 skipped: its 1 input channels are not a multiple of M=4/);
    assert.equal(zeros(weights(model, 'features.0.0')), 0);
  });

  it('N:M on a Gemm runs along its input dimension (axis 1 with transB)', () => {
    const model = load('digits_mlp.onnx');
    prune(model, ['net.3'], { method: 'nm', nm: { n: 1, m: 4 } });
    const w = weights(model, 'net.3');
    for (let r = 0; r < 200; r++) {
      for (let g = 0; g < 200; g += 4) {
        assert.equal([0, 1, 2, 3].filter((j) => w[r * 200 + g + j] !== 0).length, 1);
      }
    }
  });

  it('threshold zeroes exactly the weights with |w| <= t', () => {
    const model = load('digits_lenet.onnx');
    const before = weights(model, 'fc1');
    const t = 0.02;
    prune(model, ['fc1'], { method: 'threshold', threshold: t });
    const expected = before.filter((v) => Math.abs(v) <= t).length;
    assert.ok(expected > 0);
    assert.equal(zeros(weights(model, 'fc1')), expected);
  });

  it('filter granularity (ln_structured dim 0) zeroes whole filters, round(amount * out), by L2 norm', () => {
    const model = load('digits_vgg_slim_s1e-2.onnx');
    const l = layer(model, 'features.3.0');
    const before = weights(model, 'features.3.0');
    prune(model, ['features.3.0'], { method: 'l2', granularity: 'filter', amount: { fraction: 0.3 } });
    const w = weights(model, 'features.3.0');
    const dead = deadAlong(w, l.dims, 0);
    assert.equal(dead.filter(Boolean).length, roundHalfEven(0.3 * 64));
    // Filters are either all zero or untouched.
    const per = w.length / 64;
    const norms = Array.from({ length: 64 }, (_, f) => Math.hypot(...before.subarray(f * per, (f + 1) * per)));
    for (let f = 0; f < 64; f++) {
      const slice = w.subarray(f * per, (f + 1) * per);
      if (!dead[f]) assert.deepEqual(slice, before.subarray(f * per, (f + 1) * per));
    }
    const maxDead = Math.max(...norms.filter((_, f) => dead[f]));
    const minAlive = Math.min(...norms.filter((_, f) => !dead[f]));
    assert.ok(maxDead <= minAlive);
  });

  it('channel granularity (ln_structured dim 1) zeroes the kernels of whole input channels', () => {
    const model = load('digits_lenet.onnx');
    const l = layer(model, 'conv2');
    prune(model, ['conv2'], { method: 'l1', granularity: 'channel', amount: { count: 2 } });
    const w = weights(model, 'conv2');
    assert.equal(deadAlong(w, l.dims, 1).filter(Boolean).length, 2);
    assert.equal(zeros(w), 2 * 16 * 9);
    assert.equal(deadAlong(w, l.dims, 0).filter(Boolean).length, 0, 'no whole filter is zeroed');
  });

  it('shape granularity zeroes one kernel position across every filter', () => {
    const model = load('digits_lenet.onnx');
    const before = weights(model, 'conv2');
    prune(model, ['conv2'], { method: 'l1', granularity: 'shape', amount: { fraction: 0.25 } });
    const w = weights(model, 'conv2');
    const positions = 6 * 9;
    const pruned = roundHalfEven(0.25 * positions);
    assert.equal(zeros(w), pruned * 16);
    let deadPositions = 0;
    for (let p = 0; p < positions; p++) {
      const column = Array.from({ length: 16 }, (_, o) => w[o * positions + p]);
      const z = zeros(column);
      assert.ok(z === 0 || z === 16, `position ${p} is all or nothing`);
      if (z === 16) {
        deadPositions++;
        assert.ok(Array.from({ length: 16 }, (_, o) => before[o * positions + p]).some((v) => v !== 0));
      }
    }
    assert.equal(deadPositions, pruned);
  });

  it('bn-gamma zeroes the filters with the smallest |gamma|', () => {
    const model = load('digits_vgg_slim_s1e-2.onnx');
    const l = layer(model, 'features.0.0');
    const gamma = tensorFloats(l.batchNorm!.scale!.tensor);
    prune(model, ['features.0.0'], { method: 'bn-gamma', granularity: 'filter', amount: { fraction: 0.5 } });
    const dead = deadAlong(weights(model, 'features.0.0'), l.dims, 0);
    assert.equal(dead.filter(Boolean).length, 16);
    const maxDead = Math.max(...Array.from(gamma).filter((_, i) => dead[i]).map(Math.abs));
    const minAlive = Math.min(...Array.from(gamma).filter((_, i) => !dead[i]).map(Math.abs));
    assert.ok(maxDead <= minAlive);
  });

  it('custom mask: zeroes exactly where the mask is 0', () => {
    const model = load('digits_lenet.onnx');
    const l = layer(model, 'conv1');
    const mask = new Float32Array(54).map((_, i) => (i % 3 === 0 ? 0 : 1));
    applyMaskStep(model, [l], { method: 'custom', granularity: 'element', scope: 'local', masks: new Map([[l.name, mask]]) });
    const w = weights(model, 'conv1');
    for (let i = 0; i < 54; i++) assert.equal(w[i] === 0, mask[i] === 0);
  });

  it('bias: ranked with the weights in a global step, zeroed with its filter at filter granularity', () => {
    const model = load('digits_lenet.onnx');
    prune(model, ['conv1', 'fc3'], { scope: 'global', bias: true, amount: { fraction: 0.5 } });
    const total = 54 + 6 + 840 + 10;
    const z = zeros(weights(model, 'conv1')) + zeros(weights(model, 'conv1', 'bias')) + zeros(weights(model, 'fc3')) + zeros(weights(model, 'fc3', 'bias'));
    assert.equal(z, roundHalfEven(0.5 * total));

    const m2 = load('digits_lenet.onnx');
    const l = layer(m2, 'conv2');
    prune(m2, ['conv2'], { granularity: 'filter', bias: true, amount: { count: 4 } });
    const dead = deadAlong(weights(m2, 'conv2'), l.dims, 0);
    const bias = weights(m2, 'conv2', 'bias');
    for (let f = 0; f < 16; f++) assert.equal(bias[f] === 0, dead[f]);
  });

  it('max_ratio caps any one layer in a global ranking; the rest of the amount goes elsewhere', () => {
    const model = load('digits_lenet.onnx');
    const names = ['conv1', 'conv2', 'fc1', 'fc2', 'fc3'];
    prune(model, names, { scope: 'global', amount: { fraction: 0.2 }, maxRatio: 0.21 });
    let total = 0;
    for (const n of names) {
      const w = weights(model, n);
      assert.ok(zeros(w) <= Math.floor(0.21 * w.length), `${n} over its cap`);
      total += zeros(w);
    }
    assert.equal(total, 3904);
    // Uncapped, fc2 loses 2284 (22.7%); now it sits exactly at its cap.
    assert.equal(zeros(weights(model, 'fc2')), Math.floor(0.21 * 10080));
  });

  it('max_ratio that cannot be met prunes up to every cap and says so', () => {
    const model = load('digits_lenet.onnx');
    const names = ['conv1', 'conv2', 'fc1', 'fc2', 'fc3'];
    const result = prune(model, names, { scope: 'global', amount: { fraction: 0.2 }, maxRatio: 0.15 });
    const caps = names.map((n) => Math.floor(0.15 * weights(model, n).length));
    names.forEach((n, i) => assert.equal(zeros(weights(model, n)), caps[i], n));
    assert.match(result.warnings.join('\n'), new RegExp(`max_ratio allows only ${caps.reduce((a, b) => a + b)} of the 3904 weights`));
  });

  it('round_to keeps a multiple of K filters, pruning fewer rather than more', () => {
    const model = load('digits_vgg_slim_s1e-2.onnx');
    const l = layer(model, 'features.3.0');
    prune(model, ['features.3.0'], { granularity: 'filter', amount: { fraction: 0.3 }, roundTo: 8 });
    const dead = deadAlong(weights(model, 'features.3.0'), l.dims, 0).filter(Boolean).length;
    // round(0.3 * 64) = 19 asked; 45 would be left, rounded up to 48 kept.
    assert.equal(dead, 16);
  });
});

describe('unstructured: applying again (torch PruningContainer semantics)', () => {
  it('takes the amount from the weights still nonzero: a hand computation', () => {
    // By hand on conv1 (54 weights): sort |w| once; each step must take the next smallest.
    const model = load('digits_lenet.onnx');
    const conv1: PrunableLayer = layer(model, 'conv1');
    const abs = Array.from(weights(model, 'conv1'), Math.abs);
    const order = abs.map((_, i) => i).sort((a, b) => abs[a] - abs[b] || a - b);
    const step = element({ amount: { fraction: 0.5 } });
    applyMaskStep(model, [conv1], step);
    // First: round(0.5 * 54) = 27 smallest.
    assert.equal(zeros(weights(model, 'conv1')), 27);
    applyMaskStep(model, [layer(model, 'conv1')], step);
    // Then: round(0.5 * 27) = round(13.5) = 14 (Python rounds halves to even) more, the next smallest.
    const w = weights(model, 'conv1');
    assert.equal(zeros(w), 27 + 14);
    const expectZero = new Set(order.slice(0, 41));
    for (let i = 0; i < 54; i++) assert.equal(w[i] === 0, expectZero.has(i), `weight ${i}`);
    applyMaskStep(model, [layer(model, 'conv1')], step);
    // round(0.5 * 13) = round(6.5) = 6.
    assert.equal(zeros(weights(model, 'conv1')), 41 + 6);
  });

  it('a second global step ranks only the survivors, across layers', () => {
    const model = load('digits_lenet.onnx');
    const names = ['conv1', 'conv2', 'fc1', 'fc2', 'fc3'];
    const step = element({ scope: 'global', amount: { fraction: 0.2 } });
    prune(model, names, step);
    prune(model, names, step);
    const total = names.reduce((n, name) => n + zeros(weights(model, name)), 0);
    assert.equal(total, 3904 + roundHalfEven(0.2 * (19518 - 3904)));
    // Same criterion twice equals one global cut of the same total: the smallest |w| overall.
    const fresh = load('digits_lenet.onnx');
    prune(fresh, names, element({ scope: 'global', amount: { count: total } }));
    for (const n of names) assert.deepEqual(weights(model, n).map((v) => +(v === 0)), weights(fresh, n).map((v) => +(v === 0)), n);
  });

  it('a filter step after an element step counts partly zeroed filters as alive', () => {
    const model = load('digits_lenet.onnx');
    prune(model, ['conv2'], { granularity: 'filter', amount: { count: 4 } });
    prune(model, ['conv2'], { granularity: 'filter', amount: { fraction: 0.5 } });
    const l = layer(model, 'conv2');
    // 4 dead, then round(0.5 * 12) = 6 more of the 12 left.
    assert.equal(deadAlong(weights(model, 'conv2'), l.dims, 0).filter(Boolean).length, 10);
  });
});
