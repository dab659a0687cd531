// A pruning plan (`*.prune.json`): an ordered list of steps applied to one
// model. The JSON schema in schemas/prune-plan.schema.json describes the same
// shape for editors; validate.ts checks it in code with precise messages.
// Field names are snake_case where they are more than one word, as in the file.

import type { LayerKind } from '../../analysis/types';
import type { Normalizer } from '../normalize';
import type { Granularity } from '../unstructured/units';
import type { Method, RecoveryMethod } from '../methods';

export type { Normalizer } from '../normalize';
export const NORMALIZERS: readonly Normalizer[] = ['mean', 'max', 'sum', 'minmax', 'gaussian', 'none'];

/**
 * What a structured step does when the plan does not say. Global ranking compares
 * scores across layers whose raw norms differ by orders of magnitude; normalised
 * per layer (Torch-Pruning's default, `mean`) and with a floor per layer (no layer
 * loses more than 90%, and at least one `round_to` unit stays), it cannot empty a
 * layer by accident.
 */
export const STRUCTURED_DEFAULTS = { normalizer: 'mean' as Normalizer, max_ratio: 0.9 };

export const LAYER_KINDS: readonly LayerKind[] = ['Conv', 'ConvTranspose', 'Gemm', 'MatMul'];

/** Calibration data for data-aware criteria and recovery (structured steps). */
export interface CalibrationOptions {
  /** .npy/.npz file or folder of inputs, relative to the plan. */
  data: string;
  /** Samples used, the first rows of the data (default 256). */
  size?: number;
  /** Samples per onnxruntime run (default 64). */
  batch?: number;
}

/** How a structured step repairs the model after removing channels, on the calibration data. */
export interface RecoveryOptions {
  /** least-squares: refit each layer that lost input channels (ridge regression); bn-recalibration: only recompute BN statistics. */
  method: RecoveryMethod;
  /** Ridge strength relative to the mean diagonal of XᵀX, the bias column left out (default 1e-3). */
  ridge?: number;
  /** After least squares, also recompute BatchNorm running statistics. */
  bnRecalibration?: boolean;
}

export interface PlanStep {
  /** A label for messages and the report. */
  name?: string;
  /** How the step ranks (or picks) what it prunes (../methods.ts). */
  method: Method;
  /** true: channels are removed (shapes shrink); false (default): weights are set to zero. */
  structured?: boolean;
  /** Layer names or globs (node name, module path or weight name); all prunable layers when absent. */
  layers?: string[];
  /** Only layers of these op types. */
  ops?: LayerKind[];
  /** Layers left out, by name or glob. */
  ignore?: string[];
  scope?: 'local' | 'global';
  /** Fraction of the still-unpruned units to prune, in [0, 1]. */
  amount?: number;
  /** Number of still-unpruned units to prune (torch's integer amount). */
  count?: number;
  /** method threshold: prune units whose |w| (or norm) is at most this. */
  threshold?: number;
  granularity?: Granularity;
  /** method nm (and unstructured wanda, sparsegpt): "N:M", N kept out of every M along the input dimension. */
  nm?: string;
  seed?: number;
  bias?: boolean;
  round_to?: number;
  /** Structured: no layer loses more than this fraction of its channels (default STRUCTURED_DEFAULTS.max_ratio). */
  max_ratio?: number;
  /** Structured: how scores are rescaled per layer before a global ranking (default STRUCTURED_DEFAULTS.normalizer). */
  normalizer?: Normalizer;
  /** method custom: a keep-mask .npy (1 keep, 0 prune), or one per layer. */
  mask?: string | Record<string, string>;
  /** method custom: an importance .npy (lowest pruned), or one per layer. */
  importance?: string | Record<string, string>;
  calibration?: CalibrationOptions;
  recovery?: RecoveryOptions;
}

export interface PrunePlan {
  $schema?: string;
  version?: 1;
  description?: string;
  /** Output file name pattern: {name} is the model's name without .onnx, {plan} the plan's. */
  output?: string;
  steps: PlanStep[];
}

/** A problem found in a plan, with the JSON path of the offending value. */
export interface PlanIssue {
  severity: 'error' | 'warning';
  message: string;
  /** Index into `steps`, when the issue belongs to a step. */
  step?: number;
  path: (string | number)[];
}
