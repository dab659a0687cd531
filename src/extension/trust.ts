// Workspace trust. Analysis and pruning are plain TypeScript over the file's
// bytes and run anywhere; validation loads onnxruntime-node (native code, and
// CUDA libraries from a folder a workspace setting can name), so it waits
// until the user trusts the workspace (and the worker refuses to load it
// without trust, see jobs.ts). Paths a plan, a setting or a prune report names
// stay inside the workspace folders unless the user picks them in a dialog
// (allowPath); reads nobody asked for just skip them (settingsDataFiles); a
// CUDA folder the workspace names must be inside it (allowedCudaPath).

import * as path from 'node:path';
import * as vscode from 'vscode';
import { log } from './log';
import { readSettings, resolveWorkspacePath } from './settings';
import { checkPath, isInside, PickedPaths, type PathOrigin } from './workspacePaths';

export class UntrustedWorkspaceError extends Error {
  constructor(what: string) {
    super(`${what} runs native code (onnxruntime) and is disabled until you trust this workspace.`);
    this.name = 'UntrustedWorkspaceError';
  }
}

/**
 * Resolves when the workspace is trusted. Otherwise explains why with a
 * "Manage Workspace Trust" action and throws, so nothing native is loaded.
 */
export async function requireTrust(what: string): Promise<void> {
  if (vscode.workspace.isTrusted) return;
  const err = new UntrustedWorkspaceError(what);
  void vscode.window.showWarningMessage(err.message, 'Manage Workspace Trust').then((choice) => {
    if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
  });
  throw err;
}

/** Paths the user picked in a dialog this session (see workspacePaths.ts). */
const picked = new PickedPaths();

export interface AllowPathOptions {
  /** Read ('open') or written ('save'): which dialog offers another choice. */
  kind: 'open' | 'save';
  /** Ask the user (a modal with "Choose…"); otherwise refuse with the reason. */
  interactive: boolean;
  /** The model the path goes with: its folder counts as the workspace when no folder is open. */
  near?: vscode.Uri;
}

/**
 * The path a plan or a setting names, if it may be used: inside the workspace
 * folders, or picked by the user in a dialog. Otherwise, interactively, the
 * reason and a dialog to pick a file (its result is used; undefined when
 * dismissed); non-interactively, an Error with the reason.
 */
export async function allowPath(file: string, origin: PathOrigin, o: AllowPathOptions): Promise<string | undefined> {
  const reason = checkPath(file, workspaceRoots(o.near), picked, origin);
  if (!reason) return file;
  if (!o.interactive) throw new Error(reason);
  const choice = await vscode.window.showWarningMessage(reason, { modal: true }, 'Choose File…');
  if (choice !== 'Choose File…') return undefined;
  const defaultUri = vscode.Uri.file(o.kind === 'save' ? file : path.dirname(file));
  const uri = o.kind === 'save'
    ? await vscode.window.showSaveDialog({ defaultUri, title: `Where to write the ${origin.what}` })
    : (await vscode.window.showOpenDialog({ defaultUri, canSelectMany: false, canSelectFolders: true, canSelectFiles: true, title: `The ${origin.what}` }))?.[0];
  if (!uri) return undefined;
  picked.add(uri.fsPath);
  return uri.fsPath;
}

/** The workspace folders; with none open, the folder of the model at hand. */
function workspaceRoots(near?: vscode.Uri): string[] {
  const folders = vscode.workspace.workspaceFolders?.map((f) => f.uri.fsPath) ?? [];
  return folders.length || !near ? folders : [path.dirname(near.fsPath)];
}

/**
 * The data files the settings name (validation, then calibration), for reads
 * nobody asked for: the input size MACs are counted at, a token model's
 * sequence length. Only those allowed (allowPath's rule) are returned; this
 * never asks, and logs why a file is left out.
 */
export function settingsDataFiles(uri: vscode.Uri): string[] {
  const s = readSettings(uri);
  const named = [['validation data', 'pruneLens.validation.data', s.validationData], ['calibration data', 'pruneLens.calibration.data', s.calibrationData]];
  return named.flatMap(([what, setting, value]) => {
    if (!value) return [];
    const file = resolveWorkspacePath(value, uri);
    const reason = checkPath(file, workspaceRoots(uri), picked, { what, from: `the setting ${setting}` });
    if (reason) log().debug(`not read for ${path.basename(uri.fsPath)}: ${reason}`);
    return reason ? [] : [file];
  });
}

/**
 * The CUDA folder the worker may load libraries from: the user's own setting
 * anywhere, a workspace's only inside the workspace folders (no dialog offers
 * another: native libraries are picked in the user's settings). Throws the
 * reason otherwise. Callers ask only in a trusted workspace.
 */
export function allowedCudaPath(near: vscode.Uri): string | undefined {
  const value = readSettings(near).cudaLibraryPath;
  if (!value) return undefined;
  const folder = resolveWorkspacePath(value, near);
  const inspected = vscode.workspace.getConfiguration('pruneLens').inspect<string>('cudaLibraryPath');
  const fromWorkspace = (inspected?.workspaceValue ?? '') !== '';
  const roots = workspaceRoots(near);
  if (fromWorkspace && !isInside(folder, roots)) {
    throw new Error(`cudaLibraryPath ${folder} (from the workspace's settings) is outside the workspace folder${roots.length > 1 ? 's' : ''}; ` +
      'Prune Lens loads native libraries a workspace names only from inside it: set pruneLens.cudaLibraryPath in your user settings instead');
  }
  return folder;
}
