// Which rule handles a node: the op table (onnx/ops.ts) gives each op of the
// default domain a channel kind, channels.ts gives each kind its rule, and
// BuildOptions.rules adds rules for other ops or domains (com.microsoft, a
// custom domain). An op with no rule freezes the channels it touches, so an
// op we do not understand is never cut through.

import { OPS, opBehaviour } from '../../onnx/ops';
import type { NodeProto } from '../../onnx/schema';
import { CHANNEL_RULES } from './channels';
import type { Rule } from './context';

/** The rules of the default ONNX domain, keyed by op type (derived from the op table). */
export const RULES: Readonly<Record<string, Rule>> = Object.fromEntries(
  Object.entries(OPS).flatMap(([op, b]) => (b.channels ? [[op, CHANNEL_RULES[b.channels]]] : [])),
);

/** Ops that have no rule freeze every channel they read. */
export const unknownOp: Rule = (ctx) =>
  ctx.freezeInputs(`${ctx.name} (${ctx.node.op_type}) has no pruning rule, so the channels it reads are kept whole`);

/**
 * Extra rules, keyed by `domain:OpType` (`com.microsoft:FusedConv`) or, for the
 * default domain, by the op type alone; they take precedence over the table.
 */
export type RuleTable = Readonly<Record<string, Rule>>;

export function ruleFor(node: NodeProto, extra: RuleTable = {}): Rule {
  const op = node.op_type ?? '';
  const domain = node.domain === 'ai.onnx' ? '' : node.domain ?? '';
  const own = (key: string) => (Object.prototype.hasOwnProperty.call(extra, key) ? extra[key] : undefined);
  const custom = domain ? own(`${domain}:${op}`) : own(op) ?? own(`:${op}`) ?? own(`ai.onnx:${op}`);
  if (custom) return custom;
  const kind = opBehaviour(op, domain).channels;
  return kind ? CHANNEL_RULES[kind] : unknownOp;
}
