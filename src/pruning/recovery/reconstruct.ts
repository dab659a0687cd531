// Least-squares reconstruction after structured pruning (ThiNet; He et al.
// 2017). Front to back over the layers whose input channels were cut, each
// layer's remaining weights and bias are refit by ridge regression so that
// its output on the calibration data matches the original model's output at
// the same point. The inputs are the pruned model's own activations, taken
// after the layers before it were refit, so errors do not pile up. Shapes and
// ops stay as they are; only weight, bias (or BatchNorm shift) values change.
//
// A BatchNorm after the layer applies the same per-channel affine map in both
// models (its parameters are sliced, not changed), so matching the layer's
// output channel by channel also matches the BN's output; the reported error
// is measured after the BN (each channel weighted by (γ/σ)²). A layer without
// a bias gets the fitted bias folded into that BN's shift.

import type { PrunableLayer } from '../../analysis/layers';
import { findPrunableLayers } from '../../analysis/layers';
import { attrFloat, attrInt } from '../../onnx/attributes';
import { PruneLensError } from '../../onnx/errors';
import { GraphIndex } from '../../onnx/graph';
import type { OnnxModel } from '../../onnx/model';
import { tensorDims } from '../../onnx/tensor';
import { constantFloats, setConstantFloats } from './constants';
import { convGeometry, denseGeometry, featureWidth, layerChunks, type LayerGeometry } from './features';
import { jsGram, type GramBackend } from './gram';
import { NormalEquations } from './ridge';
import type { Activation, ActivationSource } from './source';

export const DEFAULT_RIDGE = 1e-3;

export interface ReconstructOptions {
  /** Ridge strength, relative to the mean diagonal of XᵀX (default 1e-3). */
  ridge?: number;
  /** Layer name → removed output channels, original numbering (PruneReport.layers[].removed). */
  removed: Map<string, number[]>;
  /** Refit only these layers (names); by default every layer that lost input channels. */
  layers?: string[];
  /** Gram products: by default the source's (onnxruntime), else the JavaScript loop. */
  gram?: GramBackend;
  signal?: AbortSignal;
  onProgress?: (p: { layer: string; done: number; total: number }) => void;
}

export interface LayerRecovery {
  layer: string;
  /** Unexplained fraction of the output's variance (after the BN, when one follows), before and after the refit. */
  errorBefore: number;
  errorAfter: number;
}

/** Refits `pruned` in place against `original` on the calibration data of `source`. */
export async function reconstruct(original: OnnxModel, pruned: OnnxModel, source: ActivationSource,
  opts: ReconstructOptions): Promise<LayerRecovery[]> {
  const ridge = opts.ridge ?? DEFAULT_RIDGE;
  if (!(ridge >= 0 && Number.isFinite(ridge))) throw new PruneLensError('plan', `ridge must be a number of at least 0, not ${ridge}`);
  const originalLayers = new Map(findPrunableLayers(new GraphIndex(original.graph)).map((l) => [l.name, l]));
  const todo = layersToRefit(pruned, originalLayers, opts.layers);
  const results: LayerRecovery[] = [];
  for (const [k, name] of todo.entries()) {
    if (opts.signal?.aborted) throw new PruneLensError('cancelled', 'reconstruction was cancelled', { layer: name });
    opts.onProgress?.({ layer: name, done: k, total: todo.length });
    // Re-found on every pass: the previous refit may have given a node new constants.
    const index = new GraphIndex(pruned.graph);
    const layer = findPrunableLayers(index).find((l) => l.name === name)!;
    const before = originalLayers.get(name)!;
    const kept = keptChannels(before, opts.removed.get(name) ?? [], layer);
    results.push(await refitLayer(original, pruned, index, layer, kept, source, ridge, opts.gram ?? source.gram ?? jsGram, opts.signal));
  }
  opts.onProgress?.({ layer: '', done: todo.length, total: todo.length });
  return results;
}

