// Structured pruning: removes whole channels, so the model gets smaller and
// faster. The public API, in the order a caller uses it:
//
//   const model = await loadModel(file);                     // a fresh model object
//   const graph = buildDependencyGraph(model, { ignore });   // groups of tied channels
//   const scores = scoreGroups(model, graph, 'l1', opts);    // group id → score per channel
//   const sel = selectChannels(graph, scores, { scope: 'global', ratio: 0.5 });
//   const applied = applySelection(model, graph, sel);       // cuts tensors in place
//   await saveModel(model, out);                             // atomic; never the source
//
// or in one call: pruneStructured(model, options) (in memory) and
// pruneStructuredFile(source, output, options) (load, prune, write, report).
//
// Groups: graph.groups[i] has id, size, roots (layer display names), members,
// and `frozen` (the reason) when it must stay whole: it reaches a graph output,
// an ignored layer defines it, or an op without a rule reads it. Ignoring a
// layer keeps all of its filters; its inputs still follow their producers, as
// in Torch-Pruning. Layer names may be node names (`/layer1/conv1/Conv`), module
// paths (`layer1.conv1`), weight names (`layer1.conv1.weight`) or globs (src/pruning/match.ts).
//
// Criteria (src/pruning/importance.ts): l1, l2 (side: producer | consumer | both),
// bn-gamma (network slimming), random; registerCriterion adds more.

import * as fs from 'node:fs';
import { OnnxModel, loadModel, saveModel } from '../../onnx/model';
import { withFile } from '../../onnx/errors';
import { floatParams } from '../../analysis';
import { buildDependencyGraph, type BuildOptions, type DepGraph } from '../depgraph';
import { type ScoreFn, type ImportanceOptions, scoreGroups } from '../importance';
import { macsTotals, type PruneReport } from '../report';
import { applySelection } from './apply';
import { type Selection, type SelectOptions, selectChannels } from './select';

export { buildDependencyGraph, type BuildOptions, type ChannelGroup, type DepGraph } from '../depgraph';
export { scoreGroups, registerCriterion, criterionNames, type ScoreFn, type ImportanceOptions } from '../importance';
export { selectChannels, keptCount, type Selection, type SelectOptions } from './select';
export { applySelection, type AppliedPrune } from './apply';

export interface StructuredOptions extends BuildOptions, ImportanceOptions, SelectOptions {
  /** A registered criterion name (default 'l1') or a function. */
  criterion?: string | ScoreFn;
}

export interface StructuredResult {
  report: PruneReport;
  graph: DepGraph;
  selection: Selection;
}

/** Prunes `model` in place (load it fresh for this). The report's output and bytesAfter are filled by pruneStructuredFile. */
export function pruneStructured(model: OnnxModel, options: StructuredOptions = {}): StructuredResult {
  try {
    const paramsBefore = floatParams(model);
    const graph = buildDependencyGraph(model, options);
    const criterion = options.criterion ?? 'l1';
    const scores = scoreGroups(model, graph, criterion, options);
    const selection = selectChannels(graph, scores, options);
    const applied = applySelection(model, graph, selection);
    const name = typeof criterion === 'string' ? criterion : criterion.name || 'custom';
    const ratio = options.ratio ?? 0;
    const report: PruneReport = {
      source: model.file ?? '',
      output: '',
      method: `structured ${name}, ${options.scope ?? 'local'}, ${Math.round(ratio * 1000) / 10}% of channels`,
      structured: true,
      layers: applied.layers,
      frozen: applied.frozen,
      totals: {
        paramsBefore,
        paramsAfter: floatParams(model),
        ...macsTotals(applied.layers),
        bytesBefore: model.bytes.length,
        bytesAfter: 0,
      },
      warnings: applied.warnings,
    };
    return { report, graph, selection };
  } catch (e) {
    throw model.file ? withFile(e, model.file) : e;
  }
}

/** Loads `source`, prunes it, writes `output` atomically (never over the source) and returns the report. */
export async function pruneStructuredFile(source: string, output: string, options: StructuredOptions & { overwrite?: boolean } = {}): Promise<PruneReport> {
  const model = await loadModel(source);
  const { report } = pruneStructured(model, options);
  await saveModel(model, output, { overwrite: options.overwrite });
  report.output = output;
  try {
    report.totals.bytesAfter = fs.statSync(output).size;
  } catch (e) {
    throw withFile(e, output);
  }
  return report;
}
