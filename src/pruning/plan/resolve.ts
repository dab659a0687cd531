// Checks a plan against a model and turns each step's scope (layer names and
// globs, op types, ignores) into the layers it prunes. Every message names the
// step, the layer and the model, and lists the names the model does have.

import * as path from 'node:path';
import { layerAliases } from '../../analysis';
import type { PrunableLayer } from '../../analysis/layers';
import { PruneLensError } from '../../onnx/errors';
import { elementCount } from '../../onnx/tensor';
import { isGlob, matchesLayer, matchesModule } from '../match';
import { readNpyFloats } from './npy';
import type { PlanIssue, PlanStep } from './types';

export interface ResolvedStep {
  index: number;
  step: PlanStep;
  layers: PrunableLayer[];
  warnings: string[];
}

function aliasesOf(l: PrunableLayer): string[] {
  return layerAliases({ name: l.name, displayName: l.displayName, weightName: l.weightName });
}

/** Names to show when a name is not found: the module paths, shortened for long models. */
function knownLayers(all: readonly PrunableLayer[]): string {
  const names = all.map((l) => l.displayName);
  return names.length > 40 ? `${names.slice(0, 40).join(', ')}, … (${names.length} in all)` : names.join(', ');
}

/**
 * The layers a step selects, in graph order. Problems are returned as issues
 * (errors stop the plan; warnings go to the report).
 */
export function selectStepLayers(step: PlanStep, index: number, all: readonly PrunableLayer[], modelName: string): { layers: PrunableLayer[]; issues: PlanIssue[] } {
  const issues: PlanIssue[] = [];
  const err = (p: (string | number)[], message: string) => issues.push({ severity: 'error', message: `step ${index + 1}: ${message}`, step: index, path: ['steps', index, ...p] });
  const warn = (p: (string | number)[], message: string) => issues.push({ severity: 'warning', message: `step ${index + 1}: ${message}`, step: index, path: ['steps', index, ...p] });

  let chosen = all.slice();
  if (step.layers) {
    const picked = new Set<PrunableLayer>();
    step.layers.forEach((p, j) => {
      const hits = all.filter((l) => matchesLayer(p, l));
      if (hits.length === 0) {
        err(['layers', j], isGlob(p)
          ? `pattern \`${p}\` matches no layer of ${modelName}; known layers: ${knownLayers(all)}`
          : `layer \`${p}\` does not exist in ${modelName}; known layers: ${knownLayers(all)}`);
      }
      hits.forEach((l) => picked.add(l));
    });
    chosen = all.filter((l) => picked.has(l));
  }
  if (step.ops) {
    const present = new Set(all.map((l) => l.op));
    step.ops.forEach((op, j) => {
      if (!present.has(op)) warn(['ops', j], `${modelName} has no ${op} layers`);
    });
    chosen = chosen.filter((l) => step.ops!.includes(l.op));
  }
  if (step.ignore) {
    step.ignore.forEach((p, j) => {
      if (!all.some((l) => matchesModule(p, l))) warn(['ignore', j], `ignore \`${p}\` matches no layer of ${modelName}`);
    });
    chosen = chosen.filter((l) => !step.ignore!.some((p) => matchesModule(p, l)));
  }
  if (chosen.length === 0 && !issues.some((i) => i.severity === 'error')) {
    err([], `selects no layer of ${modelName} (after layers, ops and ignore); known layers: ${knownLayers(all)}`);
  }
  return { layers: chosen, issues };
}

/**
 * Loads a custom step's mask or importance files, one array per selected
 * layer, checked against the layer's weight shape. A single file is allowed
 * when the step selects exactly one layer; otherwise an object maps layer
 * names to files. Paths are relative to `baseDir` (the plan's folder).
 */
export function loadCustomArrays(step: PlanStep, index: number, layers: readonly PrunableLayer[], baseDir: string): Map<string, Float32Array> | undefined {
  const key = step.mask !== undefined ? 'mask' : step.importance !== undefined ? 'importance' : undefined;
  if (!key) return undefined;
  const spec = step[key]!;
  const fail = (detail: string, layer?: string) => new PruneLensError('plan', `step ${index + 1}: ${detail}`, { layer });
  const files = new Map<PrunableLayer, string>();
  if (typeof spec === 'string') {
    if (layers.length !== 1) {
      throw fail(`one ${key} file was given, but the step selects ${layers.length} layers; map layer names to files: {"${layers[0]?.displayName ?? 'layer'}": "....npy", ...}`);
    }
    files.set(layers[0], spec);
  } else {
    for (const [name, file] of Object.entries(spec)) {
      const layer = layers.find((l) => aliasesOf(l).includes(name));
      if (!layer) throw fail(`${key} is given for \`${name}\`, which is not among the step's layers (${layers.map((l) => l.displayName).join(', ')})`);
      files.set(layer, file);
    }
    const missing = layers.filter((l) => !files.has(l));
    if (missing.length && key === 'importance') {
      throw fail(`no importance file for ${missing.map((l) => `\`${l.displayName}\``).join(', ')}`);
    }
  }
  const out = new Map<string, Float32Array>();
  for (const [layer, file] of files) {
    const full = path.resolve(baseDir, file);
    const arr = readNpyFloats(full);
    if (elementCount(arr.shape) !== elementCount(layer.dims) || !sameShape(arr.shape, layer.dims)) {
      throw fail(`${key} ${file} has shape [${arr.shape.join(', ')}], but the weight ${layer.weightName} has shape [${layer.dims.join(', ')}]`, layer.displayName);
    }
    out.set(layer.name, arr.values);
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