/** Layers that lost input channels, in topological order. */
function layersToRefit(pruned: OnnxModel, originalLayers: Map<string, PrunableLayer>, only?: string[]): string[] {
  const index = new GraphIndex(pruned.graph);
  const byNode = new Map(findPrunableLayers(index).map((l) => [l.node, l]));
  const out: string[] = [];
  for (const node of index.topoOrder()) {
    const l = byNode.get(node);
    const o = l && originalLayers.get(l.name);
    if (!l || !o) continue;
    if (only ? only.includes(l.name) : l.dims[l.inAxis] !== o.dims[o.inAxis]) {
      if (l.op === 'ConvTranspose') throw new PruneLensError('unsupported', 'reconstruction does not refit ConvTranspose layers yet', { layer: l.displayName });
      out.push(l.name);
    }
  }
  return out;
}

function keptChannels(before: PrunableLayer, removed: number[], after: PrunableLayer): number[] {
  const gone = new Set(removed);
  const kept = Array.from({ length: before.dims[before.outAxis] }, (_, i) => i).filter((i) => !gone.has(i));
  if (kept.length !== after.dims[after.outAxis]) {
    throw new PruneLensError('internal', `${after.displayName} has ${after.dims[after.outAxis]} output channels, but the prune report removes ${removed.length} of ${before.dims[before.outAxis]}`, { layer: after.displayName });
  }
  return kept;
}

async function refitLayer(original: OnnxModel, pruned: OnnxModel, index: GraphIndex, layer: PrunableLayer,
  kept: number[], source: ActivationSource, ridge: number, gram: GramBackend, signal?: AbortSignal): Promise<LayerRecovery> {
  const node = layer.node;
  const inputName = node.input[0];
  const outputName = node.output[0];
  const runP = await source.open(pruned, [inputName]);
  const runO = await source.open(original, [outputName]);
  let geometry: LayerGeometry | undefined;
  let systems: NormalEquations[] = [];
  let sumY: Float64Array | undefined;
  let sumY2: Float64Array | undefined;
  try {
    for (let b = 0; b < source.batches; b++) {
      // A large layer's batches take a while each: a cancel should not wait for all of them.
      if (signal?.aborted) throw new PruneLensError('cancelled', 'reconstruction was cancelled', { layer: layer.displayName });
      const x = (await runP.run(b)).get(inputName)!;
      const y = gatherChannels((await runO.run(b)).get(outputName)!, layer.op === 'Conv' ? 1 : -1, kept);
      if (!geometry) {
        geometry = layer.op === 'Conv' ? convGeometry(node, layer.dims, x.dims, true) : denseGeometry(layer.op as 'Gemm' | 'MatMul', layer.op === 'Gemm');
        const m = kept.length / geometry.groups;
        const d = featureWidth(geometry, layer.op === 'Conv' ? x.dims[1] : x.dims[x.dims.length - 1]);
        systems = Array.from({ length: geometry.groups }, () => new NormalEquations(d, m));
        sumY = new Float64Array(kept.length);
        sumY2 = new Float64Array(kept.length);
      }
      for (let g = 0; g < geometry.groups; g++) {
        const eq = systems[g];
        for (const chunk of layerChunks(geometry, x, y, g)) {
          await gram.accumulate(eq, chunk.features, chunk.targets, chunk.rows);
          for (let r = 0; r < chunk.rows; r++) {
            for (let o = 0; o < eq.m; o++) {
              const v = chunk.targets[r * eq.m + o];
              sumY![g * eq.m + o] += v;
              sumY2![g * eq.m + o] += v * v;
            }
          }
        }
      }
    }
  } finally {
    await Promise.all([runP.release(), runO.release()]);
  }
  const current = currentSolution(pruned, index, layer, geometry!);
  const scale = bnScale(pruned, index, layer, kept.length);
  const solutions = systems.map((eq) => eq.solve(ridge, geometry!.bias ? [eq.d - 1] : []));
  let errBefore = 0;
  let errAfter = 0;
  let variance = 0;
  systems.forEach((eq, g) => {
    const yy = sumY2!.subarray(g * eq.m, (g + 1) * eq.m);
    const ys = sumY!.subarray(g * eq.m, (g + 1) * eq.m);
    const s = scale.subarray(g * eq.m, (g + 1) * eq.m);
    const rows = eq.rows;
    for (let o = 0; o < eq.m; o++) {
      const w2 = s[o] * s[o];
      errBefore += w2 * residual(eq, current[g], o, yy[o]);
      errAfter += w2 * residual(eq, solutions[g], o, yy[o]);
      variance += w2 * Math.max(0, yy[o] - (ys[o] * ys[o]) / rows);
    }
  });
  writeSolution(pruned, index, layer, geometry!, solutions);
  const denom = variance > 0 ? variance : 1;
  return { layer: layer.name, errorBefore: Math.max(0, errBefore) / denom, errorAfter: Math.max(0, errAfter) / denom };
}

