// MACs of models with named dims: counted at a stated input size, checked
// against an independent count from the shapes onnxruntime produces (every
// Conv's weight count times its output pixels, batch 1), and equal for a
// BN-kept export and its folded twin.

import { strict as assert } from 'node:assert';
import { analyzeModel } from '../../../src/analysis';
import { analyzeCommand } from '../../../src/cli/analyze';
import { runPlan, type PrunePlan } from '../../../src/pruning/plan';
import { newValueInfo } from '../../../src/onnx/build';
import { evalDim } from '../../../src/onnx/dims';
import { GraphIndex } from '../../../src/onnx/graph';
import { loadModelSync, parseModel, serializeModel, type OnnxModel } from '../../../src/onnx/model';
import { DataType, elementCount, tensorDims } from '../../../src/onnx/tensor';
import { concatChunks } from '../../../src/onnx/wire';
import { readNpyHeader } from '../../../src/validation/npy';
import { foldBatchNorms } from '../../helpers/fold';
import { modelPath, seededRandom } from '../../helpers/models';
import { runModel, runShapes } from '../../helpers/ort';

/** Σ over Conv of weight elements × output pixels, from the shapes onnxruntime computes at `dims`. */
async function independentConvMacs(m: OnnxModel, input: string, dims: number[]): Promise<number> {
  const index = new GraphIndex(m.graph);
  const convs = index.nodes.filter((n) => n.op_type === 'Conv');
  const copy = parseModel(concatChunks(serializeModel(m)));
  for (const c of convs) {
    const v = newValueInfo(c.output[0], DataType.FLOAT, []);
    v.type!.tensor_type!.shape = undefined;
    copy.graph.output.push(v);
  }
  const rand = seededRandom(3);
  const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rand() - 0.5);
  const shapes = await runShapes(concatChunks(serializeModel(copy)), { [input]: { dims, data } });
  let macs = 0;
  for (const c of convs) {
    const out = shapes[c.output[0]];
    macs += elementCount(tensorDims(index.constant(c.input[1])!.tensor)) * out.slice(2).reduce((a, b) => a * b, 1);
  }
  return macs;
}

