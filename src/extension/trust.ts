// Workspace trust. Analysis and pruning are plain TypeScript over the file's
// bytes and run anywhere; validation loads onnxruntime-node (native code, and
// CUDA libraries from a folder a workspace setting can name), so it waits
// until the user trusts the workspace (and the worker refuses to load it
// without trust, see jobs.ts). Paths a plan or a setting names stay inside the
// workspace folders unless the user picks them in a dialog (allowPath).

import * as path from 'node:path';
import * as vscode from 'vscode';
import { checkPath, PickedPaths, type PathOrigin } from './workspacePaths';

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
  const folders = vscode.workspace.workspaceFolders?.map((f) => f.uri.fsPath) ?? [];
  const roots = folders.length || !o.near ? folders : [path.dirname(o.near.fsPath)];
  const reason = checkPath(file, roots, picked, origin);
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
