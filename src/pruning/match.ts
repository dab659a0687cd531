// Matching the names users give layers: the node name (`/layer1/conv1/Conv`),
// the module path (`layer1.conv1`) or the weight name (`layer1.conv1.weight`),
// each optionally a glob (`layer2.*`, `features.?.0`). Shared by the structured
// engine (ignore lists, per-layer ratios) and the plan.

import { layerAliases } from '../analysis';
import { PruneLensError } from '../onnx/errors';

export interface NamedLayer {
  name: string;
  displayName: string;
  weightName: string;
}

/** `*` matches any run of characters (dots included), `?` one character; the rest is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function isGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

export function matchesLayer(pattern: string, layer: NamedLayer): boolean {
  const aliases = layerAliases(layer);
  if (!isGlob(pattern)) return aliases.includes(pattern);
  const re = globToRegExp(pattern);
  return aliases.some((a) => re.test(a));
}

/**
 * Also matches a module that holds the layer: `layers.*.self_attn` names
 * `layers.0.self_attn.q_proj`, `lm_head` names the layer of that module. For
 * ignore lists, where naming a block means every layer in it.
 */
export function matchesModule(pattern: string, layer: NamedLayer): boolean {
  if (matchesLayer(pattern, layer)) return true;
  const parts = layer.displayName.split('.');
  const re = isGlob(pattern) ? globToRegExp(pattern) : undefined;
  for (let i = 1; i < parts.length; i++) {
    const module = parts.slice(0, i).join('.');
    if (re ? re.test(module) : module === pattern) return true;
  }
  return false;
}

/** The layers a pattern names (with `modules`, also the layers inside a named module). Throws a 'plan' error when it names none, listing a few real names. */
export function resolveLayers<L extends NamedLayer>(pattern: string, layers: readonly L[], what = 'layer', modules = false): L[] {
  const found = layers.filter((l) => (modules ? matchesModule(pattern, l) : matchesLayer(pattern, l)));
  if (!found.length) {
    const examples = layers.slice(0, 4).map((l) => l.displayName).join(', ');
    throw new PruneLensError('plan',
      `no ${what} matches "${pattern}"${examples ? `; layers are named like ${examples}` : ''}`, { layer: pattern });
  }
  return found;
}

/** Levenshtein distance, for "did you mean" suggestions of layer and option names. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}
