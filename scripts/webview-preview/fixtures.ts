// PREVIEW FIXTURES. Layer tables are the real analysis of the real models.
// The reports are derived from those tables where that is honest (which
// channels a global |gamma| cut removes, and what that does to a plain chain
// of layers) and otherwise crafted: the latencies, diffs and sensitivity
// values are plausible, not measured.

import { analyzeFile, type LayerInfo, type LayerTable } from '../../src/analysis';
import type { LayerChange, PruneReport, SensitivityReport } from '../../src/pruning/report';
import type { ValidationReport } from '../../src/validation/report';
import type { Criterion } from '../../src/protocol';
import { layerScores, planCut } from '../../webview/threshold';

export function loadLayerTable(model: string): Promise<LayerTable> {
  return analyzeFile(model);
}

/**
 * A structured prune of a plain chain (each layer feeds the next, as in the
 * VGG model): a layer loses input channels where its predecessor lost output
 * channels, Flatten's spatial expansion included. Not valid for residual models.
 */
export function chainPruneReport(table: LayerTable, criterion: Criterion, ratio: number, output: string): PruneReport {
  const plan = planCut(table.layers, criterion, ratio, 'global');
  const last = table.layers[table.layers.length - 1];
  let keptFraction = 1; // of the previous layer's output channels
  let bnRemoved = 0;
  const layers: LayerChange[] = table.layers.map((layer: LayerInfo) => {
    const cut = plan.layers.get(layer.name);
    const frozen = layer === last; // feeds the graph output
    const removed = cut && !frozen ? cut.removed : [];
    const outAfter = layer.outChannels - removed.length;
    const inAfter = Math.round(layer.inChannels * keptFraction);
    const weights = layer.weightShape.reduce((a, b) => a * b, 1);
    const bias = layer.params - weights;
    const scale = (outAfter / layer.outChannels) * (inAfter / layer.inChannels);
    if (layer.batchNorm) bnRemoved += 4 * removed.length; // gamma, beta, running mean, running var
    keptFraction = outAfter / layer.outChannels;
    return {
      layer: layer.name,
      op: layer.op,
      outBefore: layer.outChannels,
      outAfter,
      inBefore: layer.inChannels,
      inAfter,
      paramsBefore: layer.params,
      paramsAfter: Math.round(weights * scale) + (bias > 0 ? outAfter : 0),
      macsBefore: layer.macs,
      macsAfter: Math.round(layer.macs * scale),
      removed,
    };
  });
  const paramsRemoved = layers.reduce((s, c) => s + c.paramsBefore - c.paramsAfter, 0) + bnRemoved;
  return {
    source: table.file,
    output,
    method: `${criterion === 'gamma' ? 'BatchNorm |gamma|' : criterion.toUpperCase() + ' norm'}, global, ratio ${ratio}`,
    structured: true,
    layers,
    frozen: [{ layers: [last.name], reason: 'its output channels are the model output (logits)' }],
    totals: {
      paramsBefore: table.totals.params,
      paramsAfter: table.totals.params - paramsRemoved,
      macsBefore: table.totals.macs,
      macsAfter: table.totals.macs - layers.reduce((s, c) => s + c.macsBefore - c.macsAfter, 0),
      bytesBefore: table.totals.bytes,
      bytesAfter: table.totals.bytes - 4 * paramsRemoved,
    },
    warnings: ['Preview fixture: latency and accuracy figures in this report are illustrative, not measured.'],
  };
}

/** Crafted validation numbers in a plausible range for the digits models on CPU. */
export function fixtureValidation(table: LayerTable, prune: PruneReport): ValidationReport {
  const t = prune.totals;
  const p50 = 0.42;
  const prunedP50 = p50 * (0.35 + 0.65 * (t.macsAfter / t.macsBefore));
  return {
    provider: 'cpu',
    attempts: [
      { provider: 'cuda', ok: false, reason: 'CUDA provider libraries are not installed (onnxruntime-node was installed with the CUDA download skipped)' },
      { provider: 'cpu', ok: true },
    ],
    samples: 360,
    batchSize: 64,
    data: '../shared/models/digits_val_x.npy',
    labels: true,
    original: { file: table.file, bytes: t.bytesBefore, params: t.paramsBefore, macs: t.macsBefore, accuracy: 0.9972, latency: { p50, p95: 0.61, mean: 0.45, throughput: 64 / (0.45 / 1000) } },
    pruned: { file: prune.output, bytes: t.bytesAfter, params: t.paramsAfter, macs: t.macsAfter, accuracy: 0.9972, latency: { p50: prunedP50, p95: prunedP50 * 1.4, mean: prunedP50 * 1.07, throughput: 64 / ((prunedP50 * 1.07) / 1000) } },
    agreement: 1,
    maxAbsDiff: 3.1e-5,
    meanAbsDiff: 2.4e-6,
    cosine: 0.9999999,
    speedup: p50 / prunedP50,
  };
}

/**
 * Crafted sensitivity curves with the right shape: the metric falls as the
 * pruned share of a layer's importance mass (|gamma|, else L1) grows, so the
 * slimmed layers stay flat until their near-zero channels are used up.
 */
export function fixtureSensitivity(table: LayerTable, baseline: number): SensitivityReport {
  const ratios = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
  const curves = table.layers.slice(0, -1).map((layer) => {
    const scores = [...(layerScores(layer, 'gamma') ?? layerScores(layer, 'l1')!)].sort((a, b) => a - b);
    const total = scores.reduce((a, b) => a + b, 0);
    const metric = ratios.map((r) => {
      const k = Math.floor(r * scores.length + 1e-9);
      const mass = scores.slice(0, k).reduce((a, b) => a + b, 0) / total;
      return Math.max(0.1, baseline - (baseline - 0.1) * Math.min(1, 1.6 * mass) ** 1.5);
    });
    return { layer: layer.name, ratios, metric };
  });
  return { model: table.file, metricName: 'accuracy', baseline, curves };
}
