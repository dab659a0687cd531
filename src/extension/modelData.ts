// The data a model is validated on, chosen per model and remembered per model
// (workspaceState): data for the digits models does not fit PP-OCR, and a
// detector exported with dynamic height and width needs sizes. Asks in the
// editor, never on a terminal: the model's own sample files first (checked
// against its inputs), a file picker, or generated inputs with the sizes of
// its symbolic dims (the sample data's sizes offered).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { dynamicDims, fitsInputs, siblingData, type DataCandidate, type ModelInputs } from '../validation/modelData';
import { readNpyHeader } from '../validation/npy';
import { log } from './log';
import type { Services } from './services';
import { readSettings, resolveWorkspacePath } from './settings';
import { allowPath } from './trust';

/** What one validation (or sensitivity analysis) runs on. */
export interface ModelData {
  /** An .npy/.npz file or folder; undefined: generated inputs. */
  data?: string;
  labels?: string;
  /** Sizes of symbolic dims for generated inputs, by dim name (or `input:axis`). */
  dims?: Record<string, number>;
}

const KEY = 'pruneLens.modelData';

/** The data remembered for this model, if its files are still there. */
export function rememberedData(services: Services, model: vscode.Uri): ModelData | undefined {
  const all = services.context.workspaceState.get<Record<string, ModelData>>(KEY, {});
  const d = all[model.fsPath];
  if (!d) return undefined;
  if (d.data && !fs.existsSync(d.data)) return undefined;
  return { ...d, labels: d.labels && fs.existsSync(d.labels) ? d.labels : undefined };
}

export async function rememberData(services: Services, model: vscode.Uri, data: ModelData): Promise<void> {
  const all = services.context.workspaceState.get<Record<string, ModelData>>(KEY, {});
  await services.context.workspaceState.update(KEY, { ...all, [model.fsPath]: data });
}

