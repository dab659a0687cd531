// Data-aware pruning: calibration activations (through an ActivationSource a
// runtime supplies), Wanda-style and activation-norm importance, least-squares
// reconstruction and BatchNorm recalibration. `recover` is the one call a
// front end makes after a structured prune:
//
//   const source = await openCalibration(original, { data, size: 256 });   // src/validation
//   attachActivationStats(pruned, await collectActivationStats(pruned, source)); // for wanda
//   const { report } = pruneStructured(pruned, { criterion: 'wanda', ratio: 0.5 });
//   report.recovery = await recover(original, pruned, report, source, { method: 'least-squares' });

import type { OnnxModel } from '../../onnx/model';
import type { PruneReport } from '../report';
import { recalibrateBatchNorms } from './batchnorm';
import type { GramBackend } from './gram';
import { reconstruct, type LayerRecovery } from './reconstruct';
import type { ActivationSource } from './source';

export { recalibrateBatchNorms } from './batchnorm';
export { jsGram, type GramBackend } from './gram';
export { activationNormCriterion, attachActivationStats, collectActivationStats, wandaCriterion } from './importance';
export { DEFAULT_RIDGE, reconstruct, type LayerRecovery, type ReconstructOptions } from './reconstruct';
export { NormalEquations } from './ridge';
export { addChannelStats, channelStatistics, type Activation, type ActivationRun, type ActivationSource, type ChannelStats } from './source';

export interface RecoveryOptions {
  /**
   * 'least-squares' refits the layers that lost input channels; 'bias-compensation'
   * only shifts their biases by the mean of what is missing (FLAP); 'none' leaves the weights.
   */
  method?: 'least-squares' | 'bias-compensation' | 'none';
  ridge?: number;
  /** Afterwards, recompute every BatchNorm's running statistics from the calibration data. */
  bnRecalibration?: boolean;
  gram?: GramBackend;
  signal?: AbortSignal;
  onProgress?: (p: { stage: 'reconstruct' | 'bn'; layer: string; done: number; total: number }) => void;
}

/**
 * Repairs `pruned` in place after a structured prune of `original` described
 * by `report` (its per-layer `removed` channels). Returns the per-layer
 * reconstruction errors for PruneReport.recovery (empty without least squares).
 */
export async function recover(original: OnnxModel, pruned: OnnxModel, report: Pick<PruneReport, 'layers'>,
  source: ActivationSource, opts: RecoveryOptions = {}): Promise<LayerRecovery[]> {
  let errors: LayerRecovery[] = [];
  const method = opts.method ?? 'least-squares';
  if (method === 'least-squares' || method === 'bias-compensation') {
    errors = await reconstruct(original, pruned, source, {
      ridge: opts.ridge, gram: opts.gram, signal: opts.signal, fit: method === 'bias-compensation' ? 'bias' : 'all',
      removed: new Map(report.layers.map((l) => [l.layer, l.removed])),
      onProgress: (p) => opts.onProgress?.({ stage: 'reconstruct', ...p }),
    });
  }
  if (opts.bnRecalibration) await recalibrateBatchNorms(pruned, source, opts.signal);
  return errors;
}
