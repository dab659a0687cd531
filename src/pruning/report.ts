// What a prune did, per layer. Plain JSON, written next to the pruned model and
// shown by the CLI, the extension and the webview's before/after comparison;
// and the params and MACs accounting of a structured cut.

import { layerMacs, type PrunableLayer } from '../analysis';
import type { ShapeInfo } from '../onnx/shapes';
import type { GroupKind } from './depgraph';

export interface LayerChange {
  layer: string;
  op: string;
  /** Structured: channels before and after. Unstructured: equal. */
  outBefore: number;
  outAfter: number;
  inBefore: number;
  inAfter: number;
  paramsBefore: number;
  paramsAfter: number;
  macsBefore: number;
  macsAfter: number;
  /** Structured: removed output-channel indices (of the original numbering). */
  removed: number[];
  /** Unstructured: weights set to zero by this prune, and in total. */
  zerosBefore?: number;
  zerosAfter?: number;
}

/** Elements of a tensor before and after a cut. */
export interface ElementCounts {
  before: number;
  after: number;
}

/**
 * Params and MACs of one layer a structured cut shrank. Params are its weight
 * and bias elements; MACs scale with the weight elements kept, since every
 * output position keeps its spatial shape (`shapes`: the model before the cut).
 */
export function cutAccounting(layer: PrunableLayer, shapes: ShapeInfo, weight: ElementCounts, bias: ElementCounts):
  Pick<LayerChange, 'paramsBefore' | 'paramsAfter' | 'macsBefore' | 'macsAfter'> {
  const macsBefore = layerMacs(layer, weight.before, shapes);
  return {
    paramsBefore: weight.before + bias.before,
    paramsAfter: weight.after + bias.after,
    macsBefore,
    macsAfter: weight.before ? Math.round((macsBefore * weight.after) / weight.before) : 0,
  };
}

/** The MACs of the prunable layers a prune touched, before and after. */
export function macsTotals(layers: readonly LayerChange[]): { macsBefore: number; macsAfter: number } {
  return {
    macsBefore: layers.reduce((s, l) => s + l.macsBefore, 0),
    macsAfter: layers.reduce((s, l) => s + l.macsAfter, 0),
  };
}

export interface FrozenGroup {
  /** Layers whose channels the group couples. */
  layers: string[];
  reason: string;
}

/** One step of a plan, as it ran. */
export interface PruneStepSummary {
  /** 1-based, as in messages. */
  step: number;
  /** What the step did, readable: "l1, global, 20% of weights". */
  label: string;
  /** The step's method, amount and scope as given (the report's controls start from them). */
  method?: string;
  amount?: number;
  scope?: 'local' | 'global';
  structured: boolean;
  /** Layers the step touched (LayerInfo.name). */
  layers: string[];
  /** Mask steps: weights and biases set to zero by this step. */
  zeroed?: number;
  /** Structured steps with round_to: channels kept only to reach a multiple of round_to (the rounding's cost). */
  keptByRounding?: number;
  /** Structured steps: channels removed, counted once per channel group (coupled layers lose the same channels), and the groups cut. */
  channelsRemoved?: number;
  groupsCut?: number;
}

export interface PruneReport {
  source: string;
  output: string;
  method: string;
  structured: boolean;
  layers: LayerChange[];
  frozen: FrozenGroup[];
  totals: {
    paramsBefore: number;
    paramsAfter: number;
    macsBefore: number;
    macsAfter: number;
    bytesBefore: number;
    bytesAfter: number;
    /** Zero weights over all prunable layers (mask pruning), before and after. */
    zerosBefore?: number;
    zerosAfter?: number;
  };
  /** Plans: what each step did. */
  steps?: PruneStepSummary[];
  /** Per-layer reconstruction error before/after recovery, when it ran. */
  recovery?: { layer: string; errorBefore: number; errorAfter: number }[];
  /** The input size MACs were counted at, for a model with named dims, and where it came from. */
  assumedInput?: { shapes: Record<string, number[]>; source: string };
  warnings: string[];
}

/** Sensitivity analysis (Li et al. 2017, Fig. 2): metric per layer per ratio. */
export interface SensitivityCurve {
  layer: string;
  ratios: number[];
  /** Accuracy, or top-1 agreement with the original when there are no labels. */
  metric: number[];
  /** The group's root layers (LayerInfo.name): what a plan step selects to prune this group. */
  layers?: string[];
  /** Per ratio, the MACs that pruning this group alone removes from the model. */
  macsSaved?: number[];
  /** In a transformer: what the group's channels are (attention heads, MLP neurons, the hidden size). */
  kind?: GroupKind;
  /** In a transformer: the block the group belongs to (`layers.2`); none for the hidden size. */
  block?: string;
}

export interface SensitivityReport {
  model: string;
  metricName: 'accuracy' | 'agreement';
  baseline: number;
  curves: SensitivityCurve[];
}
