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
//
// Where the layer's output reaches a ReLU (through that BN, and through a
// residual Add), the next layer never sees values the ReLU clips, so an output
// the original clipped and the refit also clips is already right: matching its
// exact negative value spends the fit's few weights on nothing. After the plain
// fit, a few passes replace those targets by the fit's own prediction and solve
// again (same Gram matrix, new cross term). On digits_resnet_slim_s1e-2 at 50%
// L1 with 256 images this lifts held-out accuracy from 0.91 to 0.95; a plain
// least-squares fit of the pre-ReLU outputs, torch or here, stays near 0.91.
// The residual Add's other input is taken from the original model, the value
// that branch is itself being fit to.
//
// A transformer's Linear is MatMul → Add(bias): the fit gets a bias column
// too, and the fitted intercept is added to that Add's constant (FLAP's bias
// compensation falls out of it: the removed inputs' mean contribution moves
// into the bias).

import type { PrunableLayer } from '../../analysis/layers';
import { findPrunableLayers } from '../../analysis/layers';
import { attrFloat, attrInt } from '../../onnx/attributes';
import { PruneLensError } from '../../onnx/errors';
import { GraphIndex } from '../../onnx/graph';
import type { OnnxModel } from '../../onnx/model';
import type { NodeProto } from '../../onnx/schema';
import { tensorDims } from '../../onnx/tensor';
import { constantFloats, setConstantFloats } from './constants';
import { convGeometry, denseGeometry, featureWidth, layerChunks, type Chunk, type LayerGeometry } from './features';
import { jsGram, type GramBackend } from './gram';
import { NormalEquations } from './ridge';
import type { Activation, ActivationSource } from './source';

export const DEFAULT_RIDGE = 1e-3;
/** Refits that ignore ReLU-clipped outputs, after the plain one (see above); 3 gets most of the gain. */
export const DEFAULT_RELU_PASSES = 3;

