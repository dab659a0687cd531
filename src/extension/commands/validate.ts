// "Validate Pruned Model": runs the original and the pruned model on the same
// data in the validation worker (onnxruntime lives there, never in the
// extension host; the worker is shared with pruning and sensitivity, see
// jobs.ts) and shows agreement, accuracy and speed. Needs a trusted
// workspace: onnxruntime is native code.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isPruneLensError, PruneLensError } from '../../onnx/errors';
import { isClassifierOutput, type ValidationReport } from '../../validation/report';
import { DEFAULT_BATCH_SIZE } from '../../worker/validate';
import { log } from '../log';
import { resolveModel } from '../pick';
import { withWork } from '../progress';
import { chooseModelData, describeData, rememberedData, type ModelData } from '../modelData';
import { prunedVersions, readReportFor } from '../pruneOps';
import type { Services } from '../services';
import { readSettings, resolveWorkspacePath } from '../settings';
import { allowPath, requireTrust } from '../trust';
import { guard, isOptions } from '../guard';

export interface ValidateCommandOptions {
  /** The unpruned model; by default the `source` in the pruned model's report. */
  original?: string;
  /**
   * .npy/.npz/folder of inputs; by default the data chosen for the original
   * model before, else the `pruneLens.validation.data` setting, else generated inputs.
   */
  data?: string;
  labels?: string;
  /** Sizes of symbolic dims for generated inputs, by name. */
  dims?: Record<string, number>;
  samples?: number;
  /** Samples per batch; by default the `pruneLens.validation.batchSize` setting. */
  batchSize?: number;
  providers?: string[];
}

export function validateCommand(services: Services) {
  return (arg?: unknown, optionsArg?: unknown) => {
    const options = isOptions(optionsArg) ? (optionsArg as ValidateCommandOptions) : undefined;
    return guard('Validate Pruned Model', options !== undefined, async (): Promise<ValidationReport | undefined> => {
      await requireTrust('Validation');
      const target = await resolveModel(services, arg, 'Validate Pruned Model');
      if (!target) return undefined;
      const pair = await resolvePair(services, target, options);
      if (!pair) return undefined;
      const { original, pruned } = pair;
      const s = readSettings(pruned);
      // The data belongs to the original model; its pruned versions share it.
      const chosen = options ? await programmaticData(services, original, pruned, options) : await chooseModelData(services, original, 'Validate');
      if (!chosen) return undefined;
      const { data, labels, dims } = chosen;
      const samples = options?.samples ?? (s.validationSamples > 0 ? s.validationSamples : undefined);
      const batchSize = options?.batchSize ?? s.validationBatchSize;
      const dataText = describeData(chosen);

      log().info(`validating ${pruned.fsPath} against ${original.fsPath} (data: ${dataText})`);
      const report = await withWork(`validating ${path.basename(pruned.fsPath)}`, (work) =>
        services.jobs.validate({
          original: original.fsPath,
          pruned: pruned.fsPath,
          data: data || undefined,
          labels: labels || undefined,
          dims,
          samples,
          batchSize,
          providers: options?.providers ?? (s.executionProviders.length ? s.executionProviders : undefined),
          measure: async (file) => {
            const t = await services.cache.get(vscode.Uri.file(file));
            return { params: t.totals.params, macs: t.totals.macs };
          },
          signal: work.signal,
          onProgress: (e) => {
            if (e.skipped) log().warn(`provider ${e.skipped.provider} skipped: ${e.skipped.reason ?? ''}`);
            work.report(e.message, e.fraction);
          },
        }, pruned),
      ).catch((e: unknown) => {
        throw withBatchSetting(e, options?.batchSize !== undefined ? 'batchSize' : 'pruneLens.validation.batchSize', batchSize ?? DEFAULT_BATCH_SIZE);
      });
      for (const w of report.warnings ?? []) log().warn(w);
      const classifier = isClassifierOutput(report.outputShape ?? (await services.cache.get(original).catch(() => undefined))?.outputs[0]?.shape);
      log().info(`validation: ${summary(report, classifier)}`);
      services.reports.postValidation(original, report);
      // Generated inputs are said in the toast: a reader of "cosine 0.99" should know it is not their data.
      void vscode.window.showInformationMessage(`Validated ${path.basename(pruned.fsPath)} on ${dataText}: ${summary(report, classifier)}`, 'Open Report').then((c) => {
        if (c) void services.reports.show(original, { validation: report, tab: 'validation' });
      });
      return report;
    });
  };
}

