// Mask pruning: weights are set to zero, shapes stay. One function applies one
// step (method, granularity, scope, amount) to a set of layers of a model.
//
// What counts as pruned: an ONNX file carries no masks, so a weight that is
// exactly zero is read as pruned. Amounts are therefore taken from the units
// still nonzero, and earlier zeros stay zero, which is torch's
// PruningContainer behaviour when a step is applied again to the same layers
// (prune 50%, then 50% again: 75% zeros). A filter, input channel or kernel
// position counts as pruned once all its weights are zero.

import { PruneLensError } from '../../onnx/errors';
import type { OnnxModel } from '../../onnx/model';
import { DataType, type ExternalReader, dataTypeName, elementSize, setTensorBytes, tensorBytes, tensorDims, tensorFloats } from '../../onnx/tensor';
import type { TensorProto } from '../../onnx/schema';
import type { PrunableLayer } from '../../analysis/layers';
import type { MaskMethod } from '../methods';
import { entriesToPrune, type Amount } from './amount';
import { randomScores } from './random';
import { countAlive, selectLowest, type Ranked } from './select';
import {
  aliveUnits, nmElements, unitMap, unitNorms, unitsToElements, type Granularity, type UnitMap, type WeightLayout,
} from './units';

export interface MaskStep {
  method: MaskMethod;
  granularity: Granularity;
  /** local: each tensor ranked on its own; global: one ranking across all of them. */
  scope: 'local' | 'global';
  amount?: Amount;
  /** threshold: units whose score (|w|, or the unit's norm) is <= this are pruned. */
  threshold?: number;
  nm?: { n: number; m: number };
  seed?: number;
  /** Prune biases too: ranked like weights (element), or zeroed with their filter (filter). */
  bias?: boolean;
  /** No layer ends with more than this fraction of its units pruned. */
  maxRatio?: number;
  /** filter/channel: the units left per layer are a multiple of this. */
  roundTo?: number;
  /** custom: per layer name, a keep-mask in the weight's shape (0 = prune). */
  masks?: Map<string, Float32Array>;
  /** custom: per layer name, an importance in the weight's shape (lowest pruned). */
  importance?: Map<string, Float32Array>;
}

export interface LayerMaskChange {
  /** PrunableLayer.name (the node's name). */
  layer: string;
  weightElements: number;
  zerosBefore: number;
  zerosAfter: number;
  biasElements?: number;
  biasZerosBefore?: number;
  biasZerosAfter?: number;
}

export interface MaskResult {
  layers: LayerMaskChange[];
  warnings: string[];
}

/** One tensor this step may zero entries of. */
interface Slot {
  layer: PrunableLayer;
  role: 'weight' | 'bias';
  tensor: TensorProto;
  layout: WeightLayout;
  values: Float32Array;
  map: UnitMap;
  /** Elements to zero, filled by the method. */
  prune?: Uint8Array;
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]);

/**
 * Applies one mask step to `layers` of `model`, in place. Everything is
 * computed before the first tensor is written, so an error leaves the model
 * as it was.
 */
export function applyMaskStep(model: OnnxModel, layers: readonly PrunableLayer[], step: MaskStep): MaskResult {
  const warnings: string[] = [];
  const slots = collectSlots(model, layers, step, warnings);
  const weights = slots.filter((s) => s.role === 'weight');
  const before = new Map(slots.map((s) => [s, countZeros(s.values)]));

  switch (step.method) {
    case 'nm': markNM(weights, step, warnings); break;
    case 'threshold': markThreshold(slots, step); break;
    case 'custom':
      if (step.masks) markCustomMask(weights, step.masks);
      else markRanked(slots, step, warnings, model.external);
      break;
    default: markRanked(slots, step, warnings, model.external);
  }
  if (step.bias && step.granularity === 'filter') zeroBiasOfPrunedFilters(model, slots);

  for (const s of slots) if (s.prune) zeroElements(model, s.tensor, s.prune);

  const changes = new Map<PrunableLayer, LayerMaskChange>();
  for (const s of slots) {
    const c = changes.get(s.layer) ?? { layer: s.layer.name, weightElements: 0, zerosBefore: 0, zerosAfter: 0 };
    changes.set(s.layer, c);
    const after = countZeros(tensorFloats(s.tensor, model.external));
    if (s.role === 'weight') {
      Object.assign(c, { weightElements: s.values.length, zerosBefore: before.get(s)!, zerosAfter: after });
    } else {
      Object.assign(c, { biasElements: s.values.length, biasZerosBefore: before.get(s)!, biasZerosAfter: after });
    }
  }
  return { layers: [...changes.values()], warnings };
}

