// "Open Sample Model", the walkthrough's first step: copies a small model and its
// held-out digits (media/samples/, shipped in the package) into the workspace and
// shows it in the Explorer. Files already there are kept: the user may have changed them.

import * as path from 'node:path';
import * as vscode from 'vscode';
import { log } from '../log';
import type { Services } from '../services';
import { guard } from '../guard';

/** The folder the sample lands in, inside the first workspace folder. */
export const SAMPLE_FOLDER = 'prune-lens-sample';
export const SAMPLE_MODEL = 'digits_vgg_slim_s1e-2.onnx';

export function openSampleCommand(services: Services) {
  return () =>
    guard('Open Sample Model', false, async (): Promise<vscode.Uri | undefined> => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      if (!folder) {
        const choice = await vscode.window.showInformationMessage('Open a folder first: the sample model is copied into the workspace.', 'Open Folder…');
        if (choice) await vscode.commands.executeCommand('workbench.action.files.openFolder');
        return undefined;
      }
      const source = vscode.Uri.joinPath(services.context.extensionUri, 'media', 'samples');
      const dest = vscode.Uri.joinPath(folder.uri, SAMPLE_FOLDER);
      await vscode.workspace.fs.createDirectory(dest);
      const copied: string[] = [];
      for (const [name] of await vscode.workspace.fs.readDirectory(source)) {
        try {
          await vscode.workspace.fs.copy(vscode.Uri.joinPath(source, name), vscode.Uri.joinPath(dest, name), { overwrite: false });
          copied.push(name);
        } catch (err) {
          if (!(err instanceof vscode.FileSystemError && err.code === 'FileExists')) throw err;
        }
      }
      const model = vscode.Uri.joinPath(dest, SAMPLE_MODEL);
      log().info(`sample: ${copied.length ? `copied ${copied.join(', ')}` : 'already there'} in ${dest.fsPath}`);
      services.tree.refresh();
      await vscode.commands.executeCommand('revealInExplorer', model);
      const where = path.posix.join(SAMPLE_FOLDER, SAMPLE_MODEL);
      void vscode.window.showInformationMessage(
        copied.length ? `Copied the sample model to ${where}, with held-out digits for validation.` : `The sample model is already in ${where}.`,
      );
      return model;
    });
}
