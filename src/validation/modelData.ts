// Which data belongs to a model: validation and sensitivity need inputs that
// fit the model, and one workspace-wide file fits one family of models at best.
// These are the plain rules the extension's data picker uses: data files in the
// model's folder, best first (the model's own name first, held-out before
// training data), whether each fits the model's inputs, and which symbolic
// dimensions need a size when inputs are generated.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LayerTable } from '../analysis/types';
import { readNpyHeader } from './npy';

export type ModelInputs = LayerTable['inputs'];

export interface DataCandidate {
  file: string;
  /** Array shape (first array of an .npz is not read: undefined). */
  shape?: number[];
  /** Labels next to it (`*_x.npy` → `*_y.npy`), if any. */
  labels?: string;
  /** Why it cannot feed the model, when it cannot. */
  misfit?: string;
}

const INPUT_FILE = /_(x|input|inputs)\.(npy|npz)$/i;

/** The model's name with the suffixes a prune adds taken off: `yolov8_dyn.pruned.onnx` → `yolov8_dyn`. */
export function modelStem(modelFile: string): string {
  return path.basename(modelFile).replace(/\.onnx$/i, '').replace(/\..*$/, '');
}

/** How many leading `_`-separated words two names share. */
function sharedWords(a: string, b: string): number {
  const x = a.toLowerCase().split(/[_.-]/);
  const y = b.toLowerCase().split(/[_.-]/);
  let n = 0;
  while (n < x.length && n < y.length && x[n] === y[n]) n++;
  return n;
}

/**
 * Input arrays in the model's folder (`*_x.npy`, `*_val_x.npy`, `*_input.npy`, and
 * `.npz`), best first: those that fit the model's inputs before those that do
 * not, then the most words shared with the model's name, then held-out (`val`)
 * before training data.
 */
export function siblingData(modelFile: string, inputs?: ModelInputs): DataCandidate[] {
  const dir = path.dirname(modelFile);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => INPUT_FILE.test(n));
  } catch {
    return [];
  }
  const stem = modelStem(modelFile);
  const candidates = names.map((n): DataCandidate & { rank: number[] } => {
    const file = path.join(dir, n);
    let shape: number[] | undefined;
    let misfit: string | undefined;
    if (n.toLowerCase().endsWith('.npy')) {
      try {
        shape = readNpyHeader(file).shape;
      } catch (e) {
        misfit = `not a readable .npy file (${(e as Error).message})`;
      }
    }
    if (shape && inputs) misfit = fitsInputs(inputs, shape);
    const labelsFile = path.join(dir, n.replace(/_(x|input|inputs)\.(npy|npz)$/i, '_y.npy'));
    const labels = labelsFile !== file && fs.existsSync(labelsFile) ? labelsFile : undefined;
    const rank = [misfit ? 1 : 0, -sharedWords(stem, n), /(^|_)val(_|$)/i.test(n) ? 0 : /(^|_)train(_|$)/i.test(n) ? 2 : 1];
    return { file, shape, labels, misfit, rank };
  });
  candidates.sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.rank[2] - b.rank[2] || a.file.localeCompare(b.file));
  return candidates.map(({ rank: _rank, ...c }) => c);
}

/** Why an array of `shape` cannot feed a single-input model (undefined: it can). Multi-input models are not judged here. */
export function fitsInputs(inputs: ModelInputs, shape: number[]): string | undefined {
  if (inputs.length !== 1) return undefined;
  const want = inputs[0].shape;
  if (want.length !== shape.length) return `input '${inputs[0].name}' has ${want.length} dimensions [${want.join(', ')}]; the data has ${shape.length} [${shape.join(', ')}]`;
  for (let k = 1; k < want.length; k++) {
    const d = want[k];
    if (typeof d === 'number' && d > 0 && d !== shape[k]) return `input '${inputs[0].name}' expects [${want.join(', ')}]; the data has [${shape.join(', ')}]`;
  }
  return undefined;
}

export interface DynamicDim {
  /** The dimension's name in the model (`height`), or `input:axis` when it has none. */
  name: string;
  input: string;
  axis: number;
  /** A size to offer: from sample data when given, else none. */
  suggested?: number;
}

/**
 * The symbolic dimensions (other than the batch axis) that generated inputs
 * need a size for, each once, with the size a sample array has on that axis.
 */
export function dynamicDims(inputs: ModelInputs, sample?: number[]): DynamicDim[] {
  const out: DynamicDim[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    input.shape.forEach((d, axis) => {
      if (axis === 0 || (typeof d === 'number' && d > 0)) return;
      const name = typeof d === 'string' && d && d !== '?' ? d : `${input.name}:${axis}`;
      if (seen.has(name)) return;
      seen.add(name);
      const suggested = sample && inputs.length === 1 && sample.length === input.shape.length ? sample[axis] : undefined;
      out.push({ name, input: input.name, axis, suggested });
    });
  }
  return out;
}