/** ‖Xw − y‖² for output column o, from the normal equations: wᵀGw − 2wᵀc + yᵀy (G holds its lower triangle). */
function residual(eq: NormalEquations, w: Float64Array, o: number, yy: number): number {
  const { d, m, gram, cross } = eq;
  let quad = 0;
  let lin = 0;
  for (let i = 0; i < d; i++) {
    const wi = w[i * m + o];
    if (wi === 0) continue;
    lin += wi * cross[i * m + o];
    let row = 0;
    for (let j = 0; j < i; j++) row += gram[i * d + j] * w[j * m + o];
    quad += wi * (2 * row + gram[i * d + i] * wi);
  }
  return quad - 2 * lin + yy;
}

/** Keeps `kept` positions along `axis` (-1: the last) of an activation. */
function gatherChannels(a: Activation, axis: number, kept: number[]): Activation {
  const ax = axis < 0 ? a.dims.length + axis : axis;
  const len = a.dims[ax];
  if (kept.length === len && kept.every((k, i) => k === i)) return a;
  const inner = a.dims.slice(ax + 1).reduce((p, d) => p * d, 1);
  const outer = a.data.length / (len * inner);
  const out = new Float32Array(outer * kept.length * inner);
  for (let o = 0; o < outer; o++) {
    kept.forEach((k, i) => out.set(a.data.subarray((o * len + k) * inner, (o * len + k + 1) * inner), (o * kept.length + i) * inner));
  }
  const dims = a.dims.slice();
  dims[ax] = kept.length;
  return { dims, data: out };
}

/** Per output channel, γ/√(var+ε) of the BatchNorm after the layer; 1 without one. */
function bnScale(model: OnnxModel, index: GraphIndex, layer: PrunableLayer, m: number): Float64Array {
  const s = new Float64Array(m).fill(1);
  const bn = layer.batchNorm?.node;
  if (!bn) return s;
  const gamma = constantFloats(model, index, bn, 1);
  const variance = constantFloats(model, index, bn, 4);
  const eps = attrFloat(bn, 'epsilon', 1e-5);
  for (let o = 0; o < m; o++) s[o] = gamma[o] / Math.sqrt(variance[o] + eps);
  return s;
}

interface DenseLayout {
  /** Weight element of (feature k, output o). */
  at(k: number, o: number): number;
  alpha: number;
  beta: number;
}

function denseLayout(layer: PrunableLayer): DenseLayout {
  const c = layer.dims[1];
  const transB = layer.op === 'Gemm' && attrInt(layer.node, 'transB', 0) === 1;
  return {
    at: transB ? (k, o) => o * c + k : (k, o) => k * c + o,
    alpha: layer.op === 'Gemm' ? attrFloat(layer.node, 'alpha', 1) : 1,
    beta: layer.op === 'Gemm' ? attrFloat(layer.node, 'beta', 1) : 1,
  };
}

