// PREVIEW FIXTURES. Layer tables and the prune report are real: the product's
// analysis and pruning engine run on the real models. The validation and
// sensitivity reports are crafted: their latencies, diffs and accuracies are
// plausible, not measured.

import { analyzeFile, type LayerTable } from '../../src/analysis';
import type { PruneReport, SensitivityReport } from '../../src/pruning/report';
import { pruneStructuredFile } from '../../src/pruning/structured';
import type { ValidationReport } from '../../src/validation/report';
import { layerScores } from '../../webview/threshold';

export function loadLayerTable(model: string): Promise<LayerTable> {
  return analyzeFile(model);
}

/** A real structured prune by the engine, written under artifacts/, and the analysis of its result. */
export async function realPrune(source: string, output: string, criterion: 'l1' | 'l2' | 'bn-gamma', ratio: number): Promise<{ report: PruneReport; after: LayerTable }> {
  const report = await pruneStructuredFile(source, output, { criterion, ratio, scope: 'global', overwrite: true });
  return { report, after: await analyzeFile(output) };
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
    data: '../shared/models/digits_val_x.npy (preview fixture: illustrative numbers)',
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
    const scores = [...(layerScores(layer, 'bn-gamma') ?? layerScores(layer, 'l1')!)].sort((a, b) => a - b);
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
