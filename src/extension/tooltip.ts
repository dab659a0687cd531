// The layer hover, shared by the model tree's tooltips and the hovers on layer
// names in *.prune.json files: importance scores (L1/L2 per filter, BN gammas),
// size and cost, and what the current default prune would remove.

import * as vscode from 'vscode';
import { attentionMacs, headsLabel, macsAt } from '../analysis/macs';
import type { AttentionInfo, EmbeddingInfo, HeadScores, LayerInfo, LayerTable, NormInfo } from '../analysis/types';
import { entriesToPrune } from '../pruning/unstructured/amount';
import { compact, countBelow, fmt, inputSizeNote, lowest, percent, summarize } from './layerStats';
import type { GroupSummary } from './groups';
import type { WeightMethod } from '../pruning/methods';
import type { Settings } from './settings';

const LOWEST_SHOWN = 5;

export interface TooltipOptions {
  settings: Pick<Settings, 'defaultMethod' | 'defaultAmount' | 'defaultScope' | 'defaultStructured'>;
  gammaThreshold: number;
  /** The structured engine's channel group of this layer's out-channels, when known. */
  group?: GroupSummary;
  /** Tokens per sample for MACs of a token model (the setting, or the sample data's length). */
  sequenceLength?: number;
  /** Why the structured engine has no channel groups for this model (a crafted or broken file): shown instead. */
  groupError?: string;
}

export function layerTooltip(layer: LayerInfo, table: LayerTable, options: TooltipOptions): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.supportHtml = false;
  md.appendMarkdown(`**${esc(layer.displayName)}** — ${layer.op} ${layer.inChannels}→${layer.outChannels}`);
  if (layer.groups > 1) md.appendMarkdown(`, ${layer.groups} groups`);
  md.appendMarkdown(`\n\nweight ${code(layer.weightName)} [${layer.weightShape.join('×')}]`);
  if (layer.name !== layer.displayName) md.appendMarkdown(` · node ${code(layer.name)}`);
  md.appendMarkdown('\n\n');

  const rows: string[] = ['| per filter | min | median | max |', '| --- | ---: | ---: | ---: |'];
  const row = (label: string, values: readonly number[]) => {
    const s = summarize(values);
    if (s) rows.push(`| ${label} | ${fmt(s.min)} | ${fmt(s.median)} | ${fmt(s.max)} |`);
  };
  row('L1', layer.out.l1);
  row('L2', layer.out.l2);
  const gamma = layer.batchNorm?.gamma;
  if (gamma) row('BN γ (abs)', gamma.map(Math.abs));
  md.appendMarkdown(rows.join('\n') + '\n\n');

  const lows = (label: string, values: readonly number[]) =>
    `${label}: ${lowest(values, LOWEST_SHOWN).map((c) => `#${c.index} ${fmt(c.value)}`).join(', ')}`;
  const lowLines = [lows('Lowest L1', layer.out.l1), lows('Lowest L2', layer.out.l2)];
  if (gamma) lowLines.push(lows('Lowest |γ|', gamma.map(Math.abs)));
  md.appendMarkdown(lowLines.join('  \n') + '\n\n');

  if (gamma && layer.batchNorm) {
    const below = countBelow(gamma, options.gammaThreshold);
    md.appendMarkdown(`BN ${code(layer.batchNorm.node)}: ${gamma.length} gammas, **${below} below ${fmt(options.gammaThreshold)}**\n\n`);
  }

  if (layer.heads) md.appendMarkdown(headTable(layer.heads));
  if (layer.tiedTo) md.appendMarkdown(`Tied: its weight is the embedding ${code(layer.tiedTo)}${layer.weightName !== layer.tiedTo ? ` (the export keeps a transposed copy, ${code(layer.weightName)})` : ''}; both are one parameter in the model.\n\n`);
  md.appendMarkdown(`Params ${compact(layer.params)} · MACs ${macsText(layer, options.sequenceLength)} · Sparsity ${percent(layer.sparsity)} (${layer.zeros} zeros)\n\n`);
  const sizeNote = layer.macsFormula && !layer.tokenAxis ? inputSizeNote(table) : undefined;
  if (sizeNote) md.appendMarkdown(`${esc(sizeNote)} Per sample MACs = ${code(layer.macsFormula!)}\n\n`);
  md.appendMarkdown(defaultPruneLine(layer, table, options) + '\n');
  if (options.group) md.appendMarkdown('\n' + groupLine(layer, options.group) + '\n');
  return md;
}

/** `16.4k per token · 1.05M at 64 tokens`, plain MACs per sample, or `unknown (depend on height, width)`. */
function macsText(layer: LayerInfo, length?: number): string {
  if (!layer.tokenAxis && layer.macsDependsOn) return `unknown (depend on ${layer.macsDependsOn.join(', ')})`;
  if (!layer.tokenAxis) return compact(layer.macs);
  return `${compact(layer.macs)} per token${length ? ` · ${compact(macsAt(layer, length))} at ${length} tokens` : ''}`;
}

