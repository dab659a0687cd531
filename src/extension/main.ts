// Activation: registers the models view, commands, the report editor and the
// plan-file features, and does nothing else. No file is read, no model parsed
// and no command module loaded until the user asks for something; `npm run
// bench` checks that this stays under 50 ms.

import * as vscode from 'vscode';
import { WorkerJobs } from './jobs';
import { disposeLog, log } from './log';
import { chooseInputSize } from './inputSize';
import { ModelCache, analysisWorkerPath } from './modelCache';
import { ModelIndex } from './modelIndex';
import { PLAN_SELECTOR, PlanLanguage } from './planLanguage';
import { disposeStatus } from './progress';
import { REPORT_EDITOR_VIEW_TYPE, ReportPanels } from './reportPanel';
import type { PruneLensApi, Services } from './services';
import { readSettings } from './settings';
import { settingsDataFiles } from './trust';
import { ModelTreeProvider } from './tree';

export function activate(context: vscode.ExtensionContext): PruneLensApi {
  const index = new ModelIndex();
  const cache = new ModelCache(analysisWorkerPath(context.extensionPath), (uri) => {
    return chooseInputSize(uri.fsPath, readSettings(uri).assumedInputShape, settingsDataFiles(uri));
  });
  const tree = new ModelTreeProvider(index, cache);
  const treeView = vscode.window.createTreeView('pruneLens.models', { treeDataProvider: tree, showCollapseAll: true, canSelectMany: false });
  const reports = new ReportPanels(context.extensionUri, cache);
  const jobs = new WorkerJobs(context.extensionPath);
  const services: Services = { context, index, cache, tree, treeView, reports, jobs };
  const plans = new PlanLanguage(cache);

  // Each command's module is loaded on its first run.
  const lazy = <M>(load: () => Promise<M>, pick: (m: M) => (...args: unknown[]) => unknown) => {
    let handler: ((...args: unknown[]) => unknown) | undefined;
    return async (...args: unknown[]) => {
      handler ??= pick(await load());
      return handler(...args);
    };
  };
  const commands: Record<string, (...args: unknown[]) => unknown> = {
    'pruneLens.pruneModel': lazy(() => import('./commands/prune'), (m) => m.pruneModelCommand(services)),
    'pruneLens.globalPrune': lazy(() => import('./commands/prune'), (m) => m.pruneModelCommand(services, 'global')),
    'pruneLens.applyPlan': lazy(() => import('./commands/plan'), (m) => m.applyPlanCommand(services)),
    'pruneLens.generatePlan': lazy(() => import('./commands/plan'), (m) => m.generatePlanCommand(services)),
    'pruneLens.validate': lazy(() => import('./commands/validate'), (m) => m.validateCommand(services)),
    'pruneLens.showLayerReport': lazy(() => import('./commands/report'), (m) => m.showReportCommand(services)),
    'pruneLens.sensitivity': lazy(() => import('./commands/sensitivity'), (m) => m.sensitivityCommand(services)),
    'pruneLens.suggestPlan': lazy(() => import('./commands/sensitivity'), (m) => m.suggestPlanCommand(services)),
    'pruneLens.openSample': lazy(() => import('./commands/sample'), (m) => m.openSampleCommand(services)),
    'pruneLens.refreshModels': () => tree.refresh(),
    'pruneLens.showLog': () => log().show(true),
  };

  context.subscriptions.push(
    index,
    cache,
    tree,
    treeView,
    reports,
    jobs,
    plans,
    ...Object.entries(commands).map(([id, run]) => vscode.commands.registerCommand(id, run)),
    vscode.window.registerCustomEditorProvider(REPORT_EDITOR_VIEW_TYPE, reports, {
      webviewOptions: { enableFindWidget: true },
      supportsMultipleEditorsPerDocument: true,
    }),
    vscode.languages.registerCompletionItemProvider(PLAN_SELECTOR, plans, '"'),
    vscode.languages.registerHoverProvider(PLAN_SELECTOR, plans),
    vscode.languages.registerCodeLensProvider(PLAN_SELECTOR, plans),
    index.onDidChangeFile(() => plans.modelChanged()),
    index.onDidChange(() => plans.modelChanged()),
  );
  return { services };
}

export function deactivate(): void {
  disposeStatus();
  disposeLog();
}
