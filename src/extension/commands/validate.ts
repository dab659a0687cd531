// "Validate Pruned Model": runs the original and the pruned model on the same
// data in the validation worker (onnxruntime lives there, never in the
// extension host; the worker is shared with pruning and sensitivity, see
// jobs.ts) and shows agreement, accuracy and speed. Needs a trusted
// workspace: onnxruntime is native code.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ValidationReport } from '../../validation/report';
import { log } from '../log';
import { resolveModel } from '../pick';
import { withWork } from '../progress';
import { readReportFor } from '../pruneOps';
import type { Services } from '../services';
import { readSettings, resolveWorkspacePath } from '../settings';
import { requireTrust } from '../trust';
import { guard, isOptions } from '../guard';

export interface ValidateCommandOptions {
  /** The unpruned model; by default the `source` in the pruned model's report. */
  original?: string;
  /** .npy/.npz/folder of inputs; by default the `pruneLens.validation.data` setting, else generated inputs. */
  data?: string;
  labels?: string;
  samples?: number;
  providers?: string[];
}

export function validateCommand(services: Services) {
  return (arg?: unknown, optionsArg?: unknown) => {
    const options = isOptions(optionsArg) ? (optionsArg as ValidateCommandOptions) : undefined;
    return guard('Validate Pruned Model', options !== undefined, async (): Promise<ValidationReport | undefined> => {
      await requireTrust('Validation');
      const pruned = await resolveModel(services, arg, 'Validate Pruned Model');
      if (!pruned) return undefined;
      const original = await resolveOriginal(services, pruned, options);
      if (!original) return undefined;
      const s = readSettings(pruned);
      const data = options?.data ?? resolveWorkspacePath(s.validationData, pruned);
      const labels = options?.labels ?? resolveWorkspacePath(s.validationLabels, pruned);
      const samples = options?.samples ?? (s.validationSamples > 0 ? s.validationSamples : undefined);

      log().info(`validating ${pruned.fsPath} against ${original.fsPath} (data: ${data || 'generated'})`);
      const report = await withWork(`validating ${path.basename(pruned.fsPath)}`, (work) =>
        services.jobs.validate({
          original: original.fsPath,
          pruned: pruned.fsPath,
          data: data || undefined,
          labels: labels || undefined,
          samples,
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
      );
      for (const w of report.warnings ?? []) log().warn(w);
      log().info(`validation: ${summary(report)}`);
      services.reports.postValidation(original, report);
      void vscode.window.showInformationMessage(`Validated ${path.basename(pruned.fsPath)}: ${summary(report)}`, 'Open Report').then((c) => {
        if (c) void services.reports.show(original, { validation: report });
      });
      return report;
    });
  };
}

export function summary(r: ValidationReport): string {
  const parts = [`top-1 agreement ${(r.agreement * 100).toFixed(1)}%`];
  if (r.original.accuracy !== undefined && r.pruned.accuracy !== undefined) {
    parts.push(`accuracy ${(r.original.accuracy * 100).toFixed(1)}% → ${(r.pruned.accuracy * 100).toFixed(1)}%`);
  }
  parts.push(`${r.speedup.toFixed(2)}× speed on ${r.provider}`, `${r.samples} samples`);
  return parts.join(', ');
}

async function resolveOriginal(services: Services, pruned: vscode.Uri, options?: ValidateCommandOptions): Promise<vscode.Uri | undefined> {
  if (options?.original) return vscode.Uri.file(path.resolve(path.dirname(pruned.fsPath), options.original));
  const report = await readReportFor(pruned.fsPath);
  if (report?.source && fs.existsSync(report.source)) return vscode.Uri.file(report.source);
  if (options) throw new Error(`${path.basename(pruned.fsPath)} has no prune report naming its original; pass original`);
  const models = (await services.index.list()).filter((u) => u.fsPath !== pruned.fsPath);
  const pick = await vscode.window.showQuickPick(
    models.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)), uri })),
    { title: `Validate ${path.basename(pruned.fsPath)}`, placeHolder: 'Compare with which original model?', ignoreFocusOut: true },
  );
  return pick?.uri;
}
