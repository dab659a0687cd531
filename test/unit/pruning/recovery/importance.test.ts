import * as assert from 'node:assert/strict';
import { GraphIndex } from '../../../../src/onnx/graph';
import { loadModelSync } from '../../../../src/onnx/model';
import { tensorFloats } from '../../../../src/onnx/tensor';
import { attachActivationStats, collectActivationStats } from '../../../../src/pruning/recovery/importance';
import { reconstruct } from '../../../../src/pruning/recovery/reconstruct';
import { buildDependencyGraph, criterionNames, pruneStructured, scoreGroups } from '../../../../src/pruning/structured';
import { openCalibration } from '../../../../src/validation/activations';
import { digitsAccuracy, readNpy } from './helpers';
import { modelPath } from '../../../helpers/models';

const TRAIN = modelPath('digits_train_x.npy');

describe('recovery: data-aware importance', () => {
  it('registers wanda and activation-norm beside the weight criteria, and asks for calibration data when it has none', () => {
    assert.ok(criterionNames().includes('wanda') && criterionNames().includes('activation-norm'));
    const m = loadModelSync(modelPath('digits_mlp.onnx'));
    assert.throws(() => pruneStructured(m, { criterion: 'wanda', ratio: 0.5 }), /wanda criterion needs calibration data/);
  });

  it('scores a hidden MLP neuron by |W|·‖X‖ over its consumer, computed from the calibration inputs by hand', async () => {
    const m = loadModelSync(modelPath('digits_mlp.onnx'));
    const source = await openCalibration(m, { data: TRAIN, size: 64, batch: 32 });
    const stats = await collectActivationStats(m, source);
    attachActivationStats(m, stats);
    const graph = buildDependencyGraph(m);
    const group = graph.groups.find((g) => g.roots.includes('net.1'))!;
    const wanda = scoreGroups(m, graph, 'wanda').get(group.id)!;
    const norms = scoreGroups(m, graph, 'activation-norm').get(group.id)!;

    // By hand: h = relu(x·W1ᵀ + b1) on the same 64 images; score_c = Σ_o |W2[o, c]| · ‖h_c‖.
    const index = new GraphIndex(m.graph);
    const w1 = tensorFloats(index.initializer('net.1.weight')!);
    const b1 = tensorFloats(index.initializer('net.1.bias')!);
    const w2 = tensorFloats(index.initializer('net.3.weight')!);
    const x = readNpy(TRAIN).data;
    const sq = new Float64Array(200);
    for (let n = 0; n < 64; n++) {
      for (let c = 0; c < 200; c++) {
        let s = b1[c];
        for (let k = 0; k < 64; k++) s += x[n * 64 + k] * w1[c * 64 + k];
        sq[c] += Math.max(0, s) ** 2;
      }
    }
    for (const c of [0, 17, 123, 199]) {
      let l1 = 0;
      for (let o = 0; o < 200; o++) l1 += Math.abs(w2[o * 200 + c]);
      const expected = l1 * Math.sqrt(sq[c]);
      assert.ok(Math.abs(wanda[c] - expected) <= 1e-4 * Math.max(1, expected), `wanda[${c}] = ${wanda[c]}, by hand ${expected}`);
      assert.ok(Math.abs(norms[c] - Math.sqrt(sq[c])) <= 1e-4 * Math.max(1, Math.sqrt(sq[c])), `activation-norm[${c}]`);
    }
  });

  it('Wanda importance plus reconstruction beats L1 plus reconstruction on the 50% digits ResNet', async () => {
    const original = loadModelSync(modelPath('digits_resnet_slim_s1e-2.onnx'));
    const source = await openCalibration(original, { data: TRAIN, size: 256 });
    const results: Record<string, number> = {};
    for (const criterion of ['l1', 'wanda']) {
      const pruned = loadModelSync(modelPath('digits_resnet_slim_s1e-2.onnx'));
      if (criterion === 'wanda') attachActivationStats(pruned, await collectActivationStats(pruned, source));
      const { report } = pruneStructured(pruned, { criterion, scope: 'local', ratio: 0.5, ignore: ['fc'] });
      await reconstruct(original, pruned, source, { removed: new Map(report.layers.map((l) => [l.layer, l.removed])) });
      results[criterion] = await digitsAccuracy(pruned);
    }
    console.log(`      50% ResNet with reconstruction: l1 ${results.l1.toFixed(3)}, wanda ${results.wanda.toFixed(3)}`);
    assert.ok(results.wanda > results.l1, JSON.stringify(results));
    assert.ok(results.wanda >= 0.93, JSON.stringify(results));
  });
});