export interface ReconstructOptions {
  /** Ridge strength, relative to the mean diagonal of XᵀX, the bias column left out (default 1e-3). */
  ridge?: number;
  /** Passes that leave out what a following ReLU clips (default 3; 0: plain least squares). */
  reluPasses?: number;
  /**
   * 'all' (default) refits weights and bias; 'bias' keeps the weights and moves
   * the mean output difference into the bias (FLAP's compensation: the removed
   * inputs' mean contribution). Layers without a bias to shift are left as they are.
   */
  fit?: 'all' | 'bias';
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
  const passes = opts.reluPasses ?? DEFAULT_RELU_PASSES;
  if (!(Number.isInteger(passes) && passes >= 0)) throw new PruneLensError('plan', `reluPasses must be a whole number of at least 0, not ${passes}`);
  const originalIndex = new GraphIndex(original.graph);
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
    const gate = passes > 0 && opts.fit !== 'bias' ? reluGate(originalIndex, layer) : undefined;
    results.push(await refitLayer(original, pruned, index, layer, kept, source, { ridge, passes, gate, mode: opts.fit ?? 'all' },
      opts.gram ?? source.gram ?? jsGram, opts.signal));
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

/** A ReLU the layer's output reaches: directly, through its BN, or through its BN and a residual Add with `other`. */
interface ReluGate {
  other?: string;
}

function reluGate(index: GraphIndex, layer: PrunableLayer): ReluGate | undefined {
  const sole = (value: string) => {
    const c = index.consumers(value);
    return c.length === 1 && !index.graphOutputs.has(value) ? c[0] : undefined;
  };
  let value = layer.node.output[0];
  let next = sole(value);
  if (next?.op_type === 'BatchNormalization' && next.input[0] === value) {
    // The BN the fit folds into must be the one on the path.
    if (!layer.batchNorm) return undefined;
    value = next.output[0];
    next = sole(value);
  }
  if (next?.op_type === 'Relu') return {};
  if (next?.op_type === 'Add' && next.input.length === 2) {
    const other = next.input[0] === value ? next.input[1] : next.input[0];
    // A constant addend (a bias) is not a branch; leave such layers to the plain fit.
    if (other === value || !index.producer(other)) return undefined;
    if (sole(next.output[0])?.op_type === 'Relu') return { other };
  }
  return undefined;
}

interface FitSettings {
  ridge: number;
  passes: number;
  gate?: ReluGate;
  /** 'bias': keep the weights, shift the bias only (ReconstructOptions.fit). */
  mode: 'all' | 'bias';
}

async function refitLayer(original: OnnxModel, pruned: OnnxModel, index: GraphIndex, layer: PrunableLayer,
  kept: number[], source: ActivationSource, fit: FitSettings, gram: GramBackend, signal?: AbortSignal): Promise<LayerRecovery> {
  const node = layer.node;
  const inputName = node.input[0];
  const outputName = node.output[0];
  const channelAxis = layer.op === 'Conv' ? 1 : -1;
  const runP = await source.open(pruned, [inputName]);
  const runO = await source.open(original, fit.gate?.other ? [outputName, fit.gate.other] : [outputName]);
  let geometry: LayerGeometry | undefined;
  let systems: NormalEquations[] = [];
  let sumY: Float64Array | undefined;
  let sumY2: Float64Array | undefined;
  let solutions: Float64Array[] = [];
  try {
    for (let b = 0; b < source.batches; b++) {
      // A large layer's batches take a while each: a cancel should not wait for all of them.
      if (signal?.aborted) throw new PruneLensError('cancelled', 'reconstruction was cancelled', { layer: layer.displayName });
      const x = (await runP.run(b)).get(inputName)!;
      const y = gatherChannels((await runO.run(b)).get(outputName)!, channelAxis, kept);
      if (!geometry) {
        geometry = layer.op === 'Conv' ? convGeometry(node, layer.dims, x.dims, true)
          : denseGeometry(layer.op as 'Gemm' | 'MatMul', layer.op === 'Gemm' || !!matMulBias(index, layer));
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
    const factors = systems.map((eq) => eq.factor(fit.ridge, geometry!.bias ? [eq.d - 1] : []));
    solutions = factors.map((solve, g) => solve(systems[g].cross));
    if (fit.gate) {
      const { scale, shift } = bnAffine(pruned, index, layer, kept.length);
      const plain = solutions;
      passes: for (let pass = 0; pass < fit.passes; pass++) {
        const cross = systems.map((eq) => new Float64Array(eq.cross));
        for (let b = 0; b < source.batches; b++) {
          if (signal?.aborted) throw new PruneLensError('cancelled', 'reconstruction was cancelled', { layer: layer.displayName });
          const x = (await runP.run(b)).get(inputName)!;
          const values = await runO.run(b);
          const y = gatherChannels(values.get(outputName)!, channelAxis, kept);
          const other = fit.gate.other ? gatherChannels(values.get(fit.gate.other)!, channelAxis, kept) : undefined;
          if (other && other.data.length !== y.data.length) {
            // A broadcast addend is not a residual branch: keep the plain fit.
            solutions = plain;
            break passes;
          }
          for (let g = 0; g < geometry!.groups; g++) {
            const m = systems[g].m;
            const addends = other ? layerChunks(geometry!, x, other, g) : undefined;
            for (const chunk of layerChunks(geometry!, x, y, g)) {
              addClippedCorrection(cross[g], chunk, addends?.next().value?.targets, solutions[g], systems[g].d, m,
                scale.subarray(g * m, (g + 1) * m), shift.subarray(g * m, (g + 1) * m));
            }
          }
        }
        solutions = factors.map((solve, g) => solve(cross[g]));
      }
    }
  } finally {
    await Promise.all([runP.release(), runO.release()]);
  }
  const current = currentSolution(pruned, index, layer, geometry!);
  const scale = bnScale(pruned, index, layer, kept.length);
  if (fit.mode === 'bias') solutions = systems.map((eq, g) => (geometry!.bias ? shiftBias(eq, current[g]) : current[g]));
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

/**
 * Adds to XᵀY the change that makes it XᵀT, where T is the target with every
 * output the ReLU clips both in the original (s·y + t + addend ≤ 0) and under
 * the current fit w replaced by that fit's prediction: there the fit is
 * already right. Rows are usually sparse (ReLU inputs), so zeros are skipped.
 */
function addClippedCorrection(cross: Float64Array, chunk: Chunk, addend: Float32Array | undefined, w: Float64Array,
  d: number, m: number, s: Float64Array, t: Float64Array): void {
  const { features, targets, rows } = chunk;
  const pred = new Float64Array(m);
  const delta = new Float64Array(m);
  const nz: number[] = [];
  for (let r = 0; r < rows; r++) {
    nz.length = 0;
    pred.fill(0);
    for (let i = 0; i < d; i++) {
      const xi = features[r * d + i];
      if (xi === 0) continue;
      nz.push(i);
      const wi = i * m;
      for (let o = 0; o < m; o++) pred[o] += xi * w[wi + o];
    }
    let any = false;
    for (let o = 0; o < m; o++) {
      const y = targets[r * m + o];
      const base = t[o] + (addend ? addend[r * m + o] : 0);
      const clipped = s[o] * y + base <= 0 && s[o] * pred[o] + base <= 0;
      delta[o] = clipped ? pred[o] - y : 0;
      any ||= clipped;
    }
    if (!any) continue;
    for (const i of nz) {
      const xi = features[r * d + i];
      const ci = i * m;
      for (let o = 0; o < m; o++) cross[ci + o] += xi * delta[o];
    }
  }
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

/** Per output channel, the BatchNorm after the layer as s·z + t; s = 1, t = 0 without one. */
function bnAffine(model: OnnxModel, index: GraphIndex, layer: PrunableLayer, m: number): { scale: Float64Array; shift: Float64Array } {
  const scale = bnScale(model, index, layer, m);
  const shift = new Float64Array(m);
  const bn = layer.batchNorm?.node;
  if (bn) {
    const beta = constantFloats(model, index, bn, 2);
    const mean = constantFloats(model, index, bn, 3);
    for (let o = 0; o < m; o++) shift[o] = beta[o] - scale[o] * mean[o];
  }
  return { scale, shift };
}

interface DenseLayout {
  /** Weight element of (feature k, output o). */
  at(k: number, o: number): number;
  alpha: number;
  beta: number;
}

function denseLayout(layer: PrunableLayer): DenseLayout {
  const c = layer.dims[1];
  const transB = layer.op === 'Gemm' && attrInt(layer.node, 'transB', 0) !== 0;
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
  // A MatMul's target excludes its Add's bias: the fitted column is a change to that bias, 0 now.
  if (g.bias && layer.op === 'MatMul') return [sol];
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
  const add = g.op === 'MatMul' ? matMulBias(index, layer) : undefined;
  if (add) {
    const b = constantFloats(model, index, add.node, add.input);
    for (let o = 0; o < mAll; o++) b[o] += bias[o];
    setConstantFloats(model, index, add.node, add.input, add.dims, b);
    return;
  }
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

/** The Add after a MatMul whose other operand is a constant bias of one value per output: a Linear's bias. */
function matMulBias(index: GraphIndex, layer: PrunableLayer): { node: NodeProto; input: number; dims: number[] } | undefined {
  if (layer.op !== 'MatMul') return undefined;
  const out = layer.node.output[0];
  const users = index.consumers(out);
  if (users.length !== 1 || users[0].op_type !== 'Add' || index.graphOutputs.has(out)) return undefined;
  const add = users[0];
  const input = add.input[0] === out ? 1 : 0;
  const c = index.constant(add.input[input]);
  if (!c) return undefined;
  const dims = tensorDims(c.tensor);
  const m = layer.dims[layer.outAxis];
  return dims.reduce((p, d) => p * d, 1) === m && dims[dims.length - 1] === m ? { node: add, input, dims } : undefined;
}

/**
 * The present weights with the bias moved by the mean residual: the bias
 * feature is the last, so its Gram row holds Σx and its cross row Σy, and
 * mean(y − x·w) = (Σy − Σx·w) / rows.
 */
function shiftBias(eq: NormalEquations, current: Float64Array): Float64Array {
  const { d, m, gram, cross, rows } = eq;
  const out = current.slice();
  const b = d - 1;
  for (let o = 0; o < m; o++) {
    let predicted = 0;
    // Σ over rows of x·w: the bias row of the lower triangle (gram[b·d + i], i ≤ b) holds Σx_i (and Σ1 = rows at i = b).
    for (let i = 0; i <= b; i++) predicted += gram[b * d + i] * current[i * m + o];
    out[b * m + o] += (cross[b * m + o] - predicted) / Math.max(1, rows);
  }
  return out;
}
