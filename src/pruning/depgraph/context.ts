// What an op rule may ask and do while the dependency graph is built. The
// builder implements it; rules stay small functions of one node.

import type { PrunableLayer } from '../../analysis/layers';
import type { ConstantRef, GraphIndex } from '../../onnx/graph';
import type { Dim, DimOrigin } from '../../onnx/shapes';
import type { NodeProto } from '../../onnx/schema';
import type { Fixup, GqaMode, MemberRole, ValueChannels } from './types';

export interface RuleContext {
  readonly node: NodeProto;
  /** Unique display name of the node, for reasons. */
  readonly name: string;
  readonly index: GraphIndex;
  /** Opset of the default domain. */
  readonly opset: number;
  /** How GQA models lose heads (BuildOptions.gqa). */
  readonly gqa: GqaMode;
  /**
   * The channels of a value on one axis. A value whose channels a Reshape
   * spread over several axes is frozen when a rule reads it this way.
   */
  channels(value: string | undefined): ValueChannels | undefined;
  /** The channels of a value, including those spread over several axes (for Reshape and Transpose). */
  block(value: string | undefined): ValueChannels | undefined;
  /** Inferred dims (numbers, or strings for symbolic sizes); undefined when unknown. */
  dims(value: string | undefined): Dim[] | undefined;
  constant(value: string | undefined): ConstantRef | undefined;
  /** Dims of a constant input; undefined when the input is not constant. */
  constDims(value: string | undefined): number[] | undefined;
  /** Integer values of a constant or of a folded shape computation, when every entry is a number. */
  ints(value: string | undefined): number[] | undefined;
  /** Folded values with symbolic entries (a Shape of [batch, C, h, w]); floats as numbers. */
  dimValues(value: string | undefined): Dim[] | undefined;
  /** Which entries of a folded shape vector copy a dim of another value. */
  origins(value: string | undefined): (DimOrigin | undefined)[] | undefined;
  /** Element type of a value (DataType), when known. */
  elemType(value: string | undefined): number | undefined;
  /** This node as a prunable layer (Conv, ConvTranspose, Gemm, MatMul with a constant weight). */
  layer(): PrunableLayer | undefined;
  set(value: string | undefined, ch: ValueChannels): void;
  /** Fresh units for this node's out-channels (the node becomes a group root). */
  newUnits(n: number): Int32Array;
  /** Ties position i of `a` to position i of `b` (same length). */
  union(a: Int32Array, b: Int32Array): void;
  freeze(labels: Int32Array, reason: string): void;
  /** Freezes the channels of every tracked input; the outputs stay untracked. */
  freezeInputs(reason: string): void;
  member(input: number, axis: number, labels: Int32Array, role: MemberRole): void;
  /** Records which positions of this layer's weight are its out- and in-channels. */
  layerChannels(out: Int32Array | undefined, inn: Int32Array | undefined): void;
  fixup(f: Fixup): void;
  /** `labels` fall into `blocks` equal consecutive blocks that must each lose the same number of channels. */
  evenBlocks(labels: Int32Array, blocks: number): void;
  /** Marks what these units are (attention heads, the hidden size), for ChannelGroup.kind. */
  tag(labels: Int32Array, kind: 'attention' | 'hidden'): void;
}

export type Rule = (ctx: RuleContext) => void;
