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
  /** Index of the node in the graph, to show layers, norms and embeddings in the model's order. */
  position: number;
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
  /** The weight is stored [out, in] and transposed in the graph (`Transpose(W) → MatMul`). */
  transposedWeight?: boolean;
  /** Per-head scores, when the layer is a projection of an attention block. */
  heads?: HeadScores;
  /** The embedding (weight name) this layer's weight is, or is a transposed copy of: a tied lm_head. */
  tiedTo?: string;
  params: number;
  /**
   * Multiply-accumulates per sample: at the stated input size (assumedInput)
   * when there is one, else with symbolic dims (other than the batch) counted
   * as 1: for a language model that is per token (see `tokenAxis`).
   */
  macs: number;
  /** MACs as a formula over the named dims (`1152*floor((height+3)/4)*…`), when they depend on them. */
  macsFormula?: string;
  /**
   * What `macs` leaves out: the named dims (`height`, `width`) no stated input
   * size binds, each counted as 1, or `sizes known only at run time`. Absent when the count is exact.
   */
  macsDependsOn?: string[];
  /** The symbolic dim `macs` is per one of (the sequence), when the layer runs once per token of it and no size binds it. */
  tokenAxis?: string;
  zeros: number;
  /** zeros / weight elements. */
  sparsity: number;
}

/**
 * A head is the sum over its rows: for q/k/v (and a fused qkv, all three blocks)
 * the output channels of the head, for the output projection its input channels.
 */
export interface HeadScores {
  /** The attention block's module path. */
  attention: string;
  role: 'q' | 'k' | 'v' | 'qkv' | 'o';
  /** Heads this layer holds (kv heads for k and v under GQA). */
  count: number;
  dim: number;
  l1: number[];
  l2: number[];
}

export interface AttentionInfo {
  /** Module path of the block (`layers.0.self_attn`). */
  name: string;
  heads: number;
  /** Key/value heads: fewer than `heads` under grouped-query attention. */
  kvHeads: number;
  headDim: number;
  /** Layer names (LayerInfo.name) of the projections; a fused qkv has `qkv` instead. */
  q?: string;
  k?: string;
  v?: string;
  qkv?: string;
  o?: string;
  /** Rotary position embedding found on q and k (dim i is paired with i + headDim/2). */
  rotary: boolean;
}

export type NormKind = 'LayerNorm' | 'RMSNorm';

export interface NormInfo {
  /** The op's node name, or for a decomposed norm the node that applies gamma. */
  name: string;
  displayName: string;
  /** Index of that node in the graph. */
  position: number;
  kind: NormKind;
  /** Written out as ReduceMean/Sub/Pow/Sqrt/Div (or Pow/ReduceMean/Add/Sqrt/Div/Mul) rather than one op. */
  decomposed: boolean;
  scaleName: string;
  gamma: number[];
  biasName?: string;
  beta?: number[];
  params: number;
}

export interface EmbeddingInfo {
  /** The Gather node. */
  name: string;
  displayName: string;
  /** Index of the Gather in the graph. */
  position: number;
  weightName: string;
  /** Rows (vocabulary or positions) and their width. */
  rows: number;
  dim: number;
  params: number;
  /** Layers (LayerInfo.name) whose weight is this table or a transposed copy of it: a tied lm_head. */
  tiedLayers: string[];
}

export interface ModelTotals {
  params: number;
  macs: number;
  /** Total MACs as a formula over the named dims, when they depend on them. */
  macsFormula?: string;
  zeros: number;
  sparsity: number;
  /** Size on disk: the .onnx and its external data files. */
  bytes: number;
}

export interface LayerTable {
  file: string;
  producer: string;
  opset: number;
  inputs: { name: string; shape: (number | string)[]; dtype: string }[];
  outputs: { name: string; shape: (number | string)[]; dtype: string }[];
  layers: LayerInfo[];
  norms: NormInfo[];
  embeddings: EmbeddingInfo[];
  attention: AttentionInfo[];
  /** The symbolic sequence dim of the inputs (`sequence`), for MACs at a stated length. */
  sequenceDim?: string;
  totals: ModelTotals;
  /**
   * The input size MACs were counted at (named dims → values, per sample), and
   * where it came from; absent when no size was stated, in which case a named
   * dim other than the batch counts as 1 and macsFormula says what is missing.
   */
  assumedInput?: { shapes: Record<string, number[]>; source: string };
  /** A stated input size that did not fit the model's inputs (AnalyzeOptions.inputShape.ifFits), and why. */
  inputShapeMisfit?: { source: string; reason: string };
}