function collectSlots(model: OnnxModel, layers: readonly PrunableLayer[], step: MaskStep, warnings: string[]): Slot[] {
  const slots: Slot[] = [];
  const seen = new Map<TensorProto, PrunableLayer>();
  const rankedBias = step.bias && step.granularity === 'element' && step.method !== 'nm' && !step.masks;
  if (step.bias && !rankedBias && step.granularity !== 'filter') {
    warnings.push(`bias: ${step.method === 'nm' ? 'N:M' : step.masks ? 'a custom mask' : `${step.granularity} masks`} leave biases as they are`);
  }
  for (const layer of layers) {
    const tensor = layer.weight.tensor;
    checkFloat(tensor, layer);
    const first = seen.get(tensor);
    if (first) {
      warnings.push(`layer ${layer.displayName} shares its weight ${layer.weightName} with ${first.displayName}; it is pruned once, for both`);
      continue;
    }
    seen.set(tensor, layer);
    const layout = { dims: layer.dims, outAxis: layer.outAxis, inAxis: layer.inAxis };
    const values = tensorFloats(tensor, model.external);
    slots.push({ layer, role: 'weight', tensor, layout, values, map: unitMap(layout, step.granularity) });
    if (rankedBias && layer.bias) {
      const bt = layer.bias.tensor;
      checkFloat(bt, layer);
      if (seen.has(bt)) continue;
      seen.set(bt, layer);
      const dims = tensorDims(bt);
      const bl = { dims, outAxis: 0, inAxis: 0 };
      slots.push({ layer, role: 'bias', tensor: bt, layout: bl, values: tensorFloats(bt, model.external), map: unitMap(bl, 'element') });
    }
  }
  return slots;
}

function checkFloat(t: TensorProto, layer: PrunableLayer): void {
  if (!FLOAT_TYPES.has(t.data_type ?? 0)) {
    throw new PruneLensError('unsupported',
      `${dataTypeName(t.data_type)} weights cannot be mask-pruned (zero is not a plain value there); only float tensors can`,
      { layer: layer.displayName, tensor: t.name });
  }
}

function slotName(s: Slot): string {
  return s.role === 'weight' ? s.layer.displayName : `${s.layer.displayName} (bias)`;
}

function markNM(slots: Slot[], step: MaskStep, warnings: string[]): void {
  const { n, m } = step.nm!;
  for (const s of slots) {
    const size = s.layout.dims[s.layout.inAxis];
    if (size % m !== 0) {
      warnings.push(`layer ${s.layer.displayName} skipped: its ${size} input channels are not a multiple of M=${m}`);
      continue;
    }
    const scores = step.importance ? customScores(s, step.importance) : unitNorms(s.values, unitMap(s.layout, 'element'), 'l1');
    s.prune = nmElements(scores, s.layout, n, m);
  }
}

function markThreshold(slots: Slot[], step: MaskStep): void {
  const t = step.threshold!;
  for (const s of slots) {
    const scores = unitNorms(s.values, s.map, step.method === 'l2' ? 'l2' : 'l1');
    const alive = aliveUnits(s.values, s.map);
    const units = new Uint8Array(s.map.units);
    for (let u = 0; u < units.length; u++) units[u] = alive[u] && scores[u] <= t ? 1 : 0;
    s.prune = unitsToElements(units, s.map, s.values.length);
  }
}

function markCustomMask(slots: Slot[], masks: Map<string, Float32Array>): void {
  for (const s of slots) {
    const mask = masks.get(s.layer.name);
    if (!mask) continue;
    const prune = new Uint8Array(s.values.length);
    for (let i = 0; i < prune.length; i++) prune[i] = mask[i] === 0 ? 1 : 0;
    s.prune = prune;
  }
}

/** Ranking methods: l1, l2, random, bn-gamma, and custom importance. */
function markRanked(slots: Slot[], step: MaskStep, warnings: string[], external?: ExternalReader): void {
  const ranked: Ranked[] = [];
  const used: Slot[] = [];
  for (const s of slots) {
    const scores = rankScores(s, step, warnings, external);
    if (!scores) continue;
    const alive = aliveUnits(s.values, s.map);
    const r: Ranked = { scores, alive };
    if (step.maxRatio !== undefined) {
      const prunedAlready = s.map.units - countAlive(alive);
      r.cap = Math.max(0, Math.floor(step.maxRatio * s.map.units) - prunedAlready);
    }
    ranked.push(r);
    used.push(s);
  }
  const unitWord = step.granularity === 'element' ? 'weights' : `${step.granularity}s`;
  let picks: Uint8Array[];
  if (step.scope === 'global') {
    const alive = ranked.reduce((n, r) => n + countAlive(r.alive), 0);
    let k = entriesToPrune(step.amount!, alive, unitWord);
    const allowed = ranked.reduce((n, r) => n + Math.min(countAlive(r.alive), r.cap ?? Infinity), 0);
    if (k > allowed) {
      warnings.push(`max_ratio allows only ${allowed} of the ${k} ${unitWord} asked for`);
      k = allowed;
    }
    picks = selectLowest(ranked, k);
  } else {
    picks = ranked.map((r, i) => {
      const alive = countAlive(r.alive);
      let k: number;
      try {
        k = entriesToPrune(step.amount!, alive, unitWord);
      } catch (e) {
        throw e instanceof PruneLensError ? new PruneLensError(e.code, e.detail, { layer: slotName(used[i]) }) : e;
      }
      return selectLowest([r], Math.min(k, r.cap ?? Infinity))[0];
    });
  }
  if (step.roundTo && step.roundTo > 1) picks.forEach((p, i) => roundKept(p, ranked[i], step.roundTo!));
  used.forEach((s, i) => (s.prune = unitsToElements(picks[i], s.map, s.values.length)));
}

