// The sequence length at which a token model's MACs are shown: the setting,
// else the length of the sample data the user already chose (validation, then
// calibration inputs: token ids are [samples, length]), else none (per token).

import type * as vscode from 'vscode';
import type { LayerTable } from '../analysis/types';
import { readNpyHeader } from '../validation/npy';
import { log } from './log';
import { readSettings } from './settings';
import { settingsDataFiles } from './trust';

export function sequenceLength(table: Pick<LayerTable, 'sequenceDim'>, uri: vscode.Uri): number | undefined {
  if (!table.sequenceDim) return undefined;
  const settings = readSettings(uri);
  if (settings.sequenceLength > 0) return settings.sequenceLength;
  // Only data inside the workspace (or picked in a dialog): a header read on hover is a read nobody asked for.
  for (const file of settingsDataFiles(uri)) {
    if (!file.endsWith('.npy')) continue;
    try {
      const shape = readNpyHeader(file).shape;
      if (shape.length >= 2 && shape[1] > 0) return shape[1];
    } catch (e) {
      log().debug(`sequence length from ${file}: ${(e as Error).message}`);
    }
  }
  return undefined;
}
