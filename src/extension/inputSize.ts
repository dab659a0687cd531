// Which input size a model's MACs are counted at, when it has named dims
// (height, width, sequence): the pruneLens.assumedInputShape setting, else the
// size of the model's sample data: a sibling `<model>_input.npy`,
// `<model>_val_x.npy` or `<model>_x.npy`, else the validation or calibration
// data setting's file. No vscode here, so it is unit-tested in Node; the
// analysis binds the size only where it fits the model's inputs
// (AnalyzeOptions.inputShape.ifFits) and says why where it does not.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { readInputShapeSetting, type StatedShapes } from '../analysis/inputShape';
import { readNpyHeader } from '../validation/npy';

export const SETTING_NAME = 'pruneLens.assumedInputShape';

export interface InputSizeChoice {
  /** The size to count at, and where it came from. */
  stated?: { shapes: StatedShapes; source: string; ifFits: true; fromSample?: true };
  /** Why the setting was not used (it could not be read). */
  problem?: string;
}

/** Sample files by how surely they are the model's input, best first. */
const SAMPLE_SUFFIXES = ['_input.npy', '_inputs.npy', '_val_x.npy', '_x.npy'];

/**
 * `yolov8_dyn.onnx` (and its pruned `yolov8_dyn.pruned.onnx`) → `yolov8_dyn_input.npy`
 * next to it. A file named after a shorter prefix of the model's name
 * (`digits_val_x.npy` for `digits_lenet.onnx`) counts too, after exact ones.
 */
export function sampleDataFor(modelFile: string): string | undefined {
  const dir = path.dirname(modelFile);
  const stem = path.basename(modelFile).replace(/\.onnx$/i, '').replace(/\..*$/, '');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  const ranked = names.flatMap((n) => {
    const suffix = SAMPLE_SUFFIXES.findIndex((s) => n.endsWith(s));
    if (suffix < 0) return [];
    const prefix = n.slice(0, -SAMPLE_SUFFIXES[suffix].length);
    if (prefix !== stem && !stem.startsWith(`${prefix}_`)) return [];
    return [{ n, rank: [-prefix.length, suffix] }];
  });
  ranked.sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.n.localeCompare(b.n));
  return ranked[0] && path.join(dir, ranked[0].n);
}

/**
 * The setting when it says something, else the first readable .npy among the
 * sample file and `dataFiles` (the validation, then calibration data settings,
 * resolved). A data file's first axis counts samples: MACs are per sample, so
 * its size stands as 1.
 */
export function chooseInputSize(modelFile: string, setting: unknown, dataFiles: readonly string[] = []): InputSizeChoice {
  let problem: string | undefined;
  try {
    const shapes = readInputShapeSetting(setting);
    if (shapes) return { stated: { shapes, source: SETTING_NAME, ifFits: true } };
  } catch (e) {
    problem = (e as Error).message;
  }
  const sample = sampleDataFor(modelFile);
  for (const file of [...(sample ? [sample] : []), ...dataFiles]) {
    if (!file.toLowerCase().endsWith('.npy')) continue;
    try {
      const shape = readNpyHeader(file).shape;
      if (shape.length < 2) continue;
      return { stated: { shapes: [1, ...shape.slice(1)], source: `the size of ${path.basename(file)}`, ifFits: true, fromSample: true }, problem };
    } catch {
      // An unreadable data file says nothing about the size; the next may.
    }
  }
  return problem ? { problem } : {};
}

/** One string per choice, so a cached analysis is redone only when the size changes. */
export function choiceKey(c: InputSizeChoice): string {
  return JSON.stringify([c.stated?.shapes ?? null, c.stated?.source ?? null, c.problem ?? null]);
}