const HEADS_LISTED = 16;

/** Per-head L1 and L2 (each the sum over the head's rows), a column per head, the lowest L1 in bold. */
function headTable(h: HeadScores): string {
  const what = h.role === 'o' ? `its ${h.dim} input channels` : h.role === 'qkv' ? `its ${h.dim} rows in each of q, k and v` : `its ${h.dim} rows`;
  const kind = h.role === 'k' || h.role === 'v' ? 'kv heads' : 'heads';
  const low = lowest(h.l1, 1)[0]?.index;
  const shown = h.count <= HEADS_LISTED ? h.l1.map((_, i) => i) : lowest(h.l1, HEADS_LISTED).map((c) => c.index).sort((a, b) => a - b);
  const rows = [
    `| head | ${shown.map((i) => (i === low ? `**#${i}**` : `#${i}`)).join(' | ')} |`,
    `| --- | ${shown.map(() => '---:').join(' | ')} |`,
    `| L1 | ${shown.map((i) => fmt(h.l1[i])).join(' | ')} |`,
    `| L2 | ${shown.map((i) => fmt(h.l2[i])).join(' | ')} |`,
  ];
  const more = h.count > HEADS_LISTED ? `, the ${HEADS_LISTED} lowest shown` : '';
  return `Per head (${h.count} ${kind} of ${h.dim}${more}; a head's score is the sum over ${what}):\n\n${rows.join('\n')}\n\n`;
}

/** A LayerNorm's or RMSNorm's hover: its gammas, shown as BN gammas are. */
export function normTooltip(norm: NormInfo, gammaThreshold: number): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.supportHtml = false;
  md.appendMarkdown(`**${esc(norm.displayName)}** — ${norm.kind} over ${norm.gamma.length} channels${norm.decomposed ? ', written out as separate ops' : ''}\n\n`);
  md.appendMarkdown(`γ ${code(norm.scaleName)}${norm.biasName ? ` · β ${code(norm.biasName)}` : ''} · node ${code(norm.name)}\n\n`);
  const rows: string[] = ['| per channel | min | median | max |', '| --- | ---: | ---: | ---: |'];
  const row = (label: string, values: readonly number[]) => {
    const s = summarize(values);
    if (s) rows.push(`| ${label} | ${fmt(s.min)} | ${fmt(s.median)} | ${fmt(s.max)} |`);
  };
  row('γ (abs)', norm.gamma.map(Math.abs));
  if (norm.beta) row('β', norm.beta);
  md.appendMarkdown(rows.join('\n') + '\n\n');
  md.appendMarkdown(`Lowest |γ|: ${lowest(norm.gamma.map(Math.abs), LOWEST_SHOWN).map((c) => `#${c.index} ${fmt(c.value)}`).join(', ')}  \n`);
  md.appendMarkdown(`${countBelow(norm.gamma, gammaThreshold)} of ${norm.gamma.length} below ${fmt(gammaThreshold)}\n\n`);
  md.appendMarkdown(`Params ${compact(norm.params)}. These are hidden-size channels: removing one changes the norm's statistics too.\n`);
  return md;
}

export function embeddingTooltip(e: EmbeddingInfo, table: LayerTable): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.supportHtml = false;
  md.appendMarkdown(`**${esc(e.displayName)}** — Embedding, ${e.rows} rows of ${e.dim}\n\n`);
  md.appendMarkdown(`table ${code(e.weightName)} [${e.rows}×${e.dim}] · node ${code(e.name)}\n\n`);
  const tied = table.layers.filter((l) => e.tiedLayers.includes(l.name));
  if (tied.length) md.appendMarkdown(`Tied to ${tied.map((l) => code(l.displayName)).join(', ')}: one parameter in the model; cutting the hidden size cuts both.\n\n`);
  md.appendMarkdown(`Params ${compact(e.params)} · a lookup, no MACs\n`);
  return md;
}

