// BatchNorm recalibration: after pruning, the statistics a BN was trained
// with no longer describe its input. Front to back, each BN's running mean and
// variance are recomputed from the calibration data, as the pruned model
// (with the BNs before it already recalibrated) produces its input.

import { PruneLensError } from '../../onnx/errors';
import { GraphIndex } from '../../onnx/graph';
import type { OnnxModel } from '../../onnx/model';
import { setConstantFloats } from './constants';
import { channelStatistics, type ActivationSource } from './source';

/** Recalibrates every BatchNormalization of `model` in place; returns their node names. */
export async function recalibrateBatchNorms(model: OnnxModel, source: ActivationSource, signal?: AbortSignal): Promise<string[]> {
  const names = new GraphIndex(model.graph).topoOrder().filter((n) => n.op_type === 'BatchNormalization').map((n) => n.output[0]);
  const done: string[] = [];
  for (const output of names) {
    if (signal?.aborted) throw new PruneLensError('cancelled', 'BatchNorm recalibration was cancelled');
    const index = new GraphIndex(model.graph);
    const bn = index.producer(output)!;
    const input = bn.input[0];
    const s = (await channelStatistics(source, model, [input], signal)).get(input)!;
    const mean = new Float32Array(s.sum.length);
    const variance = new Float32Array(s.sum.length);
    for (let c = 0; c < mean.length; c++) {
      const m = s.sum[c] / s.count;
      mean[c] = m;
      // PyTorch's running_var is the unbiased estimate.
      variance[c] = Math.max(0, (s.sumSq[c] - s.count * m * m) / Math.max(1, s.count - 1));
    }
    setConstantFloats(model, index, bn, 3, [mean.length], mean);
    setConstantFloats(model, index, bn, 4, [variance.length], variance);
    done.push(index.nameOf(bn));
  }
  return done;
}