function rankScores(s: Slot, step: MaskStep, warnings: string[], external?: ExternalReader): Float64Array | undefined {
  switch (step.method) {
    case 'random': return randomScores(s.map.units, step.seed ?? 0, `${s.tensor.name ?? ''}/${s.role}`);
    case 'custom': return customScores(s, step.importance!);
    case 'bn-gamma': {
      const bn = s.layer.batchNorm;
      if (!bn?.scale) {
        warnings.push(`layer ${s.layer.displayName} skipped: no BatchNormalization follows it, so it has no gamma to rank by`);
        return undefined;
      }
      const gamma = tensorFloats(bn.scale.tensor, external);
      if (gamma.length !== s.map.units) {
        warnings.push(`layer ${s.layer.displayName} skipped: ${gamma.length} gammas for ${s.map.units} filters`);
        return undefined;
      }
      return Float64Array.from(gamma, Math.abs);
    }
    default: return unitNorms(s.values, s.map, step.method === 'l2' ? 'l2' : 'l1');
  }
}

/** Custom importance: the value itself per element, or its L1 norm over a unit. */
function customScores(s: Slot, importance: Map<string, Float32Array>): Float64Array {
  const values = importance.get(s.layer.name);
  if (!values) throw new PruneLensError('plan', 'no importance values were given for this layer', { layer: s.layer.displayName });
  if (!s.map.of) return Float64Array.from(values, (v) => (Number.isNaN(v) ? Infinity : v));
  return unitNorms(values, s.map, 'l1');
}

/**
 * round_to: un-prunes the highest-scoring picks until the units left alive
 * are a multiple of `r` (never prunes more than asked).
 */
function roundKept(pick: Uint8Array, r: Ranked, roundTo: number): void {
  const alive = countAlive(r.alive);
  const picked = countAlive(pick);
  const keep = Math.min(alive, Math.ceil((alive - picked) / roundTo) * roundTo);
  let restore = picked - (alive - keep);
  if (restore <= 0) return;
  const order = [...pick.keys()].filter((u) => pick[u]).sort((a, b) => r.scores[b] - r.scores[a] || b - a);
  for (const u of order) {
    if (restore-- <= 0) break;
    pick[u] = 0;
  }
}

function zeroBiasOfPrunedFilters(model: OnnxModel, slots: Slot[]): void {
  for (const s of slots) {
    const bias = s.layer.bias;
    if (s.role !== 'weight' || !s.prune || !bias) continue;
    checkFloat(bias.tensor, s.layer);
    const filters = s.map.units;
    const b = tensorFloats(bias.tensor, model.external);
    if (b.length !== filters) continue;
    const flags = new Uint8Array(filters);
    for (let i = 0; i < s.prune.length; i++) if (s.prune[i]) flags[s.map.of![i]] = 1;
    zeroElements(model, bias.tensor, flags);
  }
}

/** Sets flagged elements to +0 in the tensor's own bytes; all other bytes stay as they were. */
export function zeroElements(model: OnnxModel, t: TensorProto, flags: Uint8Array): void {
  const size = elementSize(t.data_type);
  // A copy (tensor bytes are views of the file; Buffer#slice would not copy), at offset 0, so
  // word views are aligned; +0.0 is all zero bits in every float type.
  const bytes = new Uint8Array(tensorBytes(t, model.external));
  const words = size % 4 === 0 ? new Uint32Array(bytes.buffer) : new Uint16Array(bytes.buffer);
  const per = size / words.BYTES_PER_ELEMENT;
  let any = false;
  for (let i = 0; i < flags.length; i++) {
    if (!flags[i]) continue;
    for (let j = i * per; j < (i + 1) * per; j++) words[j] = 0;
    any = true;
  }
  if (any) setTensorBytes(t, tensorDims(t), bytes);
}

function countZeros(values: Float32Array): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) n++;
  return n;
}
