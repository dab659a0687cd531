// The plain shapes of a dependency graph: which channel units each value
// carries, which tensor slices follow which units, and the groups of units
// that are pruned together.

import type { PrunableLayer } from '../../analysis/layers';
import type { ConstantRef, GraphIndex } from '../../onnx/graph';
import type { OnnxModel } from '../../onnx/model';
import type { ShapeInfo } from '../../onnx/shapes';
import type { NodeProto, TensorProto } from '../../onnx/schema';
import type { UnitTable } from './units';

/**
 * The channels of one activation: its channel axis, and for each position on
 * that axis the unit it belongs to. A Flatten before a Gemm gives C·HW
 * positions that map onto C units; a depthwise multiplier repeats units.
 */
export interface ValueChannels {
  axis: number;
  labels: Int32Array;
  /**
   * Set when a Reshape spread the channels over consecutive axes axis,
   * axis+1, … (a channel shuffle's [g, C/g], a head split): their sizes, and
   * which of them shrinks when channels go (the others stay). Labels are in
   * row-major order over those axes.
   */
  split?: { sizes: number[]; shrink: number; by: string };
}

export type MemberRole =
  | 'out'        // a layer's weight along its out-channel axis (the group's roots)
  | 'in'         // a consuming layer's weight along its in-channel axis
  | 'bias'
  | 'depthwise'  // a depthwise conv's weight: in = out, one filter per channel
  | 'bn-scale' | 'bn-bias' | 'bn-mean' | 'bn-var'
  | 'norm-scale' | 'norm-bias'
  | 'operand';   // a constant operand of an elementwise op (a PRelu slope, a per-channel scale)

/** One constant input of one node, sliced along one axis by the units of its positions. */
export interface SliceMember {
  node: NodeProto;
  /** Index into node.input. */
  input: number;
  axis: number;
  labels: Int32Array;
  role: MemberRole;
}

/** Where a run of units came from: a prunable layer's out-channels, or a graph input. */
export interface Source {
  firstUnit: number;
  size: number;
  /** The layer whose out-channels these are; undefined for graph inputs. */
  layer?: PrunableLayer;
  /** Display name: module path of the layer, or the graph input's name. */
  name: string;
}

export interface ChannelGroup {
  id: number;
  /** Channels that are removed together count once: the group's length. */
  size: number;
  /** Layers whose out-channels define the group (display names). */
  roots: string[];
  /** Node names of those layers, in the same order. */
  rootNodes: string[];
  /** Every tensor slice the group touches, as `layer role`, for reports and hovers. */
  members: string[];
  /** Why the group must not be cut; undefined when it may. */
  frozen?: string;
  /** Unit ids (union-find roots) in group order; index i of the group is units[i]. */
  units: Int32Array;
  /**
   * Group indices in blocks that must each lose the same number of channels
   * (GQA's query heads per kv head: the Expand factor is one number).
   */
  evenBlocks?: number[][];
  /**
   * What the channels are in a transformer: attention heads, MLP neurons, or
   * the hidden size (the residual stream); undefined elsewhere (CNN channels).
   */
  kind?: GroupKind;
}

export type GroupKind = 'attention' | 'mlp' | 'hidden';

/** How a GQA model loses heads: whole kv groups with their query heads, or query heads evenly inside every group. */
export type GqaMode = 'groups' | 'even';

/** Per prunable layer, the units of its out- and in-channel positions. */
export interface LayerChannels {
  layer: PrunableLayer;
  out?: Int32Array;
  in?: Int32Array;
}

/** What a fixup sees when a selection is applied: how many positions survive. */
export interface FixupContext {
  readonly model: OnnxModel;
  readonly index: GraphIndex;
  /** Positions (0-based, ascending) that survive. */
  kept(labels: Int32Array): number[];
  /** Gives node.input[i] a new constant of its own (never edits a shared one). */
  setConstantInput(node: NodeProto, input: number, tensor: TensorProto): void;
}

/** An attribute or shape-constant edit that follows from the kept channels (Split sizes, Slice ends, group). */
export type Fixup = (ctx: FixupContext) => void;

export interface DepGraph {
  groups: ChannelGroup[];
  /** Channels of every activation the graph tracks. */
  values: Map<string, ValueChannels>;
  members: SliceMember[];
  fixups: Fixup[];
  layers: LayerChannels[];
  sources: Source[];
  units: UnitTable;
  /** Group id and group index of each unit root. */
  unitGroup: Map<number, { group: number; index: number }>;
  index: GraphIndex;
  /** Constants resolved once, by value name. */
  constants: Map<string, ConstantRef | undefined>;
  /** Labels split into equal blocks that must lose the same number of channels each (see ChannelGroup.evenBlocks). */
  evenBlocks: { labels: Int32Array; blocks: number }[];
  /** Inferred shapes of the model the graph was built from (for MACs and value_info). */
  shapes: ShapeInfo;
}