describe('MACs on models with named dims', () => {
  const sample = readNpyHeader(modelPath('yolov8_dyn_input.npy')).shape;

  it('yolov8_dyn at the sample-data size and at 128x96: the count onnxruntime\'s shapes give, within 1%', async () => {
    const m = loadModelSync(modelPath('yolov8_dyn.onnx'));
    const t = analyzeModel(m, { inputShape: { shapes: sample, source: 'yolov8_dyn_input.npy' } });
    assert.deepEqual(t.assumedInput, { shapes: { images: [2, 3, 96, 96] }, source: 'yolov8_dyn_input.npy' });
    const at96 = await independentConvMacs(m, 'images', [1, 3, 96, 96]);
    assert.ok(Math.abs(t.totals.macs - at96) <= 0.01 * at96, `${t.totals.macs} vs ${at96}`);
    assert.ok(at96 > 10e6, `tens of millions, not ${at96}`);
    // The formula, at another size.
    assert.ok(t.totals.macsFormula, 'a formula over height and width');
    const at128x96 = await independentConvMacs(m, 'images', [1, 3, 128, 96]);
    const fromFormula = evalDim(t.totals.macsFormula!, { height: 128, width: 96 })!;
    assert.ok(Math.abs(fromFormula - at128x96) <= 0.01 * at128x96, `${fromFormula} vs ${at128x96}`);
    if (process.env.SHOW_COUNTS) console.log(`      yolov8 96x96: ${t.totals.macs} vs ${at96}; 128x96: ${fromFormula} vs ${at128x96}`);
  });

  it('shufflenet_dyn (static spatial size): every layer has a number, the same as onnxruntime\'s shapes give', async () => {
    const m = loadModelSync(modelPath('shufflenet_dyn.onnx'));
    const t = analyzeModel(m);
    const convMacs = t.layers.filter((l) => l.op === 'Conv').reduce((s, l) => s + l.macs, 0);
    const independent = await independentConvMacs(m, 'images', [1, 3, 64, 64]);
    assert.ok(Math.abs(convMacs - independent) <= 0.01 * independent, `${convMacs} vs ${independent}`);
    if (process.env.SHOW_COUNTS) console.log(`      shufflenet: ${convMacs} vs ${independent}`);
    assert.equal(t.totals.macsFormula, undefined, 'nothing depends on a named dim but the batch');
  });

  it('a BN-kept export and its folded twin have the same MACs (and compute the same)', async () => {
    const kept = loadModelSync(modelPath('yolov8_dyn.onnx'));
    const folded = loadModelSync(modelPath('yolov8_dyn.onnx'));
    assert.ok(foldBatchNorms(folded) > 50, 'BatchNormalization nodes folded');
    const foldedModel = parseModel(concatChunks(serializeModel(folded)));
    const opts = { inputShape: { shapes: sample, source: 'sample' } };
    const a = analyzeModel(kept, opts);
    const b = analyzeModel(foldedModel, opts);
    assert.equal(b.totals.macs, a.totals.macs);
    assert.equal(b.totals.macsFormula, a.totals.macsFormula);
    if (process.env.SHOW_COUNTS) console.log(`      kept ${a.totals.macs}, folded ${b.totals.macs}`);
    const rand = seededRandom(5);
    const feeds = { images: { dims: [1, 3, 64, 64], data: Float32Array.from({ length: 3 * 64 * 64 }, () => rand() - 0.5) } };
    const x = await runModel(kept.bytes, feeds);
    const y = await runModel(concatChunks(serializeModel(foldedModel)), feeds);
    for (const k of Object.keys(x)) {
      let d = 0;
      for (let i = 0; i < x[k].length; i++) d = Math.max(d, Math.abs(x[k][i] - y[k][i]));
      assert.ok(d < 1e-3, `the folded model computes the same (${d})`);
    }
  });

  it('the prune report and both CLI commands say which size the MACs are at', async () => {
    const m = loadModelSync(modelPath('yolov8_dyn.onnx'));
    const plan = { steps: [{ method: 'l1', structured: true, amount: 0.3 }] } as PrunePlan;
    const report = await runPlan(m, plan, { inputShape: { shapes: [1, 3, 96, 96], source: '--input-shape' } });
    assert.deepEqual(report.assumedInput, { shapes: { images: [1, 3, 96, 96] }, source: '--input-shape' });
    const at96 = await independentConvMacs(loadModelSync(modelPath('yolov8_dyn.onnx')), 'images', [1, 3, 96, 96]);
    assert.equal(report.totals.macsBefore, at96);
    assert.ok(report.totals.macsAfter < at96 * 0.8, `${report.totals.macsAfter} after a 30% cut`);
    const lines: string[] = [];
    await analyzeCommand([modelPath('yolov8_dyn.onnx'), '--data', modelPath('yolov8_dyn_input.npy')], (s) => lines.push(s));
    assert.match(lines.join('\n'), /MACs 31\.13M/);
    assert.match(lines.join('\n'), /MACs per sample \(a named batch counts as 1\) at images \[2,3,96,96\] \(from the shape of .*yolov8_dyn_input\.npy\)/);
    assert.match(lines.join('\n'), /MACs = .*floor\(\(height\+31\)\/32\)/);
  });

  it('an input shape that does not fit the model is a clear error', () => {
    const m = loadModelSync(modelPath('yolov8_dyn.onnx'));
    assert.throws(() => analyzeModel(m, { inputShape: { shapes: [1, 4, 96, 96], source: 'x' } }), /has size 3 on axis 1, not 4/);
    assert.throws(() => analyzeModel(m, { inputShape: { shapes: { pixels: [1, 3, 96, 96] }, source: 'x' } }), /no input named pixels/);
  });
});
