// Shared by the mask-pruning and plan tests: the real models and data, weight
// access by layer, and accuracy through onnxruntime-node.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findPrunableLayers, type PrunableLayer } from '../../../../src/analysis';
import { GraphIndex } from '../../../../src/onnx/graph';
import { loadModelSync, serializeModel, type OnnxModel } from '../../../../src/onnx/model';
import { tensorFloats } from '../../../../src/onnx/tensor';
import { concatChunks } from '../../../../src/onnx/wire';
import { readNpyFloats } from '../../../../src/pruning/plan/npy';
import { modelPath } from '../../../helpers/models';
import { runModel } from '../../../helpers/ort';


export function load(name: string): OnnxModel {
  return loadModelSync(modelPath(name));
}

export function layersOf(model: OnnxModel): PrunableLayer[] {
  return findPrunableLayers(new GraphIndex(model.graph));
}

export function layer(model: OnnxModel, displayName: string): PrunableLayer {
  const l = layersOf(model).find((x) => x.displayName === displayName);
  if (!l) throw new Error(`no layer ${displayName}`);
  return l;
}

/** A copy of a layer's current weights (or bias). */
export function weights(model: OnnxModel, displayName: string, role: 'weight' | 'bias' = 'weight'): Float32Array {
  const l = layer(model, displayName);
  const ref = role === 'weight' ? l.weight : l.bias!;
  return tensorFloats(ref.tensor, model.external).slice();
}

export function zeros(values: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === 0) n++;
  return n;
}

let valData: { x: Float32Array; y: Float32Array; n: number } | undefined;

/** Held-out accuracy of a model (in memory) on digits_val, through onnxruntime-node. */
export async function accuracy(model: OnnxModel | Uint8Array): Promise<number> {
  if (!valData) {
    const x = readNpyFloats(modelPath('digits_val_x.npy'));
    const y = readNpyFloats(modelPath('digits_val_y.npy'));
    valData = { x: x.values, y: y.values, n: x.shape[0] };
  }
  const bytes = model instanceof Uint8Array ? model : concatChunks(serializeModel(model));
  const out = await runModel(bytes, { input: { dims: [valData.n, 1, 8, 8], data: valData.x } });
  const logits = out.logits;
  const classes = logits.length / valData.n;
  let right = 0;
  for (let r = 0; r < valData.n; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[r * classes + c] > logits[r * classes + best]) best = c;
    if (best === valData.y[r]) right++;
  }
  return right / valData.n;
}

/** A fresh temporary folder, removed when the test process exits. */
/** Folders made by tempDir, removed by one exit listener (one per folder would pass Node's listener limit). */
const tempDirs: string[] = [];

export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prune-lens-plan-'));
  if (!tempDirs.length) process.once('exit', () => { for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true }); });
  tempDirs.push(dir);
  return dir;
}
