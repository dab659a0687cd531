// The names a user knows a layer by. PyTorch's exporter writes the module path
// into node names (`/layer1/layer1.0/conv1/Conv`) and, without constant
// folding, into weight names (`layer1.0.conv1.weight`); Paddle writes neither
// into node names (`p2o.Conv.3`) but names weights after the layer
// (`conv2d_0.w_0`). One function turns those into `layer1.0.conv1`.

import type { NodeProto } from '../onnx/schema';

/**
 * The module path of a node from its scope (`/features/features.1/block/block.0/Conv`).
 * The exporter names each scope after the module's attribute path from its
 * parent's parent, so a component that starts with the previous component plus
 * `.` adds only its remainder: `features`, `features.1` → `features.1`;
 * `mlp`, `mlp.0` → `mlp.0` inside `blocks.2` → `blocks.2.mlp.0`.
 * Undefined when the name carries no scope.
 */
export function scopePath(nodeName: string): string | undefined {
  if (!nodeName.startsWith('/')) return undefined;
  const segments = nodeName.split('/').filter(Boolean).slice(0, -1);
  let path = '';
  let previous = '';
  for (const s of segments) {
    if (previous && s.startsWith(previous + '.')) path += s.slice(previous.length);
    else path = path ? `${path}.${s}` : s;
    previous = s;
  }
  return path || undefined;
}

/** `layer1.0.conv1.weight` → `layer1.0.conv1`; Paddle's `conv2d_0.w_0` → `conv2d_0`; else undefined. */
export function moduleOfParameter(name: string, suffixes: readonly string[] = ['weight']): string | undefined {
  if (!name || name.startsWith('onnx::') || name.startsWith('/')) return undefined;
  for (const s of suffixes) if (name.endsWith(`.${s}`) && name.length > s.length + 1) return name.slice(0, -s.length - 1);
  const paddle = /^([A-Za-z_][\w]*)\.[wb]_\d+$/.exec(name);
  return paddle ? paddle[1] : undefined;
}

/**
 * The module path a PyTorch user knows: from the weight name when the export
 * kept it, else from the node's scope, else from the bias name (`blocks.0.attn.qkv.bias`
 * on the Add after a folded MatMul), else `fallback` (the node's name).
 */
export function displayName(node: NodeProto, weightName: string, fallback: string, biasName?: string): string {
  return moduleOfParameter(weightName)
    ?? scopePath(node.name ?? '')
    ?? (biasName ? moduleOfParameter(biasName, ['bias']) : undefined)
    ?? fallback;
}