/** The layer's present weights and bias in solution layout (per group, d × m), as the fit sees them. */
function currentSolution(model: OnnxModel, index: GraphIndex, layer: PrunableLayer, g: LayerGeometry): Float64Array[] {
  const w = constantFloats(model, index, layer.node, 1);
  const bias = layer.node.input[2] ? constantFloats(model, index, layer.node, 2) : undefined;
  const out: Float64Array[] = [];
  if (g.op === 'Conv') {
    const mAll = layer.dims[0];
    const m = mAll / g.groups;
    const dw = w.length / mAll;
    const d = dw + 1;
    for (let grp = 0; grp < g.groups; grp++) {
      const sol = new Float64Array(d * m);
      for (let j = 0; j < m; j++) {
        const o = grp * m + j;
        for (let f = 0; f < dw; f++) sol[f * m + j] = w[o * dw + f];
        sol[dw * m + j] = bias ? bias[o] : 0;
      }
      out.push(sol);
    }
    return out;
  }
  const lay = denseLayout(layer);
  const k = layer.dims[layer.inAxis];
  const m = layer.dims[layer.outAxis];
  const d = k + (g.bias ? 1 : 0);
  const sol = new Float64Array(d * m);
  for (let i = 0; i < k; i++) for (let o = 0; o < m; o++) sol[i * m + o] = lay.alpha * w[lay.at(i, o)];
  if (g.bias) for (let o = 0; o < m; o++) sol[k * m + o] = bias ? lay.beta * (bias.length === 1 ? bias[0] : bias[o]) : 0;
  out.push(sol);
  return out;
}

/** Writes the fitted weights and bias back into the model (the BN's shift when the layer has no bias). */
function writeSolution(model: OnnxModel, index: GraphIndex, layer: PrunableLayer, g: LayerGeometry, sols: Float64Array[]): void {
  const node = layer.node;
  const w = new Float32Array(layer.dims.reduce((p, d) => p * d, 1));
  const mAll = layer.dims[layer.outAxis];
  const bias = new Float64Array(mAll);
  if (g.op === 'Conv') {
    const m = mAll / g.groups;
    const dw = w.length / mAll;
    sols.forEach((sol, grp) => {
      for (let j = 0; j < m; j++) {
        const o = grp * m + j;
        for (let f = 0; f < dw; f++) w[o * dw + f] = sol[f * m + j];
        bias[o] = sol[dw * m + j];
      }
    });
  } else {
    const lay = denseLayout(layer);
    const k = layer.dims[layer.inAxis];
    const sol = sols[0];
    for (let i = 0; i < k; i++) for (let o = 0; o < mAll; o++) w[lay.at(i, o)] = sol[i * mAll + o] / lay.alpha;
    if (g.bias) for (let o = 0; o < mAll; o++) bias[o] = sol[k * mAll + o];
  }
  setConstantFloats(model, index, node, 1, layer.dims, w);
  if (!g.bias) return;
  const beta = g.op === 'Gemm' ? attrFloat(node, 'beta', 1) : 1;
  const bn = layer.batchNorm?.node;
  if (node.input[2]) {
    const c = index.constant(node.input[2]);
    const dims = c && tensorDims(c.tensor).reduce((p, d) => p * d, 1) === mAll ? tensorDims(c.tensor) : [mAll];
    setConstantFloats(model, index, node, 2, dims, Float32Array.from(bias, (v) => v / beta));
  } else if (bn) {
    // y = s·(z + b − μ) + β = s·(z − μ) + (β + s·b): the conv's bias moves into the BN's shift.
    const s = bnScale(model, index, layer, mAll);
    const shift = constantFloats(model, index, bn, 2);
    for (let o = 0; o < mAll; o++) shift[o] += s[o] * bias[o];
    setConstantFloats(model, index, bn, 2, [mAll], shift);
  } else if (bias.some((v) => v !== 0)) {
    setConstantFloats(model, index, node, 2, [mAll], Float32Array.from(bias, (v) => v / beta));
  }
}