/** An attention block's hover: heads, kv heads, head dim, its projections and per-head scores. */
export function attentionTooltip(a: AttentionInfo, table: LayerTable, sequenceLength?: number): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.supportHtml = false;
  md.appendMarkdown(`**${esc(a.name)}** — attention, ${headsLabel(a)}`);
  if (a.kvHeads !== a.heads) md.appendMarkdown(` (grouped-query: each kv head serves ${a.heads / a.kvHeads} query heads)`);
  md.appendMarkdown('\n\n');
  const name = (n?: string) => table.layers.find((l) => l.name === n)?.displayName;
  const parts = a.qkv ? [`fused qkv ${code(name(a.qkv) ?? a.qkv)}`] : (['q', 'k', 'v'] as const).map((r) => `${r} ${code(name(a[r]) ?? '?')}`);
  if (a.o) parts.push(`out ${code(name(a.o) ?? a.o)}`);
  md.appendMarkdown(`${parts.join(' · ')}${a.rotary ? ' · rotary position embedding (dim i is paired with i + ' + a.headDim / 2 + ')' : ''}\n\n`);
  const q = table.layers.find((l) => l.name === (a.qkv ?? a.q));
  if (q?.heads) md.appendMarkdown(headTable(q.heads));
  if (sequenceLength) md.appendMarkdown(`Scores and weighted sum (Q·Kᵀ, A·V): ${compact(attentionMacs(a, sequenceLength))} MACs at ${sequenceLength} tokens\n`);
  return md;
}

/** What the default settings would do to this layer, in one sentence. */
export function defaultPruneLine(layer: LayerInfo, table: LayerTable, options: TooltipOptions): string {
  const { defaultMethod: method, defaultAmount: ratio, defaultScope: scope, defaultStructured: structured } = options.settings;
  const how = `${methodLabel(method)}, ${percent(ratio)}, ${scope}, ${structured ? 'structured' : 'unstructured'}`;
  if (!structured) {
    const weights = layer.weightShape.reduce((p, d) => p * d, 1);
    const alive = weights - layer.zeros;
    if (scope === 'local') return `Default prune (${how}) would zero **${entriesToPrune({ fraction: ratio }, alive)} of ${alive}** nonzero weights.`;
    return `Default prune (${how}) ranks weights across all ${table.layers.length} layers.`;
  }
  const group = options.group;
  if (!group && options.groupError) return `Default prune (${how}): $(error) structured pruning cannot use this model: ${esc(options.groupError)}`;
  if (!group) return `Default prune (${how}): the channel groups of this model are not available (see the Prune Lens log).`;
  if (group.frozen) return `Default prune (${how}) leaves this layer alone: its channel group is frozen (${esc(group.frozen)}).`;
  const removed = group.removed ?? [];
  const list = removed.slice(0, 12).map((i) => `#${i}`).join(', ') + (removed.length > 12 ? ', …' : '');
  const whose = group.roots.length > 1 ? `channels of group #${group.id}, from all its layers at once` : `filters (group #${group.id})`;
  const line = `Default prune (${how}) would remove **${removed.length} of ${group.size}** ${whose}${removed.length ? `: ${list}` : ''}.`;
  return line + whyNotLowest(layer, group, method, removed);
}

/**
 * The engine ranks a group's channels by the scores of its layers averaged
 * (a residual Add couples several): when that picks other channels than this
 * layer's own lowest filters, say so.
 */
function whyNotLowest(layer: LayerInfo, group: GroupSummary, method: WeightMethod, removed: readonly number[]): string {
  if (!removed.length || (method !== 'l1' && method !== 'l2') || group.size !== layer.outChannels) return '';
  const own = method === 'l1' ? layer.out.l1 : layer.out.l2;
  const ownLowest = new Set(lowest(own, removed.length).map((c) => c.index));
  if (removed.every((i) => ownLowest.has(i))) return '';
  const others = group.roots.length > 1 ? `the ${group.roots.length} layers coupled in group #${group.id}` : `the members of group #${group.id}`;
  return ` These are not simply this layer's lowest ${methodLabel(method)} filters: the engine averages each channel's scores over ${others} and removes the lowest of that.`;
}

/** "Group #2, 32 channels, cut together: layer2.down.0 + layer2.conv2; also slices …" */
function groupLine(layer: LayerInfo, g: GroupSummary): string {
  const others = g.roots.filter((r) => r !== layer.displayName);
  const touched = [...new Set(g.members.map((m) => m.split(' ')[0]).filter((n) => !g.roots.includes(n)))];
  const parts = [`Channel group #${g.id}, ${g.size} channels`];
  if (others.length) parts.push(`cut together with ${others.map(code).join(', ')}`);
  if (touched.length) parts.push(`also slices ${touched.slice(0, 6).map(code).join(', ')}${touched.length > 6 ? ', …' : ''}`);
  if (g.frozen) parts.push(`**frozen**: ${esc(g.frozen)}`);
  return parts.join('; ') + '.';
}

export function methodLabel(m: WeightMethod): string {
  return m === 'bn-gamma' ? 'BN γ' : m === 'random' ? 'random' : m.toUpperCase();
}

/** A name from the model file as inline code; a backtick in it would end the span, so the fence grows. */
function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  return `${fence}${text.includes('`') ? ` ${text} ` : text}${fence}`;
}

/** Escapes Markdown in names that come from the model file (outside code spans). */
function esc(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}
