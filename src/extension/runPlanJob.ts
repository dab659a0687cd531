// Running a plan from the extension: every prune (the dialog, a plan file,
// the report panel's Prune…) runs as a plan in the worker, and its result is
// announced the same way. Shared by the prune and plan commands.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PrunePlan } from '../pruning/plan/types';
import type { PruneReport } from '../pruning/report';
import { log } from './log';
import { withWork } from './progress';
import { isPruneLensError } from '../onnx/errors';
import { shownToUser } from './guard';
import { planNeedsNative, pruneSummary } from './pruneOps';
import type { Services } from './services';
import { readSettings } from './settings';
import { requireTrust } from './trust';

export interface PlanJobOptions {
  output: string;
  overwrite: boolean;
  /** Folder the plan's relative paths resolve against. */
  baseDir: string;
  /** The plan file, when there is one: errors in the plan name it. */
  planFile?: string;
  /** What the progress notification says is running. */
  title: string;
  /** A person is waiting: ask before writing a model whose layers lose more than 90% of their channels. */
  interactive?: boolean;
}

/**
 * Runs a plan in the worker under a cancellable progress notification, then
 * announces the result. Every prune goes this way: even a plain L1 prune of a
 * large model would hold the extension host for most of a second (resnet18,
 * unstructured: 0.75 s), and data-aware steps need onnxruntime, which waits
 * for workspace trust.
 */
export async function runPlanJob(services: Services, model: vscode.Uri, plan: PrunePlan, o: PlanJobOptions): Promise<PruneReport> {
  if (planNeedsNative(plan)) await requireTrust('Pruning with calibration data');
  // The size the tree and the report count MACs at (it fit the model), so the prune's report counts at it too.
  const inputShape = (await services.cache.get(model).catch(() => undefined))?.assumedInput;
  const run = (confirmDrastic: boolean) => withWork(o.title, (work) =>
    services.jobs.prunePlan(
      {
        model: model.fsPath, plan, planBaseDir: o.baseDir, planFile: o.planFile, output: o.output, overwrite: o.overwrite,
        externalThreshold: readSettings(model).externalDataThreshold, confirmDrastic, inputShape,
      },
      model,
      { signal: work.signal, onProgress: (e) => work.report(e.message, e.fraction) },
    ),
  );
  let report: PruneReport;
  try {
    // Interactive prunes stop before writing a model with nearly emptied layers, and ask.
    report = await run(o.interactive === true);
  } catch (e) {
    if (isPruneLensError(e) && e.code === 'drastic') {
      const choice = await vscode.window.showWarningMessage(`${path.basename(model.fsPath)}: ${e.detail.replace(/; nothing was written$/, '')}. Write the pruned model anyway?`, { modal: true }, 'Write Anyway');
      if (choice !== 'Write Anyway') throw new vscode.CancellationError();
      report = await run(false);
    } else if (isPruneLensError(e) && e.code === 'nothing-pruned') {
      // Not a failure of the tool: say why, and where the reasons are shown.
      shownToUser(e);
      void vscode.window.showWarningMessage(`Nothing pruned in ${path.basename(model.fsPath)}, no file written: ${e.detail.replace(/^nothing was pruned, so no file was written: /, '')}`, 'Show Frozen Layers')
        .then((c) => c && services.reports.show(model, { tab: 'layers' }));
      log().warn(e.message);
      throw e;
    } else {
      throw e;
    }
  }
  announcePruned(services, model, report);
  return report;
}

/** Logs the result, updates an open report, and offers the next steps (without waiting for a click). */
export function announcePruned(services: Services, model: vscode.Uri, report: PruneReport): void {
  const out = vscode.Uri.file(report.output);
  const summary = pruneSummary(report);
  log().info(`wrote ${report.output} (${summary})`);
  for (const w of report.warnings) log().warn(w);
  services.index.refresh();
  services.reports.postPruneReport(model, report);
  // The frozen groups and their reasons are listed in the report's Before / after tab.
  const actions = ['Open Report', 'Validate', ...(report.frozen.length ? ['Why Frozen?'] : []), 'Reveal in Explorer'];
  void vscode.window
    .showInformationMessage(`Pruned ${path.basename(model.fsPath)} → ${path.basename(report.output)} (${summary})`, ...actions)
    .then(async (choice) => {
      if (choice === 'Open Report' || choice === 'Why Frozen?') await services.reports.show(model, { report, tab: 'compare' });
      else if (choice === 'Validate') await vscode.commands.executeCommand('pruneLens.validate', out);
      else if (choice === 'Reveal in Explorer') await vscode.commands.executeCommand('revealInExplorer', out);
    });
}
