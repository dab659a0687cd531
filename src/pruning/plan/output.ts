// Files around a plan run: reading a plan file, choosing the output name, and
// writing the pruned model and its report. The model, its data files and the
// report are committed together (onnx/save.ts), so a run leaves all of them or
// none, and a replaced output survives until its successor is complete.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { PruneLensError, withFile } from '../../onnx/errors';
import { stageModel, type OnnxModel } from '../../onnx/model';
import { nothingRemovedError, removedNothing } from '../outcome';
import type { PruneReport } from '../report';
import type { PrunePlan } from './types';
import { parsePlanText } from './validate';

export async function loadPlanFile(file: string): Promise<PrunePlan> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    throw withFile(e, file);
  }
  return parsePlanText(text, file);
}

/**
 * Where the pruned model goes: the plan's `output` pattern ({name}: the
 * model's file name without .onnx; {plan}: the plan's without .prune.json),
 * resolved against the model's folder; by default `<name>.pruned.onnx` next to
 * the model.
 */
export function outputPathFor(modelFile: string, pattern?: string, planFile?: string): string {
  const name = path.basename(modelFile).replace(/\.onnx$/i, '');
  const plan = planFile ? path.basename(planFile).replace(/(\.prune)?\.json$/i, '') : 'plan';
  const file = (pattern ?? '{name}.pruned.onnx').replace(/\{name\}/g, name).replace(/\{plan\}/g, plan);
  return path.resolve(path.dirname(modelFile), file);
}

export function reportPathFor(outFile: string): string {
  return `${outFile}.report.json`;
}

export interface SaveOptions {
  /** Replace existing output and report files (never the source model or its data files). */
  overwrite?: boolean;
  /** Protobuf size above which weights go to an external data file (default 1.8 GB). */
  externalThreshold?: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  /** Worker threads that make the cut weights (default: one per core, none for small models). */
  threads?: number;
}

/**
 * Writes the pruned model (with its external data, if any) and `<out>.report.json`
 * as one set: all files appear, or none do, and with overwrite the previous
 * files stay until the new ones are complete. Fills in the report's output and size.
 */
export async function savePruned(model: OnnxModel, report: PruneReport, outFile: string, opts: SaveOptions = {}): Promise<PruneReport> {
  // An identical copy that looks like a result would mislead: say why nothing went instead.
  if (removedNothing(report)) throw model.file ? nothingRemovedError(report).inFile(model.file) : nothingRemovedError(report);
  const out = path.resolve(outFile);
  const reportFile = reportPathFor(out);
  // stageModel refuses the source itself, with its own message; this adds the hint for the rest.
  const isSource = model.file !== undefined && path.resolve(model.file) === out;
  for (const file of isSource ? [] : [out, reportFile]) {
    if (!opts.overwrite && fs.existsSync(file)) {
      throw new PruneLensError('io', 'the output file already exists (use --force to replace it)', {}, file);
    }
  }
  const staged = await stageModel(model, out, opts);
  try {
    const final: PruneReport = { ...report, output: out, totals: { ...report.totals, bytesAfter: staged.result.bytes } };
    await staged.add(reportFile, [Buffer.from(JSON.stringify(final, null, 2) + '\n')], opts.signal);
    // The last moment a cancel can take effect: after this the files are in place.
    if (opts.signal?.aborted) throw new PruneLensError('cancelled', 'writing was cancelled');
    await staged.commit(opts.overwrite === true);
    return final;
  } finally {
    await staged.discard();
  }
}
