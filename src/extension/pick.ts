// Finding the file a command works on: its argument, else the active editor
// (text, our report editor or a report panel), else the models view's
// selection, else a pick.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Services } from './services';

export function isModelUri(u: unknown): u is vscode.Uri {
  return u instanceof vscode.Uri && u.path.toLowerCase().endsWith('.onnx');
}

export function isPlanUri(u: unknown): u is vscode.Uri {
  return u instanceof vscode.Uri && /\.prune\.json$/i.test(u.path);
}

/** Tree nodes come as arguments from the view's menus; they carry a uri. */
function uriOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const maybe = arg as { uri?: unknown } | undefined;
  return maybe && maybe.uri instanceof vscode.Uri ? maybe.uri : undefined;
}

/** The uri of the active tab: a text editor, or a custom editor (ours on .onnx). */
export function activeTabUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputText || input instanceof vscode.TabInputCustom) return input.uri;
  return vscode.window.activeTextEditor?.document.uri;
}

/** The model to work on, or undefined when the user dismissed the pick. */
export async function resolveModel(services: Services, arg: unknown, title: string): Promise<vscode.Uri | undefined> {
  const given = uriOf(arg);
  if (given) {
    if (!given.path.toLowerCase().endsWith('.onnx')) throw new Error(`${path.basename(given.fsPath)} is not an ONNX model (.onnx)`);
    return given;
  }
  const active = services.reports.activeModel() ?? activeTabUri();
  if (isModelUri(active)) return active;
  const selected = services.treeView.selection[0];
  if (selected) return selected.uri;
  const models = await services.index.list();
  if (models.length === 0) throw new Error('there are no .onnx models in this workspace');
  if (models.length === 1) return models[0];
  const pick = await vscode.window.showQuickPick(
    models.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)), uri })),
    // ignoreFocusOut: a walkthrough step that runs the command takes the focus back at once.
    { title, placeHolder: 'Which model?', matchOnDescription: true, ignoreFocusOut: true },
  );
  return pick?.uri;
}

export async function resolvePlan(arg: unknown): Promise<vscode.Uri | undefined> {
  const given = uriOf(arg);
  if (given) {
    if (!/\.prune\.json$/i.test(given.path)) throw new Error(`${path.basename(given.fsPath)} is not a pruning plan (*.prune.json)`);
    return given;
  }
  const active = activeTabUri();
  if (isPlanUri(active)) return active;
  const plans = await vscode.workspace.findFiles('**/*.prune.json', '**/node_modules/**');
  if (plans.length === 0) throw new Error('there are no *.prune.json plans in this workspace (use "Generate Plan from Model" to start one)');
  if (plans.length === 1) return plans[0];
  const pick = await vscode.window.showQuickPick(
    plans.map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)), uri })),
    { title: 'Apply Pruning Plan', placeHolder: 'Which plan?' },
  );
  return pick?.uri;
}
