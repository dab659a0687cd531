// The op table: one classifier for every op of the default ONNX domain that
// Prune Lens understands. Each entry says how the op maps shapes (read by
// shapes.ts) and how it maps channels (read by pruning/depgraph, which keys
// its rule functions by these kinds), so the two can no longer drift apart.
// Like Torch-Pruning's ops.py: classify once, behave per class.

/** How an op's output shapes follow from its inputs (shapes.ts implements each kind). */
export type ShapeKind =
  | 'unary'          // output 0 has the shape of input 0 (activations, norms, Identity)
  | 'dropout'        // unary, plus an optional bool mask of the same shape
  | 'cast'           // unary with a new element type; folded values pass through
  | 'broadcast'      // numpy broadcasting over every input
  | 'pool' | 'globalPool' | 'reduce'
  | 'constant' | 'conv' | 'convTranspose' | 'gemm' | 'matMul' | 'flatten' | 'reshape' | 'transpose' | 'concat'
  | 'split' | 'slice' | 'squeeze' | 'unsqueeze' | 'shape' | 'gather' | 'resize' | 'pad' | 'expand'
  | 'constantOfShape' | 'range' | 'tile' | 'size';

/** How channel units flow through an op (pruning/depgraph/channels.ts implements each kind). */
export type ChannelKind =
  | 'passThrough'    // channels pass through unchanged
  | 'spatial'        // pools over the axes after the channel axis 1
  | 'elementwise'    // operands that carry the channel axis share one channel space
  | 'reduce' | 'shapeOnly' | 'softmax'
  | 'batchNorm' | 'instanceNorm' | 'layerNorm' | 'groupNorm'
  | 'conv' | 'convTranspose' | 'gemm' | 'matMul'
  | 'flatten' | 'reshape' | 'concat' | 'split' | 'slice' | 'transpose' | 'squeeze' | 'unsqueeze' | 'resize' | 'pad'
  | 'expand' | 'gather';

export interface OpBehaviour {
  /** Undefined: shapes come from the file's value_info, if it has them. */
  shape?: ShapeKind;
  /** Undefined: no channel rule, so the channels the op reads are never cut. */
  channels?: ChannelKind;
}

const table: Record<string, OpBehaviour> = {};
function add(ops: string[], behaviour: OpBehaviour): void {
  for (const op of ops) table[op] = behaviour;
}

// Elementwise on one tensor: the shape and the channels pass through.
add([
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Celu', 'HardSigmoid', 'HardSwish', 'Softplus', 'Softsign',
  'Gelu', 'Mish', 'ThresholdedRelu', 'Clip', 'Identity', 'Neg', 'Abs', 'Sqrt', 'Exp', 'Log', 'Erf', 'Floor', 'Ceil',
  'Round', 'Reciprocal', 'Sign', 'Sin', 'Cos', 'Not', 'IsNaN', 'IsInf', 'Shrink',
], { shape: 'unary', channels: 'passThrough' });
// Same shape, but values move along an axis, so no channel rule.
add(['Trilu', 'CumSum'], { shape: 'unary' });
add(['Dropout'], { shape: 'dropout', channels: 'passThrough' });
add(['Cast'], { shape: 'cast', channels: 'passThrough' });
// Same shape, but they mix values across an axis that may hold the channels.
add(['Softmax', 'LogSoftmax', 'Hardmax'], { shape: 'unary', channels: 'softmax' });
add(['LpNormalization', 'LRN'], { shape: 'unary' });
add(['BatchNormalization'], { shape: 'unary', channels: 'batchNorm' });
add(['InstanceNormalization'], { shape: 'unary', channels: 'instanceNorm' });
add(['LayerNormalization'], { shape: 'unary', channels: 'layerNorm' });
add(['GroupNormalization'], { shape: 'unary', channels: 'groupNorm' });
// PRelu's slope broadcasts to X, so the output has X's shape.
add(['PRelu'], { shape: 'unary', channels: 'elementwise' });
add(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Where', 'Equal', 'Less', 'Greater',
  'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor', 'Mod'], { shape: 'broadcast', channels: 'elementwise' });
add(['BitShift'], { shape: 'broadcast' });
add(['MaxPool', 'AveragePool', 'LpPool'], { shape: 'pool', channels: 'spatial' });
add(['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool'], { shape: 'globalPool', channels: 'spatial' });
add(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare',
  'ReduceLogSum', 'ReduceLogSumExp'], { shape: 'reduce', channels: 'reduce' });
add(['ArgMax', 'ArgMin'], { shape: 'reduce' });
add(['Shape'], { shape: 'shape', channels: 'shapeOnly' });
add(['Size'], { shape: 'size', channels: 'shapeOnly' });
add(['Range'], { shape: 'range' });
add(['Tile'], { shape: 'tile' });
add(['Constant'], { shape: 'constant' });
add(['Conv'], { shape: 'conv', channels: 'conv' });
add(['ConvInteger'], { shape: 'conv' });
add(['ConvTranspose'], { shape: 'convTranspose', channels: 'convTranspose' });
add(['Gemm'], { shape: 'gemm', channels: 'gemm' });
add(['MatMul'], { shape: 'matMul', channels: 'matMul' });
add(['MatMulInteger'], { shape: 'matMul' });
add(['Flatten'], { shape: 'flatten', channels: 'flatten' });
add(['Reshape'], { shape: 'reshape', channels: 'reshape' });
add(['Transpose'], { shape: 'transpose', channels: 'transpose' });
add(['Concat'], { shape: 'concat', channels: 'concat' });
add(['Split'], { shape: 'split', channels: 'split' });
add(['Slice'], { shape: 'slice', channels: 'slice' });
add(['Squeeze'], { shape: 'squeeze', channels: 'squeeze' });
add(['Unsqueeze'], { shape: 'unsqueeze', channels: 'unsqueeze' });
add(['Gather'], { shape: 'gather', channels: 'gather' });
add(['Resize', 'Upsample'], { shape: 'resize', channels: 'resize' });
add(['Pad'], { shape: 'pad', channels: 'pad' });
add(['Expand'], { shape: 'expand', channels: 'expand' });
add(['ConstantOfShape'], { shape: 'constantOfShape' });

/** The table itself, read-only, for tests and docs. */
export const OPS: Readonly<Record<string, Readonly<OpBehaviour>>> = table;

const NONE: OpBehaviour = {};

/** What Prune Lens knows about an op; ops of other domains are unknown here. */
export function opBehaviour(opType: string | undefined, domain = ''): Readonly<OpBehaviour> {
  if (domain !== '' && domain !== 'ai.onnx') return NONE;
  return Object.prototype.hasOwnProperty.call(table, opType ?? '') ? table[opType!] : NONE;
}
