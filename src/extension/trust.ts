// Workspace trust. Analysis and pruning are plain TypeScript over the file's
// bytes and run anywhere; validation loads onnxruntime-node (native code, and
// CUDA libraries from a folder a workspace setting can name), so it waits
// until the user trusts the workspace.

import * as vscode from 'vscode';

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