/** "digits_val_x.npy with labels digits_val_y.npy", "generated inputs (height 96, width 96)". */
export function describeData(d: ModelData): string {
  if (!d.data) {
    const dims = Object.entries(d.dims ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
    return `generated inputs${dims ? ` (${dims})` : ''}`;
  }
  return `${path.basename(d.data)}${d.labels ? ` with labels ${path.basename(d.labels)}` : ''}`;
}

type DataItem = vscode.QuickPickItem & { pick: 'file' | 'browse' | 'generated'; candidate?: DataCandidate };

/**
 * The data for `model` (the original; its pruned versions share it): the one
 * remembered for it, else the pruneLens.validation.data setting if it fits the
 * model, else asked for, and remembered. Undefined when the user backs out.
 */
export async function chooseModelData(services: Services, model: vscode.Uri, purpose: string, opts: { allowGenerated?: boolean } = {}): Promise<ModelData | undefined> {
  const allowGenerated = opts.allowGenerated ?? true;
  const remembered = rememberedData(services, model);
  if (remembered && (remembered.data || allowGenerated)) return remembered;
  const table = await services.cache.get(model);
  const s = readSettings(model);
  let configured = resolveWorkspacePath(s.validationData, model);
  if (configured && fs.existsSync(configured)) {
    // The setting is the workspace's: its path must stay inside it, or be picked in a dialog.
    const allowed = await allowPath(configured, { what: 'validation data', from: 'the setting pruneLens.validation.data' }, { kind: 'open', interactive: true, near: model });
    if (!allowed) return undefined;
    configured = allowed;
    const misfit = shapeMisfit(configured, table.inputs);
    const labelsSetting = resolveWorkspacePath(s.validationLabels, model);
    const labels = labelsSetting
      ? await allowPath(labelsSetting, { what: 'labels', from: 'the setting pruneLens.validation.labels' }, { kind: 'open', interactive: true, near: model })
      : undefined;
    if (labelsSetting && !labels) return undefined;
    if (!misfit) return { data: configured, labels };
    log().info(`pruneLens.validation.data ${configured} does not fit ${path.basename(model.fsPath)} (${misfit}); asking for its own data`);
  }
  const chosen = await askModelData(model, table.inputs, purpose, allowGenerated);
  if (chosen) await rememberData(services, model, chosen);
  return chosen;
}

function shapeMisfit(file: string, inputs: ModelInputs): string | undefined {
  if (!file.toLowerCase().endsWith('.npy')) return undefined;
  try {
    return fitsInputs(inputs, readNpyHeader(file).shape);
  } catch (e) {
    return (e as Error).message;
  }
}

async function askModelData(model: vscode.Uri, inputs: ModelInputs, purpose: string, allowGenerated: boolean): Promise<ModelData | undefined> {
  const name = path.basename(model.fsPath);
  const candidates = siblingData(model.fsPath, inputs);
  const fitting = candidates.filter((c) => !c.misfit);
  const items: DataItem[] = [
    ...fitting.map((c): DataItem => ({
      label: path.basename(c.file),
      description: [c.shape ? `[${c.shape.join(', ')}]` : undefined, c.labels ? `labels ${path.basename(c.labels)}` : undefined].filter(Boolean).join(' · '),
      detail: 'next to the model; fits its inputs',
      pick: 'file', candidate: c,
    })),
    { label: '$(folder-opened) Choose a file…', detail: 'An .npy or .npz of inputs (N samples in the model\'s input shape)', pick: 'browse' },
  ];
  if (allowGenerated) {
    items.push({ label: '$(symbol-event) Generated inputs', detail: 'Seeded random inputs: outputs are compared, accuracy is not measured', pick: 'generated' });
  }
  const pick = await vscode.window.showQuickPick(items, {
    title: `${purpose}: data for ${name}`,
    placeHolder: `Inputs for ${name} (${inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join('; ')}); remembered for this model`,
    ignoreFocusOut: true,
  });
  if (!pick) return undefined;
  if (pick.pick === 'file') return { data: pick.candidate!.file, labels: pick.candidate!.labels };
  if (pick.pick === 'generated') {
    const dims = await askDims(name, inputs, candidates);
    return dims ? { dims } : undefined;
  }
  for (;;) {
    const picked = await vscode.window.showOpenDialog({
      title: `${purpose}: inputs for ${name}`,
      defaultUri: vscode.Uri.file(fitting[0]?.file ?? path.dirname(model.fsPath)),
      canSelectMany: false,
      filters: { 'NumPy arrays': ['npy', 'npz'] },
      openLabel: 'Use for This Model',
    });
    if (!picked?.[0]) return undefined;
    const file = picked[0].fsPath;
    const misfit = shapeMisfit(file, inputs);
    if (!misfit) {
      const labels = file.replace(/_(x|input|inputs)\.(npy|npz)$/i, '_y.npy');
      return { data: file, labels: labels !== file && fs.existsSync(labels) ? labels : undefined };
    }
    const again = await vscode.window.showWarningMessage(`${path.basename(file)} does not fit ${name}: ${misfit}.`, { modal: true }, 'Choose Another File');
    if (again !== 'Choose Another File') return undefined;
  }
}

/** The size of every symbolic dim generated inputs need, asked one by one; the sample data's sizes are offered. */
async function askDims(name: string, inputs: ModelInputs, candidates: DataCandidate[]): Promise<Record<string, number> | undefined> {
  const sample = candidates.find((c) => c.shape && !c.misfit)?.shape;
  const dims: Record<string, number> = {};
  const wanted = dynamicDims(inputs, sample);
  for (const [i, d] of wanted.entries()) {
    const input = inputs.find((x) => x.name === d.input)!;
    const text = await vscode.window.showInputBox({
      title: `Generated inputs for ${name} (${i + 1}/${wanted.length})`,
      prompt: `Size of '${d.name}' (axis ${d.axis} of ${d.input} [${input.shape.join(', ')}])${d.suggested ? `; the sample data has ${d.suggested}` : ''}`,
      value: d.suggested ? String(d.suggested) : '',
      ignoreFocusOut: true,
      validateInput: (v) => (/^\s*[1-9]\d*\s*$/.test(v) ? undefined : 'A whole number of at least 1'),
    });
    if (text === undefined) return undefined;
    dims[d.name] = Number(text.trim());
  }
  return dims;
}
