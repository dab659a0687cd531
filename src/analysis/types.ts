// Plain data produced by the analysis. Shared by the CLI, the extension, the
// webview (through the protocol) and the pruning engine, so it holds only
// JSON-serialisable values.

export type LayerKind = 'Conv' | 'ConvTranspose' | 'Gemm' | 'MatMul';

/** Norm statistics of one axis of a weight tensor, one entry per channel. */
export interface ChannelNorms {
  l1: number[];
  l2: number[];
  /** l1 divided by the mean of l1 over the layer's channels (1.0 = average). */
  l1Normalized: number[];
  l2Normalized: number[];
}

export interface BatchNormInfo {
  /** Name of the BatchNormalization node. */
  node: string;
  /** Initializer (or Constant output) holding gamma. */
  scaleName: string;
  /** Gamma per channel. */
  gamma: number[];
}

export interface LayerInfo {
  /** Node name, or a synthesised one when the node has none. */
  name: string;
  /** Module path as the user knows it from PyTorch (`layer1.0.conv1`). */
  displayName: string;
  op: LayerKind;
  weightName: string;
  biasName?: string;
  weightShape: number[];
  inChannels: number;
  outChannels: number;
  groups: number;
  /** Per output channel (filter) norms. */
  out: ChannelNorms;
  /** Per input channel norms. */
  in: ChannelNorms;
  batchNorm?: BatchNormInfo;
  params: number;
  macs: number;
  zeros: number;
  /** zeros / weight elements. */
  sparsity: number;
}

export interface ModelTotals {
  params: number;
  macs: number;
  zeros: number;
  sparsity: number;
  bytes: number;
}

export interface LayerTable {
  file: string;
  producer: string;
  opset: number;
  inputs: { name: string; shape: (number | string)[]; dtype: string }[];
  outputs: { name: string; shape: (number | string)[]; dtype: string }[];
  layers: LayerInfo[];
  totals: ModelTotals;
}
