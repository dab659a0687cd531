// Questions the commands (and the report panel) ask the user: an amount, an
// output file, calibration data. Kept apart from the commands so that no
// command imports another.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { allowPath } from './trust';
import { checkCalibration, type CalibrationRequest } from './pruneOps';
import { resolveWorkspacePath, type Settings } from './settings';

/**
 * The calibration data from the settings, or from a file picker when they name
 * none. Undefined when the user closes the picker.
 */
export async function askCalibration(model: vscode.Uri, s: Settings, need: string): Promise<CalibrationRequest | undefined> {
  const configured = resolveWorkspacePath(s.calibrationData, model);
  if (configured) {
    const data = await allowPath(configured, { what: 'calibration data', from: 'the setting pruneLens.calibration.data' }, { kind: 'open', interactive: true, near: model });
    if (!data) return undefined;
    return checkCalibration({ data, size: s.calibrationSize }, data === configured ? 'pruneLens.calibration.data' : 'the file picker');
  }
  const picked = await vscode.window.showOpenDialog({
    title: `Calibration data for ${need} (the first ${s.calibrationSize} samples are used; set pruneLens.calibration.data to skip this)`,
    defaultUri: vscode.Uri.file(path.dirname(model.fsPath)),
    canSelectMany: false,
    filters: { 'NumPy arrays': ['npy', 'npz'] },
    openLabel: 'Use as Calibration Data',
  });
  if (!picked?.[0]) return undefined;
  return checkCalibration({ data: picked[0].fsPath, size: s.calibrationSize }, 'the file picker');
}

/** Asks for the output file; an existing file needs an explicit "Replace". The source is never allowed. */
export async function askOutput(model: vscode.Uri, suggested: string, title: string): Promise<{ output: string; overwrite: boolean } | undefined> {
  const dir = path.dirname(model.fsPath);
  let value = path.basename(suggested);
  for (;;) {
    const answer = await vscode.window.showInputBox({
      title,
      prompt: `Output file name (in ${vscode.workspace.asRelativePath(dir)})`,
      value,
      valueSelection: [0, Math.max(0, value.length - '.onnx'.length)],
      ignoreFocusOut: true,
      validateInput: (v) => {
        const trimmed = v.trim();
        if (!trimmed) return 'Enter a file name';
        if (!trimmed.toLowerCase().endsWith('.onnx')) return 'The output must be an .onnx file';
        if (path.resolve(dir, trimmed) === path.resolve(model.fsPath)) return 'The output must not replace the model being pruned';
        return undefined;
      },
    });
    if (answer === undefined) return undefined;
    const output = path.resolve(dir, answer.trim());
    if (!fs.existsSync(output)) return { output, overwrite: false };
    const choice = await vscode.window.showWarningMessage(
      `${path.basename(output)} already exists. Replace it?`,
      { modal: true },
      'Replace',
      'Choose Another Name',
    );
    if (choice === 'Replace') return { output, overwrite: true };
    if (choice === undefined) return undefined;
    value = answer.trim();
  }
}

export function parseAmount(text: string): number | undefined {
  const t = text.trim();
  const m = /^(\d+(?:\.\d*)?|\.\d+)\s*(%?)$/.exec(t);
  if (!m) return undefined;
  const v = m[2] ? Number(m[1]) / 100 : Number(m[1]);
  return v > 0 && v < 1 ? v : undefined;
}