/** "Try a smaller batch size" says where the batch size comes from, and what it is now. */
function withBatchSetting(e: unknown, from: string, batchSize: number): unknown {
  if (!isPruneLensError(e) || e.code !== 'memory') return e;
  return new PruneLensError('memory', `${e.detail} (${from} is ${batchSize})`, e.location, e.file);
}

/** The headline numbers: a classifier's agreement and accuracy, or, for other outputs (boxes, sequences), how close the outputs are. */
export function summary(r: ValidationReport, classifier = true): string {
  const parts = classifier
    ? [`top-1 agreement ${(r.agreement * 100).toFixed(1)}%`, `output cosine ${r.cosine.toFixed(4)}`]
    : [`output cosine ${r.cosine.toFixed(4)}`, `max |diff| ${r.maxAbsDiff.toPrecision(3)}`];
  if (classifier && r.original.accuracy !== undefined && r.pruned.accuracy !== undefined) {
    parts.push(`accuracy ${(r.original.accuracy * 100).toFixed(1)}% → ${(r.pruned.accuracy * 100).toFixed(1)}%`);
  }
  parts.push(`${r.speedup.toFixed(2)}× speed on ${r.provider}`, `${r.samples} samples`);
  return parts.join(', ');
}

/**
 * Without questions: the data given, else the one chosen for the original
 * before, else the settings (whose paths must stay inside the workspace: this
 * throws the reason), else generated inputs.
 */
async function programmaticData(services: Services, original: vscode.Uri, pruned: vscode.Uri, o: ValidateCommandOptions): Promise<ModelData> {
  if (o.data) return { data: o.data, labels: o.labels, dims: o.dims };
  const remembered = rememberedData(services, original);
  if (remembered) return { ...remembered, labels: o.labels ?? remembered.labels, dims: o.dims ?? remembered.dims };
  const s = readSettings(pruned);
  const fromSetting = (value: string, what: string, setting: string) => (value
    ? allowPath(resolveWorkspacePath(value, pruned), { what, from: `the setting ${setting}` }, { kind: 'open', interactive: false, near: pruned })
    : Promise.resolve(undefined));
  const data = await fromSetting(s.validationData, 'validation data', 'pruneLens.validation.data');
  const labels = o.labels ?? (data ? await fromSetting(s.validationLabels, 'labels', 'pruneLens.validation.labels') : undefined);
  return { data, labels, dims: o.dims };
}

/**
 * Which model is the pruned one and which its original. A model with a prune
 * report is the pruned one. Started from an original, its pruned versions are
 * offered, the newest first (and preselected).
 */
async function resolvePair(services: Services, target: vscode.Uri, options?: ValidateCommandOptions): Promise<{ original: vscode.Uri; pruned: vscode.Uri } | undefined> {
  if (!options?.original && !(await readReportFor(target.fsPath))) {
    const versions = await prunedVersions(target.fsPath);
    if (versions.length && !options) {
      const pick = await vscode.window.showQuickPick(
        versions.map((file, i) => ({ label: path.basename(file), description: i === 0 ? 'newest' : undefined, detail: `pruned from ${path.basename(target.fsPath)}`, file })),
        { title: `Validate a pruned version of ${path.basename(target.fsPath)}`, placeHolder: 'Which pruned model? (the newest is first)', ignoreFocusOut: true },
      );
      return pick && { original: target, pruned: vscode.Uri.file(pick.file) };
    }
    if (versions.length) return { original: target, pruned: vscode.Uri.file(versions[0]) };
  }
  const original = await resolveOriginal(services, target, options);
  return original && { original, pruned: target };
}

async function resolveOriginal(services: Services, pruned: vscode.Uri, options?: ValidateCommandOptions): Promise<vscode.Uri | undefined> {
  if (options?.original) return vscode.Uri.file(path.resolve(path.dirname(pruned.fsPath), options.original));
  const report = await readReportFor(pruned.fsPath);
  if (report?.source && fs.existsSync(report.source)) {
    // The report is a file in the workspace: the model it names is loaded (by onnxruntime) only from inside it, or when picked.
    const source = await allowPath(report.source, { what: 'original model', from: `the prune report of ${path.basename(pruned.fsPath)}` },
      { kind: 'open', interactive: !options, near: pruned });
    return source ? vscode.Uri.file(source) : undefined;
  }
  if (options) throw new Error(`${path.basename(pruned.fsPath)} has no prune report naming its original; pass original`);
  const models = (await services.index.list()).filter((u) => u.fsPath !== pruned.fsPath);
  const pick = await vscode.window.showQuickPick(
    models.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)), uri })),
    { title: `Validate ${path.basename(pruned.fsPath)}`, placeHolder: 'Compare with which original model?', ignoreFocusOut: true },
  );
  return pick?.uri;
}
